"""What the Lumenize monitors may read about the world: one frozen value per judgement.

The driver takes it after a step (or after settling) from the nodes and the runtime; the
monitors keep everything else from the trace records they observe. So a monitor never
reaches into the world, and judging cannot change a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from attrs import frozen


@frozen
class TabFacts:
    """One browser tab (a client host), primary or duplicate, as it is now."""

    address: str
    """Its host address (``client/u0.t1``, a duplicate tab ``client/u0.t1#2``)."""
    user: int
    """The index of its user (``u0`` is 0)."""
    instance: str
    """The instanceName it shares with every tab of its user (``u0.t1``)."""
    up: bool
    """The tab is open (a closed duplicate tab is down for good)."""
    state: str
    """The client's connection state: disconnected, connecting, connected, reconnecting."""
    connected: bool
    """Its current socket is OPEN at both ends, at its gateway, and it says ``connected``."""
    conn: str | None
    """Its current socket (``this.ws``), if any."""
    document: tuple[Any, Any] = (None, None)
    """The ``(version, content)`` of ``doc/main`` its app holds now (``None`` before any)."""


@frozen
class LumenizeStatistics:
    """The facts the Lumenize monitors judge from, taken after a step."""

    tabs: tuple[TabFacts, ...]
    """Every tab the driver opened, primary tabs first, in user order."""
    revoked: tuple[int, ...]
    """Users whose approval was withdrawn (``revoke``): a user fact heal_faults keeps."""
    rows: tuple[str, ...]
    """The ``doc/main`` broadcaster's subscriber rows (instanceNames), sorted."""
    gateway_sockets: tuple[tuple[str, tuple[str, ...]], ...]
    """Each gateway that holds a socket: the server ends it holds OPEN, oldest first."""
    published: tuple[str, ...] = ()
    """Every content the app published to ``doc/main`` (the driver's ``broadcast``), in
    order: the source of truth a subscriber's document is judged against."""
    gateway_states: tuple[tuple[str, str], ...] = ()
    """Each gateway that is up, with the state its ``statistics()`` reports (connected,
    grace, disconnected)."""
    counters: tuple[tuple[str, int], ...] = ()
    """The inspection counters the Worker, the token service and each open tab report now
    through their ``statistics()`` (``worker.forwarded``, ``worker.rejected``,
    ``auth.issued``, ``auth.refused``, ``<tab>.connects``, ``<tab>.login_required``, and
    how many calls are ``<tab>.pending``, ``<tab>.queued`` and ``<tab>.leaked`` and
    documents ``<tab>.subscribed``); the token service's are absent while it is down."""

    def tabs_of(self, user: int) -> Iterator[TabFacts]:
        return (tab for tab in self.tabs if tab.user == user)

    def live_tabs(self, user: int) -> list[TabFacts]:
        return [tab for tab in self.tabs if tab.user == user and tab.up]

    @property
    def users(self) -> tuple[int, ...]:
        return tuple(sorted({tab.user for tab in self.tabs}))


__all__ = ["LumenizeStatistics", "TabFacts"]
