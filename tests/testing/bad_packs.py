"""Packs that each break one clause of the conformance contract, to show the kit catches it.

Each is the echo pack with one thing wrong; they live at module level so that another
process can import them (the determinism check runs the pack in subprocesses).
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
from hypothesis import strategies as st

from gatewaysim.properties.echo import PACK as ECHO
from gatewaysim.properties.echo.driver import SERVER, EchoDriver
from gatewaysim.properties.echo.monitors import ORDER
from gatewaysim.properties.steps import step
from gatewaysim.simulator.trace import FAULT, TraceRecord

NAMES = frozenset({"alpha", "beta", "gamma", "delta", "epsilon", "zeta"})


class SetOrderDriver(EchoDriver):
    """Writes the iteration order of a set of strings into the trace (hash-seed dependent)."""

    @step(fault="drop")
    def roll_call(self) -> None:
        self.world.fault("roll_call", names=list(NAMES))


class TupleArgsDriver(EchoDriver):
    """A step whose drawn arguments are tuples: JSON reads them back as lists."""

    @step(fault="drop", pair=st.tuples(st.integers(0, 3), st.integers(0, 3)))
    def drop_pair(self, pair: tuple[int, int]) -> None:
        self.drop()


class NotANoOpDriver(EchoDriver):
    """A restart that raises when the server is already up (steps must be no-ops then)."""

    @step(fault="crash")
    def restart(self) -> None:
        if self.world.host_up(SERVER):
            raise RuntimeError("the server is not down")
        self.world.restart(SERVER)


class DictStatisticsDriver(EchoDriver):
    def statistics(self) -> Any:
        return attrs.asdict(super().statistics())


def describe_badly(record: TraceRecord) -> str | None:
    if record.kind == FAULT:
        return record.data["no such key"]
    return None


class Light:
    """A state table that forgot a pair (``(green, timer)``) and left no reason why."""

    name = "light"
    STATES = ("red", "green")
    EVENTS = ("timer", "button")
    TABLE = {("red", "timer"): "to_green", ("red", "button"): "ignore",
             ("green", "button"): "to_red"}


SET_ORDER = attrs.evolve(ECHO, name="broken-set-order", driver=SetOrderDriver,
                         state_tables=(Light,))
TUPLE_ARGS = attrs.evolve(ECHO, name="broken-tuple-args", driver=TupleArgsDriver)
NOT_A_NO_OP = attrs.evolve(ECHO, name="broken-not-a-no-op", driver=NotANoOpDriver)
DICT_STATISTICS = attrs.evolve(ECHO, name="broken-dict-statistics", driver=DictStatisticsDriver)
BAD_DESCRIBER = attrs.evolve(ECHO, name="broken-describer", describe=describe_badly)
NO_README = attrs.evolve(ECHO, name="broken-readme", readme="NO_SUCH_README.md")
# echo.order told it reads only what the client sends: it misses every delivery.
NARROW_ORDER = copy.copy(ORDER)
NARROW_ORDER.record_types = frozenset({"Send"})
NARROW_INTEREST = attrs.evolve(ECHO, name="broken-narrow-interest", monitors=tuple(
    NARROW_ORDER if m is ORDER else m for m in ECHO.monitors))


