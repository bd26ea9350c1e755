"""The base class of every pack's configuration: real constants, fix flags, planted mutants.

A pack models the real system *faithfully*, weaknesses included. Each weakness it knows
has a named **fix flag**; each bug it plants on purpose (to measure how quickly exploration
finds one) a named **mutant**. Both are declared once per pack, as ``FIXES`` and
``MUTANTS`` class attributes mapping a name to what it changes, and every name is checked:

* building a config with an unknown flag or mutant is a :class:`ConfigError`;
* asking ``config.fixed("typo")`` is a :class:`ConfigError` too, so a misspelt flag in
  model code fails the first test that reaches it instead of silently reading False.

Variants come from the same declaration: ``faithful`` (no fix), ``fixed`` (every fix), and
``mutant:<name>`` (one planted bug on top of ``fixed``, so no real weakness masks it). A
pack may add presets of its own by overriding :meth:`PackConfig.presets`.

Configs are frozen attrs values; :meth:`to_dict` is what goes into trace headers and
failure files, and :meth:`from_dict` reads it back strictly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import attrs
from attrs import field, frozen

from .errors import ConfigError

C = TypeVar("C", bound="PackConfig")

MUTANT_PREFIX = "mutant:"


def _names(kind: str, attr: str) -> Callable[[Any, Any, frozenset[str]], None]:
    def check(inst: Any, _attribute: Any, value: frozenset[str]) -> None:
        known: Mapping[str, str] = getattr(type(inst), attr)
        unknown = sorted(set(value) - set(known))
        if unknown:
            listed = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"unknown {kind} {', '.join(map(repr, unknown))} for "
                              f"{type(inst).__name__} (known: {listed})")

    return check


def _names_converter(value: Any) -> frozenset[str]:
    if isinstance(value, str):  # a lone name would otherwise become a set of letters
        raise ConfigError(f"expected a list of names, not the string {value!r}")
    try:
        names = frozenset(value)
    except TypeError:
        raise ConfigError(f"expected a list of names, not {value!r}") from None
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"names must be strings, not {sorted(map(repr, names))}")
    return names


@frozen(kw_only=True)
class PackConfig:
    """Fix flags and mutants, checked by name; subclasses add their constants as fields."""

    FIXES: ClassVar[Mapping[str, str]] = {}
    """Fix flag name -> the weakness of the real system it corrects."""
    MUTANTS: ClassVar[Mapping[str, str]] = {}
    """Mutant name -> the bug it plants (none is in the real system)."""

    fixes: frozenset[str] = field(factory=frozenset, converter=_names_converter,
                                  validator=_names("fix flag", "FIXES"))
    mutants: frozenset[str] = field(factory=frozenset, converter=_names_converter,
                                    validator=_names("mutant", "MUTANTS"))

    # ------------------------------------------------------------------ flags
    def fixed(self, name: str) -> bool:
        """Is fix flag ``name`` on? An undeclared name is an error, never a silent False."""
        if name in self.fixes:
            return True
        if name not in self.FIXES:
            raise ConfigError(f"{type(self).__name__} has no fix flag {name!r}")
        return False

    def mutant(self, name: str) -> bool:
        """Is mutant ``name`` planted? An undeclared name is an error."""
        if name in self.mutants:
            return True
        if name not in self.MUTANTS:
            raise ConfigError(f"{type(self).__name__} has no mutant {name!r}")
        return False

    # ------------------------------------------------------------------ variants
    @classmethod
    def presets(cls: type[C]) -> dict[str, Callable[[], C]]:
        """Named configs besides the ``mutant:`` ones: ``faithful`` and ``fixed``."""
        return {"faithful": lambda: cls(), "fixed": lambda: cls(fixes=frozenset(cls.FIXES))}

    @classmethod
    def variant_names(cls) -> tuple[str, ...]:
        """Every variant: the presets, then ``mutant:<name>`` for each mutant, sorted."""
        return (*cls.presets(), *(MUTANT_PREFIX + m for m in sorted(cls.MUTANTS)))

    @classmethod
    def for_variant(cls: type[C], name: str) -> C:
        """The config of variant ``name``; unknown names are a :class:`ConfigError`."""
        presets = cls.presets()
        if name in presets:
            return presets[name]()
        mutant = name.removeprefix(MUTANT_PREFIX)
        if name.startswith(MUTANT_PREFIX) and mutant in cls.MUTANTS:
            base = presets["fixed"]() if "fixed" in presets else cls()
            return attrs.evolve(base, mutants=frozenset({mutant}))
        raise ConfigError(f"unknown variant {name!r} (known: {', '.join(cls.variant_names())})")

    @property
    def variant(self) -> str:
        """The variant this config is, or ``custom``."""
        for name in self.variant_names():
            if self.for_variant(name) == self:
                return name
        return "custom"

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (sets as sorted lists, tuples as lists) for headers and files."""
        out: dict[str, Any] = {}
        for a in attrs.fields(type(self)):
            value = getattr(self, a.name)
            if isinstance(value, frozenset | set):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[a.name] = value
        return out

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Read :meth:`to_dict` back; unknown keys, wrong types and bad names are errors."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a {cls.__name__} must be a JSON object, not {data!r}")
        fields = {a.name: a for a in attrs.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)} "
                              f"(known: {', '.join(fields)})")
        values = {}
        for key, value in data.items():
            _check_type(cls, fields[key], value)
            # JSON has lists only: a tuple-valued field gets its tuple back, so a config read
            # from a failure file equals the one that was written.
            values[key] = tuple(value) if isinstance(value, list) and isinstance(
                _default(fields[key]), tuple) else value
        try:
            return cls(**values)
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{cls.__name__}: {' '.join(str(exc).split())}") from None


def _default(a: attrs.Attribute) -> Any:
    if isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
        return a.default.factory()  # type: ignore[union-attr]
    return a.default


def _check_type(cls: type, a: attrs.Attribute, value: Any) -> None:
    """A JSON value's type against the field's default: ints stay ints, bools stay bools,
    and numbers are not negative unless the field's metadata says ``signed=True``."""
    if a.name in ("fixes", "mutants"):
        return
    default = _default(a)
    if default is attrs.NOTHING or default is None:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, tuple | list | frozenset):
        ok = isinstance(value, list | tuple)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{cls.__name__}: {a.name} must be {type(default).__name__}, "
                          f"not {value!r}")
    # Durations, counts and limits are never negative; a field that may be says so.
    if (isinstance(default, int | float) and not isinstance(default, bool) and value < 0
            and not a.metadata.get("signed", False)):
        raise ConfigError(f"{cls.__name__}: {a.name} must not be negative, not {value!r}")


__all__ = ["MUTANT_PREFIX", "PackConfig"]
