"""The pack registry: which packs exist, loaded only when asked for.

A pack is a :class:`Pack` value in its own module; :data:`PACKS` maps a pack name to
``"module:attribute"``. Loading is lazy so that a pack whose model is still being written
(or fails to import) never breaks the others, and so ``gatewaysim explore echo`` does not
import Lumenize.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from attrs import field, frozen
from gatewaysim.simulator.errors import ConfigError

from .driver import Driver
from .invariants import NO_EXCEPTION, Invariant

PACKS: dict[str, str] = {
    "echo": "gatewaysim.properties.echo:PACK",
    "lumenize": "gatewaysim.properties.lumenize:PACK",
}

ConfigFactory = Callable[[], dict[str, Any]]


@frozen
class Pack:
    """A pack: its name, its variants (name -> config factory) and its driver class."""

    name: str
    driver: type[Driver] = field(repr=False)
    variants: Mapping[str, ConfigFactory] = field(repr=False)
    default_variant: str = "faithful"

    @property
    def invariants(self) -> tuple[Invariant, ...]:
        """The catalogue, plus ``no-exception`` which every pack has."""
        return (*self.driver.invariants, NO_EXCEPTION)

    def invariant(self, invariant_id: str) -> Invariant:
        for inv in self.invariants:
            if inv.id == invariant_id:
                return inv
        known = ", ".join(i.id for i in self.invariants)
        raise ConfigError(f"pack {self.name!r} has no invariant {invariant_id!r} (known: {known})")

    def config(self, variant: str) -> dict[str, Any]:
        """The config of ``variant``, checked by the driver."""
        factory = self.variants.get(variant)
        if factory is None:
            known = ", ".join(self.variants)
            raise ConfigError(f"pack {self.name!r} has no variant {variant!r} (known: {known})")
        return self.driver.check_config(factory())


_LOADED: dict[str, Pack] = {}


def get_pack(name: str) -> Pack:
    """Load pack ``name``; an unknown or broken pack is a :class:`ConfigError` in one line."""
    pack = _LOADED.get(name)
    if pack is not None:
        return pack
    target = PACKS.get(name)
    if target is None:
        raise ConfigError(f"unknown pack {name!r} (known packs: {', '.join(sorted(PACKS))})")
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        pack = getattr(module, attribute)
    except Exception as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise ConfigError(f"pack {name!r} could not be loaded ({detail})") from exc
    if not isinstance(pack, Pack):
        raise ConfigError(f"pack {name!r}: {target} is not a gatewaysim.properties.packs.Pack")
    _LOADED[name] = pack
    return pack
