"""The broadcast pack's driver: two instances on Redis, alice's two tabs and bob's one,
user mutations, and the faults that make an at-most-once bus lose things.

Steps act on tabs by key (``alice/0``, ``alice/1``, ``bob/0``) and on instances by name
(``api-a``, ``api-b``). Faults: a tab's socket drops (``client_drop``), an instance's Redis
subscription drops (``bus_drop``), a browser's link to one instance turns slow
(``slow``: what lets a newer refetch overtake a late one), and tabs close and reopen
(``tabs``). Every step is a no-op when it does not apply.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen
from hypothesis import strategies as st

from gatewaysim.models.broadcast.client_table import ClientState
from gatewaysim.models.broadcast.config import BroadcastConfig
from gatewaysim.models.broadcast.protocol import (
    CHANNELS,
    CONTACTS,
    CloseTab,
    CreateOrder,
    OpenTab,
    Subscribe,
    Unsubscribe,
    UpdateOrder,
    instance_name,
)
from gatewaysim.models.broadcast.world import USERS, BroadcastWorld, build_world
from gatewaysim.simulator import clock
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.network import OPEN
from gatewaysim.simulator.world import World

from ..driver import Driver
from ..steps import step

TABS: tuple[str, ...] = tuple(f"{u}/{k}" for u, n in USERS for k in range(n))
INSTANCES: tuple[str, ...] = (instance_name(0), instance_name(1))
USER_NAMES: tuple[str, ...] = tuple(u for u, _ in USERS)
WARM_UP = s(1)
"""Every run starts with the pages loaded: sockets open, channels subscribed, lists fetched."""
SLOW_LATENCY, SLOW_JITTER = ms(200), ms(800)
"""A slow path's latency and jitter: enough for one response to overtake another."""


@frozen
class TabView:
    """One tab slot as the monitors see it."""

    key: str
    life: int
    """How many times the slot was opened (0: never; the open page is life ``life``)."""
    open: bool
    state: str
    """The broadcast client's state: connecting, connected, reconnecting, disconnected."""
    connected: bool
    """CONNECTED and the backend holds the socket open."""
    channels: tuple[str, ...]
    """The channels the tab has handlers for (what it means to be subscribed to)."""
    server_channels: tuple[str, ...]
    """The channels the backend holds for the tab's current socket."""
    shown: dict[str, int]
    """What the tab displays: order -> version (optimistic entries laid over)."""
    as_of: int
    """The commit sequence the tab's confirmed data was read at (-1: none yet)."""


@frozen
class BroadcastStatistics:
    """The facts the broadcast monitors judge from."""

    database: dict[str, int]
    """The source of truth: order -> version."""
    seq: int
    """Commits so far."""
    tabs: tuple[TabView, ...]
    """Every tab slot, open or closed, in key order."""
    subscribers: dict[str, int]
    """Per channel, subscribers summed over the instances."""
    bus_ready: dict[str, bool]
    """Per instance, whether its Redis subscription is confirmed."""

    def open_tabs(self) -> tuple[TabView, ...]:
        return tuple(t for t in self.tabs if t.open)


def _valid_tab(key: str) -> bool:
    return key in TABS


class BroadcastDriver(Driver):
    settle_bound: ClassVar[clock.Time] = s(600)
    model_config: BroadcastConfig

    def setup(self) -> World:
        self.bw: BroadcastWorld = build_world(self.model_config, self.seed, self.trace)
        self.slowed: set[str] = set()
        self.bw.world.run_for(WARM_UP)
        return self.bw.world

    # ------------------------------------------------------------------ reading
    def _tab_view(self, key: str) -> TabView:
        user, _, slot_text = key.partition("/")
        browser = self.bw.browser(user)
        slot = int(slot_text)
        tab = browser.tab(slot)
        life = browser.lives.get(slot, 0)
        if tab is None:
            return TabView(key, life, False, "closed", False, (), (), {}, -1)
        conn = self.world.network.connection(tab.conn) if tab.conn else None
        connected = (tab.state is ClientState.CONNECTED and conn is not None
                     and not conn.broken and conn.server_state == OPEN)
        return TabView(key, life, True, tab.state.value, connected, tuple(tab.channels),
                       self.bw.server_channels(tab), tab.cache.shown(), tab.cache.as_of)

    def statistics(self) -> BroadcastStatistics:
        return BroadcastStatistics(
            dict(sorted(self.bw.db.orders.items())), self.bw.db.seq,
            tuple(self._tab_view(k) for k in TABS),
            {c: self.bw.subscriber_count(c) for c in CHANNELS},
            {i: self.bw.instance(i).bus_ready for i in self.bw.instances})

    def _state(self, key: str) -> str:
        tab = self.bw.tab(key)
        return "closed" if tab is None else tab.state.value

    # ------------------------------------------------------------------ user actions
    @step(time_arg="ms", ms=st.one_of(st.integers(min_value=1, max_value=300),
                                      st.integers(min_value=1, max_value=5_000)))
    def advance(self, ms: int) -> None:
        """Let virtual time pass."""
        self.world.run_for(clock.ms(ms))

    @step(tab=st.sampled_from(TABS), valid=st.booleans())
    def create(self, tab: str, valid: bool) -> None:
        """The user creates an order in ``tab``; an invalid one is rejected by the API (422)."""
        if not _valid_tab(tab) or self.bw.tab(tab) is None:
            return
        user, _, slot = tab.partition("/")
        self.cover(f"create ({'valid' if valid else 'rejected'}) while {self._state(tab)}")
        self.world.inject(user, CreateOrder(int(slot), valid))

    @step(tab=st.sampled_from(TABS), pick=st.integers(min_value=0, max_value=3))
    def update(self, tab: str, pick: int) -> None:
        """The user edits one of the orders ``tab`` shows (nothing if it shows none)."""
        if not _valid_tab(tab) or self.bw.tab(tab) is None:
            return
        user, _, slot = tab.partition("/")
        self.world.inject(user, UpdateOrder(int(slot), pick))

    @step(tab=st.sampled_from(TABS))
    def toggle_contacts(self, tab: str) -> None:
        """The tab subscribes to the ``contacts`` channel, or unsubscribes if it was."""
        t = self.bw.tab(tab) if _valid_tab(tab) else None
        if t is None:
            return
        user, _, slot = tab.partition("/")
        action = Unsubscribe if CONTACTS in t.channels else Subscribe
        self.cover(f"{action.__name__.lower()} while {t.state.value}")
        self.world.inject(user, action(int(slot), CONTACTS))

    # ------------------------------------------------------------------ faults
    @step(fault="client_drop", tab=st.sampled_from(TABS))
    def drop_socket(self, tab: str) -> None:
        """Break the tab's WebSocket; both ends see 1006 and the client reconnects."""
        t = self.bw.tab(tab) if _valid_tab(tab) else None
        if t is None or t.conn is None:
            return
        conn = self.world.network.connection(t.conn)
        if conn is None or conn.broken:
            return
        self.cover(f"socket drop while {t.state.value}")
        self.world.drop(t.conn)

    @step(fault="bus_drop", instance=st.sampled_from(INSTANCES))
    def drop_bus(self, instance: str) -> None:
        """Break an instance's Redis subscription connection (it resubscribes after 1 s)."""
        if instance not in self.bw.instances:
            return
        node = self.bw.instance(instance)
        conn = self.world.network.connection(node.sub_conn) if node.sub_conn else None
        if conn is None or conn.broken:
            return
        self.cover(f"bus drop ({'ready' if node.bus_ready else 'resubscribing'})")
        self.world.drop(conn.id)

    @step(fault="slow", user=st.sampled_from(USER_NAMES))
    def slow_link(self, user: str) -> None:
        """What the instances send a browser becomes slow and jittery (a congested downlink):
        a response may now arrive after that of a request the browser made later."""
        if user not in USER_NAMES or user in self.slowed:
            return
        self.cover("slow link")
        self.slowed.add(user)
        for instance in self.bw.instances:
            self.world.slow_link(instance, user, SLOW_LATENCY, SLOW_JITTER, both=False)

    @step(fault="tabs", tab=st.sampled_from(TABS))
    def close_tab(self, tab: str) -> None:
        """The user closes the tab: its socket, cache and pending work are gone."""
        if not _valid_tab(tab) or self.bw.tab(tab) is None:
            return
        user, _, slot = tab.partition("/")
        self.cover(f"close tab while {self._state(tab)}")
        self.world.inject(user, CloseTab(int(slot)))

    @step(fault="tabs", tab=st.sampled_from(TABS))
    def open_tab(self, tab: str) -> None:
        """The user opens (or reloads) the tab: a fresh page, cache and socket."""
        if not _valid_tab(tab):
            return
        user, _, slot = tab.partition("/")
        self.cover(f"open tab ({'reload' if self.bw.tab(tab) else 'new'})")
        self.world.inject(user, OpenTab(int(slot)))

    # ------------------------------------------------------------------ settling
    def heal_faults(self) -> None:
        """Slow links go back to what they were; drops heal themselves (clients reconnect)."""
        cfg = self.model_config
        for user in sorted(self.slowed):
            for instance in self.bw.instances:
                latency, jitter = cfg.downlink(instance, user)
                self.world.slow_link(instance, user, latency, jitter, both=False)
        self.slowed.clear()


__all__ = ["INSTANCES", "TABS", "BroadcastDriver", "BroadcastStatistics", "TabView"]
