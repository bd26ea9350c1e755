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
    RETURNED_WITHIN_GRACE,
    RESUBSCRIBED_AFTER_LOSS,
)
"""Every Lumenize monitor, in the order the catalogue lists them."""

__all__ = [
    "CALL_ID_ONCE", "CLIENT_CALLS_SETTLE", "CLIENT_CALL_BOUND", "CLIENT_CALL_SETTLES_ONCE",
    "HERD_DISPERSED", "HERD_WINDOW", "MESH_CALLS_SETTLE", "MESH_CALL_SETTLES_ONCE",
    "MONITORS", "NO_EXPIRED_FRAME", "NO_EXPIRED_INCOMING_CALL", "NO_PINGPONG",
    "ONE_CONNECTED", "ONE_OPEN_SOCKET", "PARKED_CALL_DELIVERED_ONCE",
    "PROMPT_FIRST_RECONNECT", "REJECTED_UPGRADE_STOPS", "RESUBSCRIBED_AFTER_LOSS",
    "RETURNED_WITHIN_GRACE",
    "SINGLE_FLIGHT_REFRESH", "STALE_SOCKET_FENCED", "SUBSCRIBED_IN_ROWS",
    "SUBSCRIPTION_REQUIRED", "client_of_conn", "expired",
]
