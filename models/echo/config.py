"""The echo model's configuration: its two planted bugs are mutants of one frozen config.

The echo model has no real weakness (``fixed`` is the same as ``faithful``), so its
mutants are the explorer's own test: each is a plausible bug with an obvious right answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from attrs import field, frozen

from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError


def _positive(_inst: object, _attr: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"give_up_after must be a positive integer, not {value!r}")


@frozen(kw_only=True)
class EchoConfig(PackConfig):
    MUTANTS: ClassVar[dict[str, str]] = {
        "give_up": "The client never resets its attempt counter on open and stops reconnecting "
                   "after give_up_after attempts over its whole life.",
        "duplicate_after_restart": "After a restart the server echoes the first message of "
                                   "each connection twice.",
    }

    give_up_after: int = field(default=3, validator=_positive)
    """How many reconnect attempts the ``give_up`` client makes before it stops."""

    @classmethod
    def presets(cls) -> dict[str, Callable[[], EchoConfig]]:
        return {**super().presets(),
                "buggy": lambda: cls(mutants=frozenset(cls.MUTANTS))}


__all__ = ["EchoConfig"]
