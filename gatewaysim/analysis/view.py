"""TraceView: one run's records, to filter, follow, query at an instant and hand to plots.

A view is immutable: every filter returns a new view over a subset of the same records,
so a notebook can keep ``run``, ``run.filter(actor="client/*")`` and
``run.follow(conn=...)`` side by side without one changing the others.

Times given by users are **seconds** (floats, the way timelines print them); records keep
the kernel's integer microseconds in ``t``. A view remembers where its records came from
(:class:`ViewSource`) and the unfiltered view it was cut from (:attr:`TraceView.root`),
so a run that was replayed from a failure file can be replayed again with a change.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from gatewaysim.simulator.clock import SECOND, Time
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace, TraceRecord, hash_lines, read_trace

from .branch import Change, RunOutcome, StepMark, branch_outcome, execute, seconds_to_us
from .names import natural_key
from .state import DEFAULT_RULES, StateIndex, StateRules, StatesAt

if TYPE_CHECKING:
    import pandas as pd

    from gatewaysim.properties.monitor import Violation
    from gatewaysim.simulator.world import World

    from .display import Timeline

Predicate = Callable[[TraceRecord], bool]

CALL_ID_KEYS = ("callId", "call_id")


@frozen
class ViewSource:
    """Where a view's records came from: ``kind`` is file, trace, world, failure, steps,
    branch or records.

    ``origin`` is the live object (the ``World``, the ``Trace``, or for failure, steps and
    branch views the executed run, a :class:`~gatewaysim.analysis.branch.RunOutcome`) when
    there is one; it is left out of equality so two views of the same file compare equal.
    """

    kind: str
    path: Path | None = None
    variant: str | None = None
    origin: Any = field(default=None, eq=False, repr=False)


def _as_set(value: str | Iterable[str]) -> frozenset[str]:
    return frozenset((value,)) if isinstance(value, str) else frozenset(value)


def _actor_matcher(patterns: str | Iterable[str]) -> Predicate:
    pats = _as_set(patterns)
    exact = frozenset(p for p in pats if not any(c in p for c in "*?["))
    globs = tuple(p for p in pats if p not in exact)

    def match(rec: TraceRecord) -> bool:
        return rec.actor in exact or any(fnmatch.fnmatchcase(rec.actor, g) for g in globs)

    return match


def _contains_value(value: Any, target: str) -> bool:
    """True if ``target`` appears as a value anywhere in nested dicts and lists."""
    if value == target:
        return True
    if isinstance(value, dict):
        return any(_contains_value(v, target) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_contains_value(v, target) for v in value)
    return False


def _contains_key_value(value: Any, keys: tuple[str, ...], target: Any) -> bool:
    """True if some nested dict maps one of ``keys`` to ``target``."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in keys and v == target:
                return True
            if _contains_key_value(v, keys, target):
                return True
    elif isinstance(value, list | tuple):
        return any(_contains_key_value(v, keys, target) for v in value)
    return False


def rules_for(header: dict[str, Any]) -> StateRules:
    """The state rules of the pack a trace header names (no rules if it names none, or a
    pack that is not installed here: states then come only from ``Note("state", ...)``)."""
    name = header.get("pack")
    if isinstance(name, str) and name:
        from gatewaysim.properties.pack import get_pack

        try:
            return get_pack(name).state_rules
        except ConfigError:
            pass
    return DEFAULT_RULES


class TraceView:
    """An immutable, filterable view of a run's trace records.

    Build one with :meth:`from_file`, :meth:`from_trace`, :meth:`from_world`,
    :meth:`from_failure` or :meth:`of` (any of those sources). ``rules`` says how plain
    notes become states (see :class:`~gatewaysim.analysis.state.StateRules`);
    ``snapshot_every`` is the record interval of the snapshots behind :meth:`at`.
    """

    __slots__ = ("_index", "_sha256", "header", "records", "root", "rules",
                 "snapshot_every", "source")

    def __init__(
        self,
        header: dict[str, Any],
        records: Sequence[TraceRecord],
        *,
        source: ViewSource | None = None,
        rules: StateRules | None = None,
        snapshot_every: int = 1000,
        root: TraceView | None = None,
    ) -> None:
        self.header: dict[str, Any] = dict(header)
        self.records: tuple[TraceRecord, ...] = tuple(records)
        self.source = source if source is not None else ViewSource("records")
        self.rules = rules if rules is not None else rules_for(self.header)
        self.snapshot_every = snapshot_every
        self.root: TraceView = root if root is not None else self
        self._index: StateIndex | None = None
        self._sha256: str | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> TraceView:
        """Load a JSON Lines trace written by ``Trace(path=...)`` or ``gatewaysim run``."""
        header, records = read_trace(path)
        return cls(header, records, source=ViewSource("file", Path(path)), **kwargs)

    @classmethod
    def from_trace(cls, trace: Trace, *, source: ViewSource | None = None,
                   **kwargs: Any) -> TraceView:
        """View a live :class:`~gatewaysim.simulator.trace.Trace` (it must keep its records)."""
        if len(trace.records) != trace.count:
            raise ConfigError(
                f"this trace kept {len(trace.records)} of its {trace.count} records in memory: "
                "build it with Trace(keep=True), or load the file it wrote with "
                "TraceView.from_file once the run is over")
        src = source if source is not None else ViewSource("trace", trace.path, origin=trace)
        return cls(trace.header, trace.records, source=src, **kwargs)

    @classmethod
    def from_world(cls, world: World, **kwargs: Any) -> TraceView:
        """View everything a :class:`~gatewaysim.simulator.world.World` has recorded so far."""
        return cls.from_trace(world.trace, source=ViewSource("world", world.trace.path,
                                                             origin=world), **kwargs)

    @classmethod
    def from_failure(cls, path: str | Path, variant: str | None = None,
                     **kwargs: Any) -> TraceView:
        """Replay a failure file (optionally under another model ``variant``) and view it.

        The run is the file's :class:`~gatewaysim.properties.run.RunSpec`, judged by its
        invariant and executed the way ``gatewaysim replay`` executes it, so the view's
        :attr:`sha256` is the file's trace hash. Its :attr:`source` keeps the executed run
        (a :class:`~gatewaysim.analysis.branch.RunOutcome` whose ``failure`` is the loaded
        file), so the view can be replayed again with a change: :meth:`branch`.
        """
        from gatewaysim.properties.failure import load_failure

        failure = load_failure(path)
        spec = failure.run if variant is None else failure.run.under(variant)
        return cls.of_outcome(execute(spec, failure=failure), "failure", Path(path),
                              variant, **kwargs)

    @classmethod
    def from_steps(cls, pack: str, steps: Sequence[Any], *, variant: str | None = None,
                   seed: int = 0, invariant: str | None = None, **kwargs: Any) -> TraceView:
        """Run a list of :class:`~gatewaysim.properties.steps.Step` values on ``pack`` and view it.

        ``variant`` defaults to the pack's default; ``invariant`` judges the run by one
        invariant (``None``: all of them, stopping at the first violation, as exploration
        does). The view can be branched like a failure's.
        """
        from gatewaysim.properties.run import RunSpec

        spec = RunSpec.of(pack, steps, variant=variant, seed=seed, judge=invariant)
        return cls.of_outcome(execute(spec), "steps", None, spec.variant, **kwargs)

    @classmethod
    def of_outcome(cls, outcome: RunOutcome, kind: str, path: Path | None = None,
                   variant: str | None = None, **kwargs: Any) -> TraceView:
        """A view of an executed run that remembers it (so it can be branched again)."""
        src = ViewSource(kind, path, variant, origin=outcome)
        return cls.from_trace(outcome.trace, source=src, **kwargs)

    @classmethod
    def of(cls, source: TraceView | Trace | World | str | Path, **kwargs: Any) -> TraceView:
        """A view of whatever is at hand: a view (returned as is), trace, world or file path."""
        if isinstance(source, TraceView):
            return source
        if isinstance(source, Trace):
            return cls.from_trace(source, **kwargs)
        if isinstance(source, str | Path):
            return cls.from_file(source, **kwargs)
        if hasattr(source, "trace") and isinstance(source.trace, Trace):
            return cls.from_world(source, **kwargs)
        raise TypeError(f"cannot view a {type(source).__name__}: expected a TraceView, "
                        "Trace, World or the path of a trace file")

    def _derive(self, records: Sequence[TraceRecord]) -> TraceView:
        return TraceView(self.header, records, source=self.source, rules=self.rules,
                         snapshot_every=self.snapshot_every, root=self.root)

    def with_rules(self, rules: StateRules) -> TraceView:
        """The same records, read with other note-to-state rules (for another model pack)."""
        return TraceView(self.header, self.records, source=self.source, rules=rules,
                         snapshot_every=self.snapshot_every, root=self.root)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __getitem__(self, i: int) -> TraceRecord:
        return self.records[i]

    def __repr__(self) -> str:
        span = self.span()
        where = f" {self.source.kind}" + (f" {self.source.path}" if self.source.path else "")
        times = f" {span[0]:.3f}s..{span[1]:.3f}s" if span else ""
        return f"<TraceView{where} records={len(self)}{times} actors={len(self.actors())}>"

    def actors(self) -> list[str]:
        """Every actor with a record in this view, in natural order (``client/2`` before
        ``client/10``); ``world`` is the actor of faults."""
        return sorted({r.actor for r in self.records}, key=natural_key)

    def span(self) -> tuple[float, float] | None:
        """First and last record time in seconds, or ``None`` for an empty view."""
        if not self.records:
            return None
        return self.records[0].t / SECOND, self.records[-1].t / SECOND

    @property
    def sha256(self) -> str:
        """The fingerprint of this view's header and records in canonical form.

        For an unfiltered view it equals the run's trace hash.
        """
        if self._sha256 is None:
            self._sha256 = hash_lines(self.header, list(self.records))
        return self._sha256

    # ------------------------------------------------------------------ filters
    def where(self, predicate: Predicate) -> TraceView:
        """Records for which ``predicate(record)`` is true."""
        return self._derive([r for r in self.records if predicate(r)])

    def filter(
        self,
        *,
        actor: str | Iterable[str] | None = None,
        kind: str | Iterable[str] | None = None,
        type: str | Iterable[str] | None = None,
        event: str | Iterable[str] | None = None,
        window: tuple[float | None, float | None] | None = None,
    ) -> TraceView:
        """Keep records matching every criterion given; each accepts one value or several.

        ``actor`` takes exact names or globs (``"client/*"``); ``kind`` is in/out/fault/sys;
        ``type`` a record type (``"WsClosed"``, ``"crash"``); ``event`` a note event (keeps
        only notes); ``window`` is ``(start, end)`` in seconds, both inclusive, ``None``
        for an open end.
        """
        tests: list[Predicate] = []
        if actor is not None:
            tests.append(_actor_matcher(actor))
        if kind is not None:
            kinds = _as_set(kind)
            tests.append(lambda r: r.kind in kinds)
        if type is not None:
            types = _as_set(type)
            tests.append(lambda r: r.type in types)
        if event is not None:
            events = _as_set(event)
            tests.append(lambda r: r.type == "Note" and r.data.get("event") in events)
        records: Sequence[TraceRecord] = self.records
        if window is not None:
            records = self._window(*window)
        if not tests:
            return self._derive(records)
        return self._derive([r for r in records if all(t(r) for t in tests)])

    def window(self, start: float | None = None, end: float | None = None) -> TraceView:
        """Records with ``start <= t <= end`` (seconds; ``None`` leaves that end open)."""
        return self._derive(self._window(start, end))

    def _window(self, start: float | None, end: float | None) -> Sequence[TraceRecord]:
        lo = None if start is None else seconds_to_us(start)
        hi = None if end is None else seconds_to_us(end)
        return [r for r in self.records
                if (lo is None or r.t >= lo) and (hi is None or r.t <= hi)]

    def follow(self, *, conn: str | None = None, req: str | None = None,
               call_id: Any = None) -> TraceView:
        """Every record about one connection, HTTP exchange or call, from start to settlement.

        ``conn`` and ``req`` ids are matched wherever they appear as a value in a record's
        data (faults, kernel notices and notes name them too); ``call_id`` is matched under
        ``callId``/``call_id`` keys at any depth, such as inside a frame a ``Send`` carries.
        """
        given = [(k, v) for k, v in (("conn", conn), ("req", req), ("call_id", call_id))
                 if v is not None]
        if len(given) != 1:
            raise ValueError("follow() takes exactly one of conn=, req= or call_id=")
        key, value = given[0]
        if key == "call_id":
            return self.where(lambda r: _contains_key_value(r.data, CALL_ID_KEYS, value))
        return self.where(lambda r: _contains_value(r.data, value))

    # ------------------------------------------------------------------ state
    @property
    def index(self) -> StateIndex:
        """The snapshot index behind :meth:`at`, built on first use."""
        if self._index is None:
            self._index = StateIndex(self.records, self.rules, self.snapshot_every)
        return self._index

    def at(self, t: float) -> StatesAt:
        """Every actor's state at virtual time ``t`` seconds (after all records at ``t``).

        Returns a read-only mapping actor -> state dict with the keys ``state``, ``up``,
        ``incarnation``, ``connections``, ``alarm`` (microseconds), ``notes`` and
        ``partitions``; see :mod:`gatewaysim.analysis.state`. A filtered view folds only
        its own records, so ask the unfiltered view (:attr:`root`) for whole-world state.
        """
        return self.index.at_us(seconds_to_us(t))

    def at_us(self, t_us: Time) -> StatesAt:
        """:meth:`at` for a time in integer microseconds, as records carry it."""
        return self.index.at_us(t_us)

    # ------------------------------------------------------------------ branching
    def _outcome(self) -> RunOutcome | None:
        origin = self.source.origin
        return origin if isinstance(origin, RunOutcome) else None

    def steps(self) -> tuple[StepMark, ...]:
        """The steps of the run behind this view as applied: index, time, first record.

        Only views of runs made of steps have them (:meth:`from_failure`,
        :meth:`from_steps`, :meth:`branch`); any other view is a ``ConfigError``.
        """
        return self.outcome().marks

    def outcome(self) -> RunOutcome:
        """The executed run behind this view; a ``ConfigError`` if its records cannot be
        rerun (they came from a world or a trace file, not from steps)."""
        origin = self._outcome()
        if origin is not None:
            return origin
        where = f" {self.source.path}" if self.source.path else ""
        raise ConfigError(
            f"this view's records come from a {self.source.kind}{where}, which has no steps "
            "to rerun: branch a view of a run made of steps (TraceView.from_failure, "
            "TraceView.from_steps, or an earlier branch)")

    def branch(self, t: float | None = None, change: Change | None = None, *,
               variant: str | None = None) -> TraceView:
        """Rerun this view's run with one decision changed, and view the new run.

        ``change`` is a :class:`~gatewaysim.analysis.branch.RemoveStep`, ``ReplaceStep``,
        ``ChangeArg`` or ``Delay`` naming a 0-based step index (see :meth:`steps`). With a
        time ``t`` (seconds) and no index, the change applies to the first fault step at
        or after ``t``; ``branch(t)`` alone removes that fault. ``variant`` reruns under
        another variant's config (``branch(variant="fixed")``). The whole step list is
        rerun, so the new trace equals this one up to the changed step:
        ``diff(view, view.branch(...))`` shows where they part. The new view remembers
        its run, so it can be branched again. Views whose records were not produced from
        steps (a world, a trace file) cannot be rerun: ``ConfigError``.
        """
        root = self.root
        new = branch_outcome(root.outcome(), t, change, variant=variant)
        return TraceView.of_outcome(new, "branch", variant=new.run.variant, rules=root.rules,
                                    snapshot_every=root.snapshot_every)

    @property
    def violation(self) -> Violation | None:
        """The violation of the run behind this view (``None``: it holds, or the view's
        records do not come from a run made of steps; see :attr:`verdict`)."""
        outcome = self._outcome()
        return None if outcome is None else outcome.violation

    @property
    def verdict(self) -> str | None:
        """``"violated ID at T"`` or ``"holds: ..."`` for a run made of steps, else ``None``."""
        from .focus import verdict_line

        outcome = self._outcome()
        return None if outcome is None else verdict_line(outcome.violation)

    # ------------------------------------------------------------------ outputs
    def timeline(self, describe: Callable[[TraceRecord], str | None] | None = None,
                 verbose: bool = False, limit: int | None = None) -> Timeline:
        """The text timeline of this view (``gatewaysim.simulator.timeline.render_timeline``).

        A view of a run made of steps reads records with its pack's ``describe`` unless
        another is given. The result is a ``str`` that Jupyter shows as preformatted text
        (:class:`~gatewaysim.analysis.display.Timeline`).
        """
        from gatewaysim.simulator.timeline import render_timeline

        from .display import Timeline

        if describe is None:
            describe = getattr(self._outcome(), "describe", None)

        return Timeline(render_timeline(list(self.records), describe=describe,
                                        verbose=verbose, limit=limit))

    def _repr_html_(self) -> str:
        """Jupyter: the verdict on top, then the source, the steps and a timeline preview."""
        from .display import view_html

        return view_html(self)

    def to_pandas(self) -> pd.DataFrame:
        """One row per record, typed columns (see :func:`gatewaysim.analysis.frame.to_pandas`)."""
        from .frame import to_pandas

        return to_pandas(self.records, self.rules)
