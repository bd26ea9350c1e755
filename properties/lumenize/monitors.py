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
from gatewaysim.models.lumenize.client import QUEUE_FULL
from gatewaysim.simulator.clock import MINUTE, SECOND, Time, format_duration, format_time, us
from gatewaysim.simulator.trace import FAULT, IN, OUT, SYS, TraceRecord

from ..monitor import Facts, Monitor
from ..monitors import HerdDispersal, SessionsPerKey, SettlesOnce, SettlesWithin, Sometimes
from .probes import defect_missing
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

    record_types = frozenset({"AcceptConnection", "HttpRequest", "Send"})
    record_kinds = frozenset({IN})  # a gateway's next input ends its frame

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
    """Also books the frame under an expired token each gateway is handling, until it
    closes that socket 4401."""

    record_types = frozenset({"AcceptConnection", "CloseConnection", "HttpRequest", "Send"})

    def reset(self) -> None:
        super().reset()
        self.expired_frame: dict[str, tuple[Time, str]] = {}  # gateway -> (t, conn)

    def _closed_due(self, gw: str) -> None:
        due = self.expired_frame.pop(gw, None)
        if due is not None:
            self.found(due[0], f"{gw} got a frame on {due[1]} under an expired token and left "
                               "the socket open instead of closing it 4401")

    def observe(self, rec: TraceRecord) -> None:
        if _is_gateway(rec) and rec.kind == IN:
            self._closed_due(rec.actor)
            data = rec.data
            if rec.type == "WsMessage" and isinstance(data.get("data"), str | dict) \
                    and expired(self.attach_exp.get(data["conn"]), rec.t):
                self.expired_frame[rec.actor] = (rec.t, data["conn"])
        elif _is_gateway(rec) and rec.kind == OUT and rec.type == "CloseConnection" \
                and rec.data.get("code") == p.CLOSE_TOKEN_EXPIRED:
            due = self.expired_frame.get(rec.actor)
            if due is not None and due[1] == rec.data.get("conn"):
                del self.expired_frame[rec.actor]
        super().observe(rec)

    def judge(self, facts: Facts) -> str | None:
        for gw in sorted(self.expired_frame):
            self._closed_due(gw)
        return self.problem

    def forwarded(self, rec: TraceRecord, gw: str, conn: str, call_id: Any) -> None:
        exp = self.attach_exp.get(conn)
        if expired(exp, rec.t):
            self.found(rec.t, f"{gw} forwarded call {call_id} from {conn} to the mesh although "
                              f"its token expired at exp={exp}")


NO_EXPIRED_FRAME = NoExpiredFrame(
    "lumenize.no_expired_frame",
    "no client frame reaches the mesh under an expired token: the gateway closes the "
    "socket 4401 instead",
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
    types={"HttpRequestReceived", "Note"},
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
    types={"Note"},
)


class ParkedCallDeliveredOnce(_Problem):
    """Books on calls parked at each gateway, the ones a returning client's step must
    release, and how often each incoming_call was sent and run."""

    record_types = frozenset({"Note", "Send", "crash"})
    record_kinds = frozenset({IN})  # a gateway's next input ends its step

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

    record_types = frozenset({"AcceptConnection", "CloseConnection", "DeleteAlarm", "Note",
                              "Send", "SetAlarm", "alarm.retry", "crash"})
    record_kinds = frozenset({IN})  # a gateway's next input ends its step

    def reset(self) -> None:
        super().reset()
        self.lost: dict[str, bool] = {}
        self.open: dict[str, set[str]] = {}
        self.alarm: dict[str, Time | None] = {}
        self.holder: dict[str, str] = {}  # gateway -> the tab of its last accepted socket
        self.deciding: dict[str, Any] = {}  # gateway -> what its upgrade in this step said
        # Upgrades judged once the config is at hand: t, gateway, conn, what it said,
        # whether its state was lost, whether another tab took the instance over.
        self.upgrades: list[tuple[Time, str, Any, Any, bool, bool]] = []

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
            self.deciding.pop(gw, None)
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
        elif rec.type == "Send":
            self._frame(rec.t, gw, data.get("conn"), data.get("data"))
        elif rec.type == "SetAlarm":
            self.alarm[gw] = data.get("at")
        elif rec.type == "DeleteAlarm":
            self.alarm[gw] = None
        elif rec.type == "Note":
            event, d = data["event"], data.get("data") or {}
            if event == "upgrade":
                self._upgrade(rec.t, gw, d)
                self.deciding[gw] = d.get("subscriptionRequired")
            elif event == "subscription.lost" and d.get("resource") != "takeover":
                # A takeover is worked out below from the sockets, not taken from the model.
                self.lost[gw] = True

    def _upgrade(self, t: Time, gw: str, d: dict[str, Any]) -> None:
        # What the gateway could see when it decided: the sockets the runtime still listed
        # for it (the ones it supersedes) and its alarm. No socket and no grace alarm means
        # the client left without a grace period starting: nothing vouches for the gap.
        superseded = list(d.get("superseded") or [])
        unvouched = not superseded and self.alarm.get(gw) is None
        lost = self.lost.get(gw, True) or unvouched
        # The tab (page) that connects, against the tab that held the instance: the owner
        # of the last socket the gateway accepted (a stale socket of this tab that is still
        # listed does not make it the holder again).
        tab = client_of_conn(str(d.get("conn")))
        takeover = self.holder.get(gw) != tab
        self.upgrades.append((t, gw, d.get("conn"), d.get("subscriptionRequired"), lost,
                              takeover))
        self.holder[gw] = tab
        self.lost[gw] = False

    def _frame(self, t: Time, gw: str, conn: Any, frame: Any) -> None:
        """The frame the tab gets must say what the gateway decided; a connection_status
        pushed on an open socket (not answering an upgrade) exists only to say true."""
        if not (isinstance(frame, dict) and frame.get("type") == "connection_status"):
            return
        said = frame.get("subscriptionRequired")
        if gw in self.deciding:
            if said != self.deciding[gw]:
                self.found(t, f"{gw} decided subscriptionRequired="
                              f"{str(self.deciding[gw]).lower()} but sent {conn} "
                              f"connection_status with {str(said).lower()}")
        elif said is not True:
            self.found(t, f"{gw} pushed connection_status subscriptionRequired="
                          f"{str(said).lower()} on {conn}: a push only ever reports a loss")

    def judge(self, facts: Facts) -> str | None:
        per_tab = facts.config.fixed("takeover_requires_resubscribe")
        for t, gw, conn, actual, lost, takeover in self.upgrades:
            expected = lost or (per_tab and takeover)
            if actual != expected:
                why = "nothing was lost since the last connection"
                if lost:
                    why = "the gateway lost the client's state"
                elif expected:
                    why = ("another tab held the instance, so this tab never had the state "
                           "the gateway would vouch for")
                self.found(t, f"{gw} accepted {conn} with subscriptionRequired="
                              f"{str(actual).lower()}, but {why}")
        self.upgrades = []
        return self.problem


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
        "accepted upgrade resets it. With fix takeover_requires_resubscribe the state is per "
        "tab (spec 6, two tabs sharing an instanceName): a tab that supersedes another tab's "
        "socket, or returns within grace after another tab held the instance, never had "
        "the state, so it must be told true. Which tab held the instance is read from the "
        "sockets (the owner of the last one the gateway accepted), not from the gateway's own "
        "takeover note. The frame the tab receives is judged too: it says "
        "what the upgrade decided, and a connection_status pushed outside an upgrade (fix "
        "resubscribe_after_fanout_drop tells an open socket at once) says true.",
)


class PromptFirstReconnect(Monitor):
    """Books: each tab whose socket opened and has not scheduled a reconnect since, and the
    delay each such tab chose for its first reconnect (judged against the config)."""

    record_types = frozenset({"Note", "WsOpened"})

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

    record_types = frozenset({"Note", "OpenConnection"})
    record_kinds = frozenset({IN})  # a tab's next input ends its reaction

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
    record_types = frozenset({"Note"})

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

    record_types = frozenset({"CloseConnection"})

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

    record_types = frozenset({"OpenConnection", "RejectConnection"})

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
    types={"ClientConnect", "ConnectRequested", "WakeUp", "herd"},
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
    types={"ClientCall", "Note"},
)


class MeshCallsSettle(Monitor):
    """Books: when ``node/main`` sent each call (the ``__executeOperation`` request itself,
    named by the tag of the ``mesh_call.sent`` note before it) and when the node reported
    the result of the answer to that request. Keyed by the request, not by the note: a node
    that stopped noting its calls would otherwise have nothing judged. The bound depends on
    the config (grace and the gateway's call timeout), so it is read from :class:`Facts` at
    judgement rather than fixed when the monitor is declared."""

    # every input the node takes (each one ends the handling of the one before)
    record_types = frozenset({"Note", "HttpRequest", "HttpResponse", "HttpFailed",
                              "CallClient", "HttpRequestReceived"})

    def reset(self) -> None:
        self.issued: dict[str, tuple[Time, str]] = {}  # req -> (sent at, tag)
        self.settled: dict[str, Time] = {}
        self.tag = ""  # of the last mesh_call.sent note
        self.answering: str | None = None  # the request whose answer the node handles

    def observe(self, rec: TraceRecord) -> None:
        if rec.actor != NODE:
            return
        data = rec.data
        if rec.kind == IN:
            self.answering = data.get("req") if rec.type in ("HttpResponse",
                                                             "HttpFailed") else None
            return
        if rec.type == "HttpRequest" and data.get("path") == p.EXECUTE_OPERATION:
            req = str(data.get("req"))
            self.issued[req] = (rec.t, self.tag or req)
            self.settled.pop(req, None)
            self.tag = ""
            return
        note = _note(rec)
        if note is None:
            return
        if note[0] == "mesh_call.sent":
            self.tag = str(note[1].get("tag") or "")
        elif note[0] == "mesh_call.result" and self.answering in self.issued:
            self.settled.setdefault(self.answering, rec.t)

    def judge(self, facts: Facts) -> str | None:
        config = facts.config
        bound = config.grace + config.client_call_timeout + MESH_CALL_SLACK
        for req, (issued, tag) in sorted(self.issued.items(), key=lambda kv: kv[1]):
            settled = self.settled.get(req)
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

    record_types = frozenset({"ClientCall", "Note"})

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

    record_types = frozenset({"Note", "WsClosed", "WsOpened"})

    def reset(self) -> None:
        self.refreshes = RefreshBooks()
        self.login_required: dict[str, tuple[Time, bool]] = {}  # t, legitimate
        self.last_open: dict[str, Time] = {}
        self.superseded: set[str] = set()
        self.superseded_tabs: set[str] = set()  # tabs that had a socket superseded

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client = rec.actor
        if rec.kind == IN:
            if rec.type == "WsOpened":
                self.last_open[client] = rec.t
            elif rec.type == "WsClosed" and rec.data.get("code") == p.CLOSE_SUPERSEDED:
                self.superseded.add(rec.data["conn"])
                self.superseded_tabs.add(client)
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
            # One tab connected does not vouch for the others: a tab allowed to connect
            # that is still trying (an attempt that never ends) is a tab the user sees
            # stuck, whichever tab holds the instance. A tab that was superseded and tries
            # again is no_pingpong's to judge, not this one's.
            stuck = [tab for tab in required
                     if not tab.connected and tab.address not in self.superseded_tabs]
            if stuck:
                return (f"{stuck[0].address} is {stuck[0].state}, neither connected nor "
                        f"superseded nor told to log in, "
                        f"{format_duration(facts.settle_bound)} after t_heal "
                        f"({connected[0]} holds {instance})")
        return None


ONE_CONNECTED = OneConnected(
    "lumenize.one_connected",
    "once faults stop, every instanceName with a tab allowed to connect has exactly one "
    "connected tab by t_heal + 3 min, and every tab allowed to connect that was never "
    "superseded is that tab",
    "liveness",
    doc="#14 reconnect bound (the server is reachable from t_heal, so the client is connected "
        "by t_heal + max_delay + connect_timeout, well inside 3 min) and #9 (one session per "
        "instanceName). Not required to connect: a tab whose user lost approval, a tab told "
        "to log in again by a definitive 401/403 from the token service or the gate (#11), "
        "and a tab superseded by a newer one that stays down (#13). A login_required caused "
        "by anything else (the token service down) does not excuse a tab. Every tab allowed "
        "to connect must be the connected one: a second tab still connecting while the first "
        "holds the instance (an attempt waiting on a probe that already ended) is stuck, "
        "unless a newer tab superseded it before (what it does then is no_pingpong's).",
)


# ---------------------------------------------------------------------------- sometimes
def _instance_of_client(address: str) -> str:
    """``client/u0.t1#2`` -> ``u0.t1`` (a duplicate tab shares its instanceName)."""
    return address.removeprefix(p.CLIENT_PREFIX).partition("#")[0]


class ResubscribedAfterLoss(Monitor):
    """Books: the gateways that accepted a connection before, the instances a later upgrade
    told ``subscriptionRequired: true``, and when each was told; reached when a tab of such
    an instance then subscribes successfully."""

    record_types = frozenset({"Note"})

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
    types={"Note"},
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
    the code under test stands between a call sent on it and its answer. A close with 1011
    "Connection not properly initialized" does not count: the gateway sends it only for a
    socket without an attachment, and every socket it accepts has one, so that close is
    itself the code under test failing.
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
        if rec.data.get("code") == p.CLOSE_NOT_INITIALIZED:
            return  # every socket a gateway accepts carries its attachment: never an excuse
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

    record_types = frozenset({"AcceptConnection", "ClientCall", "CloseConnection", "Note", "Send",
                              "WsClosed", "WsOpened", "WsRejected"})
    record_kinds = frozenset({FAULT})  # every fault: link books

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
        error = d.get("error")
        if not (isinstance(error, dict) and isinstance(error.get("message"), str)
                and error["message"]):
            self.found(rec.t, f"{rec.actor} call [{tag}] was rejected with {error!r}, not an "
                              "Error with a message: the app cannot tell why it failed")
            return
        conn = self.sent_on.get(call_id)
        if conn is not None and self.links.clean(conn):
            self.found(rec.t, f"{rec.actor} call [{tag}] failed ({error}) although "
                              f"no fault touched {conn} while it was in flight")


CLIENT_CALL_RETURNS_RESULT = ClientCallReturnsResult(
    "lumenize.client_call_returns_result",
    "a client call returns what the callee computed: echo returns its arguments, and a call "
    "sent on a socket no fault touched while it was in flight succeeds",
    "safety",
    doc="#6 each call is answered, and the answer is the callee's. Spec 1.7 step 4: the reply "
        "is a call_response carrying the callee's $result (success) or $error; spec 2.4: "
        "the client settles callRaw with it, and rejects with an Error that has a message "
        "(one the client makes, or the callee's $error). The Worker binding echoes its "
        "arguments ('worker-echo: a,b', case 19). A failure is excused only when a fault "
        "named the tab's instance, or either end closed the socket, between the socket "
        "opening and the settlement (a 4401 or a 4409 closes it).",
)


class MeshCallReturnsResult(_Problem):
    """Books: each ``node/main`` request (its method and arguments, from the RPC it sent),
    the socket its gateway held OPEN (with an unexpired token) when the request arrived,
    and the link books for that socket."""

    record_types = frozenset({"AcceptConnection", "CloseConnection", "HttpRequest",
                              "HttpRequestReceived", "Note", "WsClosed", "WsOpened", "WsRejected"})
    record_kinds = frozenset({FAULT, IN})  # link books; node input

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
        error = d.get("error")
        if not d.get("ok") and isinstance(error, dict) \
                and error.get("name") == p.CLIENT_DISCONNECTED_ERROR:
            named = error.get("clientInstanceName")
            if named != d.get("instanceName") and (named is not None
                                                   or error.get("message") != p.CALL_TIMED_OUT):
                self.found(rec.t, f"mesh call [{tag}] failed with ClientDisconnectedError "
                                  f"naming {named!r}, not {d.get('instanceName')!r}, the "
                                  "instance it called")
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
        "back (an expired token closes it 4401, a newer tab 4409). A ClientDisconnectedError "
        "names the instance called in clientInstanceName (spec 1.8, case 8; 'the instance "
        "name is backfilled', spec 6), except a 30 s timeout, which names it from the socket "
        "still open, if any.",
)


class DocumentConverges(SubscribedInRows):
    """Books: the broadcaster's latest version and content (its fan-out notes) and each
    tab's subscription belief (the books of :class:`SubscribedInRows`); what each tab holds
    is read from its state (``TabFacts.document``), not from what it reported."""

    def reset(self) -> None:
        super().reset()
        self.latest: tuple[Any, Any] = (0, "")

    def observe(self, rec: TraceRecord) -> None:
        super().observe(rec)
        note = _note(rec)
        if note is not None and note[0] == "fanout" and rec.actor == p.DEFAULT_DOCUMENT:
            self.latest = (note[1].get("version"), note[1].get("content"))

    def judge(self, facts: Facts) -> str | None:
        stats = _stats(facts)
        rows = set(stats.rows)
        for tab in stats.tabs:
            if not (tab.up and tab.connected and self.belief.get(tab.address)
                    and tab.instance in rows):
                continue
            held = tab.document
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

    record_types = frozenset({"AcceptConnection", "CloseConnection", "Note", "crash", "evict"})
    record_kinds = frozenset({IN})  # a gateway's next input ends its step

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


#: A streak of reconnects whose delays all stay this small is judged not to grow: under full
#: jitter each delay is uniform below its ceiling, so the chance that every delay of a streak
#: is at most ``D`` is ``prod (D+1)/(c_n+1)``; below this it is not chance.
GROWTH_ALPHA = 1e-8


def backoff_ceiling(n: int, config: Any) -> Time:
    """The policy's ceiling for reconnect ``n + 1`` since the counter reset (spec 2.2),
    computed here from the config's constants, not by the model's function."""
    ceiling: Time = min(config.reconnect_initial * 2 ** min(n, 32), config.reconnect_max)
    return ceiling


def growth_p_value(delays: list[tuple[int, Any]], config: Any) -> float:
    """How likely full jitter is to keep every delay of a streak at or below its largest:
    ``prod_n P(U{0..c_n} <= D)``, with ``D`` the streak's largest delay (``(n, delay)``
    pairs; the exact distribution of the maximum, so a proper one-sided test)."""
    largest = max((d for _n, d in delays if isinstance(d, int)), default=0)
    p = 1.0
    for n, _delay in delays:
        ceiling = backoff_ceiling(n, config)
        p *= min(1.0, (largest + 1) / (ceiling + 1))
    return p


class ReconnectDelaysBounded(Monitor):
    """Books: per tab, the reconnect timers it set since its counter last reset (a socket
    opened, or a wake-up that runs reconnectNow), and the state it was in (its state
    notes), with the delay of each timer and whether the timeline announced that delay.

    The delay judged is the timer the tab really set (``SetTimer("reconnect")``, its
    deadline less the time it was set), not what its note says; the note must agree with it.
    """

    record_types = frozenset({"Note", "SetTimer", "crash"})
    record_kinds = frozenset({IN})  # a tab's next input voids an announcement

    def reset(self) -> None:
        self.count: Counter[str] = Counter()
        self.state: dict[str, str] = {}
        self.delays: list[tuple[Time, str, int, Any]] = []  # t, client, n, delay
        self.streak: dict[str, list[tuple[int, Any]]] = {}  # client -> (n, delay) since reset
        self.ended: list[tuple[Time, str, list[tuple[int, Any]]]] = []  # streaks to judge
        self.announced: dict[str, Any] = {}  # client -> delay its note announced this step
        self.problem: str | None = None

    def _reset(self, t: Time, client: str) -> None:
        self.count[client] = 0
        streak = self.streak.pop(client, None)
        if streak:
            self.ended.append((t, client, streak))

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == FAULT and rec.type == "crash":
            host = rec.data.get("host", "")
            self._reset(rec.t, host)
            self.state.pop(host, None)
            return
        if not _is_client(rec):
            return
        client = rec.actor
        if rec.kind == IN:
            self.announced.pop(client, None)
            if rec.type == "WsOpened":
                self._reset(rec.t, client)
            elif rec.type == "WakeUp":
                state = self.state.get(client, "disconnected")
                if state == "reconnecting" or (rec.data.get("kind") == "online"
                                               and state == "disconnected"):
                    self._reset(rec.t, client)  # reconnectNow (spec 2.5)
            return
        if rec.kind != OUT:
            return
        if rec.type == "SetTimer" and rec.data.get("key") == "reconnect":
            delay = rec.data.get("at", rec.t) - rec.t
            n = self.count[client]
            self.delays.append((rec.t, client, n, delay))
            self.streak.setdefault(client, []).append((n, delay))
            self.count[client] += 1
            if self.problem is None and self.announced.pop(client, None) != delay:
                self.problem = (f"{client} set its reconnect timer {delay}us ahead without "
                                f"announcing that delay (t={format_time(rec.t)})")
            return
        note = _note(rec)
        if note is None:
            return
        event, d = note
        if event == "state":
            self.state[client] = d.get("to")
        elif event == "reconnect.scheduled":
            self.announced[client] = d.get("delay")

    def judge(self, facts: Facts) -> str | None:
        config = facts.config
        jittered = config.fixed("jittered_backoff")
        for t, client, n, delay in self.delays:
            if self.problem is not None:
                break
            ceiling = backoff_ceiling(n, config)
            if not isinstance(delay, int) or delay < 0 or delay > ceiling or (
                    not jittered and delay != ceiling):
                band = f"[0, {ceiling}]" if jittered else f"exactly {ceiling}"
                self.problem = (f"{client} chose a delay of {delay}us for reconnect "
                                f"{n + 1} since its counter reset; the policy allows "
                                f"{band}us (t={format_time(t)})")
        self.delays = []
        if jittered:
            streaks = self.ended + [(facts.now, c, d) for c, d in sorted(self.streak.items())]
            for t, client, streak in streaks:
                if self.problem is not None:
                    break
                p_value = growth_p_value(streak, config)
                if p_value < GROWTH_ALPHA:
                    largest = max(d for _n, d in streak)
                    self.problem = (
                        f"{client}'s reconnect delays do not grow: {len(streak)} reconnects "
                        f"in a row without a reset, none waiting more than {largest}us, "
                        f"which full jitter over the policy's ceilings does with probability "
                        f"{p_value:.1e} (t={format_time(t)})")
        self.ended = []
        return self.problem


RECONNECT_DELAYS_BOUNDED = ReconnectDelaysBounded(
    "lumenize.reconnect_delays_bounded",
    "every reconnect delay is within the backoff policy's band for its attempt, and the "
    "delays grow from attempt to attempt until a connection resets them",
    "safety",
    doc="#14 reconnect bound, for every attempt rather than the first. Spec 2.2: attempt n "
        "(counted from 0 since the last reset) waits min(reconnect_initial * 2^n, "
        "reconnect_max), exactly without jitter and uniformly below it with fix "
        "jittered_backoff; the counter resets when a socket opens (2.1) and on reconnectNow "
        "(2.5: online while reconnecting or disconnected, visible or focus while "
        "reconnecting). The counter is kept from the trace, not read from the client, and "
        "the delay is the timer the tab set, which its 'reconnect.scheduled' note must "
        "announce. Growth: without jitter the exact check implies it; with full jitter a "
        "single small delay is legitimate, so each streak of reconnects between resets is "
        "judged as a whole: the chance that every delay stays at or below the streak's "
        "largest is prod (D+1)/(c_n+1), and below GROWTH_ALPHA (1e-8) the delays are judged "
        "not to grow. A streak of nine reconnects that never leaves the first attempt's "
        "[0, 1 s] band has probability 1.2e-9 under the policy; a counter that never "
        "counts produces one in any outage of a few seconds.",
)


# ---------------------------------------------------------------------------- error paths
PROBER = "probe/main"

#: The documented answer to each malformed request the driver's ``probe`` step sends:
#: (the status or statuses allowed, a phrase the reason or error message must contain, or
#: None), with the spec section it comes from. Read from the spec, never from the model.
DOCUMENTED_ANSWERS: dict[str, tuple[tuple[int, ...], str | None, str]] = {
    "unknown_path": ((404,), None, "3: routeDORequest serves /gateway/{binding}/{instance}"),
    "empty_instance": ((404,), None,
                       "3: routeDORequest needs /gateway/{binding}/{instance}, all three"),
    "bad_origin": ((403,), "origin not allowed", "3 step 1: the CORS allowlist"),
    "no_token": ((401,), None, "3 step 2: no lmz.access-token subprotocol"),
    "forged_token": ((401,), None, "3 step 2: the signature does not verify"),
    "no_upgrade_header": ((426,), None, "1.1 step 1: no Upgrade: websocket"),
    "instance_without_tab": ((403,), "invalid instance name format",
                             "1.1 step 5: onBeforeAccept requires sub.tabId"),
    "identity_mismatch": ((403,), "identity mismatch",
                          "1.1 step 5: the instance's prefix is not the token's sub"),
    "wrong_audience": ((401,), None, "3 step 2: aud / iss mismatch, or no sub -> 401"),
    "no_subject": ((401,), None, "3 step 2: aud / iss mismatch, or no sub -> 401"),
    "envelope_version": ((200,), "unsupported rpc envelope version: 2",
                         "1.5 step 1: version !== 1, answered as $error"),
    "unknown_operation": ((404,), None, "1.5: a gateway serves __executeOperation only"),
    "worker_unknown_path": ((404,), None,
                            "1.7 step 3: the Worker binding serves __executeOperation only"),
    "refresh_wrong_method": ((404, 405), None,
                             "3, token lifetimes: the refresh endpoint is a POST; anything "
                             "else is not served (and rotates nothing)"),
}

PROBE_ANSWER_BOUND: Time = 15 * SECOND
"""A probe is answered within a round trip, or, for an upgrade the Worker forwards to a
gateway, within the transport's 10 s connect timeout; 15 s leaves room for either."""


def _error_message(body: Any) -> str:
    """The message of an RPC ``{$error: {message}}`` body (or of a plain error body)."""
    if not isinstance(body, dict):
        return ""
    error = body.get("$error", body.get("error"))
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return str(error or "")


class MalformedInputAnswered(_Problem):
    """Books: the kind, target and send time of each probe the prober sent (its
    ``probe.sent`` notes and the request that follows); the answer is the prober's next
    input for that socket or request. And when each host last crashed, which excuses a
    probe that was in flight to it (or to a gateway an upgrade is forwarded to)."""

    record_types = frozenset({"HttpRequest", "Note", "OpenConnection", "crash", "evict"})
    record_kinds = frozenset({IN})  # every input of the prober

    def reset(self) -> None:
        super().reset()
        self.kinds: dict[str, str] = {}
        self.sent: dict[str, tuple[Time, str]] = {}  # probe id -> (sent at, target host)
        self.crashed: dict[str, Time] = {}  # host -> last crash or eviction
        self.asked: tuple[Time, str] | None = None  # a Probe input not yet sent
        self.cookies: dict[str, str] = {}  # refresh probe id -> the cookie it presented
        self.rotated: set[str] = set()  # cookies the prober has had rotated away

    def _unsent(self) -> None:
        """A probe asked for and not sent (only a replay with nothing rotated is empty)."""
        if self.asked is not None:
            t, kind = self.asked
            self.asked = None
            if not (kind == "replay_refresh" and not self.rotated):
                self.found(t, f"probe {kind} was asked for and the prober sent nothing")

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == FAULT and rec.type in ("crash", "evict"):
            self.crashed[rec.data.get("host", "")] = rec.t
            return
        if rec.actor != PROBER:
            return
        data = rec.data
        note = _note(rec)
        if note is not None:
            if note[0] == "probe.sent":
                self.kinds[note[1]["id"]] = note[1]["kind"]
                if self.asked is not None and self.asked[1] != note[1]["kind"]:
                    self.found(rec.t, f"probe {self.asked[1]} was asked for and the prober "
                                      f"sent probe {note[1]['kind']}")
                self.asked = None
            return
        if rec.kind == OUT and rec.type in ("OpenConnection", "HttpRequest"):
            key = data.get("conn", data.get("req"))
            if key in self.kinds:
                self.sent[key] = (rec.t, str(data.get("to")))
                wrong = defect_missing(self.kinds[key], rec.type, data, self.rotated)
                if wrong is not None:
                    self.found(rec.t, wrong)
                if rec.type == "HttpRequest" and data.get("path") == p.REFRESH_PATH:
                    self.cookies[key] = p.header(data.get("headers") or {}, "Cookie")
            return
        if rec.kind != IN:
            return
        self._unsent()
        if rec.type == "Probe":
            self.asked = (rec.t, str(data.get("kind")))
            return
        if rec.type == "HttpResponse" and data.get("status") == 200:
            cookie = self.cookies.pop(str(data.get("req")), None)
            if isinstance(cookie, str):
                self.rotated.add(cookie)
        key = data.get("conn", data.get("req"))
        self.sent.pop(str(key), None)
        kind = self.kinds.pop(str(key), None) if isinstance(key, str) else None
        if kind is None or kind not in DOCUMENTED_ANSWERS:
            return
        statuses, phrase, where = DOCUMENTED_ANSWERS[kind]
        allowed = " or ".join(str(s) for s in statuses)
        if rec.type == "WsOpened":
            self.found(rec.t, f"probe {kind} was accepted as a WebSocket; spec {where}: "
                              f"{allowed}")
            return
        if rec.type == "WsRejected":
            got, text = data.get("status"), str(data.get("reason") or "")
        elif rec.type == "HttpResponse":
            got, text = data.get("status"), _error_message(data.get("body"))
        else:
            return  # unreachable (a crashed host, a closed socket): no answer to judge
        if got == 0 and rec.type == "WsRejected":
            return  # the kernel's "unreachable"; an HTTP answer 0 is an answer, and wrong
        if got not in statuses or (phrase is not None and phrase not in text.lower()):
            self.found(rec.t, f"probe {kind} was answered {got} {text!r}; spec {where}: "
                              f"{allowed}" + (f" {phrase!r}" if phrase else ""))

    def _excused(self, sent_at: Time, target: str) -> bool:
        """A host the probe may have been waiting on crashed since it was sent."""
        return any(t >= sent_at and (host == target or host.startswith(p.GATEWAY_PREFIX))
                   for host, t in self.crashed.items())

    def judge(self, facts: Facts) -> str | None:
        self._unsent()
        for key, (sent_at, target) in sorted(self.sent.items()):
            if facts.now - sent_at > PROBE_ANSWER_BOUND and not self._excused(sent_at, target):
                self.found(sent_at, f"probe {self.kinds.get(key, key)} to {target} got no "
                                    f"answer in {format_duration(facts.now - sent_at)}; a "
                                    "malformed request is refused, not left hanging")
                break
        return self.problem


MALFORMED_INPUT_ANSWERED = MalformedInputAnswered(
    "lumenize.malformed_input_answered",
    "every malformed or unexpected request gets its documented refusal, within a round trip",
    "safety",
    doc="#13 terminal means terminal and #12 the server enforces: the edge refuses what it "
        "must, with the status the client (or operator) can act on. The table "
        "DOCUMENTED_ANSWERS gives each probe's answer and its section of lumenize-mesh.md; "
        "an upgrade that opens is always wrong, and so is silence: a probe whose target "
        "stayed up must be answered within PROBE_ANSWER_BOUND (15 s). A probe whose target "
        "(or, for an upgrade, a gateway) crashed while it was in flight is not judged. "
        "An answer is evidence only for the request it answers: each probe asked for is "
        "sent, and malformed the way its name says (properties/lumenize/probes.py).",
)


class RevokedRefreshStaysRevoked(_Problem):
    """Books, kept at the token service: the cookie of the request it is handling (its
    ``HttpRequestReceived``) and every cookie it has already rotated (answered 200)."""

    record_types = frozenset({"AuthMode", "HttpRequestReceived", "HttpRespond", "crash", "restart"})

    def reset(self) -> None:
        super().reset()
        self.cookie: dict[str, Any] = {}  # req -> the cookie it presented
        self.restarted_since: dict[str, bool] = {}  # cookie -> a restart came after
        self.mode = "ok"  # the service's mode (a process setting)

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == FAULT and rec.type in ("crash", "restart") \
                and rec.data.get("host") == p.AUTH:
            self.mode = "ok"
            if rec.type == "restart":
                for cookie in self.restarted_since:
                    self.restarted_since[cookie] = True
            return
        if rec.actor != p.AUTH:
            return
        data = rec.data
        if rec.kind == IN and rec.type == "AuthMode":
            self.mode = str(data.get("mode"))
        elif rec.kind == IN and rec.type == "HttpRequestReceived" \
                and data.get("method") == "POST" and data.get("path") == p.REFRESH_PATH:
            self.cookie[data["req"]] = p.header(data.get("headers") or {}, "Cookie")
        elif rec.kind == OUT and rec.type == "HttpRespond":
            cookie = self.cookie.pop(data.get("req"), None)
            if not isinstance(cookie, str):
                return
            status = data.get("status")
            # 'error' answers every refresh 503 and 'forbidden' 403 before reading the
            # cookie: refusals all the same
            if cookie in self.restarted_since and status != 401 \
                    and status != {"error": 503, "forbidden": 403}.get(self.mode):
                after = " after a restart of the service" if self.restarted_since[cookie] \
                    else ""
                self.found(rec.t, f"the token service answered refresh cookie {cookie!r} "
                                  f"{status}{after}, although it rotated it before: a revoked "
                                  "cookie gets 401")
            if status == 200:
                self.restarted_since[cookie] = False


REVOKED_REFRESH_STAYS_REVOKED = RevokedRefreshStaysRevoked(
    "lumenize.revoked_refresh_stays_revoked",
    "a refresh cookie the token service rotated is refused 401 ever after, across restarts",
    "safety",
    doc="#10 single-flight refresh relies on it and #3 epoch fencing asks it of a restart: "
        "spec 3, token lifetimes: the refresh token rotates, revoked on each use, and a "
        "revoked cookie gets 401; the rows live in durable storage, so a crash and restart "
        "of the service revokes nothing back. Judged at the service: any refresh that "
        "presents a cookie it answered 200 before is answered 401 (a definitive refusal the "
        "client acts on; 503 only while the service is failing, 'error' mode). The driver's "
        "probe step replays one (replay_refresh).",
)


# ---------------------------------------------------------------------------- tokens
def _refresh_request(rec: TraceRecord) -> bool:
    """A tab's ``refreshToken()`` exchange leaving for the token service."""
    return (rec.kind == OUT and rec.type == "HttpRequest" and _is_client(rec)
            and rec.data.get("to") == p.AUTH and rec.data.get("path") == p.REFRESH_PATH)


class TokenServiceAnswersByMode(_Problem):
    """Books, kept at the token service: its fault mode and access-token TTL as the inputs
    set them (both reset by a restart: they are process settings), the mode and TTL each
    refresh arrived under, and the TTL checks waiting for the config's default."""

    record_types = frozenset({"AuthMode", "HttpRequestReceived", "HttpRespond", "SetTokenTtl",
                              "crash", "restart"})

    def reset(self) -> None:
        super().reset()
        self.mode = "ok"
        self.ttl: int | None = None  # None: the config's access_ttl_s
        self.arrived: dict[str, tuple[str, int | None]] = {}  # req -> (mode, ttl)
        self.lifetimes: list[tuple[Time, int | None, Any, Any]] = []  # t, ttl, iat, exp

    def observe(self, rec: TraceRecord) -> None:
        if rec.kind == FAULT and rec.type in ("crash", "restart") \
                and rec.data.get("host") == p.AUTH:
            self.mode, self.ttl = "ok", None
            self.arrived.clear()
            return
        if rec.actor != p.AUTH:
            return
        data = rec.data
        if rec.kind == IN:
            if rec.type == "AuthMode":
                self.mode = str(data.get("mode"))
            elif rec.type == "SetTokenTtl":
                self.ttl = data.get("ttl_s")
            elif rec.type == "HttpRequestReceived" and data.get("method") == "POST" \
                    and data.get("path") == p.REFRESH_PATH:
                self.arrived[data["req"]] = (self.mode, self.ttl)
            return
        if rec.kind != OUT or rec.type != "HttpRespond" or data.get("req") not in self.arrived:
            return
        mode, ttl = self.arrived.pop(data["req"])
        status = data.get("status")
        expected = {"error": 503, "reject": 401, "forbidden": 403}.get(mode)
        if expected is not None and status != expected:
            self.found(rec.t, f"the token service answered a refresh {status} in mode "
                              f"{mode!r}; that mode answers {expected}")
            return
        if status != 200:
            return
        body = data.get("body") if isinstance(data.get("body"), dict) else {}
        try:
            claims = p.decode_token(str(body.get("access_token")))
        except p.TokenError:
            self.found(rec.t, "the token service answered a refresh 200 with an access "
                              "token that does not decode")
            return
        if mode == "expired_tokens":
            if not expired(claims.get("exp"), rec.t):
                self.found(rec.t, f"in mode 'expired_tokens' the token service minted a "
                                  f"token that is still valid (exp={claims.get('exp')})")
        elif mode == "ok":
            self.lifetimes.append((rec.t, ttl, claims.get("iat"), claims.get("exp")))

    def judge(self, facts: Facts) -> str | None:
        for t, ttl, iat, exp in self.lifetimes:
            lifetime = facts.config.access_ttl_s if ttl is None else ttl
            if not (isinstance(iat, int) and isinstance(exp, int)) or exp - iat != lifetime:
                self.found(t, f"the token service minted an access token with iat={iat}, "
                              f"exp={exp}; tokens last {lifetime} s")
                break
        self.lifetimes = []
        return self.problem


TOKEN_SERVICE_ANSWERS_BY_MODE = TokenServiceAnswersByMode(
    "lumenize.token_service_answers_by_mode",
    "the token service answers a refresh as its mode says: 503 while failing ('error'), "
    "401 while rejecting, 403 while forbidding, and otherwise tokens that last the "
    "configured TTL",
    "safety",
    doc="#10 and #11 need the token service to say what went wrong: spec 3, token "
        "lifetimes (access tokens last access_ttl_s, 900 s, or what SetTokenTtl set), and "
        "the fault modes the driver injects (AuthMode): 'error' is an outage, answered 503, "
        "which a client must take for a transient failure (spec 2.3); 'reject' refuses every "
        "cookie, 401, a definitive answer, and 'forbidden' refuses the account, 403, as "
        "definitive; 'expired_tokens' mints tokens already expired. "
        "The mode and TTL are kept from the service's inputs and reset by a crash or "
        "restart (process settings, not storage).",
)


class LoginRequiredOnRefusal(_Problem):
    """Books: each tab's refresh exchanges, its current socket (its last OpenConnection),
    the refusal it is handling (a refresh answered 401/403, or, with fix
    rejected_upgrade_terminal, an upgrade of its current socket refused 403) until it has
    called onLoginRequired, and refusals it handled without calling it."""

    record_types = frozenset({"HttpRequest", "Note", "OpenConnection"})
    record_kinds = frozenset({IN})  # a tab's next input ends its step

    def reset(self) -> None:
        super().reset()
        self.refreshes: set[str] = set()
        self.current: dict[str, str] = {}
        self.refused: dict[str, tuple[Time, str, bool]] = {}  # client -> (t, what, gate)
        self.silent: list[tuple[Time, str, str, bool]] = []

    def _handled(self, client: str) -> None:
        refused = self.refused.pop(client, None)
        if refused is not None:
            self.silent.append((refused[0], client, refused[1], refused[2]))

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client, data = rec.actor, rec.data
        if rec.kind == IN:
            self._handled(client)
            if rec.type == "HttpResponse" and data.get("req") in self.refreshes \
                    and data.get("status") in (401, 403):
                self.refused[client] = (rec.t, f"a refresh answered {data['status']}", False)
            elif rec.type == "WsRejected" and data.get("status") == 403 \
                    and data.get("conn") == self.current.get(client):
                self.refused[client] = (rec.t, "an upgrade refused 403 by the access gate",
                                        True)
            return
        if _refresh_request(rec):
            self.refreshes.add(data["req"])
        elif rec.kind == OUT and rec.type == "OpenConnection":
            self.current[client] = data["conn"]
        else:
            note = _note(rec)
            if note is not None and note[0] == "login_required":
                self.refused.pop(client, None)

    def judge(self, facts: Facts) -> str | None:
        for client in sorted(self.refused):
            self._handled(client)
        gate_visible = facts.config.fixed("rejected_upgrade_terminal")
        for t, client, what, gate in self.silent:
            if gate and not gate_visible:
                continue  # faithful: the browser sees 1006 and retries (spec 2.1, 6)
            self.found(t, f"{client} got {what} and did not call onLoginRequired: the app "
                          "is never told the user must log in again")
            break
        self.silent = []
        return self.problem


LOGIN_REQUIRED_ON_REFUSAL = LoginRequiredOnRefusal(
    "lumenize.login_required_on_refusal",
    "a refresh refused 401/403 (and, with fix rejected_upgrade_terminal, an upgrade refused "
    "403 by the access gate) ends in onLoginRequired at once, not in silence",
    "safety",
    doc="#11 no refresh/logout loop and #13 terminal means terminal, seen from the app: "
        "spec 2.3, a refresh answered 401/403 is a LoginRequiredError; spec 2.1, "
        "connectInternal throwing it, or the 4401 path's refresh failing, ends in "
        "'disconnected' and onLoginRequired. Spec 6 lists 'a first-connect 401 was swallowed "
        "into endless reconnects' as a bug fixed once. With fix rejected_upgrade_terminal the "
        "client sees an upgrade's 403 too. Judged in the step that handles the refusal.",
)


class TransientRefreshNotTerminal(_Problem):
    """Books: the reason of each tab's refresh exchange (its refresh.started note and the
    request after it), the transient failure the tab is handling (an answer other than 2xx,
    401 and 403, or no answer at all), and the login prompts it gave while handling one."""

    record_types = frozenset({"HttpRequest", "Note"})
    record_kinds = frozenset({IN})  # a tab's next input ends its step

    def reset(self) -> None:
        super().reset()
        self.reason: dict[str, str] = {}  # client -> reason of the refresh being started
        self.refreshes: dict[str, str] = {}  # req -> reason
        self.failing: dict[str, tuple[str, str]] = {}  # client -> (reason, what)
        self.prompts: list[tuple[Time, str, str, str]] = []  # t, client, reason, what

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client, data = rec.actor, rec.data
        if rec.kind == IN:
            self.failing.pop(client, None)
            reason = self.refreshes.pop(str(data.get("req")), None)
            if reason is None:
                return
            if rec.type == "HttpFailed":
                self.failing[client] = (reason, f"no answer ({data.get('reason')})")
            elif rec.type == "HttpResponse" and data.get("status") not in (401, 403) \
                    and not 200 <= int(data.get("status") or 0) < 300:
                self.failing[client] = (reason, f"an answer {data.get('status')}")
            return
        if _refresh_request(rec):
            self.refreshes[data["req"]] = self.reason.pop(client, "")
            return
        note = _note(rec)
        if note is None:
            return
        if note[0] == "refresh.started":
            self.reason[client] = str(note[1].get("reason"))
        elif note[0] == "login_required" and client in self.failing:
            reason, what = self.failing[client]
            self.prompts.append((rec.t, client, reason, what))

    def judge(self, facts: Facts) -> str | None:
        retried = facts.config.fixed("reauth_retries_transient_failure")
        for t, client, reason, what in self.prompts:
            if reason == "token_expired" and not retried:
                continue  # faithful: any failure on the 4401 path is terminal (case 82)
            self.found(t, f"{client} called onLoginRequired after its refresh ({reason}) got "
                          f"{what}: an outage of the token service is not a refusal")
            break
        self.prompts = []
        return self.problem


TRANSIENT_REFRESH_NOT_TERMINAL = TransientRefreshNotTerminal(
    "lumenize.transient_refresh_not_terminal",
    "a refresh that fails without a 401/403 (the token service answering 5xx in 'error' "
    "mode, down, or unreachable) never ends in onLoginRequired",
    "safety",
    doc="#11: only a definitive refusal logs a user out. Spec 2.3: any non-OK status other "
        "than 401/403, and a network failure, are a plain Error, transient on connect and "
        "reconnect (scheduleReconnect, spec 2.1). On the 4401 path the real client treats any "
        "failure as terminal (case 82); fix reauth_retries_transient_failure makes it "
        "transient there too, so that path is judged only with the fix on.",
)


class RefreshRetryBacksOff(_Problem):
    """Books: each tab's refresh exchanges, and the tab whose refresh last failed
    transiently, until something that may legitimately start another refresh happens to it
    (its reconnect timer, a wake-up or connect(), a socket event)."""

    record_types = frozenset({"HttpRequest", "Note"})
    record_kinds = frozenset({IN})  # a tab's next input ends its step

    #: Inputs after which a tab may refresh again: the backoff timer, the user, the network.
    AGAIN = frozenset({"WakeUp", "ClientConnect", "WsClosed", "WsRejected", "WsOpened",
                       "Start"})

    def reset(self) -> None:
        super().reset()
        self.refreshes: set[str] = set()
        self.failed: dict[str, Time] = {}  # client -> when its refresh failed

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client, data = rec.actor, rec.data
        if rec.kind == IN:
            if rec.type in self.AGAIN or (rec.type == "TimerFired"
                                          and data.get("key") == "reconnect"):
                self.failed.pop(client, None)
            elif data.get("req") in self.refreshes:
                self.refreshes.discard(data["req"])
                status = int(data.get("status") or 0)
                if rec.type == "HttpFailed" or (status not in (401, 403)
                                                and not 200 <= status < 300):
                    self.failed[client] = rec.t
                else:
                    self.failed.pop(client, None)
            return
        if _refresh_request(rec):
            self.refreshes.add(data["req"])
            return
        note = _note(rec)
        if note is not None and note[0] == "refresh.started" and client in self.failed:
            self.found(rec.t, f"{client} started a refresh ({note[1].get('reason')}) "
                              f"{format_duration(rec.t - self.failed[client])} after one "
                              "failed, without waiting for its backoff")


REFRESH_RETRY_BACKS_OFF = RefreshRetryBacksOff(
    "lumenize.refresh_retry_backs_off",
    "after a refresh fails transiently, the tab starts no other refresh until its "
    "reconnect timer fires or the user or the network gives it a new reason",
    "safety",
    doc="#11 no refresh loop and #15 load on a failing service: spec 2.1, connectInternal "
        "throwing a plain Error (5xx, network) runs scheduleReconnect, and the next attempt, "
        "which refreshes, waits for the backoff timer; fix reauth_retries_transient_failure "
        "backs off the 4401 path's failure the same way. Refreshes a tab may start without "
        "waiting: after a wake-up or connect() (reconnectNow), or in answer to a socket "
        "event (a 4401 close, a 401 upgrade under fix rejected_upgrade_terminal).",
)


class FreshTokenUsed(_Problem):
    """Books: each tab's refresh exchanges, and the tab handling a refresh that succeeded,
    for the rest of that step."""

    record_types = frozenset({"HttpRequest", "SetTimer"})
    record_kinds = frozenset({IN})  # a tab's next input ends its step

    def reset(self) -> None:
        super().reset()
        self.refreshes: set[str] = set()
        self.refreshed: dict[str, Time] = {}

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client, data = rec.actor, rec.data
        if rec.kind == IN:
            self.refreshed.pop(client, None)
            if rec.type == "HttpResponse" and data.get("req") in self.refreshes \
                    and data.get("status") == 200:
                self.refreshed[client] = rec.t
            return
        if _refresh_request(rec):
            self.refreshes.add(data["req"])
        elif rec.type == "SetTimer" and data.get("key") == "reconnect" \
                and client in self.refreshed:
            self.found(rec.t, f"{client} got a fresh token and backed off instead of "
                              "connecting with it")


FRESH_TOKEN_USED = FreshTokenUsed(
    "lumenize.fresh_token_used",
    "a refresh that succeeds is never answered by backing off: the attempts awaiting it go "
    "on to connect",
    "safety",
    doc="#14 reconnect bound: spec 2.3, connectInternal awaits the refresh (and the tab-id "
        "probe) and then creates the WebSocket; only a refresh that throws schedules a "
        "reconnect (2.1). The 4401 path's success runs connectInternal at once (2.1). "
        "Judged in the step that handles the 200.",
)


class ForcedReauth(_Problem):
    """Books per tab, kept from the trace: its backoff counter since the last reset (as
    :class:`ReconnectDelaysBounded` keeps it), whether its cycle (since its last socket
    opened) already reached the forced re-auth, whether a refresh succeeded since, and
    whether its next upgrade must show it."""

    record_types = frozenset({"HttpRequest", "HttpResponse", "Note", "OpenConnection", "SetTimer",
                              "WakeUp", "WsOpened"})

    def reset(self) -> None:
        super().reset()
        self.count: Counter[str] = Counter()
        self.state: dict[str, str] = {}
        self.forced: set[str] = set()  # cycle reached the forced re-auth
        self.refreshed: set[str] = set()  # a refresh succeeded since
        self.due: dict[str, Time] = {}  # next upgrade must carry a fresh token (or none)
        self.refreshes: set[str] = set()

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client, data = rec.actor, rec.data
        if rec.kind == IN:
            if rec.type == "WsOpened":
                self.count[client] = 0
                self.forced.discard(client)
                self.due.pop(client, None)
            elif rec.type == "WakeUp":
                state = self.state.get(client, "disconnected")
                if state == "reconnecting" or (data.get("kind") == "online"
                                               and state == "disconnected"):
                    self.count[client] = 0
            elif rec.type == "HttpResponse" and data.get("req") in self.refreshes \
                    and data.get("status") == 200:
                self.refreshed.add(client)
            return
        if _refresh_request(rec):
            self.refreshes.add(data["req"])
        elif rec.type == "SetTimer" and data.get("key") == "reconnect":
            if self.count[client] >= 1 and client not in self.forced:
                self.forced.add(client)
                self.refreshed.discard(client)
                self.due[client] = rec.t
            self.count[client] += 1
        elif rec.type == "OpenConnection":
            due = self.due.pop(client, None)
            token = worker_token(data.get("request"))
            if due is not None and token is not None and client not in self.refreshed:
                self.found(rec.t, f"{client} failed twice in a row since its socket opened "
                                  f"(t={format_time(due)}) and still presents the token it "
                                  "had, with no refresh since: the forced re-auth was skipped")
        else:
            note = _note(rec)
            if note is not None and note[0] == "state":
                self.state[client] = str(note[1].get("to"))


def worker_token(request: Any) -> str | None:
    """The JWT an upgrade request carries as ``lmz.access-token.<jwt>``."""
    protocols = request.get("protocols") if isinstance(request, dict) else None
    for proto in protocols or ():
        if isinstance(proto, str) and proto.startswith(p.TOKEN_PROTOCOL_PREFIX):
            return proto.removeprefix(p.TOKEN_PROTOCOL_PREFIX) or None
    return None


FORCED_REAUTH = ForcedReauth(
    "lumenize.forced_reauth",
    "a tab whose second reconnect in a row is scheduled (since its socket last opened) "
    "refreshes its token before its next upgrade",
    "safety",
    doc="#11: a retry loop on a token the server keeps refusing ends. Spec 2.2 step 1: "
        "scheduleReconnect nulls a present token when attempts >= 1, once per cycle (re-armed "
        "on open), so the next connect refreshes; spec 6 lists the loop it ended ('reconnecting "
        "with an expired-but-present token looped forever', fixed by the exp - 30 check and "
        "the forced re-auth). Judged from the upgrades the tab sends: the first one after "
        "that point carries no token, or a token from a refresh that succeeded after it.",
)


class SubscriptionRequiredSignalled(_Problem):
    """Books: the connection_status frame each tab is handling, and whether it called
    onSubscriptionRequired (its ``subscription_required`` note) while handling it."""

    record_types = frozenset({"Note"})
    record_kinds = frozenset({IN})  # a tab's next input ends its step

    def reset(self) -> None:
        super().reset()
        self.status: dict[str, tuple[Time, bool, bool]] = {}  # t, flag, signalled

    def _handled(self, client: str) -> None:
        status = self.status.pop(client, None)
        if status is not None and status[1] != status[2]:
            t, flag, _signalled = status
            self.found(t, f"{client} got connection_status subscriptionRequired="
                          f"{str(flag).lower()} and "
                          f"{'did not call' if flag else 'called'} onSubscriptionRequired")

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client = rec.actor
        if rec.kind == IN:
            self._handled(client)
            frame = rec.data.get("data") if rec.type == "WsMessage" else None
            if isinstance(frame, dict) and frame.get("type") == "connection_status":
                self.status[client] = (rec.t, frame.get("subscriptionRequired") is True, False)
            return
        note = _note(rec)
        if note is not None and note[0] == "subscription_required":
            status = self.status.get(client)
            if status is None:
                self.found(rec.t, f"{client} called onSubscriptionRequired with no "
                                  "connection_status to say so")
            else:
                self.status[client] = (status[0], status[1], True)

    def judge(self, facts: Facts) -> str | None:
        for client in sorted(self.status):
            self._handled(client)
        return self.problem


SUBSCRIPTION_REQUIRED_SIGNALLED = SubscriptionRequiredSignalled(
    "lumenize.subscription_required_signalled",
    "a tab calls onSubscriptionRequired exactly when a connection_status tells it "
    "subscriptionRequired: true",
    "safety",
    doc="#4 explicit discontinuity, delivered to the app: spec 2.1, connection_status makes "
        "the client connected, flushes the queue, then calls onSubscriptionRequired() if the "
        "flag is true, and only then. The app's resubscription hangs on that callback, and a "
        "callback on every reconnect would resubscribe (and reload) for nothing. Judged in "
        "the step that handles the frame, from the frame the tab received.",
)


class IncomingCallRuns(_Problem):
    """Books: the incoming_call frames each tab is handling (from the frame it received),
    until it reports running the call's @mesh method (its ``incoming.handled`` note)."""

    record_types = frozenset({"Note", "Send"})
    record_kinds = frozenset({IN})  # a tab's next input ends its step

    #: The modelled app's @mesh methods: each succeeds (ping returns its argument,
    #: handleUpdate applies the document).
    APP_METHODS = frozenset({"ping", "handleUpdate"})

    def reset(self) -> None:
        super().reset()
        self.arrived: dict[str, tuple[Time, str, Any]] = {}  # client -> (t, callId, method)
        self.methods: dict[str, Any] = {}  # callId -> method, until answered

    def _handled(self, client: str) -> None:
        arrived = self.arrived.pop(client, None)
        if arrived is not None:
            t, call_id, method = arrived
            self.found(t, f"{client} received incoming_call {call_id} ({method}) and did not "
                          "run it")

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client = rec.actor
        if rec.kind == IN:
            self._handled(client)
            frame = rec.data.get("data") if rec.type == "WsMessage" else None
            if isinstance(frame, dict) and frame.get("type") == "incoming_call":
                chain = frame.get("chain") if isinstance(frame.get("chain"), dict) else {}
                self.arrived[client] = (rec.t, str(frame.get("callId")), chain.get("method"))
                self.methods[str(frame.get("callId"))] = chain.get("method")
            return
        frame = rec.data.get("data") if rec.kind == OUT and rec.type == "Send" else None
        if isinstance(frame, dict) and frame.get("type") == "incoming_call_response":
            method = self.methods.pop(str(frame.get("callId")), None)
            if method in self.APP_METHODS and frame.get("success") is not True:
                self.found(rec.t, f"{client} answered incoming {method} "
                                  f"{frame.get('callId')} with success: "
                                  f"{frame.get('success')}; the app's {method} succeeds")
        note = _note(rec)
        arrived = self.arrived.get(client)
        if note is not None and note[0] == "incoming.handled" and arrived is not None \
                and str(note[1].get("callId")) == arrived[1]:
            del self.arrived[client]

    def judge(self, facts: Facts) -> str | None:
        for client in sorted(self.arrived):
            self._handled(client)
        return self.problem


INCOMING_CALL_RUNS = IncomingCallRuns(
    "lumenize.incoming_call_runs",
    "every incoming_call a tab receives runs its @mesh method (or is refused by "
    "onBeforeCall) in the step it arrives, whatever the tab's state, and the app's methods "
    "(ping, handleUpdate) answer success",
    "safety",
    doc="#6 and #1: a call the gateway delivered is executed. Spec 2.5: on incoming_call the "
        "client sets the call context, runs onBeforeCall, executes the @mesh chain and "
        "answers if its socket is OPEN; nothing waits for connection_status, and spec 1.1 "
        "step 9 releases calls parked during grace before connection_status is sent. That "
        "it runs at most once is lumenize.parked_call_delivered_once's business.",
)


class DocumentServedAsPublished(_Problem):
    """Books, kept at ``doc/main``: how many updates it took (its ``Publish`` inputs and
    ``update`` RPCs) and the last content, against every handleUpdate it fans out."""

    record_types = frozenset({"HttpRequest", "HttpRequestReceived", "Publish"})

    def reset(self) -> None:
        super().reset()
        self.updates = 0
        self.content: Any = ""
        self.received: list[Any] = []  # the Publish inputs doc/main got, in order

    def observe(self, rec: TraceRecord) -> None:
        if rec.actor != p.DEFAULT_DOCUMENT:
            return
        data = rec.data
        if rec.kind == IN:
            if rec.type == "Publish":
                self.updates += 1
                self.content = data.get("content")
                self.received.append(data.get("content"))
            elif rec.type == "HttpRequestReceived" and data.get("path") == p.EXECUTE_OPERATION:
                body = data.get("body") if isinstance(data.get("body"), dict) else {}
                chain = body.get("chain") if isinstance(body.get("chain"), dict) else {}
                if body.get("version") == 1 and chain.get("method") == "update" \
                        and chain.get("args"):
                    self.updates += 1
                    self.content = str(chain["args"][0])
            return
        if rec.kind == OUT and rec.type == "HttpRequest":
            body = data.get("body") if isinstance(data.get("body"), dict) else {}
            chain = body.get("chain") if isinstance(body.get("chain"), dict) else {}
            if chain.get("method") != "handleUpdate":
                return
            expected = [self.content, self.updates]
            args = list(chain.get("args") or [])
            if args != expected:
                self.found(rec.t, f"doc/main fanned out handleUpdate{tuple(args)} after "
                                  f"{self.updates} update(s), the last {self.content!r}: "
                                  f"expected handleUpdate{tuple(expected)}")

    def judge(self, facts: Facts) -> str | None:
        published = list(_stats(facts).published)
        if self.problem is None and published != self.received:
            self.found(facts.now, f"the app published {published}, but doc/main received "
                                  f"{self.received}")
        return self.problem


DOCUMENT_SERVED_AS_PUBLISHED = DocumentServedAsPublished(
    "lumenize.document_served_as_published",
    "every document the app publishes reaches the broadcaster, and every fan-out carries "
    "it as published: the last content, and version k after k updates",
    "safety",
    doc="#1 gap-free, ordered delivery: Nebula's broadcaster fans each change out as "
        "handleUpdate(content, version), with the version counting the changes, so a "
        "subscriber that sees a version jump knows it missed one. The updates are counted "
        "from what reached the broadcaster (publishes and update RPCs), across evictions "
        "(content and version are durable); what the app published (the driver's "
        "broadcasts, in LumenizeStatistics.published) must be what reached it.",
)


class RefreshCookieRotated(_Problem):
    """Books: the refresh cookie the token service last gave each tab (a 200 answer to its
    refresh), against the cookie each later refresh presents."""

    record_types = frozenset({"HttpRequest", "HttpResponse"})

    def reset(self) -> None:
        super().reset()
        self.refreshes: set[str] = set()
        self.given: dict[str, str] = {}

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client, data = rec.actor, rec.data
        if rec.kind == IN:
            if rec.type == "HttpResponse" and data.get("req") in self.refreshes \
                    and data.get("status") == 200 and isinstance(data.get("body"), dict) \
                    and isinstance(data["body"].get("refresh_token"), str):
                self.given[client] = data["body"]["refresh_token"]
            return
        if not _refresh_request(rec):
            return
        self.refreshes.add(data["req"])
        cookie = p.header(data.get("headers") or {}, "Cookie")
        given = self.given.get(client)
        if given is not None and cookie != given:
            self.found(rec.t, f"{client} presented refresh cookie {cookie!r}, not {given!r}, "
                              "the one the token service rotated it to")


REFRESH_COOKIE_ROTATED = RefreshCookieRotated(
    "lumenize.refresh_cookie_rotated",
    "each refresh presents the refresh cookie the token service gave the tab last",
    "safety",
    doc="#10: rotation only works if the client keeps what it is given. Spec 3, token "
        "lifetimes: the refresh token rotates, revoked on each use, so a tab that presents an "
        "older one gets 401 and, as a definitive refusal, is logged out (which "
        "lumenize.one_connected excuses). The cookie in force is the refresh_token of the "
        "last 200 answer the tab received (a browser's cookie jar).",
)


PONG_BOUND: Time = 5 * SECOND
"""A ping on a clean socket is answered within a round trip; 5 s is generous."""


class PingAnswered(_Problem):
    """Books: the pings each tab sent and the socket each went on (its ``Send`` of
    ``lmz:ping``), the pongs that came back, and the link books for those sockets."""

    record_types = frozenset({"AcceptConnection", "CloseConnection", "Send", "WsClosed",
                              "WsMessage", "WsOpened", "WsRejected"})
    record_kinds = frozenset({FAULT})  # every fault: link books

    def reset(self) -> None:
        super().reset()
        self.links = LinkBooks()
        self.pings: dict[str, Time] = {}  # conn -> oldest unanswered ping

    def observe(self, rec: TraceRecord) -> None:
        self.links.observe(rec)
        data = rec.data
        if _is_gateway(rec) and rec.kind == IN and rec.type == "WsMessage" \
                and data.get("data") == p.PING:
            self.found(rec.t, f"a ping on {data.get('conn')} woke {rec.actor}: pings are "
                              "answered by the runtime, without waking the gateway")
        elif _is_client(rec) and rec.kind == OUT and rec.type == "Send" \
                and data.get("data") == p.PING:
            self.pings.setdefault(data["conn"], rec.t)
        elif _is_client(rec) and rec.kind == IN and rec.type == "WsMessage" \
                and data.get("data") == p.PONG:
            self.pings.pop(data["conn"], None)

    def judge(self, facts: Facts) -> str | None:
        for conn, t in sorted(self.pings.items()):
            if facts.now - t > PONG_BOUND and self.links.clean(conn):
                self.found(t, f"the ping sent on {conn} got no pong in "
                              f"{format_duration(facts.now - t)}, on a socket no fault touched")
                break
        return self.problem


PING_ANSWERED = PingAnswered(
    "lumenize.ping_answered",
    "every ping a tab sends on a socket no fault touches is answered lmz:pong by the "
    "runtime, and no ping wakes its gateway",
    "safety",
    doc="Spec 1.1 step 8 and 2.5: on accept the gateway sets the WebSocket auto-response "
        "lmz:ping -> lmz:pong, so the runtime answers the client's 30 s heartbeat without "
        "waking the Durable Object (hibernation) and without the expiry check that a woken "
        "object runs on every frame (spec 6: 'auto-responded pings never check exp').",
)


class CountersAgree(Monitor):
    """Books: the Worker's forwards and refusals (its effects), the token service's refresh
    answers since it last started (its memory counters start again then), and each tab's
    calls from its notes: issued and not yet settled (``pending``), issued while no socket
    was open and not yet sent, settled, flushed or timed out (``queued``: a flush cancels
    the call's ``queued:`` timer, a timeout fires it), settled and still held (``leaked``:
    only a call refused because the queue was full stays in ``pending``, until
    ``disconnect()`` empties it), and the documents whose subscribe call succeeded
    (``subscribed``)."""

    record_types = frozenset({"CancelTimer", "ClientDisconnect", "ForwardConnection",
                              "HttpRequestReceived", "HttpRespond", "Note", "RejectConnection",
                              "TimerFired", "WsOpened", "crash", "restart"})

    def reset(self) -> None:
        self.count: Counter[str] = Counter()
        self.refreshes: set[str] = set()
        self.calls: dict[str, dict[str, set[str]]] = {}  # tab -> statistic -> ids/docs

    def _calls(self, client: str) -> dict[str, set[str]]:
        books = self.calls.get(client)
        if books is None:
            books = self.calls[client] = {"pending": set(), "queued": set(),
                                          "leaked": set(), "subscribed": set()}
        return books

    def _observe_calls(self, rec: TraceRecord) -> None:
        data = rec.data
        if rec.kind == IN:
            key = str(data.get("key", "")) if rec.type == "TimerFired" else ""
            if key.startswith("queued:"):
                self._calls(rec.actor)["queued"].discard(key.removeprefix("queued:"))
            elif rec.type == "ClientDisconnect":
                self._calls(rec.actor)["leaked"].clear()
            return
        if rec.kind != OUT:
            return
        if rec.type == "CancelTimer":
            key = str(data.get("key", ""))
            if key.startswith("queued:"):
                self._calls(rec.actor)["queued"].discard(key.removeprefix("queued:"))
            return
        note = _note(rec)
        if note is None:
            return
        event, d = note
        books = self._calls(rec.actor)
        call_id = str(d.get("callId"))
        if event == "call.issued":
            books["pending"].add(call_id)
            books["queued"].add(call_id)
        elif event == "call.sent":
            books["queued"].discard(call_id)
        elif event == "call.settled":
            books["pending"].discard(call_id)
            books["queued"].discard(call_id)
            tag = str(d.get("tag") or "")
            error = d.get("error")
            if isinstance(error, dict) and error.get("message") == QUEUE_FULL:
                books["leaked"].add(call_id)
            if d.get("ok") is True and tag.startswith("subscribe:"):
                books["subscribed"].add(tag.removeprefix("subscribe:"))

    def _expected(self, name: str) -> int:
        client, _, statistic = name.rpartition(".")
        if statistic in ("pending", "queued", "leaked", "subscribed"):
            return len(self._calls(client)[statistic])
        return self.count[name]

    def observe(self, rec: TraceRecord) -> None:
        if _is_client(rec):
            self._observe_calls(rec)
        if rec.kind == FAULT and rec.type in ("crash", "restart") \
                and rec.data.get("host") == p.AUTH:
            self.count["auth.issued"] = self.count["auth.refused"] = 0
            return
        if rec.kind == IN and rec.actor == p.AUTH and rec.type == "HttpRequestReceived" \
                and rec.data.get("method") == "POST" and rec.data.get("path") == p.REFRESH_PATH:
            self.refreshes.add(rec.data["req"])
        elif rec.kind == IN and rec.type == "WsOpened" and _is_client(rec):
            self.count[f"{rec.actor}.connects"] += 1
        if rec.kind != OUT:
            return
        if rec.actor == WORKER and rec.type == "ForwardConnection":
            self.count["worker.forwarded"] += 1
        elif rec.actor == WORKER and rec.type == "RejectConnection":
            self.count["worker.rejected"] += 1
        elif _is_client(rec) and rec.type == "Note" \
                and rec.data.get("event") == "login_required":
            self.count[f"{rec.actor}.login_required"] += 1
        elif rec.actor == p.AUTH and rec.type == "HttpRespond" \
                and rec.data.get("req") in self.refreshes:
            self.refreshes.discard(rec.data["req"])
            ok = rec.data.get("status") == 200
            self.count["auth.issued" if ok else "auth.refused"] += 1

    def judge(self, facts: Facts) -> str | None:
        stats = _stats(facts)
        for name, reported in stats.counters:
            expected = self._expected(name)
            if reported != expected:
                return f"{name} reports {reported}, but the trace shows {expected}"
        holding = {gw for gw, _conns in stats.gateway_sockets}
        for gw, state in stats.gateway_states:
            if (state == "connected") != (gw in holding):
                return (f"{gw} reports state {state!r} while it holds "
                        f"{'an' if gw in holding else 'no'} OPEN socket")
        return None


COUNTERS_AGREE = CountersAgree(
    "lumenize.counters_agree",
    "the statistics() counters of the Worker, the token service and each tab agree with "
    "what they did (upgrades forwarded and refused, tokens issued and refreshes refused, "
    "sockets opened and login prompts, calls pending, queued and leaked, documents "
    "subscribed), "
    "and a gateway reports 'connected' exactly while it holds an OPEN socket",
    "safety",
    doc="The inspection API is part of what a user reads (DESIGN: statistics() are documented "
        "values notebooks and monitors read), so a counter that drifts from the traffic "
        "misleads the person reading the run. The token service's counters live in memory "
        "and start again when it restarts.",
)


class MeshCallHandled(_Problem):
    """Books: the ``__executeOperation`` each gateway is handling, until, in that step, it
    answers it, forwards it as ``incoming_call`` or reports it parked."""

    record_types = frozenset({"HttpRespond", "Note", "Send"})
    record_kinds = frozenset({IN})  # a gateway's next input ends its step

    def reset(self) -> None:
        super().reset()
        self.arrived: dict[str, tuple[Time, str]] = {}  # gateway -> (t, req)

    def _handled(self, gw: str) -> None:
        arrived = self.arrived.pop(gw, None)
        if arrived is not None:
            self.found(arrived[0], f"{gw} neither answered, forwarded nor parked mesh call "
                                   f"{arrived[1]} when it arrived")

    def observe(self, rec: TraceRecord) -> None:
        if not _is_gateway(rec):
            return
        gw, data = rec.actor, rec.data
        if rec.kind == IN:
            self._handled(gw)
            if rec.type == "HttpRequestReceived" and data.get("path") == p.EXECUTE_OPERATION:
                self.arrived[gw] = (rec.t, str(data.get("req")))
            return
        arrived = self.arrived.get(gw)
        if arrived is None or rec.kind != OUT:
            return
        frame = data.get("data") if rec.type == "Send" else None
        note = _note(rec)
        if (rec.type == "HttpRespond" and data.get("req") == arrived[1]) or (
                isinstance(frame, dict) and frame.get("type") == "incoming_call") or (
                note is not None and note[0] == "call.parked"
                and note[1].get("req") == arrived[1]):
            del self.arrived[gw]

    def judge(self, facts: Facts) -> str | None:
        for gw in sorted(self.arrived):
            self._handled(gw)
        return self.problem


MESH_CALL_HANDLED = MeshCallHandled(
    "lumenize.mesh_call_handled",
    "every mesh->client call is forwarded, parked or refused in the step it arrives",
    "safety",
    doc="#6 and #17, at the gateway: spec 1.5 and the section 1 table, __executeOperation "
        "forwards the call when connected, parks it (waitForReconnect) during grace, and "
        "otherwise rejects it with ClientDisconnectedError; there is no fourth outcome. "
        "Forwarding is the incoming_call frame, refusing the HTTP answer, parking the "
        "gateway's report of it (a parked call has no effect of its own to see).",
)


class StaleTokenRefreshed(_Problem):
    """Books: the input each tab is handling. An upgrade made in the step that started the
    attempt (not one resumed by a refresh answer or the tab-id probe) shows the token the
    attempt found in hand, which must not be within the refresh lead of its expiry."""

    record_types = frozenset({"OpenConnection"})
    record_kinds = frozenset({IN})  # a tab's next input ends its step

    RESUMED = frozenset({"HttpResponse", "HttpFailed"})

    def reset(self) -> None:
        super().reset()
        self.resumed: set[str] = set()
        self.upgrades: list[tuple[Time, str, int]] = []  # t, client, exp of its token

    def observe(self, rec: TraceRecord) -> None:
        if not _is_client(rec):
            return
        client, data = rec.actor, rec.data
        if rec.kind == IN:
            self.resumed.discard(client)
            if rec.type in self.RESUMED or (rec.type == "TimerFired"
                                            and str(data.get("key")).startswith("tab_probe")):
                self.resumed.add(client)
            return
        if rec.kind != OUT or rec.type != "OpenConnection" or client in self.resumed:
            return
        token = worker_token(data.get("request"))
        try:
            exp = p.decode_token(token).get("exp") if token else None
        except p.TokenError:
            return
        if isinstance(exp, int):
            self.upgrades.append((rec.t, client, exp))

    def judge(self, facts: Facts) -> str | None:
        lead = facts.config.refresh_lead_s  # spec 2.3: exp - 30 <= floor(now_s)
        for t, client, exp in self.upgrades:
            if exp - lead <= t // SECOND:
                self.found(t, f"{client} connected with a token expiring at exp={exp}, within "
                              f"{lead} s of now, instead of refreshing it first")
                break
        self.upgrades = []
        return self.problem

STALE_TOKEN_REFRESHED = StaleTokenRefreshed(
    "lumenize.stale_token_refreshed",
    "a connect attempt that finds its token within 30 s of expiry refreshes it before it "
    "opens a socket",
    "safety",
    doc="#12 and the 'chat down after hours' loop of spec 6: spec 2.3, connectInternal calls "
        "ensureFreshToken when needsTokenRefresh() is true (no token, or exp - 30 <= "
        "floor(now_s)), so a socket is never opened on a token about to be refused. Judged on "
        "upgrades made in the step that started the attempt; a token minted for the attempt "
        "(it was resumed by the refresh answer) is used as it is, however short it lives.",
)


class SubscriberRowsReported(Monitor):
    """Books: the subscriber rows of ``doc/main`` as its notes report them (rows added and
    dropped), judged against the rows it holds; and the instances whose last call to it was
    an unsubscribe (from the requests it received)."""

    record_types = frozenset({"HttpRequestReceived", "Note"})

    def reset(self) -> None:
        self.rows: set[str] = set()
        self.unsubscribed: set[str] = set()

    def observe(self, rec: TraceRecord) -> None:
        if rec.actor == p.DEFAULT_DOCUMENT and rec.kind == IN \
                and rec.type == "HttpRequestReceived":
            body = rec.data.get("body") if isinstance(rec.data.get("body"), dict) else {}
            chain = body.get("chain") if isinstance(body.get("chain"), dict) else {}
            callers = (body.get("callContext") or {}).get("callChain") or [{}]
            caller = callers[0].get("instanceName") if isinstance(callers[0], dict) else None
            if body.get("version") == 1 and caller:
                if chain.get("method") == "unsubscribe":
                    self.unsubscribed.add(str(caller))
                elif chain.get("method") == "subscribe":
                    self.unsubscribed.discard(str(caller))
            return
        note = _note(rec) if rec.actor == p.DEFAULT_DOCUMENT else None
        if note is None:
            return
        event, d = note
        if event == "subscriber.added":
            self.rows.add(str(d.get("instanceName")))
        elif event == "subscriber.dropped":
            self.rows.discard(str(d.get("instanceName")))

    def judge(self, facts: Facts) -> str | None:
        rows = set(_stats(facts).rows)
        kept = sorted(rows & self.unsubscribed)
        if kept:
            return f"doc/main still holds rows {kept}, whose last call was an unsubscribe"
        if rows != self.rows:
            unreported = sorted(rows ^ self.rows)
            return (f"doc/main holds rows {sorted(rows)}, but its timeline reports "
                    f"{sorted(self.rows)}: the change to {unreported} was never reported")
        return None


SUBSCRIBER_ROWS_REPORTED = SubscriberRowsReported(
    "lumenize.subscriber_rows_reported",
    "every change to the broadcaster's subscriber rows is reported (subscriber added or "
    "dropped, with the reason), so the timeline's rows are the rows it holds; and an "
    "unsubscribe removes the row",
    "safety",
    doc="#20 silent loss, for the person reading the run: a subscriber row dropped without a "
        "trace is exactly what spec 6 'silent subscription loss' makes hard to find (case "
        "86 checks the row through storage). The rows are read from the broadcaster after "
        "every step, including after an eviction reloads them from storage, so a row that "
        "was never stored, or dropped unreported, shows as a difference.",
)


MONITORS: tuple[Monitor, ...] = (
    ONE_OPEN_SOCKET,
    NO_EXPIRED_FRAME,
    NO_EXPIRED_INCOMING_CALL,
    MESH_CALL_SETTLES_ONCE,
    MESH_CALL_HANDLED,
    CLIENT_CALL_SETTLES_ONCE,
    CALL_ID_ONCE,
    PARKED_CALL_DELIVERED_ONCE,
    SUBSCRIPTION_REQUIRED,
    PROMPT_FIRST_RECONNECT,
    STALE_SOCKET_FENCED,
    SINGLE_FLIGHT_REFRESH,
    CLIENT_CALL_RETURNS_RESULT,
    MESH_CALL_RETURNS_RESULT,
    GRACE_HIDES_SHORT_DROP,
    RECONNECT_DELAYS_BOUNDED,
    MALFORMED_INPUT_ANSWERED,
    REVOKED_REFRESH_STAYS_REVOKED,
    TOKEN_SERVICE_ANSWERS_BY_MODE,
    LOGIN_REQUIRED_ON_REFUSAL,
    TRANSIENT_REFRESH_NOT_TERMINAL,
    REFRESH_RETRY_BACKS_OFF,
    FRESH_TOKEN_USED,
    FORCED_REAUTH,
    SUBSCRIPTION_REQUIRED_SIGNALLED,
    SUBSCRIBER_ROWS_REPORTED,
    INCOMING_CALL_RUNS,
    DOCUMENT_SERVED_AS_PUBLISHED,
    REFRESH_COOKIE_ROTATED,
    PING_ANSWERED,
    COUNTERS_AGREE,
    STALE_TOKEN_REFRESHED,
    NO_PINGPONG,
    REJECTED_UPGRADE_STOPS,
    HERD_DISPERSED,
    CLIENT_CALLS_SETTLE,
    MESH_CALLS_SETTLE,
    SUBSCRIBED_IN_ROWS,
    ONE_CONNECTED,
    DOCUMENT_CONVERGES,
    RETURNED_WITHIN_GRACE,
    RESUBSCRIBED_AFTER_LOSS,
)
"""Every Lumenize monitor: safety first, then liveness, then sometimes, so that when a run is
judged at its end a safety violation (which happened first) is the one reported."""

__all__ = [
    "CALL_ID_ONCE",
    "CLIENT_CALLS_SETTLE",
    "CLIENT_CALL_BOUND",
    "CLIENT_CALL_RETURNS_RESULT",
    "CLIENT_CALL_SETTLES_ONCE",
    "COUNTERS_AGREE",
    "DOCUMENTED_ANSWERS",
    "DOCUMENT_CONVERGES",
    "DOCUMENT_SERVED_AS_PUBLISHED",
    "FORCED_REAUTH",
    "FRESH_TOKEN_USED",
    "GRACE_HIDES_SHORT_DROP",
    "GROWTH_ALPHA",
    "HERD_DISPERSED",
    "HERD_WINDOW",
    "INCOMING_CALL_RUNS",
    "LOGIN_REQUIRED_ON_REFUSAL",
    "MALFORMED_INPUT_ANSWERED",
    "MESH_CALLS_SETTLE",
    "MESH_CALL_HANDLED",
    "MESH_CALL_RETURNS_RESULT",
    "MESH_CALL_SETTLES_ONCE",
    "MONITORS",
    "NO_EXPIRED_FRAME",
    "NO_EXPIRED_INCOMING_CALL",
    "NO_PINGPONG",
    "ONE_CONNECTED",
    "ONE_OPEN_SOCKET",
    "PARKED_CALL_DELIVERED_ONCE",
    "PING_ANSWERED",
    "PONG_BOUND",
    "PROBE_ANSWER_BOUND",
    "PROMPT_FIRST_RECONNECT",
    "RECONNECT_DELAYS_BOUNDED",
    "REFRESH_COOKIE_ROTATED",
    "REFRESH_RETRY_BACKS_OFF",
    "REJECTED_UPGRADE_STOPS",
    "RESUBSCRIBED_AFTER_LOSS",
    "RETURNED_WITHIN_GRACE",
    "REVOKED_REFRESH_STAYS_REVOKED",
    "SINGLE_FLIGHT_REFRESH",
    "STALE_SOCKET_FENCED",
    "STALE_TOKEN_REFRESHED",
    "SUBSCRIBED_IN_ROWS",
    "SUBSCRIBER_ROWS_REPORTED",
    "SUBSCRIPTION_REQUIRED",
    "SUBSCRIPTION_REQUIRED_SIGNALLED",
    "TOKEN_SERVICE_ANSWERS_BY_MODE",
    "TRANSIENT_REFRESH_NOT_TERMINAL",
    "backoff_ceiling",
    "client_of_conn",
    "expired",
    "growth_p_value",
    "worker_token",
]
