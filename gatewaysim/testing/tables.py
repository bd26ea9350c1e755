"""State tables: every (state, event) pair has a row, or a stated reason why it never occurs.

Where a state machine is central, a pack writes it as a transition table whose lookup
raises for a pair it has no row for. That error is only as good as the table is complete:
a pair forgotten by accident and a pair that cannot happen look the same. The protocol
below makes the difference explicit, and :func:`check_table` holds a table to it.

The protocol is structural, so model code never imports this module: a *state table* is
any object or module with

``STATES`` / ``states``
    every state (a sequence, or an ``Enum`` class);
``EVENTS`` / ``events``
    every event kind (likewise);
``TABLE`` / ``table``
    a mapping ``(state, event) -> row``; a row with a ``to`` attribute names the state it
    enters (``None``: it stays), and a row that is an ``Enum`` member is that state;
``UNREACHABLE`` / ``unreachable`` (optional)
    the pairs that have no row on purpose: a mapping ``(state, event) -> why`` (the
    argument, in one sentence, that the pair cannot occur).

A pack lists its tables as ``state_tables`` on its manifest.
:class:`StateTable` is a ready-made value for packs that are not modules of their own.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from enum import Enum
from types import ModuleType
from typing import Any

from attrs import field, frozen

from gatewaysim.properties.pack import Pack


@frozen
class StateTable:
    """A transition table in the shape :func:`check_table` reads (see the module docstring)."""

    name: str
    states: tuple[Any, ...] = field(converter=tuple)
    events: tuple[Any, ...] = field(converter=tuple)
    table: Mapping[tuple[Any, Any], Any] = field(repr=False)
    unreachable: Mapping[tuple[Any, Any], str] = field(factory=dict, repr=False)


def _part(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


def _members(value: Any) -> tuple[Any, ...]:
    if isinstance(value, type) and issubclass(value, Enum):
        return tuple(value)
    return tuple(value)


def table_name(obj: Any) -> str:
    if isinstance(obj, ModuleType):
        return obj.__name__
    return str(_part(obj, "name", "NAME", default=type(obj).__name__))


def check_table(obj: Any) -> list[str]:
    """What is wrong with one state table (empty: nothing)."""
    name = table_name(obj)
    states = _part(obj, "STATES", "states")
    events = _part(obj, "EVENTS", "events")
    table = _part(obj, "TABLE", "table")
    if states is None or events is None or not isinstance(table, Mapping):
        return [f"{name}: a state table needs STATES, EVENTS and a TABLE mapping"]
    states, events = _members(states), _members(events)
    unreachable = _part(obj, "UNREACHABLE", "unreachable", default={}) or {}
    if not isinstance(unreachable, Mapping):
        return [f"{name}: UNREACHABLE must map (state, event) to why it cannot occur"]
    problems: list[str] = []
    known_states, known_events = set(states), set(events)
    for pair in table:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            problems.append(f"{name}: row key {pair!r} is not a (state, event) pair")
            continue
        state, event = pair
        if state not in known_states or event not in known_events:
            problems.append(f"{name}: row {pair!r} names an unknown state or event")
        row = table[pair]
        target = getattr(row, "to", row if isinstance(row, Enum) else None)
        if target is not None and target not in known_states:
            problems.append(f"{name}: row {pair!r} enters unknown state {target!r}")
    for pair, why in unreachable.items():
        if pair in table:
            problems.append(f"{name}: {pair!r} has a row and is declared unreachable")
        if not (isinstance(why, str) and why.strip()):
            problems.append(f"{name}: unreachable pair {pair!r} needs a reason")
    missing = [pair for pair in itertools.product(states, events)
               if pair not in table and pair not in unreachable]
    if missing:
        shown = ", ".join(repr(p) for p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        problems.append(f"{name}: no row and no stated reason for {shown}{more} (add the row, "
                        "or the pair to UNREACHABLE with why it cannot occur)")
    return problems


def state_tables(pack: Pack) -> tuple[Any, ...]:
    """The state tables ``pack`` declares in its manifest (``Pack.state_tables``)."""
    return tuple(pack.state_tables)


__all__ = ["StateTable", "check_table", "state_tables", "table_name"]
