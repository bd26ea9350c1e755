"""Durable Object alarms: one slot per object, overwrite on set, at-least-once, retried.

The rules, as Cloudflare documents them (see ``specs/realtime-systems.md`` section 1):

- one alarm per object; ``setAlarm`` replaces the pending one; ``deleteAlarm`` clears it;
- a handler that raises is retried with exponential backoff from 2 s (2, 4, 8, 16, 32,
  64 s), for up to 6 retries; then the alarm is given up;
- ``getAlarm()`` reads ``None`` while ``alarm()`` runs, unless ``setAlarm`` was called
  since the handler started; a ``setAlarm`` inside a handler that then raises replaces
  the retry (cloudflare-docs PR #15685);
- the alarm is durable: an object that is down when its alarm is due gets it on restart;
  a namespace object (a Durable Object proper) is started by its alarm, as by any contact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define

from .clock import Time, s
from .messages import AlarmFired
from .trace import SYS

if TYPE_CHECKING:
    from .world import World

RETRY_BASE: Time = s(2)
MAX_RETRIES = 6


@define(eq=False)
class AlarmSlot:
    at: Time | None = None
    entry: list | None = None
    running: bool = False
    set_while_running: bool = False
    retry_count: int = 0
    due_while_down: bool = False


class Alarms:
    def __init__(self, world: World) -> None:
        self.world = world
        self.slots: dict[str, AlarmSlot] = {}

    def _slot(self, host: str) -> AlarmSlot:
        slot = self.slots.get(host)
        if slot is None:
            slot = self.slots[host] = AlarmSlot()
        return slot

    def get(self, host: str) -> Time | None:
        slot = self.slots.get(host)
        if slot is None:
            return None
        if slot.running and not slot.set_while_running:
            return None
        return slot.at

    def set(self, host: str, at: Time) -> None:
        slot = self._slot(host)
        self._unschedule(slot)
        slot.at = at
        slot.retry_count = 0
        slot.due_while_down = False  # the new time replaces the one missed while down
        if slot.running:
            slot.set_while_running = True
        slot.entry = self.world.schedule(max(at, self.world.now), self._due, host)

    def delete(self, host: str) -> None:
        slot = self.slots.get(host)
        if slot is None:
            return
        self._unschedule(slot)
        slot.at = None
        slot.due_while_down = False

    @staticmethod
    def _unschedule(slot: AlarmSlot) -> None:
        if slot.entry is not None:
            slot.entry[2] = None
            slot.entry = None

    def _due(self, host: str) -> None:
        slot = self.slots[host]
        slot.entry = None
        if not self.world.host_up(host):
            slot.due_while_down = True
            if self.world.revives(host):  # a Durable Object is started to run its alarm
                self.world.contact(host, "alarm")  # reboots; host_restarted runs it
                return
            self.world.trace.emit(self.world.now, host, SYS, "alarm.deferred", {})
            return
        self._run(host, slot)

    def _run(self, host: str, slot: AlarmSlot) -> None:
        retry = slot.retry_count
        slot.at = None
        slot.running = True
        slot.set_while_running = False
        try:
            error = self.world.deliver_alarm(host, AlarmFired(retry))
        finally:
            slot.running = False
        if error is None:
            return
        if slot.set_while_running:
            self.world.trace.emit(self.world.now, host, SYS, "alarm.retry_replaced", {})
            return
        if retry >= MAX_RETRIES:
            self.world.trace.emit(self.world.now, host, SYS, "alarm.gave_up",
                                    {"retries": retry})
            return
        delay = RETRY_BASE * (2**retry)
        slot.retry_count = retry + 1
        slot.at = self.world.now + delay
        slot.entry = self.world.schedule(slot.at, self._due, host)
        self.world.trace.emit(self.world.now, host, SYS, "alarm.retry",
                                {"retry": retry + 1, "at": slot.at, "error": error})

    def host_restarted(self, host: str) -> None:
        slot = self.slots.get(host)
        if slot is not None and slot.due_while_down:
            slot.due_while_down = False
            slot.entry = self.world.schedule(self.world.now, self._due, host)

    def pending(self, host: str) -> Time | None:
        """The raw slot value, for invariants (ignores the running rule)."""
        slot = self.slots.get(host)
        return None if slot is None else slot.at
