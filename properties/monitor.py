"""Monitors: each invariant is one object that observes a run and judges it, in one place.

A monitor watches the trace records of a run as they are written (:meth:`Monitor.observe`)
and, when asked, judges the run from what it saw and from :class:`Facts`: the virtual time,
the instant faults stopped, the config, and the pack's typed, frozen ``statistics()``
value. It never reaches into the world's network or alarms in the middle of a step, so
judging cannot change a run, and which monitors are muted never changes a trace.

Three kinds, after Antithesis's assertions:

``safety``
    Must hold after every step ("no call settles twice"). Cheap; checked after each step.
``liveness``
    Stated in virtual time and judged once, after the driver settles: faults stop at
    ``t_heal`` and the world runs to quiescence within the driver's bound ("every client
    is connected by ``t_heal + 20 s``").
``sometimes``
    A situation a campaign must reach at least once ("a call was parked during grace").
    Its :meth:`Monitor.judge` returns a description once the run has reached it. A campaign
    that never reaches it reports that as a finding, so a fault that never happened is no
    longer a silent pass.

Every monitor in a pack's manifest is a template: each run works on a :meth:`Monitor.fresh`
copy, so a monitor may keep books in plain attributes and reset them in :meth:`reset`.
Each monitor id also gets its own exception class (:func:`violation_error`), which is how
Hypothesis tells two invariants apart and shrinks them as two bugs.
"""

from __future__ import annotations

import copy
import copyreg
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from attrs import frozen

from gatewaysim.simulator.clock import Time, format_time
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import TraceRecord

if TYPE_CHECKING:
    from .driver import Driver

Kind = Literal["safety", "liveness", "sometimes"]
KINDS: tuple[Kind, ...] = ("safety", "liveness", "sometimes")

M = TypeVar("M", bound="Monitor")


class Facts:
    """What a monitor may read when it judges, besides the records it observed.

    ``statistics`` is the driver's typed, frozen ``statistics()`` value, computed at most
    once per judgement (so ten monitors reading it cost one snapshot).
    """

    __slots__ = ("_driver", "_statistics")

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._statistics: Any = None

    @property
    def now(self) -> Time:
        return self._driver.now

    @property
    def t_heal(self) -> Time | None:
        """When faults stopped (``None`` before the driver settles)."""
        return self._driver.t_heal

    @property
    def settle_bound(self) -> Time:
        return self._driver.settle_bound

    @property
    def config(self) -> Any:
        """The pack's config value (a :class:`~gatewaysim.simulator.config.PackConfig`)."""
        return self._driver.model_config

    @property
    def statistics(self) -> Any:
        if self._statistics is None:
            self._statistics = self._driver.statistics()
        return self._statistics


class Monitor:
    """One invariant: declared (id, statement, kind, doc) and judged in one object.

    Subclasses override :meth:`observe` to keep books from trace records, :meth:`reset` to
    clear them, and :meth:`judge` to say what is wrong (``None``: it holds). Monitors that
    only read :class:`Facts` need not override :meth:`observe`.
    """

    observes_records: bool = False
    """True when the class overrides :meth:`observe` (set automatically): only those are
    fed trace records."""

    record_types: frozenset[str] | None = None
    """The record types :meth:`observe` cares about (``{"Note"}``), or ``None`` for every
    record. A monitor that says so is handed only those: in exploration, where traces are
    not encoded, the records nobody wants are then never even built."""

    record_kinds: frozenset[str] | None = None
    """Record kinds :meth:`observe` reads whatever their type (``{"fault"}``: every fault;
    ``{"in"}``: every input, for books an actor's next input clears). With
    :attr:`record_types` the monitor is handed records of either; when both are ``None``,
    every record. Most records are a client's timers, heartbeats and frames: a monitor that
    declares what it reads is not called for them at all, which is most of what judging
    every invariant costs."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.observes_records = cls.observe is not Monitor.observe

    def __init__(self, id: str, statement: str, kind: Kind, *, doc: str = "",
                 types: Iterable[str] | None = None, kinds: Iterable[str] | None = None
                 ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"monitor {id!r}: kind must be one of {', '.join(KINDS)}, "
                              f"not {kind!r}")
        if not id or any(c.isspace() for c in id):
            raise ConfigError(f"monitor id must be one word, not {id!r}")
        self.id = id
        self.statement = statement
        self.kind: Kind = kind
        self.doc = doc
        if types is not None:  # what this instance reads, over what its class declares
            self.record_types = frozenset(types)
        if kinds is not None:
            self.record_kinds = frozenset(kinds)
        self.reset()

    def fresh(self: M) -> M:
        """A copy with empty books, for one run (the manifest keeps the template)."""
        cls = type(self)
        plain = _PLAIN_COPY.get(cls)
        if plain is None:
            plain = _PLAIN_COPY[cls] = _copies_plainly(cls)
        if plain:  # what copy.copy does for such a class, without its generic detour
            twin = cls.__new__(cls)
            twin.__dict__.update(self.__dict__)
        else:
            twin = copy.copy(self)
        twin.reset()
        return twin

    def reset(self) -> None:
        """Clear the books kept from records (called on every fresh copy)."""

    def observe(self, record: TraceRecord) -> None:
        """See one trace record, in order, as it is written."""

    def judge(self, facts: Facts) -> str | None:
        """Safety and liveness: a one-line message when the invariant does not hold.
        Sometimes: a one-line description once the run has reached the situation."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"


_PLAIN_COPY: dict[type, bool] = {}


def _copies_plainly(cls: type) -> bool:
    """True if ``copy.copy`` of an instance of ``cls`` is just a new instance with the same
    ``__dict__``: no copy or pickle hooks, no slots. Every driver copies every monitor of
    its pack, once per run, so the generic ``copy.copy`` showed in exploration profiles."""
    return (getattr(cls, "__copy__", None) is None
            and cls not in copyreg.dispatch_table
            and cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
            and cls.__getstate__ is object.__getstate__  # type: ignore[attr-defined]
            and getattr(cls, "__setstate__", None) is None
            and cls.__new__ is object.__new__
            and not any("__slots__" in vars(k) for k in cls.__mro__[:-1]))


class Check(Monitor):
    """A monitor whose judgement is a plain function of :class:`Facts` (no books kept)."""

    def __init__(self, id: str, statement: str, kind: Kind,
                 check: Callable[[Facts], str | None], *, doc: str = "") -> None:
        super().__init__(id, statement, kind, doc=doc)
        self.check = check

    def judge(self, facts: Facts) -> str | None:
        return self.check(facts)


@frozen
class Violation:
    """An invariant that did not hold: where (step index: steps applied so far) and when."""

    invariant_id: str
    message: str
    t: Time
    step_index: int

    def describe(self) -> str:
        return (f"{self.invariant_id} violated at t={format_time(self.t)} "
                f"after step {self.step_index}: {self.message}")


class NoException(Monitor):
    """A model or driver that raises is a finding like any other: it is shrunk, written to a
    failure file and replayed. :class:`~gatewaysim.properties.execution.Execution` judges
    it; this object only declares it."""


NO_EXCEPTION = NoException("no-exception", "no step, settle or check raises an exception",
                           "safety", doc=NoException.__doc__ or "")


class InvariantViolated(AssertionError):
    """Raised inside a Hypothesis run; carries the violation and the steps that led to it."""

    invariant_id = ""

    def __init__(self, violation: Violation, steps: list[Any]) -> None:
        super().__init__(violation.describe())
        self.violation = violation
        self.steps = list(steps)


_ERRORS: dict[str, type[InvariantViolated]] = {}


def violation_error(invariant_id: str) -> type[InvariantViolated]:
    """The exception class for ``invariant_id`` (one class per id, made once per process)."""
    cls = _ERRORS.get(invariant_id)
    if cls is None:
        words = re.split(r"[^0-9A-Za-z]+", invariant_id)
        name = "".join(w[:1].upper() + w[1:] for w in words if w) + "Violated"
        cls = type(name, (InvariantViolated,), {"invariant_id": invariant_id,
                                                  "__module__": __name__})
        _ERRORS[invariant_id] = cls
    return cls


def catalogue_text(monitors: tuple[Monitor, ...]) -> str:
    """The monitors as a table a person reads: id, kind, statement."""
    width = max((len(m.id) for m in monitors), default=0)
    return "\n".join(f"{m.id:<{width}}  {m.kind:<9}  {m.statement}" for m in monitors)


__all__ = ["KINDS", "NO_EXCEPTION", "Check", "Facts", "InvariantViolated", "Kind", "Monitor",
           "Violation", "catalogue_text", "violation_error"]
