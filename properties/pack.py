"""The pack manifest, and how packs are found.

A **pack** is the unit of extension: one system's model, declared once in one
:class:`Pack` value. The manifest names everything the tools need: the config class (fix
flags, mutants and presets, from :class:`~gatewaysim.simulator.config.PackConfig`), the
driver (its step vocabulary, including the step that advances time), the monitors that
judge every run, the scenarios ``gatewaysim run`` knows, the timeline describer, and the
state rules that ``TraceView.at`` and the plots use.

Packs are found through the entry-point group ``gatewaysim.packs``; the built-in packs
register the same way (see ``pyproject.toml``). A user's own pack is either installed with
such an entry point or loaded straight from their code with ``--pack module:attr``, which
imports ``module`` from the current directory as ``python -m`` would. Adding a pack edits
no central file. Loading is lazy and each pack is loaded on its own, so a broken pack names
itself in one line and never breaks the others.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from attrs import field, frozen

from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.scenario import Describer, Scenario
from gatewaysim.simulator.state_rules import StateRules
from gatewaysim.simulator.trace import Listener, TraceRecord

from .driver import Driver
from .monitor import NO_EXCEPTION, Monitor
from .steps import Step, StepKind

GROUP = "gatewaysim.packs"
"""The entry-point group packs register in: ``name = "package.module:PACK"``."""


def _no_description(record: TraceRecord) -> str | None:
    return None


@frozen
class Pack:
    """One system, declared once. See the module docstring for what each part is for."""

    name: str
    summary: str
    config: type[PackConfig] = field(repr=False)
    driver: type[Driver] = field(repr=False)
    monitors: tuple[Monitor, ...] = field(converter=tuple, repr=False)
    scenarios: tuple[Scenario, ...] = field(default=(), converter=tuple, repr=False)
    describe: Describer = field(default=_no_description, repr=False)
    state_rules: StateRules = field(factory=StateRules, repr=False)
    variants: Mapping[str, Callable[[], PackConfig]] | None = field(default=None, repr=False)
    """Variant name -> config factory; default: the config class's presets and mutants."""
    default_variant: str = "faithful"
    readme: str | None = field(default=None, repr=False)
    """The pack's README, relative to the folder of the driver's module."""
    state_tables: tuple[Any, ...] = field(default=(), converter=tuple, repr=False)
    """Transition tables the conformance kit checks for completeness: objects or modules
    with ``STATES``, ``EVENTS``, ``TABLE`` ((state, event) -> row) and optionally
    ``UNREACHABLE`` ((state, event) -> why it cannot occur); see
    :mod:`gatewaysim.testing.tables`."""
    source: str | None = field(default=None, eq=False, repr=False)
    """``module:attr`` it was loaded from with ``--pack`` (``None``: an installed pack)."""

    def __attrs_post_init__(self) -> None:
        if not self.name or any(c.isspace() or c in ":/" for c in self.name):
            raise ConfigError(f"pack name must be one word without ':' or '/', not "
                              f"{self.name!r}")
        ids = [m.id for m in self.all_monitors]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ConfigError(f"pack {self.name!r}: duplicate monitor ids {dupes}")
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            raise ConfigError(f"pack {self.name!r}: duplicate scenario names {names}")
        if self.default_variant not in self.variant_names:
            raise ConfigError(f"pack {self.name!r}: default variant {self.default_variant!r} "
                              "is not one of its variants")
        self.driver.advance_kind()  # the driver must declare the step that advances time

    # ------------------------------------------------------------------ vocabulary
    @property
    def all_monitors(self) -> tuple[Monitor, ...]:
        """The declared monitors plus ``no-exception``, which every pack has."""
        return (*self.monitors, NO_EXCEPTION)

    def monitor(self, invariant_id: str) -> Monitor:
        for m in self.all_monitors:
            if m.id == invariant_id:
                return m
        known = ", ".join(m.id for m in self.all_monitors)
        raise ConfigError(f"pack {self.name!r} has no invariant {invariant_id!r} "
                          f"(known: {known})")

    @property
    def steps(self) -> Mapping[str, StepKind]:
        """The step vocabulary: every step kind of the driver, by name."""
        return self.driver.step_kinds

    @property
    def advance(self) -> StepKind:
        """The step kind that lets virtual time pass."""
        return self.driver.advance_kind()

    def advance_step(self, ms: int) -> Step:
        """A step that lets ``ms`` milliseconds of virtual time pass."""
        kind = self.advance
        assert kind.time_arg is not None
        return Step(kind.name, {kind.time_arg: ms})

    def check_step(self, step: Step, where: str = "step") -> Step:
        """``step`` if this pack has its kind and its arguments' names; else ConfigError."""
        kind = self.steps.get(step.name)
        if kind is None:
            raise ConfigError(f"{where} is {step.name!r}, which pack {self.name!r} does not "
                              f"have (known steps: {', '.join(self.steps)})")
        kind.check_args(step.args, where)
        return step

    def check_steps(self, steps: Sequence[Step]) -> tuple[Step, ...]:
        return tuple(self.check_step(s, f"step {i}") for i, s in enumerate(steps))

    def scenario(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise ConfigError(f"pack {self.name!r} has no scenario {name!r}")

    # ------------------------------------------------------------------ variants
    @property
    def variant_names(self) -> tuple[str, ...]:
        if self.variants is not None:
            return tuple(self.variants)
        return self.config.variant_names()

    def config_of(self, variant: str) -> PackConfig:
        """The config value of ``variant``; an unknown name is a :class:`ConfigError`."""
        if self.variants is not None:
            factory = self.variants.get(variant)
            if factory is None:
                raise ConfigError(f"pack {self.name!r} has no variant {variant!r} "
                                  f"(known: {', '.join(self.variants)})")
            return factory()
        try:
            return self.config.for_variant(variant)
        except ConfigError:
            raise ConfigError(f"pack {self.name!r} has no variant {variant!r} "
                              f"(known: {', '.join(self.variant_names)})") from None

    def read_config(self, data: Mapping[str, Any]) -> PackConfig:
        """A config from JSON (a failure file, a trace header); strict."""
        try:
            return self.config.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{self.name} config: {exc}") from None

    def new_driver(self, config: PackConfig | Mapping[str, Any], seed: int, *,
                   variant: str | None = None, keep_records: bool = False,
                   trace_path: str | Path | None = None,
                   listeners: Sequence[Listener] = ()) -> Driver:
        """A fresh driver of this pack, with fresh copies of every monitor."""
        cfg = config if isinstance(config, PackConfig) else self.read_config(config)
        return self.driver(cfg, seed, pack=self.name,
                           variant=variant if variant is not None else cfg.variant,
                           monitors=self.monitors, keep_records=keep_records,
                           trace_path=trace_path, listeners=listeners)

    def readme_path(self) -> Path | None:
        if self.readme is None:
            return None
        module = sys.modules.get(self.driver.__module__)
        base = Path(module.__file__).parent if module and module.__file__ else Path()
        return (base / self.readme).resolve()


# ---------------------------------------------------------------------------- finding packs
_LOADED: dict[str, Pack] = {}


def _entry_points() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        found.setdefault(ep.name, ep)
    return found


def pack_names() -> tuple[str, ...]:
    """Every registered pack name, sorted (plus packs loaded with ``--pack``)."""
    return tuple(sorted({*_entry_points(), *_LOADED}))


def _check(obj: Any, what: str) -> Pack:
    if not isinstance(obj, Pack):
        raise ConfigError(f"{what} is a {type(obj).__name__}, not a gatewaysim Pack")
    return obj


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def get_pack(name: str) -> Pack:
    """The pack called ``name`` (an entry point), or loaded from ``module:attr``."""
    if ":" in name:
        return load_pack(name)
    pack = _LOADED.get(name)
    if pack is not None:
        return pack
    ep = _entry_points().get(name)
    if ep is None:
        known = ", ".join(pack_names()) or "none"
        raise ConfigError(f"unknown pack {name!r} (known packs: {known}; a pack of your own: "
                          "--pack module:attr)")
    try:
        obj = ep.load()
    except Exception as exc:
        raise ConfigError(f"pack {name!r} could not be loaded from {ep.value} "
                          f"({_one_line(exc)})") from exc
    pack = _check(obj, f"pack {name!r} ({ep.value})")
    if pack.name != name:
        raise ConfigError(f"entry point {name!r} names pack {pack.name!r}; they must agree")
    _LOADED[name] = pack
    return pack


def load_pack(spec: str) -> Pack:
    """Load a pack from ``module:attr``, importing ``module`` from the current directory."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"--pack takes module:attr (e.g. mypack:PACK), not {spec!r}")
    cwd = str(Path.cwd())
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, attr)
    except Exception as exc:
        raise ConfigError(f"cannot load pack {spec} ({_one_line(exc)})") from exc
    pack = _check(obj, spec)
    existing = _LOADED.get(pack.name)
    if existing is not None and existing is not pack and existing.source != spec:
        raise ConfigError(f"pack {spec} is called {pack.name!r}, like a pack already loaded")
    if pack.source != spec:
        import attrs

        pack = attrs.evolve(pack, source=spec)
    _LOADED[pack.name] = pack
    return pack


def loadable_packs() -> tuple[list[Pack], list[str]]:
    """Every registered pack that loads, and a one-line problem for each one that does not."""
    packs, broken = [], []
    for name in pack_names():
        try:
            packs.append(get_pack(name))
        except ConfigError as exc:
            broken.append(str(exc))
    return packs, broken


def find_scenario(name: str) -> tuple[Pack, Scenario]:
    """The scenario called ``name`` and its pack.

    Scenario names start with their pack's name (``lumenize-phase2``), so that pack is
    loaded first and ``gatewaysim run echo`` imports no other pack; the rest are searched
    only if it does not have it.
    """
    names = pack_names()
    guess = name.split("-")[0]
    order = [guess, *(n for n in names if n != guess)] if guess in names else list(names)
    known: list[str] = []
    for pack_name in order:
        try:
            pack = get_pack(pack_name)
        except ConfigError:
            continue
        for sc in pack.scenarios:
            if sc.name == name:
                return pack, sc
            known.append(sc.name)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ConfigError(f"unknown scenario {name!r} ({hint}'gatewaysim run --list' names all "
                      f"{len(known)})")


def register(pack: Pack) -> Pack:
    """Make ``pack`` known by name in this process (tests, notebooks)."""
    _LOADED[_check(pack, "register()").name] = pack
    return pack


def unregister(name: str) -> None:
    """Forget a pack registered in this process (an installed pack is found again later)."""
    _LOADED.pop(name, None)


__all__ = ["GROUP", "Pack", "find_scenario", "get_pack", "load_pack", "loadable_packs",
           "pack_names", "register", "unregister"]
