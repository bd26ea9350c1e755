"""The ledger: what the Lumenize invariants know, kept up to date from the trace as it is written.

The invariants never ask the model how it decided something. They read what crossed the
wire and what the nodes said (trace records: inputs, effects, ``Note`` events, faults) and
keep their own books here, one record at a time, so a check after every step costs O(1)
in the length of the run. Where the model's own notes are used, they are used as *events*
("a call was parked", "the broadcaster reported a lost row"), never as verdicts; what the
runtime did (an alarm ran, a host crashed) is read from its own records.

A safety problem is written down the moment its record goes by (first one wins); the
liveness books (calls, arrivals, closes) are judged after ``settle``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from attrs import define, field
from gatewaysim.models.lumenize import protocol as p
from gatewaysim.simulator.clock import SECOND, Time, format_time
from gatewaysim.simulator.trace import FAULT, IN, OUT, TraceRecord

WORKER = p.WORKER
NODE = "node/main"


#: What a client may not do in answer to the close of a socket that is no longer current.
FENCED_REACTIONS = frozenset({"state", "reconnect.scheduled", "refresh.started",
                              "login_required"})


def client_of_conn(conn: str) -> str:
    """``client/u0.t1#2:ws3`` -> ``client/u0.t1#2`` (clients name their sockets so)."""
    return conn.rpartition(":ws")[0]


def expired(exp: Any, t: Time) -> bool:
    """``exp`` (JWT seconds) has passed at ``t``: the spec's strict ``exp < now`` (section 1.6)."""
    return isinstance(exp, int | float) and not isinstance(exp, bool) and exp * SECOND < t


@define
class CallBook:
    """One call and when it was issued and settled (``None``: not yet)."""

    issued: Time
    settled: list[Time] = field(factory=list)


@define
class Ledger:
    """Books kept from the trace for the Lumenize invariants."""

    reconnect_initial: Time
    world: Any = None  # the kernel world, for what a gateway can see (set after building)
    problems: dict[str, str] = field(factory=dict)
    # Gateways: sockets they accepted and still hold OPEN, and each socket's token exp.
    gw_open: defaultdict[str, set[str]] = field(factory=lambda: defaultdict(set))
    attach_exp: dict[str, Any] = field(factory=dict)
    gw_frame: dict[str, tuple[str, Any]] = field(factory=dict)  # gw -> (conn, callId)
    lost: dict[str, bool] = field(factory=dict)  # gw -> the subscriptionRequired oracle
    parked: defaultdict[str, set[str]] = field(factory=lambda: defaultdict(set))
    must_release: dict[str, set[str]] = field(factory=dict)
    incoming_sent: Counter[str] = field(factory=Counter)
    incoming_handled: Counter[tuple[str, str]] = field(factory=Counter)
    mesh_settled: Counter[str] = field(factory=Counter)
    forwarded_call_ids: Counter[str] = field(factory=Counter)
    # Clients.
    client_settled: Counter[str] = field(factory=Counter)
    awaited: dict[tuple[str, str], CallBook] = field(factory=dict)  # (client, tag) -> book
    just_opened: set[str] = field(factory=set)  # clients whose socket opened, no drop yet
    belief: dict[str, bool] = field(factory=dict)  # client -> believes it is subscribed
    # Trace sequence numbers, not times: a subscribe and an unsubscribe in the same
    # microsecond still reach the broadcaster in the order they were sent. An unsubscribe
    # counts from when it is issued and again from when it is sent (it may wait queued).
    subscribe_sent: dict[str, int] = field(factory=dict)  # subscribe callId -> record seq
    unsubscribe_sent: dict[str, int] = field(factory=dict)  # client -> last unsubscribe seq
    login_required: dict[str, tuple[Time, bool]] = field(factory=dict)  # t, legitimate
    current_conn: dict[str, str] = field(factory=dict)  # client -> socket it opened last
    stale_event: dict[str, str] = field(factory=dict)  # client -> stale socket it is handling
    last_refresh_refused: dict[str, bool] = field(factory=dict)
    refreshing: Counter[str] = field(factory=Counter)  # client -> refreshes in flight
    raced: set[str] = field(factory=set)  # clients that ran two refreshes at once
    last_open: dict[str, Time] = field(factory=dict)
    superseded_conns: set[str] = field(factory=set)  # client sockets closed with 4409
    gate_rejected: defaultdict[str, list[Time]] = field(factory=lambda: defaultdict(list))
    opens: defaultdict[str, list[Time]] = field(factory=lambda: defaultdict(list))
    # The mesh node's calls, the Worker's arrivals, and 4409s.
    mesh_calls: dict[str, CallBook] = field(factory=dict)  # tag -> book
    arrivals: list[tuple[Time, str]] = field(factory=list)  # (t, client) at the Worker
    # (t, client) of reconnects the user asked for (a wake-up event, connect()): they skip
    # the backoff schedule by design (spec 2.5 reconnectNow), so the herd check leaves them out.
    user_reconnects: list[tuple[Time, str]] = field(factory=list)
    supersessions: list[Time] = field(factory=list)

    def problem(self, invariant: str, t: Time, text: str) -> None:
        if invariant not in self.problems:
            self.problems[invariant] = f"{text} (t={format_time(t)})"

    # ------------------------------------------------------------------ the listener
    def __call__(self, rec: TraceRecord) -> None:
        actor = rec.actor
        if actor.startswith(p.GATEWAY_PREFIX):
            self._gateway(rec, actor)
        elif actor.startswith(p.CLIENT_PREFIX):
            self._client(rec, actor)
        elif actor == WORKER:
            self._worker(rec)
        elif actor == NODE and rec.kind == OUT and rec.type == "Note":
            self._node(rec)
        elif rec.kind == FAULT and rec.type == "crash":
            host = rec.data.get("host", "")
            if host.startswith(p.GATEWAY_PREFIX):
                # A crash is a new epoch: every call the gateway held in memory and every
                # fan-out sent while it was down is gone (realtime-systems section 3 #3).
                self.lost[host] = True
                self.gw_open[host].clear()
                self.parked[host].clear()
                self.must_release.pop(host, None)

    # ------------------------------------------------------------------ gateways
    def _gateway(self, rec: TraceRecord, gw: str) -> None:
        kind, type_, data, t = rec.kind, rec.type, rec.data, rec.t
        if kind == IN:
            self._release_due(gw, t)
            self.gw_frame.pop(gw, None)
            if type_ == "WsMessage":
                frame = data.get("data")
                if isinstance(frame, dict) and frame.get("type") == "call":
                    self.gw_frame[gw] = (data["conn"], frame.get("callId"))
            elif type_ == "WsClosed":
                self.gw_open[gw].discard(data["conn"])
            elif type_ == "AlarmFired":
                # The runtime ran alarm(): grace is over, whatever the handler did. Calls
                # still parked are the alarm's to reject (mesh_calls_settle watches them).
                self.parked[gw].clear()
                if not any(ws.ready_state == "OPEN"
                           for ws in self.world.network.server_sockets(gw)):
                    self.lost[gw] = True  # grace ran out: parked calls were rejected
            return
        if kind != OUT:
            return
        if type_ == "AcceptConnection":
            self.gw_open[gw].add(data["conn"])
            attachment = data.get("attachment") or {}
            self.attach_exp[data["conn"]] = (attachment.get("claims") or {}).get("exp")
        elif type_ == "CloseConnection":
            self.gw_open[gw].discard(data["conn"])
            if data.get("code") == p.CLOSE_SUPERSEDED:
                self.supersessions.append(t)
        elif type_ == "HttpRequest" and data.get("path") == p.EXECUTE_OPERATION:
            conn, call_id = self.gw_frame.get(gw, (None, None))
            if conn is None:
                return
            if expired(self.attach_exp.get(conn), t):
                self.problem("lumenize.no_expired_frame", t,
                             f"{gw} forwarded call {call_id} from {conn} to the mesh although "
                             f"its token expired at exp={self.attach_exp.get(conn)}")
            self.forwarded_call_ids[str(call_id)] += 1
            if self.forwarded_call_ids[str(call_id)] > 1:
                self.problem("lumenize.call_id_once", t,
                             f"client call {call_id} reached the mesh "
                             f"{self.forwarded_call_ids[str(call_id)]} times")
        elif type_ == "Send":
            frame = data.get("data")
            if isinstance(frame, dict) and frame.get("type") == "incoming_call":
                conn, call_id = data["conn"], str(frame.get("callId"))
                if expired(self.attach_exp.get(conn), t):
                    self.problem("lumenize.no_expired_incoming_call", t,
                                 f"{gw} sent incoming_call {call_id} on {conn} although its "
                                 f"token expired at exp={self.attach_exp.get(conn)}")
                self.incoming_sent[call_id] += 1
                if self.incoming_sent[call_id] > 1:
                    self.problem("lumenize.parked_call_delivered_once", t,
                                 f"{gw} sent incoming_call {call_id} "
                                 f"{self.incoming_sent[call_id]} times")
        elif type_ == "Note":
            self._gateway_note(gw, t, data["event"], data.get("data") or {})

    def _gateway_note(self, gw: str, t: Time, event: str, d: dict) -> None:
        if event == "upgrade":
            # What the gateway can see when it decides: the sockets the runtime still lists
            # for it and its alarm. No socket and no grace alarm means the client left
            # without a grace period starting: nothing vouches for the gap.
            sockets = self.world.network.server_sockets(gw)
            unvouched = not sockets and self.world.alarms.pending(gw) is None
            expected = self.lost.get(gw, True) or unvouched
            actual = d.get("subscriptionRequired")
            if actual != expected:
                why = "the gateway lost the client's state" if expected else (
                    "nothing was lost since the last connection")
                self.problem("lumenize.subscription_required", t,
                             f"{gw} accepted {d.get('conn')} with subscriptionRequired="
                             f"{str(actual).lower()}, but {why}")
            self.lost[gw] = False
            if self.parked[gw]:
                self.must_release[gw] = set(self.parked[gw])
        elif event == "subscription.lost":
            self.lost[gw] = True
        elif event == "call.parked":
            self.parked[gw].add(d["req"])
        elif event in ("call.forwarded", "mesh_call.settled"):
            req = d.get("req")
            self.parked[gw].discard(req)
            if gw in self.must_release:
                self.must_release[gw].discard(req)
            if event == "mesh_call.settled":
                self.mesh_settled[req] += 1
                if self.mesh_settled[req] > 1:
                    self.problem("lumenize.mesh_call_settles_once", t,
                                 f"{gw} settled mesh call {req} {self.mesh_settled[req]} times")

    def _release_due(self, gw: str, t: Time) -> None:
        """The step that accepted a returning client is over: its parked calls must be out."""
        waiting = self.must_release.pop(gw, None)
        if waiting:
            self.problem("lumenize.parked_call_delivered_once", t,
                         f"{gw} accepted a returning client but kept parked call(s) "
                         f"{sorted(waiting)} instead of delivering them")

    def finish_step(self, t: Time) -> None:
        """Called before each check: close the books of the input that ran last."""
        for gw in list(self.must_release):
            self._release_due(gw, t)

    # ------------------------------------------------------------------ clients
    def _client(self, rec: TraceRecord, client: str) -> None:
        kind, type_, data, t = rec.kind, rec.type, rec.data, rec.t
        if kind == IN:
            self.stale_event.pop(client, None)
            if type_ in ("WsClosed", "WsRejected") and data["conn"] != self.current_conn.get(
                    client, data["conn"]):
                self.stale_event[client] = data["conn"]
            if type_ in ("WakeUp", "ClientConnect"):
                self.user_reconnects.append((t, client))
            if type_ == "WsOpened":
                self.just_opened.add(client)
                self.last_open[client] = t
            elif type_ == "ClientCall":
                tag = data.get("tag") or ""
                if data.get("awaited") and tag.startswith("await:"):
                    self.awaited[(client, tag)] = CallBook(t)
                if tag.startswith("unsubscribe:"):
                    # From here on the client cannot know whether its row exists.
                    self.belief[client] = False
                    self.unsubscribe_sent[client] = rec.seq
            elif type_ == "WsClosed" and data.get("code") == p.CLOSE_SUPERSEDED:
                self.superseded_conns.add(data["conn"])
            return
        if kind == OUT and type_ == "OpenConnection":
            self.opens[client].append(t)
            self.current_conn[client] = data["conn"]
            return
        if kind != OUT or type_ != "Note":
            return
        event, d = data["event"], data.get("data") or {}
        stale = self.stale_event.get(client)
        if stale is not None and event in FENCED_REACTIONS:
            self.problem("lumenize.stale_socket_fenced", t,
                         f"{client} reacted to the close of {stale}, which is no longer its "
                         f"current socket ({self.current_conn.get(client)}): {event} {d}")
        if event == "reconnect.scheduled":
            if client in self.just_opened:
                self.just_opened.discard(client)
                if d.get("delay", 0) > self.reconnect_initial:
                    self.problem("lumenize.prompt_first_reconnect", t,
                                 f"{client} waits {d.get('delay')}us before its first reconnect "
                                 f"after an open connection dropped (attempt {d.get('attempt')})")
        elif event == "call.sent" or event == "call.settled":
            call_id, tag = str(d.get("callId")), d.get("tag") or ""
            if event == "call.sent":
                if tag.startswith("subscribe:"):
                    self.subscribe_sent[call_id] = rec.seq
                elif tag.startswith("unsubscribe:"):
                    self.unsubscribe_sent[client] = rec.seq
                return
            self.client_settled[call_id] += 1
            if self.client_settled[call_id] > 1:
                self.problem("lumenize.client_call_settles_once", t,
                             f"{client} settled call {call_id} {self.client_settled[call_id]} "
                             "times")
            book = self.awaited.get((client, tag))
            if book is not None:
                book.settled.append(t)
            if tag.startswith("subscribe:") and d.get("ok") and self.subscribe_sent.get(
                    call_id, -1) >= self.unsubscribe_sent.get(client, -1):
                self.belief[client] = True
        elif event == "refresh.started":
            if self.refreshing[client]:
                self.raced.add(client)  # both present the same refresh cookie
                if d.get("reason") != "token_expired":
                    self.problem("lumenize.single_flight_refresh", t,
                                 f"{client} started a refresh ({d.get('reason')}) while "
                                 f"{self.refreshing[client]} of its refreshes were in flight")
            self.refreshing[client] += 1
        elif event == "refresh.done":
            self.refreshing[client] = max(0, self.refreshing[client] - 1)
            # A refusal is definitive unless the client raced itself: then the service
            # refused a cookie its own other refresh had just rotated (section 3 #10).
            self.last_refresh_refused[client] = (not d.get("ok")) and d.get("status") in (
                401, 403) and client not in self.raced
            if not self.refreshing[client]:
                self.raced.discard(client)
        elif event == "login_required":
            legit = d.get("code") == 403 or self.last_refresh_refused.get(client, False)
            self.login_required[client] = (t, legit)
        elif event == "incoming.handled":
            key = (client, str(d.get("callId")))
            self.incoming_handled[key] += 1
            if self.incoming_handled[key] > 1:
                self.problem("lumenize.parked_call_delivered_once", t,
                             f"{client} ran incoming call {key[1]} "
                             f"{self.incoming_handled[key]} times")

    # ------------------------------------------------------------------ the Worker and node
    def _worker(self, rec: TraceRecord) -> None:
        if rec.kind == IN and rec.type == "ConnectRequested":
            self.arrivals.append((rec.t, client_of_conn(rec.data["conn"])))
        elif rec.kind == OUT and rec.type == "RejectConnection" and rec.data.get("status") == 403:
            self.gate_rejected[client_of_conn(rec.data["conn"])].append(rec.t)

    def _node(self, rec: TraceRecord) -> None:
        event, d = rec.data["event"], rec.data.get("data") or {}
        tag = d.get("tag") or ""
        if event == "mesh_call.sent":
            self.mesh_calls[tag] = CallBook(rec.t)
        elif event == "mesh_call.result" and tag in self.mesh_calls:
            self.mesh_calls[tag].settled.append(rec.t)
