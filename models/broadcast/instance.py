"""A backend instance: the WebSocket broadcast endpoint, the HTTP API, and its Redis links.

It is SYNC-012's FastAPI app with ``WebSocketBroadcastBackend`` bridged to Redis:

* ``/ws/broadcast``: a client sends ``{"subscribe": [...]}`` / ``{"unsubscribe": [...]}``;
  the instance keeps, per channel, the sockets subscribed to it (``subscriber_count``), and
  forgets a socket when it closes (dead connection cleanup).
* The API saves to the shared database, then broadcasts (``order.created`` and the like)
  by *publishing to Redis*; every instance, this one included, fans what Redis delivers out
  to its own subscribers (the test plan's 2.2: "all backend instances receive the Redis
  message; each fans out to its connected WebSocket clients").
* Two Redis connections, as redis-py has: a dedicated pub/sub connection (subscribed to
  every channel; it can drop, and comes back after ``bus_retry`` and resubscribes, missing
  whatever was published meanwhile) and a pool connection for ``publish``. A publish made
  before the pool connection is open waits for it.

Broadcast failures never fail the API call: the write is committed first.
"""

from __future__ import annotations

from typing import Any

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    AcceptConnection,
    ConnectRequested,
    Effect,
    HttpRequestReceived,
    HttpRespond,
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

from .config import BroadcastConfig
from .database import Commit, Database
from .protocol import CHANNELS, CREATED, ORDERS, REDIS, RESYNC, UPDATED


class BackendInstance(Node):
    def __init__(self, ctx: HostContext, db: Database, config: BroadcastConfig) -> None:
        super().__init__(ctx)
        self.db = db
        self.config = config
        self.subscriptions: dict[str, dict[str, None]] = {}
        """channel -> WebSocket connection ids subscribed to it, oldest first."""
        self.sockets: dict[str, None] = {}
        self.sub_conn: str | None = None
        self.bus_ready = False
        self.bus_subscribed_once = False
        self.pub_conn: str | None = None
        self.pub_open = False
        self.pub_queue: list[dict[str, Any]] = []
        self._n = 0

    # ------------------------------------------------------------------ testing helpers
    def subscriber_count(self, channel: str) -> int:
        """``get_subscriber_count`` of the real backend."""
        return len(self.subscriptions.get(channel, {}))

    def channels_of(self, conn: str) -> tuple[str, ...]:
        """The channels socket ``conn`` is subscribed to here, in channel order."""
        return tuple(c for c in CHANNELS if conn in self.subscriptions.get(c, {}))

    # ------------------------------------------------------------------ inputs
    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start():
                return [*self._open_bus(), *self._open_pub()]
            case ConnectRequested(conn=conn):
                self.sockets[conn] = None
                return [AcceptConnection(conn)]
            case WsOpened(conn=conn) if conn == self.sub_conn:
                return [Send(conn, {"op": "subscribe", "channels": list(CHANNELS)})]
            case WsOpened(conn=conn) if conn == self.pub_conn:
                self.pub_open = True
                queued, self.pub_queue = self.pub_queue, []
                return [Send(conn, {"op": "publish", **m}) for m in queued]
            case WsMessage(conn=conn, data=data) if conn == self.sub_conn:
                return self._from_bus(data)
            case WsMessage(conn=conn, data=data) if conn in self.sockets:
                return self._from_client(conn, data)
            case WsClosed(conn=conn) | WsRejected(conn=conn) if conn == self.sub_conn:
                self.sub_conn = None
                self.bus_ready = False
                return [Note("bus.down", {}),
                        self.set_timer("bus.retry", now + self.config.bus_retry)]
            case WsClosed(conn=conn) | WsRejected(conn=conn) if conn == self.pub_conn:
                self.pub_conn = None
                self.pub_open = False
                return self._open_pub()
            case WsClosed(conn=conn) if conn in self.sockets:
                del self.sockets[conn]
                for subscribers in self.subscriptions.values():
                    subscribers.pop(conn, None)
                return []
            case TimerFired(key="bus.retry"):
                return self._open_bus()
            case HttpRequestReceived():
                return self._api(inp)
        return []

    # ------------------------------------------------------------------ Redis
    def _open_bus(self) -> list[Effect]:
        self._n += 1
        self.sub_conn = f"{self.address}:sub{self._n}"
        return [OpenConnection(self.sub_conn, REDIS)]

    def _open_pub(self) -> list[Effect]:
        self._n += 1
        self.pub_conn = f"{self.address}:pub{self._n}"
        return [OpenConnection(self.pub_conn, REDIS)]

    def _publish(self, channel: str, event: str, payload: dict[str, Any]) -> list[Effect]:
        message = {"channel": channel, "data": {"event": event, "payload": payload}}
        if not self.pub_open or self.pub_conn is None:
            self.pub_queue.append(message)
            return []
        return [Send(self.pub_conn, {"op": "publish", **message})]

    def _from_bus(self, data: dict[str, Any]) -> list[Effect]:
        if data.get("op") == "subscribed":
            again = self.bus_subscribed_once
            self.bus_ready = self.bus_subscribed_once = True
            out: list[Effect] = [Note("bus.subscribed", {"again": again})]
            if again and self.config.fixed("resync_after_bus_reconnect"):
                for channel in CHANNELS:
                    out += self._fanout(channel, RESYNC, {})
            return out
        if data.get("op") == "message":
            inner = data["data"]
            return self._fanout(data["channel"], inner["event"], inner["payload"])
        return []

    def _fanout(self, channel: str, event: str, payload: dict[str, Any]) -> list[Effect]:
        targets = list(self.subscriptions.get(channel, {}))
        if self.config.mutant("fanout_skips_last") and targets:
            targets = targets[:-1]
        frame = {"channel": channel, "event": event, "payload": payload}
        return [Send(conn, frame) for conn in targets]

    # ------------------------------------------------------------------ WebSocket endpoint
    def _from_client(self, conn: str, data: Any) -> list[Effect]:
        if not isinstance(data, dict):
            return []
        out: list[Effect] = []
        subscribe = [c for c in data.get("subscribe", ()) if c in CHANNELS]
        for channel in subscribe:
            self.subscriptions.setdefault(channel, {})[conn] = None
        if subscribe and self.config.fixed("refetch_on_resubscribe"):
            out.append(Send(conn, {"subscribed": subscribe}))
        for channel in data.get("unsubscribe", ()):
            self.subscriptions.get(channel, {}).pop(conn, None)
        return out

    # ------------------------------------------------------------------ HTTP API
    def _api(self, req: HttpRequestReceived) -> list[Effect]:
        body = req.body if isinstance(req.body, dict) else {}
        if req.method == "GET" and req.path == "/orders":
            orders, seq = self.db.read()
            return [HttpRespond(req.req, 200, {"orders": orders, "as_of": seq})]
        if req.method == "POST" and req.path == "/orders":
            if not body.get("valid", True):
                return [Note("api.rejected", {"order": body["order"], "mid": body["mid"]}),
                        HttpRespond(req.req, 422, {"detail": "invalid order"})]
            commit = self.db.create(body["order"], body["mid"])
            return self._saved(req, commit, CREATED, body, 201)
        if req.method == "PATCH" and req.path.startswith("/orders/"):
            commit = self.db.update(req.path.removeprefix("/orders/"), body["mid"])
            return self._saved(req, commit, UPDATED, body, 200)
        return [HttpRespond(req.req, 404, {"detail": "not found"})]

    def _saved(self, req: HttpRequestReceived, commit: Commit | None, event: str,
               body: dict[str, Any], status: int) -> list[Effect]:
        if commit is None:
            return [Note("api.rejected", {"order": body.get("order"), "mid": body["mid"]}),
                    HttpRespond(req.req, 409 if event == CREATED else 404, {})]
        note = Note("db.commit", {"seq": commit.seq, "order": commit.order,
                                  "version": commit.version, "mid": commit.mid})
        payload = {"entity_id": commit.order, "version": commit.version,
                   "source": body.get("source", "")}
        return [note, *self._publish(ORDERS, event, payload),
                HttpRespond(req.req, status, {"order": commit.order, "version": commit.version,
                                              "seq": commit.seq})]

    def statistics(self) -> dict[str, Any]:
        return {**super().statistics(), "bus_ready": self.bus_ready,
                "subscribers": {c: self.subscriber_count(c) for c in CHANNELS}}

    def __repr__(self) -> str:
        return f"BackendInstance({self.address!r}, sockets={len(self.sockets)})"


__all__ = ["BackendInstance"]
