"""State tables: every (state, event) pair has a row, or a stated reason it cannot occur."""

from __future__ import annotations

from enum import Enum

import attrs

from gatewaysim.properties.echo import PACK as ECHO
from gatewaysim.testing import StateTable, check_pack, check_table, state_tables

from . import bad_packs


class State(Enum):
    IDLE = "idle"
    BUSY = "busy"


class Event(Enum):
    START = "start"
    DONE = "done"


@attrs.frozen
class Row:
    handler: str
    to: State | None = None


def table(**changes) -> StateTable:
    rows = {(State.IDLE, Event.START): Row("begin", State.BUSY),
            (State.BUSY, Event.DONE): Row("finish", State.IDLE),
            (State.BUSY, Event.START): Row("ignore")}
    base = StateTable("job", State, Event, rows,
                      {(State.IDLE, Event.DONE): "only a running job can finish"})
    return attrs.evolve(base, **changes)


def test_a_complete_table_with_a_reason_for_its_one_gap_passes() -> None:
    assert check_table(table()) == []


def test_a_pair_with_neither_row_nor_reason_is_named() -> None:
    problems = check_table(table(unreachable={}))
    assert len(problems) == 1
    assert "job: no row and no stated reason for (<State.IDLE: 'idle'>, <Event.DONE: 'done'>)" \
        in problems[0]


def test_rows_and_reasons_must_name_known_things_and_not_overlap() -> None:
    rows = {**table().table, (State.IDLE, Event.DONE): Row("finish", "gone")}
    problems = check_table(table(table=rows))
    assert any("enters unknown state 'gone'" in p for p in problems)
    assert any("has a row and is declared unreachable" in p for p in problems)
    assert check_table(table(unreachable={(State.IDLE, Event.DONE): " "})) == [
        "job: unreachable pair (<State.IDLE: 'idle'>, <Event.DONE: 'done'>) needs a reason"]


def test_an_object_without_the_parts_is_reported_not_raised() -> None:
    assert check_table(object()) == [
        "object: a state table needs STATES, EVENTS and a TABLE mapping"]


def test_the_kit_checks_the_tables_a_manifest_declares() -> None:
    assert state_tables(ECHO) == ()
    assert state_tables(bad_packs.SET_ORDER) == (bad_packs.Light,)
    report = check_pack(bad_packs.SET_ORDER, checks=("state-tables",), strict=False)
    assert report.problems == ("state-tables: light: no row and no stated reason for "
                               "('green', 'timer') (add the row, or the pair to UNREACHABLE "
                               "with why it cannot occur)",)


def test_rows_may_be_the_state_they_enter() -> None:
    rows = {(s, e): State.IDLE for s in State for e in Event}
    assert check_table(StateTable("plain", State, Event, rows)) == []
    wrong = {**rows, (State.BUSY, Event.DONE): Event.START}
    assert check_table(StateTable("plain", State, Event, wrong)) == [
        "plain: row (<State.BUSY: 'busy'>, <Event.DONE: 'done'>) enters unknown state "
        "<Event.START: 'start'>"]
