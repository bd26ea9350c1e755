"""The sans-IO node interface, and the read-only view a node has of its host.

A node is a plain state machine: ``handle(now, input) -> list[Effect]`` and
``next_deadline()`` (the aioquic shape). It never calls the world; it *asks* for things
by returning effects, which the world applies after ``handle`` returns. That removes
re-entrancy, makes the trace an exact record of what happened, and lets the same core be
driven later by a real asyncio network.

Reads are different from writes: a Durable Object reads its alarm, its sockets and its
storage synchronously, so the world hands each node a :class:`HostContext` with read-only
accessors. Writes to any of them are effects.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from attrs import frozen

from .clock import Time
from .messages import CancelTimer, Effect, Input, SetTimer, TimerFired

if TYPE_CHECKING:
    from .world import World


class SansIONode(Protocol):
    def handle(self, now: Time, inp: Input) -> list[Effect]: ...

    def next_deadline(self) -> Time | None: ...


@frozen
class SocketView:
    """A server-side socket as ``ctx.getWebSockets()`` shows it."""

    conn: str
    peer: str
    attachment: Any
    ready_state: str  # "OPEN" or "CLOSING"


class HostContext:
    """What a node may read about its own host. Created by the world per incarnation."""

    __slots__ = ("_rng", "_world", "address", "incarnation")

    def __init__(self, world: World, address: str, incarnation: int) -> None:
        self._world = world
        self.address = address
        self.incarnation = incarnation
        self._rng: random.Random | None = None

    @property
    def rng(self) -> random.Random:
        """This incarnation's own stream (``host:<address>#<incarnation>``).

        Made on first use: seeding a ``random.Random`` costs more than booting most nodes,
        and many never draw. A named stream's draws do not depend on when it was made.
        """
        rng = self._rng
        if rng is None:
            rng = self._rng = self._world.rng.stream(f"host:{self.address}#{self.incarnation}")
        return rng

    def get_alarm(self) -> Time | None:
        """The pending alarm time; ``None`` while ``alarm()`` runs unless set since (DO rule)."""
        return self._world.alarms.get(self.address)

    def get_websockets(self) -> list[SocketView]:
        """Server-side sockets this host accepted that are OPEN or CLOSING, oldest first."""
        return self._world.network.server_sockets(self.address)

    @property
    def storage(self) -> Mapping[str, Any]:
        """Durable storage: survives crash and eviction. Write it with ``StoragePut``."""
        return self._world.storage_view(self.address)

    def __repr__(self) -> str:
        return f"HostContext({self.address!r}, incarnation={self.incarnation})"


class Node:
    """Convenience base: keeps track of armed timers so ``next_deadline()`` is exact.

    Subclasses implement :meth:`on_input` and build timers with :meth:`set_timer` /
    :meth:`cancel_timer`, which return the effect to emit.
    """

    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx
        self._timers: dict[str, Time] = {}

    @property
    def address(self) -> str:
        return self.ctx.address

    def handle(self, now: Time, inp: Input) -> list[Effect]:
        if type(inp) is TimerFired:
            self._timers.pop(inp.key, None)
        return self.on_input(now, inp)

    def on_input(self, now: Time, inp: Input) -> list[Effect]:  # pragma: no cover - abstract
        raise NotImplementedError

    def next_deadline(self) -> Time | None:
        return min(self._timers.values()) if self._timers else None

    def set_timer(self, key: str, at: Time) -> SetTimer:
        self._timers[key] = at
        return SetTimer(key, at)

    def cancel_timer(self, key: str) -> CancelTimer:
        self._timers.pop(key, None)
        return CancelTimer(key)

    def timer_armed(self, key: str) -> bool:
        return key in self._timers

    def statistics(self) -> dict[str, Any]:
        """A snapshot for invariants and notebooks; subclasses extend it."""
        return {"timers": dict(sorted(self._timers.items()))}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address!r})"
