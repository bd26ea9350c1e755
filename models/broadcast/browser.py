"""One user's browser: its tabs, each with a broadcast client and a cache, and the
BroadcastChannel that joins them.

A browser is one host because a BroadcastChannel is a same-browser thing: a message one tab
posts reaches every *other open* tab of the same browser at once (here: within the same
``handle`` call, so nothing can happen in between), and a tab that is closed receives
nothing, ever. Each tab still has its own WebSocket (its own ``BroadcastClient``), its own
cache and its own in-flight requests; the load balancer in front of the instances picks one
for each socket and each HTTP request.

Tab ``k`` of browser ``alice`` is ``alice/k``; each time the slot is (re)opened it gets a new
``life``, so notes from a reloaded tab never mix with the page it replaced.
"""

from __future__ import annotations

from typing import Any

from attrs import define, field

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    CloseConnection,
    Effect,
    HttpFailed,
    HttpRequest,
    HttpResponse,
    Input,
    Note,
    OpenConnection,
    Send,
    Start,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.node import HostContext, Node

from .cache import OrdersCache
from .client_table import ClientEvent, ClientState, transition
from .config import BroadcastConfig
from .protocol import (
    CHANNELS,
    ORDERS,
    CloseTab,
    CreateOrder,
    OpenTab,
    Subscribe,
    Unsubscribe,
    UpdateOrder,
)


@define
class Tab:
    """One open page: a ``BroadcastClient``, its channel handlers and its order cache."""

    slot: int
    life: int
    key: str
    state: ClientState = ClientState.DISCONNECTED
    conn: str | None = None
    attempts: int = 0
    connects: int = 0
    channels: dict[str, None] = field(factory=dict)
    """Channels with handlers, in subscription order (``handlers.keys()``)."""
    cache: OrdersCache = field(factory=OrdersCache)
    pending: dict[str, str] = field(factory=dict)
    """This tab's mutations in flight: mutation id -> order id."""
    received: int = 0

    def __repr__(self) -> str:
        return f"Tab({self.key!r}, life={self.life}, {self.state.value})"


@define(frozen=True)
class _Request:
    slot: int
    life: int
    kind: str  # "fetch" or "mutation"
    mid: str = ""


class Browser(Node):
    def __init__(self, ctx: HostContext, config: BroadcastConfig, instances: tuple[str, ...],
                 tabs: int = 1, channels: tuple[str, ...] = (ORDERS,)) -> None:
        super().__init__(ctx)
        self.config = config
        self.instances = instances
        self.initial_tabs = tabs
        self.initial_channels = channels
        self.tabs: dict[int, Tab | None] = dict.fromkeys(range(tabs))
        self.lives: dict[int, int] = {}
        self.requests: dict[str, _Request] = {}
        self.conns: dict[str, int] = {}
        self._n = 0
        self._mutations = 0

    @property
    def user(self) -> str:
        return self.address

    def tab(self, slot: int) -> Tab | None:
        return self.tabs.get(slot)

    def open_tabs(self) -> list[Tab]:
        return [t for _, t in sorted(self.tabs.items()) if t is not None]

    # ------------------------------------------------------------------ dispatch
    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start():
                out: list[Effect] = []
                for slot in range(self.initial_tabs):
                    out += self._open_tab(now, slot)
                return out
            case OpenTab(tab=slot):
                return [*self._close_tab(slot), *self._open_tab(now, slot)]
            case CloseTab(tab=slot):
                return self._close_tab(slot)
            case CreateOrder(tab=slot, valid=valid):
                return self._create(now, slot, valid)
            case UpdateOrder(tab=slot, pick=pick):
                return self._update(now, slot, pick)
            case Subscribe(tab=slot, channel=channel):
                return self._subscribe(slot, channel)
            case Unsubscribe(tab=slot, channel=channel):
                return self._unsubscribe(slot, channel)
            case WsOpened(conn=conn) | WsClosed(conn=conn) | WsRejected(conn=conn) | WsMessage(
                    conn=conn):
                tab = self._tab_of_conn(conn)
                return [] if tab is None else self._socket(now, tab, inp)
            case TimerFired(key=key):
                return self._timer(now, key)
            case HttpResponse(req=req) | HttpFailed(req=req):
                return self._answered(now, req, inp)
        return []

    def _tab_of_conn(self, conn: str) -> Tab | None:
        slot = self.conns.get(conn)
        tab = None if slot is None else self.tabs.get(slot)
        return tab if tab is not None and tab.conn == conn else None

    def _pick_instance(self) -> str:
        """The load balancer: any instance, drawn from this browser's seeded stream."""
        return self.instances[self.ctx.rng.randrange(len(self.instances))]

    def _next(self, what: str) -> str:
        self._n += 1
        return f"{self.address}:{what}{self._n}"

    # ------------------------------------------------------------------ tabs
    def _open_tab(self, now: Time, slot: int) -> list[Effect]:
        life = self.lives.get(slot, 0) + 1
        self.lives[slot] = life
        tab = Tab(slot, life, f"{self.user}/{slot}")
        tab.channels = dict.fromkeys(self.initial_channels)
        self.tabs[slot] = tab
        out: list[Effect] = [Note("tab.opened", {"tab": tab.key, "life": life}),
                             self._cache_note(tab, "open")]
        out += self._connect(tab)
        out += self._invalidate(tab)  # useQuery on mount
        return out

    def _close_tab(self, slot: int) -> list[Effect]:
        tab = self.tabs.get(slot)
        if tab is None:
            return []
        self.tabs[slot] = None
        out: list[Effect] = [Note("tab.closed", {"tab": tab.key, "life": tab.life}),
                             self._set_state(tab, ClientEvent.DISCONNECT)]
        if tab.conn is not None:
            out.append(CloseConnection(tab.conn))
            tab.conn = None
        out.append(self.cancel_timer(f"t{slot}.retry"))
        return out

    # ------------------------------------------------------------------ BroadcastClient
    def _set_state(self, tab: Tab, event: ClientEvent) -> Note:
        tab.state = transition(tab.state, event)
        # Not the kernel's "state" note: one browser host holds several tabs, each with its
        # own client, so the tab is named and timelines read it per tab.
        return Note("client.state", {"tab": tab.key, "to": tab.state.value})

    def _connect(self, tab: Tab) -> list[Effect]:
        note = self._set_state(tab, ClientEvent.CONNECT if tab.state is ClientState.DISCONNECTED
                               else ClientEvent.RETRY_DUE)
        tab.conn = self._next(f"t{tab.slot}.ws")
        self.conns[tab.conn] = tab.slot
        return [note, OpenConnection(tab.conn, self._pick_instance())]

    def _socket(self, now: Time, tab: Tab, inp: Input) -> list[Effect]:
        match inp:
            case WsOpened():
                note = self._set_state(tab, ClientEvent.OPENED)
                tab.attempts = 0
                tab.connects += 1
                out: list[Effect] = [note, Note("subscriptions", {
                    "tab": tab.key, "life": tab.life, "channels": list(tab.channels),
                    "reconnect": tab.connects > 1})]
                resubscribe = tab.connects == 1 or not self.config.mutant("no_resubscribe")
                if tab.channels and resubscribe and tab.conn is not None:
                    out.append(Send(tab.conn, {"subscribe": list(tab.channels)}))
                return out
            case WsClosed() | WsRejected():
                self.conns.pop(tab.conn or "", None)
                tab.conn = None
                if tab.attempts >= self.config.max_reconnect_attempts:
                    return [self._set_state(tab, ClientEvent.GIVE_UP)]
                delay = self.config.reconnect_delay * 2 ** tab.attempts
                return [self._set_state(tab, ClientEvent.CLOSED),
                        self.set_timer(f"t{tab.slot}.retry", now + delay)]
            case WsMessage(data=data):
                return self._dispatch(tab, data)
        return []

    def _dispatch(self, tab: Tab, data: Any) -> list[Effect]:
        if not isinstance(data, dict):
            return []
        if "subscribed" in data:  # only a fixed backend acknowledges
            if ORDERS in data["subscribed"] and self.config.fixed("refetch_on_resubscribe"):
                return self._invalidate(tab)
            return []
        channel = data.get("channel")
        if channel not in tab.channels:
            return []
        tab.received += 1
        if channel != ORDERS:
            return []
        payload = data.get("payload") or {}
        if self.config.ignore_own_echo and payload.get("source") == tab.key:
            return [Note("echo.ignored", {"tab": tab.key, "event": data.get("event")})]
        # order.created, order.updated, or a fixed instance's resync: invalidate, refetch.
        return self._invalidate(tab)

    def _subscribe(self, slot: int, channel: str) -> list[Effect]:
        tab = self.tabs.get(slot)
        if tab is None or channel not in CHANNELS or channel in tab.channels:
            return []
        tab.channels[channel] = None
        if tab.state is ClientState.CONNECTED and tab.conn is not None:
            return [Send(tab.conn, {"subscribe": [channel]})]
        return []

    def _unsubscribe(self, slot: int, channel: str) -> list[Effect]:
        tab = self.tabs.get(slot)
        if tab is None or channel not in tab.channels:
            return []
        del tab.channels[channel]
        if tab.state is ClientState.CONNECTED and tab.conn is not None:
            return [Send(tab.conn, {"unsubscribe": [channel]})]
        return []

    def _timer(self, now: Time, key: str) -> list[Effect]:
        slot_text, _, what = key.partition(".")
        tab = self.tabs.get(int(slot_text[1:]))
        if tab is None:
            return []
        if what == "retry" and tab.state is ClientState.RECONNECTING:
            tab.attempts += 1
            return self._connect(tab)
        if what.startswith("ttl.") and what.removeprefix("ttl.") in tab.cache.overlay:
            return self._invalidate(tab)
        return []

    # ------------------------------------------------------------------ cache and API
    def _cache_note(self, tab: Tab, cause: str) -> Note:
        """What the tab shows now, and why it changed: ``open``, ``read`` (a refetch was
        applied), ``mutation``, ``rollback`` or ``channel`` (another tab's message)."""
        return Note("cache", {"tab": tab.key, "life": tab.life, "cause": cause,
                              **tab.cache.to_note()})

    def _invalidate(self, tab: Tab) -> list[Effect]:
        req = self._next(f"t{tab.slot}.get")
        tab.cache.fetch_sent(req)
        self.requests[req] = _Request(tab.slot, tab.life, "fetch")
        return [HttpRequest(req, self._pick_instance(), "GET", "/orders")]

    def _create(self, now: Time, slot: int, valid: bool) -> list[Effect]:
        tab = self.tabs.get(slot)
        if tab is None:
            return []
        self._mutations += 1
        order, mid = f"{self.user}-{self._mutations}", f"{self.user}:m{self._mutations}"
        body = {"order": order, "mid": mid, "valid": valid, "source": tab.key}
        return self._mutate(now, tab, mid, order, 1, "POST", "/orders", body)

    def _update(self, now: Time, slot: int, pick: int) -> list[Effect]:
        tab = self.tabs.get(slot)
        if tab is None:
            return []
        shown = tab.cache.shown()
        if not shown:
            return []
        order = sorted(shown)[pick % len(shown)]
        self._mutations += 1
        mid = f"{self.user}:m{self._mutations}"
        body = {"mid": mid, "source": tab.key}
        return self._mutate(now, tab, mid, order, shown[order] + 1, "PATCH", f"/orders/{order}",
                            body)

    def _mutate(self, now: Time, tab: Tab, mid: str, order: str, version: int, method: str,
                path: str, body: dict[str, Any]) -> list[Effect]:
        tab.cache.begin_mutation(mid, order, version)
        tab.pending[mid] = order
        req = self._next(f"t{tab.slot}.mut")
        self.requests[req] = _Request(tab.slot, tab.life, "mutation", mid)
        out: list[Effect] = [
            Note("mutation.started", {"tab": tab.key, "mid": mid, "order": order,
                                      "version": version}),
            self._cache_note(tab, "mutation"),
            HttpRequest(req, self._pick_instance(), method, path, body=body),
        ]
        out += self._post(now, tab, {"event": "optimistic", "mid": mid, "order": order,
                                "version": version})
        return out

    def _answered(self, now: Time, req: str, inp: Input) -> list[Effect]:
        request = self.requests.pop(req, None)
        if request is None:
            return []
        tab = self.tabs.get(request.slot)
        if tab is None or tab.life != request.life:
            return [Note("response.lost", {"req": req, "why": "tab closed"})]
        if request.kind == "fetch":
            return self._fetched(tab, req, inp)
        return self._settled(now, tab, request.mid, inp)

    def _fetched(self, tab: Tab, req: str, inp: Input) -> list[Effect]:
        if not isinstance(inp, HttpResponse) or inp.status != 200:
            tab.cache.fetches.pop(req, None)
            return [Note("fetch.failed", {"tab": tab.key, "req": req})]
        held = tab.cache.as_of
        outcome = tab.cache.response(req, inp.body["orders"], inp.body["as_of"],
                                     versioned=self.config.fixed("versioned_cache"))
        note = Note("fetch.response", {"tab": tab.key, "req": req, "as_of": inp.body["as_of"],
                                       "held": held, "outcome": outcome})
        return [note, self._cache_note(tab, "read")] if outcome == "applied" else [note]

    def _settled(self, now: Time, tab: Tab, mid: str, inp: Input) -> list[Effect]:
        tab.pending.pop(mid, None)
        ok = isinstance(inp, HttpResponse) and 200 <= inp.status < 300
        out: list[Effect] = [Note("mutation.settled", {"tab": tab.key, "mid": mid, "ok": ok})]
        if ok:
            tab.cache.settle(mid)
        elif self.config.mutant("no_rollback"):
            return out  # neither onError nor onSettled runs
        else:
            tab.cache.rollback(mid, versioned=self.config.fixed("versioned_cache"))
            out.append(self._cache_note(tab, "rollback"))
            if self.config.fixed("rollback_broadcast"):
                out += self._post(now, tab, {"event": "rollback", "mid": mid})
        out += self._invalidate(tab)  # onSettled
        return out

    # ------------------------------------------------------------------ BroadcastChannel
    def _post(self, now: Time, sender: Tab, message: dict[str, Any]) -> list[Effect]:
        """``postMessage``: every other open tab of this browser receives it, at once."""
        out: list[Effect] = []
        for tab in self.open_tabs():
            if tab is not sender:
                out += self._on_channel(now, tab, message)
        return out

    def _on_channel(self, now: Time, tab: Tab, message: dict[str, Any]) -> list[Effect]:
        mid = message["mid"]
        if message["event"] == "optimistic":
            tab.cache.lay_over(mid, message["order"], message["version"])
            out: list[Effect] = [Note("channel.received", {"tab": tab.key, "mid": mid}),
                                 self._cache_note(tab, "channel")]
            if self.config.fixed("rollback_broadcast"):
                at = now + self.config.optimistic_ttl
                out.append(self.set_timer(f"t{tab.slot}.ttl.{mid}", at))
            return out
        if message["event"] == "rollback" and mid in tab.cache.overlay:
            tab.cache.drop(mid)
            return [self._cache_note(tab, "rollback"), *self._invalidate(tab)]
        return []

    def __repr__(self) -> str:
        open_ = ", ".join(t.key for t in self.open_tabs())
        return f"Browser({self.address!r}, tabs=[{open_}])"


__all__ = ["Browser", "Tab"]
