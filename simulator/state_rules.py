"""How a pack's plain notes and effects name the states its actors are in.

The trace records what happened, not what was true. Models that say their state
(``Note("state", {"to": "connected"})``) need no rules; models that only emit plain notes
(``Note("connected")``) or effects (``OpenConnection``) declare here what each one means, in
their pack manifest, so that ``TraceView.at`` and the state plots speak the pack's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from attrs import field, frozen


def _frozen_map(m: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(m))


@frozen
class StateRules:
    """How plain notes and effects translate into a ``state`` for models that do not say it.

    ``notes`` maps a note event to the state it means; ``effects`` maps an effect type the
    actor returns to the state it means. Both apply only to actors that never emitted a
    ``Note(state_event, {"to": ...})``: once an actor names its states itself, it is
    believed and the rules stay out of its way.
    """

    notes: Mapping[str, str] = field(factory=dict, converter=_frozen_map)
    effects: Mapping[str, str] = field(factory=dict, converter=_frozen_map)
    state_event: str = "state"


__all__ = ["StateRules"]
