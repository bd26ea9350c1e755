"""Durable Object alarms on a real event loop: the kernel's rules, the loop's clock.

The rules (one alarm per object, ``set`` overwrites, ``get`` reads ``None`` while the
handler runs unless set since, a raising handler is retried with backoff) live in
:class:`~gatewaysim.simulator.alarms.Alarms`, which asks its world for five things: the
time, a way to schedule a callback (an entry whose third item, set to ``None``, cancels
it), whether the host is up, a way to run the handler, and a trace. :class:`LoopAlarms`
gives it those from one :class:`~gatewaysim.real.host.RealHost`, so a real gateway's grace
alarm obeys the very code the simulated one does. A real host does not crash in place (a
crash is the process dying), so the "due while down" branch never runs here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gatewaysim.simulator.alarms import Alarms
from gatewaysim.simulator.clock import Time

if TYPE_CHECKING:
    from .host import RealHost


class _LoopWorld:
    """What :class:`Alarms` reads from its world, for one real host."""

    def __init__(self, host: RealHost) -> None:
        self.host = host
        self.trace = host.trace
        self.handles: set[asyncio.TimerHandle] = set()
        self._seq = 0

    @property
    def now(self) -> Time:
        return self.host.clock.now()

    def schedule(self, when: Time, fn: Callable[[Any], object], arg: Any = None) -> list:
        self._seq += 1
        entry: list = [when, self._seq, fn]
        clock = self.host.clock
        handle: asyncio.TimerHandle

        def due() -> None:
            self.handles.discard(handle)
            callback = entry[2]
            if callback is not None:
                callback(arg)

        handle = clock.loop.call_later(clock.delay_until(when), due)
        self.handles.add(handle)
        return entry

    def host_up(self, address: str) -> bool:
        return self.host.node is not None

    def revives(self, address: str) -> bool:
        return False

    def contact(self, address: str, why: str) -> bool:
        return self.host_up(address)

    def deliver_alarm(self, address: str, inp: Any) -> str | None:
        return self.host.deliver_alarm(inp)


class LoopAlarms:
    """One host's alarm slot on the loop: ``get``, ``set``, ``delete``, ``close``."""

    def __init__(self, host: RealHost) -> None:
        self._world = _LoopWorld(host)
        self._alarms = Alarms(self._world)  # type: ignore[arg-type]
        self._address = host.address

    def get(self) -> Time | None:
        return self._alarms.get(self._address)

    def set(self, at: Time) -> None:
        self._alarms.set(self._address, at)

    def delete(self) -> None:
        self._alarms.delete(self._address)

    def close(self) -> None:
        """Cancel what is scheduled (the host stops)."""
        for handle in self._world.handles:
            handle.cancel()
        self._world.handles.clear()

    def __repr__(self) -> str:
        return f"LoopAlarms({self._address!r}, at={self.get()!r})"


__all__ = ["LoopAlarms"]
