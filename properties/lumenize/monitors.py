"""The Lumenize monitors: what Lumenize Mesh promises, each declared and judged in one object.

Each monitor cites the guarantee it encodes from ``realtime-systems.md`` section 3 ("#6" is
its sixth item) and the Lumenize behaviour it is about (``lumenize-mesh.md``, "spec").

A monitor keeps its own books from the trace records as they are written: what crossed the
wire, what the runtime did (an alarm ran, a host crashed) and what the nodes said in their
``Note`` events, which are used as *events* ("a call was parked"), never as verdicts. It
never calls the model's decision functions and never reaches into the world: what is true
*now* (which tab is connected, the broadcaster's rows) it reads from the driver's
:class:`~gatewaysim.properties.lumenize.statistics.LumenizeStatistics`.

Safety monitors are judged after every step, and again after settling. Liveness monitors
are judged once, after ``settle``: faults stop at ``t_heal`` and the world runs for the
driver's settle bound (3 min of virtual time; heartbeats mean it never goes quiet).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable
from typing import Any

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.simulator.clock import MINUTE, SECOND, Time, format_duration, format_time, us
from gatewaysim.simulator.trace import FAULT, IN, OUT, SYS, TraceRecord

from ..monitor import Facts, Monitor
from ..monitors import HerdDispersal, SessionsPerKey, SettlesOnce, SettlesWithin, Sometimes
from .statistics import LumenizeStatistics

WORKER = p.WORKER
NODE = "node/main"

CLIENT_CALL_BOUND: Time = 65 * SECOND
"""An awaited call is answered within a round trip, unless its socket dies. Then the
client finds out within one heartbeat (30 s) plus the transport's rto (1 s), or the call
was still queued and its own 30 s queue timer ends it. 65 s covers either with room."""

MESH_CALL_SLACK: Time = 5 * SECOND
PINGPONG_TAIL: Time = MINUTE
HERD_WINDOW: Time = us(100)

#: What a client may not do in answer to the close of a socket that is no longer current.
FENCED_REACTIONS = frozenset({"state", "reconnect.scheduled", "refresh.started",
                              "login_required"})


# ---------------------------------------------------------------------------- helpers
def client_of_conn(conn: str) -> str:
    """``client/u0.t1#2:ws3`` -> ``client/u0.t1#2`` (clients name their sockets so)."""
    return conn.rpartition(":ws")[0]


def expired(exp: Any, t: Time) -> bool:
    """``exp`` (JWT seconds) has passed at ``t``: the spec's strict ``exp < now`` (section 1.6)."""
    return isinstance(exp, int | float) and not isinstance(exp, bool) and exp * SECOND < t


def _note(rec: TraceRecord) -> tuple[str, dict[str, Any]] | None:
    """``(event, data)`` of a ``Note`` effect, else ``None``."""
    if rec.kind == OUT and rec.type == "Note":
        return rec.data["event"], rec.data.get("data") or {}
    return None


def _is_gateway(rec: TraceRecord) -> bool:
    return rec.actor.startswith(p.GATEWAY_PREFIX)


def _is_client(rec: TraceRecord) -> bool:
    return rec.actor.startswith(p.CLIENT_PREFIX)


def _gateway_crash(rec: TraceRecord) -> str | None:
    """The gateway a ``crash`` fault takes down (a crash is a new epoch, section 3 #3)."""
    if rec.kind == FAULT and rec.type == "crash":
        host = rec.data.get("host", "")
        if host.startswith(p.GATEWAY_PREFIX):
            return host
    return None


def _stats(facts: Facts) -> LumenizeStatistics:
    stats: LumenizeStatistics = facts.statistics
    return stats


class _Problem(Monitor):
    """A safety monitor whose books find a problem the moment its record goes by: the first
    one is kept, with the virtual time it happened at."""

    def reset(self) -> None:
        self.problem: str | None = None

    def found(self, t: Time, text: str) -> None:
        if self.problem is None:
            self.problem = f"{text} (t={format_time(t)})"

    def judge(self, facts: Facts) -> str | None:
        return self.problem


class RefreshBooks:
    """Each tab's refreshes in flight, and whether its last refusal was definitive.

    A refusal (401/403) is definitive unless the tab raced itself: then the service refused
    a cookie the tab's own other refresh had just rotated (section 3 #10).
    """

    def __init__(self) -> None:
        self.refreshing: Counter[str] = Counter()
        self.raced: set[str] = set()
        self.last_refused: dict[str, bool] = {}

    def started(self, client: str) -> int:
        """A refresh starts; returns how many were already in flight."""
        before = self.refreshing[client]
        if before:
            self.raced.add(client)  # both present the same refresh cookie
        self.refreshing[client] += 1
        return before

    def done(self, client: str, d: dict[str, Any]) -> None:
        self.refreshing[client] = max(0, self.refreshing[client] - 1)
        self.last_refused[client] = (not d.get("ok")) and d.get("status") in (
            401, 403) and client not in self.raced
        if not self.refreshing[client]:
            self.raced.discard(client)


# ---------------------------------------------------------------------------- safety
def _gateway_sockets(stats: LumenizeStatistics) -> dict[str, tuple[str, ...]]:
    return dict(stats.gateway_sockets)


ONE_OPEN_SOCKET = SessionsPerKey(
    "lumenize.one_open_socket",
    "a gateway holds at most one OPEN socket once a takeover settles",
    sessions=_gateway_sockets,
    doc="#9 duplicate supersession: one authoritative session per (user, tab). The gateway "
        "closes every older socket with 4409 in the same step that accepts the new one (spec "
        "1.1 steps 6-8), so after any step at most one socket it accepted is still OPEN.",
)


class _Forwards(_Problem):
    """Books on what each gateway accepted and forwarded: the token ``exp`` in each socket's
    attachment, and the client frame each gateway is handling (its RPC to the mesh leaves
    in the same step)."""

    def reset(self) -> None:
        super().reset()
        self.attach_exp: dict[str, Any] = {}
        self.frame: dict[str, tuple[str, Any]] = {}  # gateway -> (conn, callId)

    def observe(self, rec: TraceRecord) -> None:
        if not _is_gateway(rec):
            return
        gw, data = rec.actor, rec.data
        if rec.kind == IN:
            self.frame.pop(gw, None)
            if rec.type == "WsMessage":
                frame = data.get("data")
                if isinstance(frame, dict) and frame.get("type") == "call":
                    self.frame[gw] = (data["conn"], frame.get("callId"))
            return
        if rec.kind != OUT:
            return
        if rec.type == "AcceptConnection":
            attachment = data.get("attachment") or {}
            self.attach_exp[data["conn"]] = (attachment.get("claims") or {}).get("exp")
        elif rec.type == "HttpRequest" and data.get("path") == p.EXECUTE_OPERATION:
            conn, call_id = self.frame.get(gw, (None, None))
            if conn is not None:
                self.forwarded(rec, gw, conn, call_id)
        elif rec.type == "Send":
            frame = data.get("data")
            if isinstance(frame, dict) and frame.get("type") == "incoming_call":
                self.incoming(rec, gw, data["conn"], str(frame.get("callId")))

    def forwarded(self, rec: TraceRecord, gw: str, conn: str, call_id: Any) -> None:
        """A client frame on ``conn`` left ``gw`` as an RPC to the mesh."""

    def incoming(self, rec: TraceRecord, gw: str, conn: str, call_id: str) -> None:
        """``gw`` sent ``incoming_call`` ``call_id`` on ``conn``."""


class NoExpiredFrame(_Forwards):
    def forwarded(self, rec: TraceRecord, gw: str, conn: str, call_id: Any) -> None:
        exp = self.attach_exp.get(conn)
        if expired(exp, rec.t):
            self.found(rec.t, f"{gw} forwarded call {call_id} from {conn} to the mesh although "
                              f"its token expired at exp={exp}")


NO_EXPIRED_FRAME = NoExpiredFrame(
    "lumenize.no_expired_frame",
    "no client frame reaches the mesh under an expired token",
    "safety",
    doc="#12: the server, not the client, enforces expiry. Spec 1.6: every string frame is "
        "checked against the socket attachment's exp before parsing; an expired call is "
        "dropped and the socket closed 4401. Judged from the exp in the attachment the "
        "gateway accepted and the time its RPC to the mesh left.",
)


class NoExpiredIncomingCall(_Forwards):
    def incoming(self, rec: TraceRecord, gw: str, conn: str, call_id: str) -> None:
        exp = self.attach_exp.get(conn)
        if expired(exp, rec.t):
            self.found(rec.t, f"{gw} sent incoming_call {call_id} on {conn} although its "
                              f"token expired at exp={exp}")


NO_EXPIRED_INCOMING_CALL = NoExpiredIncomingCall(
    "lumenize.no_expired_incoming_call",
    "no mesh->client call is delivered (incoming_call sent) under an expired token",
    "safety",
    doc="#12, spec 1.5 step 5 and 1.6: __executeOperation checks exp; an expired socket is "
        "closed 4401 and the call fails 'Client token expired' instead of being delivered.",
)


class CallIdOnce(_Forwards):
    def reset(self) -> None:
        super().reset()
        self.forwards: Counter[str] = Counter()

    def forwarded(self, rec: TraceRecord, gw: str, conn: str, call_id: Any) -> None:
        self.forwards[str(call_id)] += 1
        if self.forwards[str(call_id)] > 1:
            self.found(rec.t, f"client call {call_id} reached the mesh "
                              f"{self.forwards[str(call_id)]} times")


CALL_ID_ONCE = CallIdOnce(
    "lumenize.call_id_once",
    "each client call id reaches the mesh at most once",
    "safety",
    doc="#6: the server applies each call id at most once. Lumenize has no dedup on the mesh "
        "side, so the client must never send one call twice (spec 2.4: the queue is flushed "
        "once, on connection_status).",
)


def _mesh_call_received(rec: TraceRecord) -> Hashable | None:
    if rec.kind == IN and rec.type == "HttpRequestReceived" and _is_gateway(rec):
        return (rec.actor, rec.data["req"])
    return None


def _mesh_call_settled(rec: TraceRecord) -> Hashable | None:
    note = _note(rec) if _is_gateway(rec) else None
    if note is not None and note[0] == "mesh_call.settled":
        return (rec.actor, note[1].get("req"))
    return None


MESH_CALL_SETTLES_ONCE = SettlesOnce(
    "lumenize.mesh_call_settles_once",
    "every mesh->client call is settled at most once by its gateway",
    issued=_mesh_call_received, settled=_mesh_call_settled,
    doc="#6 and #17: an RPC has one outcome. A second settlement means two code paths (the "
        "30 s timer, a close, a reply, the alarm) both think they own the call.",
)


def _client_call_issued(rec: TraceRecord) -> Hashable | None:
    note = _note(rec) if _is_client(rec) else None
    if note is not None and note[0] == "call.issued":
        return note[1].get("callId")
    return None


def _client_call_settled(rec: TraceRecord) -> Hashable | None:
    note = _note(rec) if _is_client(rec) else None
    if note is not None and note[0] == "call.settled":
        return note[1].get("callId")
    return None


CLIENT_CALL_SETTLES_ONCE = SettlesOnce(
    "lumenize.client_call_settles_once",
    "every client call is settled at most once",
    issued=_client_call_issued, settled=_client_call_settled,
    doc="#6: a promise settles once. Spec 2.4: a call leaves the pending map when it "
        "settles (reply, queue timeout, disconnect(), or the close fix).",
)


class ParkedCallDeliveredOnce(_Problem):
    """Books on calls parked at each gateway, the ones a returning client's step must
    release, and how often each incoming_call was sent and run."""

    def reset(self) -> None:
        super().reset()
        self.parked: dict[str, set[str]] = {}
        self.must_release: dict[str, set[str]] = {}
        self.sent: Counter[str] = Counter()
        self.handled: Counter[tuple[str, str]] = Counter()

    def _release_due(self, gw: str, t: Time) -> None:
        """The step that accepted a returning client is over: its parked calls must be out."""
        waiting = self.must_release.pop(gw, None)
        if waiting:
            self.found(t, f"{gw} accepted a returning client but kept parked call(s) "
                          f"{sorted(waiting)} instead of delivering them")

    def observe(self, rec: TraceRecord) -> None:
        crashed = _gateway_crash(rec)
        if crashed is not None:  # the parked calls die with the gateway's memory
            self.parked.pop(crashed, None)
            self.must_release.pop(crashed, None)
            return
        if _is_client(rec):
            note = _note(rec)
            if note is not None and note[0] == "incoming.handled":
                key = (rec.actor, str(note[1].get("callId")))
                self.handled[key] += 1
                if self.handled[key] > 1:
                    self.found(rec.t, f"{rec.actor} ran incoming call {key[1]} "
                                      f"{self.handled[key]} times")
            return
        if not _is_gateway(rec):
            return
        gw = rec.actor
        if rec.kind == IN:
            self._release_due(gw, rec.t)
            if rec.type == "AlarmFired":  # grace is over: the alarm rejects what is parked
                self.parked.pop(gw, None)
            return
        if rec.kind == OUT and rec.type == "Send":
            frame = rec.data.get("data")
            if isinstance(frame, dict) and frame.get("type") == "incoming_call":
                call_id = str(frame.get("callId"))
                self.sent[call_id] += 1
                if self.sent[call_id] > 1:
                    self.found(rec.t, f"{gw} sent incoming_call {call_id} "
                                      f"{self.sent[call_id]} times")
            return
        note = _note(rec)
        if note is None:
            return
        event, d = note
        if event == "upgrade":
            if self.parked.get(gw):
                self.must_release[gw] = set(self.parked[gw])
        elif event == "call.parked":
            self.parked.setdefault(gw, set()).add(d["req"])
        elif event in ("call.forwarded", "mesh_call.settled"):
            req = d.get("req")
            self.parked.get(gw, set()).discard(req)
            self.must_release.get(gw, set()).discard(req)

    def judge(self, facts: Facts) -> str | None:
        for gw in sorted(self.must_release):
            self._release_due(gw, facts.now)
        return self.problem


PARKED_CALL_DELIVERED_ONCE = ParkedCallDeliveredOnce(
    "lumenize.parked_call_delivered_once",
    "a call parked during grace is delivered exactly once when the client returns within "
    "grace",
    "safety",
    doc="#1 gap-free recovery within the window W (here: grace), exactly once. Spec 1.1 step "
        "9 and 1.5 step 3: the upgrade that ends grace resolves every waiter, which continues "
        "on the new socket. So in the step that accepts the returning client every parked "
        "call is forwarded (or fails, e.g. on an expired token), each incoming_call id is "
        "sent once, and the client runs it once.",
)


class SubscriptionRequired(_Problem):
    """The oracle of ``subscriptionRequired``, kept from the records alone.

    Books per gateway: whether it lost the client's state since its last accepted upgrade,
    the server sockets it holds OPEN (accepted, not yet closed), and its alarm as the
    runtime holds it (set and deleted by the gateway's effects, cleared when ``alarm()``
    runs, set again when the runtime retries a failed one; a crash keeps it: it is durable).
    """

    def reset(self) -> None:
        super().reset()
        self.lost: dict[str, bool] = {}
        self.open: dict[str, set[str]] = {}
        self.alarm: dict[str, Time | None] = {}

    def observe(self, rec: TraceRecord) -> None:
        crashed = _gateway_crash(rec)
        if crashed is not None:
            # A crash is a new epoch: every call the gateway held in memory and every
            # fan-out sent while it was down is gone (realtime-systems section 3 #3).
            self.lost[crashed] = True
            self.open.pop(crashed, None)
            return
        if not _is_gateway(rec):
            return
        gw, data = rec.actor, rec.data
        if rec.kind == IN:
            if rec.type == "WsClosed":
                self.open.get(gw, set()).discard(data["conn"])
            elif rec.type == "AlarmFired":
                # The runtime ran alarm(): grace is over, whatever the handler did. With no
                # OPEN socket the parked calls were rejected and fan-outs dropped rows.
                self.alarm[gw] = None
                if not self.open.get(gw):
                    self.lost[gw] = True
            return
        if rec.kind == SYS:
            if rec.type == "alarm.retry":
                self.alarm[gw] = data.get("at")
            return
        if rec.kind != OUT:
            return
        if rec.type == "AcceptConnection":
            self.open.setdefault(gw, set()).add(data["conn"])
        elif rec.type == "CloseConnection":
            self.open.get(gw, set()).discard(data["conn"])
        elif rec.type == "SetAlarm":
            self.alarm[gw] = data.get("at")
        elif rec.type == "DeleteAlarm":
            self.alarm[gw] = None
        elif rec.type == "Note":
            event, d = data["event"], data.get("data") or {}
            if event == "upgrade":
                self._upgrade(rec.t, gw, d)
            elif event == "subscription.lost":
                self.lost[gw] = True

    def _upgrade(self, t: Time, gw: str, d: dict[str, Any]) -> None:
        # What the gateway could see when it decided: the sockets the runtime still listed
        # for it (the ones it supersedes) and its alarm. No socket and no grace alarm means
        # the client left without a grace period starting: nothing vouches for the gap.
        unvouched = not d.get("superseded") and self.alarm.get(gw) is None
        expected = self.lost.get(gw, True) or unvouched
        actual = d.get("subscriptionRequired")
        if actual != expected:
            why = "the gateway lost the client's state" if expected else (
                "nothing was lost since the last connection")
            self.found(t, f"{gw} accepted {d.get('conn')} with subscriptionRequired="
                          f"{str(actual).lower()}, but {why}")
        self.lost[gw] = False


SUBSCRIPTION_REQUIRED = SubscriptionRequired(
    "lumenize.subscription_required",
    "connection_status.subscriptionRequired is true exactly when the gateway lost the "
    "client's state",
    "safety",
    doc="#2 binary outcome, #3 epoch fencing, #4 explicit discontinuity beyond W. The oracle "
        "is kept from the trace, apart from the model's formula: state is lost at the first "
        "connection ever; when the grace alarm fires while the gateway holds no OPEN socket "
        "(parked calls were rejected, fan-outs dropped rows); when the gateway crashes (a new "
        "epoch: calls it held and fan-outs sent while it was down are gone); and, with fix "
        "resubscribe_after_fanout_drop, when a broadcaster reports a dropped row. An "
        "accepted upgrade resets it.",
)


class PromptFirstReconnect(Monitor):
    """Books: each tab whose socket opened and has not scheduled a reconnect since, and the
    delay each such tab chose for its first reconnect (judged against the config)."""

    def reset(self) -> None:
        self.just_opened: set[str] = set()
        self.first: list[tuple[Time, str, int, Any]] = []  # t, client, delay, attempt

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        if rec.kind == IN and rec.type == "WsOpened":
            self.just_opened.add(rec.actor)
            return
        note = _note(rec)
        if note is not None and note[0] == "reconnect.scheduled" \
                and rec.actor in self.just_opened:
            self.just_opened.discard(rec.actor)
            d = note[1]
            self.first.append((rec.t, rec.actor, d.get("delay", 0), d.get("attempt")))

    def judge(self, facts: Facts) -> str | None:
        bound = facts.config.reconnect_initial
        for t, client, delay, attempt in self.first:
            if delay > bound:
                return (f"{client} waits {delay}us before its first reconnect after an open "
                        f"connection dropped (attempt {attempt}) (t={format_time(t)})")
        return None


PROMPT_FIRST_RECONNECT = PromptFirstReconnect(
    "lumenize.prompt_first_reconnect",
    "the first reconnect delay after an open connection drops is at most reconnect_initial",
    "safety",
    doc="#14 reconnect bound: each attempt's delay stays in its band, and the counter "
        "resets on open (spec 2.1 'socket open: attempts=0', 2.2). Full jitter draws from "
        "[0, reconnect_initial] for that first attempt, so the bound holds for both variants.",
)


class StaleSocketFenced(_Problem):
    """Books: each tab's current socket (the one it opened last, from its OpenConnection
    effects) and the stale socket whose close it is handling, if any."""

    def reset(self) -> None:
        super().reset()
        self.current: dict[str, str] = {}
        self.stale: dict[str, str] = {}

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client, data = rec.actor, rec.data
        if rec.kind == IN:
            self.stale.pop(client, None)
            if rec.type in ("WsClosed", "WsRejected") and data["conn"] != self.current.get(
                    client, data["conn"]):
                self.stale[client] = data["conn"]
            return
        if rec.kind != OUT:
            return
        if rec.type == "OpenConnection":
            self.current[client] = data["conn"]
            return
        stale = self.stale.get(client)
        note = _note(rec)
        if stale is not None and note is not None and note[0] in FENCED_REACTIONS:
            self.found(rec.t, f"{client} reacted to the close of {stale}, which is no longer "
                              f"its current socket ({self.current.get(client)}): "
                              f"{note[0]} {note[1]}")


STALE_SOCKET_FENCED = StaleSocketFenced(
    "lumenize.stale_socket_fenced",
    "the close of a socket that is no longer the client's current one changes nothing (no "
    "state change, reconnect, refresh or login prompt)",
    "safety",
    doc="#8 stale-generation fencing: events from a superseded connection are never applied "
        "to the new one. Spec 2.1: the stale-close guard (onclose of a socket that is not "
        "this.ws returns at once). The current socket is the one the client opened last, "
        "read from its OpenConnection effects.",
)


class SingleFlightRefresh(_Problem):
    def reset(self) -> None:
        super().reset()
        self.books = RefreshBooks()

    def observe(self, rec: TraceRecord) -> None:
        note = _note(rec) if _is_client(rec) else None
        if note is None:
            return
        event, d = note
        if event == "refresh.started":
            in_flight = self.books.started(rec.actor)
            if in_flight and d.get("reason") != "token_expired":
                self.found(rec.t, f"{rec.actor} started a refresh ({d.get('reason')}) while "
                                  f"{in_flight} of its refreshes were in flight")
        elif event == "refresh.done":
            self.books.done(rec.actor, d)


SINGLE_FLIGHT_REFRESH = SingleFlightRefresh(
    "lumenize.single_flight_refresh",
    "a connect attempt never starts a refresh while one of the tab's refreshes is in flight",
    "safety",
    doc="#10 single-flight refresh: at most one refresh in flight per refresh token, or the "
        "rotating token service revokes the cookie under the other one and logs the tab out. "
        "Spec 2.3: ensureFreshToken joins the promise in flight, but a first connect calls "
        "refreshToken() directly, so overlapping first-connect attempts race (fix "
        "single_flight_first_connect). The 4401 path's direct refresh is a single reaction "
        "to a close, not an attempt, and is not judged here.",
)


# ---------------------------------------------------------------------------- liveness
class NoPingpong(Monitor):
    """Books: the time of every 4409 a gateway sent."""

    def reset(self) -> None:
        self.supersessions: list[Time] = []

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == OUT and rec.type == "CloseConnection" and _is_gateway(rec) \
                and rec.data.get("code") == p.CLOSE_SUPERSEDED:
            self.supersessions.append(rec.t)

    def judge(self, facts: Facts) -> str | None:
        if facts.t_heal is None:
            return None
        tail = facts.t_heal + facts.settle_bound - PINGPONG_TAIL
        late = [t for t in self.supersessions if t >= tail]
        if late:
            return (f"{len(late)} supersession(s) (4409) in the last "
                    f"{format_duration(PINGPONG_TAIL)} of the settle window, the last at "
                    f"{format_time(late[-1])}: tabs keep taking the instanceName from each "
                    "other")
        return None


NO_PINGPONG = NoPingpong(
    "lumenize.no_pingpong",
    "after the last duplicate-tab event, supersessions stop (no 4409 in the settle window's "
    "last minute)",
    "liveness",
    doc="#9 duplicate supersession: the superseded session closes with a terminal code, so "
        "there is no tab ping-pong; #13 terminal means terminal. Spec 6 'ping-pong between "
        "two clients sharing an instanceName'. Tab events all happen before t_heal.",
)


class RejectedUpgradeStops(Monitor):
    """Books: when the Worker's access gate refused each tab (403), and when each tab opened
    a socket."""

    def reset(self) -> None:
        self.refused: dict[str, list[Time]] = {}
        self.opens: dict[str, list[Time]] = {}

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind != OUT:
            return
        if rec.actor == WORKER and rec.type == "RejectConnection" \
                and rec.data.get("status") == 403:
            self.refused.setdefault(client_of_conn(rec.data["conn"]), []).append(rec.t)
        elif rec.type == "OpenConnection" and _is_client(rec):
            self.opens.setdefault(rec.actor, []).append(rec.t)

    def judge(self, facts: Facts) -> str | None:
        if facts.t_heal is None:
            return None
        for client, refusals in sorted(self.refused.items()):
            # Counted from the first refusal, or from t_heal if that came before it.
            since = max(refusals[0], facts.t_heal)
            attempts = [t for t in self.opens.get(client, []) if t > since]
            if len(attempts) > 1:
                return (f"{client} was refused by the access gate (403) and then made "
                        f"{len(attempts)} more connection attempts after t_heal")
        return None


REJECTED_UPGRADE_STOPS = RejectedUpgradeStops(
    "lumenize.rejected_upgrade_stops",
    "a client refused by the access gate makes at most one more attempt in the settle "
    "window after its first refusal",
    "liveness",
    doc="#11 no refresh/logout loop and #13 terminal means terminal: a definitive 403 ends "
        "in a terminal state, never an unbounded cycle. Spec 3 (the gate answers 403) and 6 "
        "(the browser sees 1006 and retries). Approvals are not restored by heal_faults. One "
        "more attempt is allowed: connect attempts are never cancelled (spec 6), so one that "
        "was already awaiting its refresh when the 403 came may still knock once.",
)


def _herd(rec: TraceRecord) -> list[str] | None:
    """The tabs a gateway-wide drop (the driver's ``herd`` fault) breaks at once."""
    if rec.kind == FAULT and rec.type == "herd":
        return list(rec.data["clients"])
    return None


def _arrival(rec: TraceRecord) -> str | None:
    """A tab's upgrade reaching the Worker."""
    if rec.actor == WORKER and rec.kind == IN and rec.type == "ConnectRequested":
        return client_of_conn(rec.data["conn"])
    return None


def _woken(rec: TraceRecord) -> str | None:
    """A tab the user woke or ``connect()``ed: reconnectNow skips the backoff by design."""
    if rec.kind == IN and rec.type in ("WakeUp", "ClientConnect") and _is_client(rec):
        return rec.actor
    return None


HERD_DISPERSED = HerdDispersal(
    "lumenize.herd_dispersed",
    "after a gateway-wide drop, no more than half of the dropped tabs reach the Worker "
    "within the same 100 us",
    dropped=_herd, arrival=_arrival, woken=_woken, window=HERD_WINDOW, minimum=3,
    doc="#15 herd dispersion: reconnect arrivals stay under an admission rate; full jitter "
        "passes, no-jitter schedules fail. Judged per herd of n >= 3 tabs, on each tab's first "
        "arrival after the drop: a violation is max(3, n//2 + 1) of them inside one 100 us "
        "window. Lockstep (spec 2.2: min(1000*2^n, 30000) ms, no jitter) puts them on the same "
        "microsecond, so it always fails. Full jitter draws each first delay uniformly from "
        "[0, 1 s], and P(3 of n uniform points within w) <= C(n,3)*3*(w/1s)^2 = C(n,3)*3e-8: "
        "1.2e-7 per herd of 4, below 1e-4 for a campaign of a thousand herds. (A 1 ms window "
        "would give 1.2e-5 per herd, about 1% per campaign: too often a false alarm.) Tabs the "
        "user woke or reconnected after the drop are left out: reconnectNow skips the backoff "
        "by design (spec 2.5; Ably RTN20 likewise connects at once on 'online'), and wake-ups "
        "the explorer fires at one instant are not a schedule the client chose.",
)


def _awaited_issued(rec: TraceRecord) -> Hashable | None:
    if rec.kind == IN and rec.type == "ClientCall" and _is_client(rec):
        tag = rec.data.get("tag") or ""
        if rec.data.get("awaited") and tag.startswith("await:"):
            return (rec.actor, tag)
    return None


def _awaited_settled(rec: TraceRecord) -> Hashable | None:
    note = _note(rec) if _is_client(rec) else None
    if note is not None and note[0] == "call.settled":
        return (rec.actor, note[1].get("tag") or "")
    return None


def _tab_closed(facts: Facts, key: Hashable) -> bool:
    """The tab was closed: nobody is waiting for its calls any more."""
    client = key[0] if isinstance(key, tuple) else key
    return not any(tab.up for tab in _stats(facts).tabs if tab.address == client)


CLIENT_CALLS_SETTLE = SettlesWithin(
    "lumenize.client_calls_settle",
    "every awaited client call settles within 65 s of being issued",
    issued=_awaited_issued, settled=_awaited_settled, bound=CLIENT_CALL_BOUND,
    excused=_tab_closed,
    doc="#6: each call is answered or fails explicitly; nothing is silently dropped. Spec "
        "1.7 and 6 'awaited callRaw across the client socket': the gateway replies only on "
        "the originating socket, so a call whose socket drops hangs forever unless the "
        "client rejects it on close. Bound: see CLIENT_CALL_BOUND.",
)


class MeshCallsSettle(Monitor):
    """Books: when ``node/main`` sent each call and when its result came back. The bound
    depends on the config (grace and the gateway's call timeout), so it is read from
    :class:`Facts` at judgement rather than fixed when the monitor is declared."""

    def reset(self) -> None:
        self.issued: dict[str, Time] = {}
        self.settled: dict[str, Time] = {}

    def observe(self, rec: TraceRecord) -> None:
        note = _note(rec) if rec.actor == NODE else None
        if note is None:
            return
        event, d = note
        tag = d.get("tag") or ""
        if event == "mesh_call.sent":
            self.issued[tag] = rec.t
            self.settled.pop(tag, None)
        elif event == "mesh_call.result" and tag in self.issued:
            self.settled.setdefault(tag, rec.t)

    def judge(self, facts: Facts) -> str | None:
        config = facts.config
        bound = config.grace + config.client_call_timeout + MESH_CALL_SLACK
        for tag, issued in sorted(self.issued.items()):
            settled = self.settled.get(tag)
            deadline = issued + bound
            if settled is None and deadline <= facts.now:
                return (f"mesh call [{tag}] sent at {format_time(issued)} never settled "
                        f"({format_duration(facts.now - issued)} later)")
            if settled is not None and settled > deadline:
                return f"mesh call [{tag}] took {format_duration(settled - issued)} to settle"
        return None


MESH_CALLS_SETTLE = MeshCallsSettle(
    "lumenize.mesh_calls_settle",
    "every mesh->client call settles within grace + 30 s + 5 s",
    "liveness",
    doc="#6 and #17: a call fails explicitly rather than hanging. Spec 1.5: a call parks "
        "at most until the grace alarm (or the reconnect that releases it), and a forwarded "
        "call waits at most CLIENT_CALL_TIMEOUT_MS for its answer. A crashed gateway fails "
        "its exchanges at once. 5 s of slack covers latency and a close that pushes the "
        "alarm out.",
)


class SubscribedInRows(Monitor):
    """Books: whether each tab believes it is subscribed to ``doc/main``: a subscribe that
    settled ok, with no unsubscribe issued or sent since.

    Trace sequence numbers, not times: a subscribe and an unsubscribe in the same
    microsecond still reach the broadcaster in the order they were sent. An unsubscribe
    counts from when it is issued and again from when it is sent (it may wait queued).
    """

    def reset(self) -> None:
        self.belief: dict[str, bool] = {}
        self.subscribe_sent: dict[str, int] = {}  # subscribe callId -> record seq
        self.unsubscribe_sent: dict[str, int] = {}  # client -> last unsubscribe seq

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client = rec.actor
        if rec.kind == IN and rec.type == "ClientCall":
            if (rec.data.get("tag") or "").startswith("unsubscribe:"):
                # From here on the client cannot know whether its row exists.
                self.belief[client] = False
                self.unsubscribe_sent[client] = rec.seq
            return
        note = _note(rec)
        if note is None:
            return
        event, d = note
        tag = d.get("tag") or ""
        if event == "call.sent":
            if tag.startswith("subscribe:"):
                self.subscribe_sent[str(d.get("callId"))] = rec.seq
            elif tag.startswith("unsubscribe:"):
                self.unsubscribe_sent[client] = rec.seq
        elif event == "call.settled" and tag.startswith("subscribe:") and d.get("ok") \
                and self.subscribe_sent.get(str(d.get("callId")), -1) >= \
                self.unsubscribe_sent.get(client, -1):
            self.belief[client] = True

    def judge(self, facts: Facts) -> str | None:
        stats = _stats(facts)
        rows = set(stats.rows)
        for tab in stats.tabs:
            if tab.up and self.belief.get(tab.address) and tab.connected \
                    and tab.instance not in rows:
                return (f"{tab.address} is connected and believes it is subscribed to "
                        f"doc/main, but the broadcaster has no row for {tab.instance} "
                        f"(rows: {sorted(rows)})")
        return None


SUBSCRIBED_IN_ROWS = SubscribedInRows(
    "lumenize.subscribed_in_rows",
    "a connected client that believes it is subscribed is in the broadcaster's subscriber "
    "rows",
    "liveness",
    doc="#5 resubscribe completeness and #20 silent loss on live connections = 0. Spec 6 "
        "'silent subscription loss': a fan-out that fails with 'Client token expired' or "
        "'Client call timed out' drops the row while the client stays (or comes back within "
        "grace) and is told subscriptionRequired: false. Belief is read from the trace: a "
        "subscribe that settled ok, with no unsubscribe sent since.",
)


class OneConnected(Monitor):
    """Books: when each tab last opened a socket, when it was told to log in again and
    whether that was legitimate, and which of its sockets were superseded (4409)."""

    def reset(self) -> None:
        self.refreshes = RefreshBooks()
        self.login_required: dict[str, tuple[Time, bool]] = {}  # t, legitimate
        self.last_open: dict[str, Time] = {}
        self.superseded: set[str] = set()

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client = rec.actor
        if rec.kind == IN:
            if rec.type == "WsOpened":
                self.last_open[client] = rec.t
            elif rec.type == "WsClosed" and rec.data.get("code") == p.CLOSE_SUPERSEDED:
                self.superseded.add(rec.data["conn"])
            return
        note = _note(rec)
        if note is None:
            return
        event, d = note
        if event == "refresh.started":
            self.refreshes.started(client)
        elif event == "refresh.done":
            self.refreshes.done(client, d)
        elif event == "login_required":
            legit = d.get("code") == 403 or self.refreshes.last_refused.get(client, False)
            self.login_required[client] = (rec.t, legit)

    def _excused(self, tab: Any, revoked: tuple[int, ...]) -> bool:
        if tab.user in revoked:
            return True  # may stay on an old token or be refused: both are fine
        login = self.login_required.get(tab.address)
        if login is not None and login[1] and self.last_open.get(tab.address, -1) < login[0]:
            return True  # told to log in again by the token service or the gate
        # Its own socket was superseded by a newer tab: it stays down (4409).
        return tab.conn in self.superseded and tab.state == "disconnected"

    def judge(self, facts: Facts) -> str | None:
        stats = _stats(facts)
        for user in stats.users:
            tabs = stats.live_tabs(user)
            connected = [tab.address for tab in tabs if tab.connected]
            required = [tab for tab in tabs if not self._excused(tab, stats.revoked)]
            instance = tabs[0].instance if tabs else f"u{user}"
            if required and len(connected) != 1:
                states = {tab.address: tab.state for tab in tabs}
                return (f"{instance} has {len(connected)} connected tab(s) "
                        f"{format_duration(facts.settle_bound)} after t_heal (tabs: {states})")
            if len(connected) > 1:
                return f"{instance} has {len(connected)} connected tabs: {connected}"
        return None


ONE_CONNECTED = OneConnected(
    "lumenize.one_connected",
    "once faults stop, every instanceName with a tab allowed to connect has exactly one "
    "connected tab by t_heal + 3 min",
    "liveness",
    doc="#14 reconnect bound (the server is reachable from t_heal, so the client is connected "
        "by t_heal + max_delay + connect_timeout, well inside 3 min) and #9 (one session per "
        "instanceName). Not required to connect: a tab whose user lost approval, a tab told "
        "to log in again by a definitive 401/403 from the token service or the gate (#11), "
        "and a tab superseded by a newer one that stays down (#13). A login_required caused "
        "by anything else (the token service down) does not excuse a tab.",
)


# ---------------------------------------------------------------------------- sometimes
def _instance_of_client(address: str) -> str:
    """``client/u0.t1#2`` -> ``u0.t1`` (a duplicate tab shares its instanceName)."""
    return address.removeprefix(p.CLIENT_PREFIX).partition("#")[0]


class ResubscribedAfterLoss(Monitor):
    """Books: the gateways that accepted a connection before, the instances a later upgrade
    told ``subscriptionRequired: true``, and when each was told; reached when a tab of such
    an instance then subscribes successfully."""

    def reset(self) -> None:
        self.accepted: set[str] = set()
        self.told: dict[str, Time] = {}
        self.seen: str | None = None

    def observe(self, rec: TraceRecord) -> None:
        if self.seen is not None:
            return
        note = _note(rec)
        if note is None:
            return
        event, d = note
        if event == "upgrade" and _is_gateway(rec):
            if rec.actor in self.accepted and d.get("subscriptionRequired") is True:
                self.told[rec.actor.removeprefix(p.GATEWAY_PREFIX)] = rec.t
            self.accepted.add(rec.actor)
        elif event == "call.settled" and _is_client(rec) and d.get("ok") \
                and (d.get("tag") or "").startswith("subscribe:"):
            instance = _instance_of_client(rec.actor)
            if instance in self.told:
                self.seen = (f"{rec.actor} was told to resubscribe at "
                             f"{format_time(self.told[instance])} and resubscribed at "
                             f"{format_time(rec.t)}")

    def judge(self, facts: Facts) -> str | None:
        return self.seen


RESUBSCRIBED_AFTER_LOSS = ResubscribedAfterLoss(
    "lumenize.resubscribed_after_loss",
    "some run sees a gateway that lost a client's state say subscriptionRequired: true on a "
    "reconnect, and the client resubscribe",
    "sometimes",
    doc="The discontinuity half of subscription_required (spec 1.4, 2.1: onSubscriptionRequired "
        "on every connection except a return within grace): grace ran out, the gateway "
        "crashed, or a fan-out dropped the row. Without it a campaign in which every "
        "client came back in time would never judge the promise where it must be true.",
)


def _returned_within_grace(rec: TraceRecord) -> str | None:
    note = _note(rec) if _is_gateway(rec) else None
    if note is None or note[0] != "upgrade":
        return None
    d = note[1]
    if d.get("subscriptionRequired") is False and not d.get("superseded"):
        return (f"{rec.actor} took {d.get('conn')} back within grace (subscriptionRequired: "
                f"false) at {format_time(rec.t)}")
    return None


RETURNED_WITHIN_GRACE = Sometimes(
    "lumenize.returned_within_grace",
    "some run sees a client lose its socket and come back within grace, told its "
    "subscriptions survived",
    when=_returned_within_grace,
    doc="The continuity half of subscription_required (spec 1.4: false on a reconnect within "
        "grace), and the grace period's reason to exist. Without it a campaign in which "
        "every return came too late, or never, would judge subscriptionRequired only where "
        "it must be true.",
)


# ---------------------------------------------------------------------------- outcomes
_HOST = re.compile(rf"(?:{re.escape(p.CLIENT_PREFIX)}|{re.escape(p.GATEWAY_PREFIX)})"
                   r"([^\s'\":#,\]\)]+)")


def _instance_of_conn(conn: str) -> str:
    """``client/u0.t1#2:ws3`` -> ``u0.t1``."""
    return _instance_of_client(client_of_conn(conn))


class LinkBooks:
    """Whether a socket's link has been touched by a fault since the socket opened.

    A fault touches an instance when its record names one of the instance's hosts or
    sockets (a drop or half-open of its socket, a partition of its tab, a crash or eviction
    of its gateway, a herd). A socket is *clean* while both ends have seen it open after the
    last fault that touched its instance and neither end has closed it: then nothing but
    the code under test stands between a call sent on it and its answer.
    """

    def __init__(self) -> None:
        self.last_fault: dict[str, int] = {}  # instance -> seq of the last fault naming it
        self.accepted: dict[str, int] = {}  # conn -> seq the gateway accepted it
        self.opened: dict[str, int] = {}  # conn -> seq the client saw it open
        self.closed: set[str] = set()

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == FAULT:
            for instance in sorted(set(_HOST.findall(repr(rec.data)))):
                self.last_fault[instance] = rec.seq
            return
        conn = rec.data.get("conn") if isinstance(rec.data, dict) else None
        if not isinstance(conn, str):
            return
        if rec.kind == IN and rec.type in ("WsClosed", "WsRejected"):
            self.closed.add(conn)
        elif rec.kind == IN and rec.type == "WsOpened" and _is_client(rec):
            self.opened[conn] = rec.seq
        elif rec.kind == OUT and rec.type == "CloseConnection":
            self.closed.add(conn)
        elif rec.kind == OUT and rec.type == "AcceptConnection" and _is_gateway(rec):
            self.accepted[conn] = rec.seq

    def clean(self, conn: str) -> bool:
        fault = self.last_fault.get(_instance_of_conn(conn), -1)
        return (conn not in self.closed and self.accepted.get(conn, -1) > fault
                and self.opened.get(conn, -1) > fault)


def worker_echo(args: list[Any]) -> str:
    """What the Worker binding answers ``echo(*args)`` (the real test Worker, case 19)."""
    return "worker-echo: " + ",".join(str(a) for a in args)


class ClientCallReturnsResult(_Problem):
    """Books: each tab's echo calls and their arguments (from the ``ClientCall`` input),
    the socket each call was sent on (from the client's ``call`` frame), and the link
    books for those sockets."""

    def reset(self) -> None:
        super().reset()
        self.links = LinkBooks()
        self.echo: dict[tuple[str, str], str] = {}  # (client, tag) -> expected value
        self.sent_on: dict[str, str] = {}  # callId -> conn

    def observe(self, rec: TraceRecord) -> None:
        self.links.observe(rec)
        if not _is_client(rec):
            return
        data = rec.data
        if rec.kind == IN and rec.type == "ClientCall":
            if data.get("method") == "echo" and data.get("instance") is None \
                    and data.get("binding") == p.WORKER_BINDING:
                self.echo[(rec.actor, data.get("tag") or "")] = worker_echo(
                    list(data.get("args") or []))
            return
        if rec.kind == OUT and rec.type == "Send":
            frame = data.get("data")
            if isinstance(frame, dict) and frame.get("type") == "call":
                self.sent_on[str(frame.get("callId"))] = data["conn"]
            return
        note = _note(rec)
        if note is None or note[0] != "call.settled":
            return
        d = note[1]
        tag, call_id = d.get("tag") or "", str(d.get("callId"))
        expected = self.echo.pop((rec.actor, tag), None)
        if d.get("ok"):
            if expected is not None and d.get("value") != expected:
                self.found(rec.t, f"{rec.actor} call [{tag}] returned {d.get('value')!r}, but "
                                  f"the Worker computed {expected!r}")
            return
        conn = self.sent_on.get(call_id)
        if conn is not None and self.links.clean(conn):
            self.found(rec.t, f"{rec.actor} call [{tag}] failed ({d.get('error')}) although "
                              f"no fault touched {conn} while it was in flight")


CLIENT_CALL_RETURNS_RESULT = ClientCallReturnsResult(
    "lumenize.client_call_returns_result",
    "a client call returns what the callee computed: echo returns its arguments, and a call "
    "sent on a socket no fault touched while it was in flight succeeds",
    "safety",
    doc="#6 each call is answered, and the answer is the callee's. Spec 1.7 step 4: the reply "
        "is a call_response carrying the callee's $result (success) or $error; spec 2.4: "
        "the client settles callRaw with it. The Worker binding echoes its arguments "
        "('worker-echo: a,b', case 19). A failure is excused only when a fault named the "
        "tab's instance, or either end closed the socket, between the socket opening and "
        "the settlement (a 4401 or a 4409 closes it).",
)


class MeshCallReturnsResult(_Problem):
    """Books: each ``node/main`` request (its method and arguments, from the RPC it sent),
    the socket its gateway held OPEN (with an unexpired token) when the request arrived,
    and the link books for that socket."""

    def reset(self) -> None:
        super().reset()
        self.links = LinkBooks()
        self.requests: dict[str, tuple[str, list[Any]]] = {}  # req -> (method, args)
        self.open: dict[str, list[str]] = {}  # gateway -> OPEN server sockets, oldest first
        self.attach_exp: dict[str, Any] = {}
        self.target: dict[str, str] = {}  # req -> the socket it could be forwarded on
        self.answering: str | None = None  # the request node/main is handling

    def observe(self, rec: TraceRecord) -> None:
        self.links.observe(rec)
        data = rec.data
        if rec.actor == NODE:
            self._node(rec)
        elif _is_gateway(rec):
            gw = rec.actor
            if rec.kind == OUT and rec.type == "AcceptConnection":
                self.open.setdefault(gw, []).append(data["conn"])
                attachment = data.get("attachment") or {}
                self.attach_exp[data["conn"]] = (attachment.get("claims") or {}).get("exp")
            elif (rec.kind == OUT and rec.type == "CloseConnection") or (
                    rec.kind == IN and rec.type == "WsClosed"):
                if data["conn"] in self.open.get(gw, []):
                    self.open[gw].remove(data["conn"])
            elif rec.kind == IN and rec.type == "HttpRequestReceived" \
                    and data.get("req") in self.requests and self.open.get(gw):
                conn = self.open[gw][-1]
                if not expired(self.attach_exp.get(conn), rec.t):
                    self.target[data["req"]] = conn
        else:
            crashed = _gateway_crash(rec)
            if crashed is not None:
                self.open.pop(crashed, None)

    def _node(self, rec: TraceRecord) -> None:
        data = rec.data
        if rec.kind == IN:
            self.answering = data.get("req") if rec.type in ("HttpResponse",
                                                             "HttpFailed") else None
            return
        if rec.kind != OUT:
            return
        if rec.type == "HttpRequest" and data.get("path") == p.EXECUTE_OPERATION:
            chain = (data.get("body") or {}).get("chain") or {}
            self.requests[data["req"]] = (str(chain.get("method")),
                                          list(chain.get("args") or []))
            return
        note = _note(rec)
        if note is None or note[0] != "mesh_call.result" or self.answering is None:
            return
        d, req = note[1], self.answering
        method, args = self.requests.pop(req, ("", []))
        tag = d.get("tag")
        if d.get("ok"):
            if method == "ping" and d.get("value") != (args[0] if args else None):
                self.found(rec.t, f"mesh call [{tag}] ping({args}) returned "
                                  f"{d.get('value')!r}, not its argument")
            return
        conn = self.target.pop(req, None)
        if conn is not None and self.links.clean(conn):
            self.found(rec.t, f"mesh call [{tag}] {method} failed ({d.get('error')}) although "
                              f"its gateway held {conn} open with a valid token when it "
                              "arrived and no fault touched that socket while it was in "
                              "flight")


MESH_CALL_RETURNS_RESULT = MeshCallReturnsResult(
    "lumenize.mesh_call_returns_result",
    "a mesh->client call returns what the client computed: ping returns its argument, and "
    "a call that finds its client connected on a socket no fault touches succeeds",
    "safety",
    doc="#6: the answer is the callee's. Spec 1.5 step 7: with an OPEN socket and a valid "
        "token the call is forwarded as incoming_call and resolved by the client's "
        "incoming_call_response; spec 2.5: the client runs the @mesh method and answers "
        "with its result (the app's ping returns its argument). A failure is excused when a "
        "fault named the instance, or either end closed the socket, before the result came "
        "back (an expired token closes it 4401, a newer tab 4409).",
)


class DocumentConverges(SubscribedInRows):
    """Books: the broadcaster's latest version and content (its fan-out notes), what each
    tab last applied (its document notes), and each tab's subscription belief (the books
    of :class:`SubscribedInRows`)."""

    def reset(self) -> None:
        super().reset()
        self.latest: tuple[Any, Any] = (0, "")
        self.held: dict[str, tuple[Any, Any]] = {}

    def observe(self, rec: TraceRecord) -> None:
        super().observe(rec)
        note = _note(rec)
        if note is None:
            return
        event, d = note
        if event == "fanout" and rec.actor == p.DEFAULT_DOCUMENT:
            self.latest = (d.get("version"), d.get("content"))
        elif event == "document" and _is_client(rec):
            self.held[rec.actor] = (d.get("version"), d.get("content"))

    def judge(self, facts: Facts) -> str | None:
        stats = _stats(facts)
        rows = set(stats.rows)
        for tab in stats.tabs:
            if not (tab.up and tab.connected and self.belief.get(tab.address)
                    and tab.instance in rows):
                continue
            held = self.held.get(tab.address)
            if held != self.latest:
                return (f"{tab.address} is connected and subscribed to doc/main but holds "
                        f"version {held} {format_duration(facts.settle_bound)} after t_heal; "
                        f"the broadcaster's latest is {self.latest}")
        return None


DOCUMENT_CONVERGES = DocumentConverges(
    "lumenize.document_converges",
    "once faults stop, every connected tab subscribed to doc/main holds the broadcaster's "
    "latest version and content",
    "liveness",
    doc="#5 resubscribe completeness and #1 gap-free recovery: what a subscriber holds is the "
        "server's latest state once the system is quiet. Spec 1.4 and Nebula's pattern: "
        "subscribe answers the current document, every change is fanned out as "
        "handleUpdate(content, version), and a subscriber whose state was lost is told "
        "subscriptionRequired: true and subscribes again. Tabs the broadcaster has no row "
        "for are lumenize.subscribed_in_rows's business.",
)


class GraceHidesShortDrop(_Problem):
    """Books per gateway: the sockets it holds OPEN, when its last socket closed (a close
    other than 4409, as ``webSocketClose`` sees it), whether it lost state since its last
    accepted upgrade (a crash or eviction, a reported subscription loss), and the mesh calls
    that arrived while it held no socket.

    The alarm is deliberately not in these books: the promise is about time, so a gateway
    that never arms its alarm breaks it rather than escaping it. What a return did wrong is
    kept with the length of its drop; judging keeps the drops shorter than the config's
    grace period.
    """

    def reset(self) -> None:
        super().reset()
        self.open: dict[str, set[str]] = {}
        self.closed_at: dict[str, Time] = {}
        self.lost: set[str] = set()
        self.gap_calls: dict[str, set[str]] = {}
        self.gap_failed: dict[str, list[str]] = {}
        self.must_release: dict[str, tuple[Time, set[str]]] = {}  # gw -> (gap, reqs)
        self.wrong: list[tuple[Time, Time, str]] = []  # t, gap, what was wrong

    def _release_due(self, gw: str, t: Time) -> None:
        gap, waiting = self.must_release.pop(gw, (0, set()))
        if waiting:
            self.wrong.append((t, gap, f"{gw} took its client back but did not deliver the "
                                       f"call(s) {sorted(waiting)} that arrived during the "
                                       "drop"))

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == FAULT and rec.type in ("crash", "evict"):
            host = rec.data.get("host", "")
            if host.startswith(p.GATEWAY_PREFIX):
                self.lost.add(host)
                self.open.pop(host, None)
                self.gap_calls.pop(host, None)
                self.must_release.pop(host, None)
            return
        if not _is_gateway(rec):
            return
        gw, data = rec.actor, rec.data
        if rec.kind == IN:
            self._release_due(gw, rec.t)
            if rec.type == "WsClosed":
                self.open.get(gw, set()).discard(data["conn"])
                if data.get("code") != p.CLOSE_SUPERSEDED:
                    self.closed_at[gw] = rec.t
            elif rec.type == "HttpRequestReceived" and data.get("path") == p.EXECUTE_OPERATION \
                    and (data.get("body") or {}).get("version") == 1 \
                    and not self.open.get(gw) and gw in self.closed_at:
                self.gap_calls.setdefault(gw, set()).add(data["req"])
            return
        if rec.kind != OUT:
            return
        if rec.type == "AcceptConnection":
            self.open.setdefault(gw, set()).add(data["conn"])
        elif rec.type == "CloseConnection":
            self.open.get(gw, set()).discard(data["conn"])
        note = _note(rec)
        if note is None:
            return
        event, d = note
        if event == "subscription.lost":
            self.lost.add(gw)
        elif event in ("call.forwarded", "mesh_call.settled"):
            req = d.get("req")
            if gw in self.must_release:
                self.must_release[gw][1].discard(req)
            if req in self.gap_calls.get(gw, set()):
                self.gap_calls[gw].discard(req)
                if event == "mesh_call.settled" and not d.get("ok"):
                    self.gap_failed.setdefault(gw, []).append(str(req))
        elif event == "upgrade":
            self._upgrade(rec.t, gw, d)

    def _upgrade(self, t: Time, gw: str, d: dict[str, Any]) -> None:
        closed = self.closed_at.pop(gw, None)
        lost = gw in self.lost
        failed = self.gap_failed.pop(gw, [])
        waiting = self.gap_calls.pop(gw, set())
        self.lost.discard(gw)
        if closed is None or lost or d.get("superseded"):
            return
        gap = t - closed
        required = d.get("subscriptionRequired")
        if required is not False:
            self.wrong.append((t, gap, f"{gw} took its client back "
                                       f"{format_duration(gap)} after the drop but said "
                                       f"subscriptionRequired={str(required).lower()}"))
        if failed:
            self.wrong.append((t, gap, f"{gw} failed mesh call(s) {failed} during a "
                                       f"{format_duration(gap)} drop"))
        if waiting:
            self.must_release[gw] = (gap, set(waiting))

    def judge(self, facts: Facts) -> str | None:
        for gw in sorted(self.must_release):
            self._release_due(gw, facts.now)
        grace = facts.config.grace
        for t, gap, text in self.wrong:
            if gap < grace:
                self.found(t, f"{text}; the drop was shorter than grace "
                              f"({format_duration(grace)})")
        self.wrong = []
        return self.problem


GRACE_HIDES_SHORT_DROP = GraceHidesShortDrop(
    "lumenize.grace_hides_short_drop",
    "a drop shorter than the grace period is invisible to the mesh: calls that arrive "
    "during it are delivered on return, and the return says subscriptionRequired: false",
    "safety",
    doc="#1 gap-free recovery within the window W (here: grace) and #2 binary outcome, "
        "stated as what grace promises rather than how the gateway keeps it. Spec 1.4: every "
        "close other than 4409 starts a grace period of `grace`; a reconnect before it ends "
        "gets subscriptionRequired: false; spec 1.5 step 3: a mesh call that finds no socket "
        "during grace parks until the reconnect, which forwards it. Measured from the "
        "gateway's last close to its next accepted upgrade. Excused: a gateway that crashed "
        "or was evicted, or was told a subscription was lost, since its last upgrade (its "
        "state really is gone), and a supersession (a socket was still open).",
)


class ReconnectDelaysBounded(Monitor):
    """Books: per tab, the reconnects scheduled since its counter last reset (a socket
    opened, or a wake-up that runs reconnectNow), and the state it was in (its state
    notes), with every delay it chose."""

    def reset(self) -> None:
        self.count: Counter[str] = Counter()
        self.state: dict[str, str] = {}
        self.delays: list[tuple[Time, str, int, Any]] = []  # t, client, n, delay
        self.problem: str | None = None

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == FAULT and rec.type == "crash":
            host = rec.data.get("host", "")
            self.count.pop(host, None)
            self.state.pop(host, None)
            return
        if not _is_client(rec):
            return
        client = rec.actor
        if rec.kind == IN:
            if rec.type == "WsOpened":
                self.count[client] = 0
            elif rec.type == "WakeUp":
                state = self.state.get(client, "disconnected")
                if state == "reconnecting" or (rec.data.get("kind") == "online"
                                               and state == "disconnected"):
                    self.count[client] = 0  # reconnectNow (spec 2.5)
            return
        note = _note(rec)
        if note is None:
            return
        event, d = note
        if event == "state":
            self.state[client] = d.get("to")
        elif event == "reconnect.scheduled":
            self.delays.append((rec.t, client, self.count[client], d.get("delay")))
            self.count[client] += 1

    def judge(self, facts: Facts) -> str | None:
        config = facts.config
        jittered = config.fixed("jittered_backoff")
        for t, client, n, delay in self.delays:
            if self.problem is not None:
                break
            ceiling = min(config.reconnect_initial * 2 ** min(n, 32), config.reconnect_max)
            if not isinstance(delay, int) or delay < 0 or delay > ceiling or (
                    not jittered and delay != ceiling):
                band = f"[0, {ceiling}]" if jittered else f"exactly {ceiling}"
                self.problem = (f"{client} chose a delay of {delay}us for reconnect "
                                f"{n + 1} since its counter reset; the policy allows "
                                f"{band}us (t={format_time(t)})")
        self.delays = []
        return self.problem


RECONNECT_DELAYS_BOUNDED = ReconnectDelaysBounded(
    "lumenize.reconnect_delays_bounded",
    "every reconnect delay is within the backoff policy's band for its attempt",
    "safety",
    doc="#14 reconnect bound, for every attempt rather than the first. Spec 2.2: attempt n "
        "(counted from 0 since the last reset) waits min(reconnect_initial * 2^n, "
        "reconnect_max), exactly without jitter and uniformly below it with fix "
        "jittered_backoff; the counter resets when a socket opens (2.1) and on reconnectNow "
        "(2.5: online while reconnecting or disconnected, visible or focus while "
        "reconnecting). The counter is kept from the trace, not read from the client.",
)


# ---------------------------------------------------------------------------- error paths
PROBER = "probe/main"

#: The documented answer to each malformed request the driver's ``probe`` step sends:
#: (status, a phrase the reason or error message must contain, or None), with the spec
#: section it comes from. Read from the spec, never from the model.
DOCUMENTED_ANSWERS: dict[str, tuple[int, str | None, str]] = {
    "unknown_path": (404, None, "3: routeDORequest serves /gateway/{binding}/{instance}"),
    "bad_origin": (403, "origin not allowed", "3 step 1: the CORS allowlist"),
    "no_token": (401, None, "3 step 2: no lmz.access-token subprotocol"),
    "forged_token": (401, None, "3 step 2: the signature does not verify"),
    "no_upgrade_header": (426, None, "1.1 step 1: no Upgrade: websocket"),
    "instance_without_tab": (403, "invalid instance name format",
                             "1.1 step 5: onBeforeAccept requires sub.tabId"),
    "identity_mismatch": (403, "identity mismatch",
                          "1.1 step 5: the instance's prefix is not the token's sub"),
    "envelope_version": (200, "unsupported rpc envelope version: 2",
                         "1.5 step 1: version !== 1, answered as $error"),
    "unknown_operation": (404, None, "1.5: a gateway serves __executeOperation only"),
}


def _error_message(body: Any) -> str:
    """The message of an RPC ``{$error: {message}}`` body (or of a plain error body)."""
    if not isinstance(body, dict):
        return ""
    error = body.get("$error", body.get("error"))
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return str(error or "")


class MalformedInputAnswered(_Problem):
    """Books: the kind of each probe the prober sent (its ``probe.sent`` notes); the answer
    is the prober's next input for that socket or request."""

    def reset(self) -> None:
        super().reset()
        self.kinds: dict[str, str] = {}

    def observe(self, rec: TraceRecord) -> None:
        if rec.actor != PROBER:
            return
        data = rec.data
        note = _note(rec)
        if note is not None:
            if note[0] == "probe.sent":
                self.kinds[note[1]["id"]] = note[1]["kind"]
            return
        if rec.kind != IN:
            return
        key = data.get("conn", data.get("req"))
        kind = self.kinds.pop(str(key), None) if isinstance(key, str) else None
        if kind is None or kind not in DOCUMENTED_ANSWERS:
            return
        status, phrase, where = DOCUMENTED_ANSWERS[kind]
        if rec.type == "WsOpened":
            self.found(rec.t, f"probe {kind} was accepted as a WebSocket; spec {where}: "
                              f"{status}")
            return
        if rec.type == "WsRejected":
            got, text = data.get("status"), str(data.get("reason") or "")
        elif rec.type == "HttpResponse":
            got, text = data.get("status"), _error_message(data.get("body"))
        else:
            return  # unreachable (a crashed host, a closed socket): no answer to judge
        if got == 0:
            return
        if got != status or (phrase is not None and phrase not in text.lower()):
            self.found(rec.t, f"probe {kind} was answered {got} {text!r}; spec {where}: "
                              f"{status}" + (f" {phrase!r}" if phrase else ""))


MALFORMED_INPUT_ANSWERED = MalformedInputAnswered(
    "lumenize.malformed_input_answered",
    "every malformed or unexpected request gets its documented refusal",
    "safety",
    doc="#13 terminal means terminal and #12 the server enforces: the edge refuses what it "
        "must, with the status the client (or operator) can act on. The table "
        "DOCUMENTED_ANSWERS gives each probe's answer and its section of lumenize-mesh.md; "
        "an upgrade that opens is always wrong. A probe that gets no answer (its target "
        "crashed) is not judged.",
)


class RevokedRefreshStaysRevoked(_Problem):
    """Books, kept at the token service: the cookie of the request it is handling (its
    ``HttpRequestReceived``) and every cookie it has already rotated (answered 200)."""

    def reset(self) -> None:
        super().reset()
        self.cookie: dict[str, Any] = {}  # req -> the cookie it presented
        self.rotated: set[str] = set()
        self.restarted_since: dict[str, bool] = {}  # cookie -> a restart came after

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == FAULT and rec.type == "restart" and rec.data.get("host") == p.AUTH:
            for cookie in self.restarted_since:
                self.restarted_since[cookie] = True
            return
        if rec.actor != p.AUTH:
            return
        data = rec.data
        if rec.kind == IN and rec.type == "HttpRequestReceived" \
                and data.get("path") == p.REFRESH_PATH:
            self.cookie[data["req"]] = p.header(data.get("headers") or {}, "Cookie")
        elif rec.kind == OUT and rec.type == "HttpRespond":
            cookie = self.cookie.pop(data.get("req"), None)
            if not isinstance(cookie, str) or data.get("status") != 200:
                return
            if cookie in self.restarted_since:
                after = " after a restart of the service" if self.restarted_since[cookie] \
                    else ""
                self.found(rec.t, f"the token service accepted refresh cookie {cookie!r} "
                                  f"again{after}, although it rotated it before")
            self.restarted_since[cookie] = False


REVOKED_REFRESH_STAYS_REVOKED = RevokedRefreshStaysRevoked(
    "lumenize.revoked_refresh_stays_revoked",
    "a refresh cookie the token service rotated never mints again, across restarts",
    "safety",
    doc="#10 single-flight refresh relies on it and #3 epoch fencing asks it of a restart: "
        "spec 3, token lifetimes: the refresh token rotates, revoked on each use, and a "
        "revoked cookie gets 401; the rows live in durable storage, so a crash and restart "
        "of the service revokes nothing back. Judged at the service: any request that "
        "presents a cookie it answered 200 before must not be answered 200 again. The "
        "driver's probe step replays one (replay_refresh).",
)


MONITORS: tuple[Monitor, ...] = (
    ONE_OPEN_SOCKET,
    NO_EXPIRED_FRAME,
    NO_EXPIRED_INCOMING_CALL,
    MESH_CALL_SETTLES_ONCE,
    CLIENT_CALL_SETTLES_ONCE,
    CALL_ID_ONCE,
    PARKED_CALL_DELIVERED_ONCE,
    SUBSCRIPTION_REQUIRED,
    PROMPT_FIRST_RECONNECT,
    STALE_SOCKET_FENCED,
    SINGLE_FLIGHT_REFRESH,
    NO_PINGPONG,
    REJECTED_UPGRADE_STOPS,
    HERD_DISPERSED,
    CLIENT_CALLS_SETTLE,
    MESH_CALLS_SETTLE,
    SUBSCRIBED_IN_ROWS,
    ONE_CONNECTED,
    CLIENT_CALL_RETURNS_RESULT,
    MESH_CALL_RETURNS_RESULT,
    GRACE_HIDES_SHORT_DROP,
    RECONNECT_DELAYS_BOUNDED,
    MALFORMED_INPUT_ANSWERED,
    REVOKED_REFRESH_STAYS_REVOKED,
    DOCUMENT_CONVERGES,
    RETURNED_WITHIN_GRACE,
    RESUBSCRIBED_AFTER_LOSS,
)
"""Every Lumenize monitor, in the order the catalogue lists them."""

__all__ = [
    "CALL_ID_ONCE",
    "CLIENT_CALLS_SETTLE",
    "CLIENT_CALL_BOUND",
    "CLIENT_CALL_RETURNS_RESULT",
    "CLIENT_CALL_SETTLES_ONCE",
    "DOCUMENTED_ANSWERS",
    "DOCUMENT_CONVERGES",
    "GRACE_HIDES_SHORT_DROP",
    "HERD_DISPERSED",
    "HERD_WINDOW",
    "MALFORMED_INPUT_ANSWERED",
    "MESH_CALLS_SETTLE",
    "MESH_CALL_RETURNS_RESULT",
    "MESH_CALL_SETTLES_ONCE",
    "MONITORS",
    "NO_EXPIRED_FRAME",
    "NO_EXPIRED_INCOMING_CALL",
    "NO_PINGPONG",
    "ONE_CONNECTED",
    "ONE_OPEN_SOCKET",
    "PARKED_CALL_DELIVERED_ONCE",
    "PROMPT_FIRST_RECONNECT",
    "RECONNECT_DELAYS_BOUNDED",
    "REJECTED_UPGRADE_STOPS",
    "RESUBSCRIBED_AFTER_LOSS",
    "RETURNED_WITHIN_GRACE",
    "REVOKED_REFRESH_STAYS_REVOKED",
    "SINGLE_FLIGHT_REFRESH",
    "STALE_SOCKET_FENCED",
    "SUBSCRIBED_IN_ROWS",
    "SUBSCRIPTION_REQUIRED",
    "client_of_conn",
    "expired",
]
