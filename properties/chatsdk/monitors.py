"""The chat SDK pack's monitors: what the document promises, judged from the trace.

Safety: one refresh in flight; no request carries a token the client knows has expired;
a message reported sent is stored; messages are stored once each, in order; the circuit
breaker admits nothing while OPEN and one probe while HALF_OPEN; a lost connection is shown
as RECONNECTING (or FAILED); no logout while the auth service works. Liveness: connected
within a bound after faults stop; every message stored by then. Sometimes: the situations
a campaign must reach for those to mean anything.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from gatewaysim.models.chatsdk.protocol import API, BROWSER, parse_access
from gatewaysim.simulator.clock import Time, format_duration, format_time, s
from gatewaysim.simulator.trace import OUT, TraceRecord

from ..monitor import Facts, Monitor
from ..monitors import InOrder, Sometimes


def note(rec: TraceRecord, actor: str = BROWSER) -> tuple[str, dict[str, Any]] | None:
    """``(event, data)`` if ``rec`` is a note by ``actor``."""
    if rec.kind == OUT and rec.type == "Note" and rec.actor == actor:
        return rec.data["event"], rec.data.get("data", {})
    return None


class SingleRefresh(Monitor):
    """At most one refresh request is on the wire at any time (``refreshPromise``)."""

    def reset(self) -> None:
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        n = note(record)
        if n is None or self.problem is not None or n[0] != "token.refresh.start":
            return
        if n[1]["in_flight"] > 1:
            self.problem = (f"refresh #{n[1]['flight']} started at {format_time(record.t)} "
                            f"with {n[1]['in_flight'] - 1} other refresh(es) in flight")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


def _tokens_sent(rec: TraceRecord) -> list[str]:
    """Access tokens the browser puts on the wire in this record."""
    if rec.actor != BROWSER or rec.kind != OUT:
        return []
    if rec.type == "HttpRequest":
        auth = rec.data.get("headers", {}).get("Authorization")
        return [auth] if auth else []
    if rec.type == "Send" and isinstance(rec.data.get("data"), dict):
        data = rec.data["data"]
        return [cmd["token"] for kind in ("connect", "refresh")
                if isinstance(cmd := data.get(kind), dict) and "token" in cmd]
    return []


class NoExpiredToken(Monitor):
    """No request or connect command carries an access token whose expiry (which the client
    holds) has passed."""

    def reset(self) -> None:
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None:
            return
        for token in _tokens_sent(record):
            parsed = parse_access(token)
            if parsed is not None and parsed.exp <= record.t:
                what = (f"{record.data.get('method')} {record.data.get('path')}"
                        if record.type == "HttpRequest" else "a Centrifugo command")
                self.problem = (f"{what} at {format_time(record.t)} carried a token that "
                                f"expired at {format_time(parsed.exp)}")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


class SentIsStored(Monitor):
    """A message the client reports as sent is stored by the server."""

    def reset(self) -> None:
        self.stored: set[int] = set()
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        n = note(record, API)
        if n is not None and n[0] == "message.stored":
            self.stored.add(n[1]["seq"])
            return
        n = note(record)
        if n is not None and n[0] == "message.sent" and self.problem is None and (
                n[1]["seq"] not in self.stored):
            self.problem = (f"message {n[1]['seq']} reported sent at {format_time(record.t)} "
                            "but the server never stored it")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


class BreakerGate(Monitor):
    """The breaker admits no execution while OPEN, and only its one probe while HALF_OPEN."""

    def reset(self) -> None:
        self.state = "CLOSED"
        self.probe_out = False
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        n = note(record)
        if n is None or self.problem is not None:
            return
        event, data = n
        if event == "breaker.state":
            self.state = data["state"]
            if self.state != "HALF_OPEN":
                self.probe_out = False
        elif event == "breaker.admitted":
            if self.state == "OPEN":
                self.problem = f"{data['op']} admitted at {format_time(record.t)} while OPEN"
            elif self.state == "HALF_OPEN":
                if self.probe_out:
                    self.problem = (f"{data['op']} admitted at {format_time(record.t)} while "
                                    "the half-open probe was still out")
                self.probe_out = True
        elif event == "breaker.finished" and data.get("probe"):
            self.probe_out = False

    def judge(self, facts: Facts) -> str | None:
        return self.problem


class NoLogout(Monitor):
    """The user is never logged out by the SDK's own refreshes: the auth service answers
    401 to a refresh only for a revoked or unknown session, and nothing in the model revokes
    one except the service's reuse detection."""

    def reset(self) -> None:
        self.logouts: list[Time] = []

    def observe(self, record: TraceRecord) -> None:
        n = note(record)
        if n is not None and n[0] == "auth.logout":
            self.logouts.append(record.t)

    def judge(self, facts: Facts) -> str | None:
        if not self.logouts:
            return None
        return (f"logged out {len(self.logouts)} time(s), first at "
                f"{format_time(self.logouts[0])}, with the auth service answering")


class Reconnects(Monitor):
    """Once faults stop at ``t_heal``, the browser is connected by ``t_heal + bound``."""

    def __init__(self, *args: Any, bound: Time, **kwargs: Any) -> None:
        self.bound = bound
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.changes: list[tuple[Time, str]] = []

    def observe(self, record: TraceRecord) -> None:
        n = note(record)
        if n is not None and n[0] == "conn.state":
            self.changes.append((record.t, n[1]["to"]))

    def judge(self, facts: Facts) -> str | None:
        if facts.t_heal is None:
            return None
        stats = facts.statistics
        at_heal = "DISCONNECTED"
        for t, state in self.changes:
            if t <= facts.t_heal:
                at_heal = state
        later = [t for t, state in self.changes if t > facts.t_heal and state == "CONNECTED"]
        if at_heal != "CONNECTED" and later and later[0] > facts.t_heal + self.bound:
            return (f"connected {format_duration(later[0] - facts.t_heal)} after faults "
                    f"stopped (bound {format_duration(self.bound)})")
        if not stats.connected:
            return (f"not connected {format_duration(facts.now - facts.t_heal)} after faults "
                    f"stopped (manager {stats.state}, centrifuge-js {stats.library}, "
                    f"{stats.attempts} attempts)")
        return None


class ShowsReconnecting(Monitor):
    """While centrifuge-js re-establishes a connection it lost, the manager shows
    RECONNECTING (or FAILED once it gives up), as the document's state machine says."""

    def judge(self, facts: Facts) -> str | None:
        stats = facts.statistics
        if stats.recovering and stats.state not in ("RECONNECTING", "FAILED"):
            return (f"the connection was lost and centrifuge-js is reconnecting "
                    f"({stats.attempts} attempts) but the manager shows {stats.state}")
        return None


class AllStored(Monitor):
    """Every message the user wrote is stored once the run has settled."""

    def reset(self) -> None:
        self.created: dict[int, Time] = {}
        self.stored: set[int] = set()

    def observe(self, record: TraceRecord) -> None:
        c = _created(record)
        if c is not None:
            self.created[c[1]] = record.t
            return
        d = _stored(record)
        if d is not None:
            self.stored.add(d[1])

    def judge(self, facts: Facts) -> str | None:
        if facts.t_heal is None:
            return None
        missing = sorted(set(self.created) - self.stored)
        if not missing:
            return None
        return (f"message(s) {missing[:5]} written but not stored "
                f"{format_duration(facts.now - facts.t_heal)} after faults stopped "
                f"({facts.statistics.queue} still queued)")


def _created(rec: TraceRecord) -> tuple[Hashable, int] | None:
    n = note(rec)
    if n is not None and n[0] == "message.created":
        return "messages", n[1]["seq"]
    return None


def _stored(rec: TraceRecord) -> tuple[Hashable, int] | None:
    n = note(rec, API)
    if n is not None and n[0] == "message.stored":
        return "messages", n[1]["seq"]
    return None


def _state_note(state: str) -> Any:
    def when(rec: TraceRecord) -> str | None:
        n = note(rec)
        if n is not None and n[0] == "conn.state" and n[1]["to"] == state:
            return f"{state} shown at {format_time(rec.t)} after {n[1]['previous']}"
        return None

    return when


class Then(Monitor):
    """A ``sometimes`` monitor reached when a record ``first`` is followed by a record
    ``then``."""

    def __init__(self, id: str, statement: str, *, first: Any, then: Any, doc: str = "") -> None:
        self.first = first
        self.then = then
        super().__init__(id, statement, "sometimes", doc=doc)

    def reset(self) -> None:
        self.armed_at: Time | None = None
        self.seen: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.seen is not None:
            return
        if self.armed_at is None:
            if self.first(record):
                self.armed_at = record.t
        elif self.then(record):
            self.seen = f"from {format_time(self.armed_at)} to {format_time(record.t)}"

    def judge(self, facts: Facts) -> str | None:
        return self.seen


def _note_is(event: str, actor: str = BROWSER, **match: Any) -> Any:
    def test(rec: TraceRecord) -> bool:
        n = note(rec, actor)
        return n is not None and n[0] == event and all(n[1].get(k) == v
                                                       for k, v in match.items())
    return test


def _offline_message(rec: TraceRecord) -> bool:
    n = note(rec)
    return n is not None and n[0] == "message.created" and not n[1]["online"]


SINGLE_REFRESH = SingleRefresh(
    "chatsdk.single_refresh", "at most one token refresh is in flight at a time", "safety",
    doc="refreshToken() awaits the refresh in flight (refreshPromise); two refreshes of a "
        "rotating refresh token would race into reuse detection.")
NO_EXPIRED_TOKEN = NoExpiredToken(
    "chatsdk.no_expired_token",
    "no HTTP request or Centrifugo command carries an access token the client knows expired",
    "safety",
    doc="The client holds expiresAt; sending past it earns a 401 (HTTP) or error 109 "
        "(Centrifugo). Faithful: centrifuge-js reconnects with its cached token, and the API "
        "client reuses the token it read before its retries.")
SENT_IS_STORED = SentIsStored(
    "chatsdk.sent_is_stored", "a message the client reports as sent is stored by the server",
    "safety",
    doc="Faithful: the retry after a 401 drops Content-Type, the server answers 415, and the "
        "document's code returns that body as a success.")
ONCE_IN_ORDER = InOrder(
    "chatsdk.once_in_order", "each message is stored once, in the order written",
    sent=_created, delivered=_stored,
    doc="The offline queue sends one message at a time, oldest first. Faithful: a retry after "
        "a lost response stores the message again (no idempotency key).")
ALL_STORED = AllStored(
    "chatsdk.all_stored", "once faults stop, every message written is stored by the time the "
    "run settles", "liveness",
    doc="The outbox keeps a message until a request for it succeeds. Faithful: the 401 retry "
        "reports a 415 as a success, so the message leaves the outbox unstored.")
BREAKER_GATE = BreakerGate(
    "chatsdk.breaker_gate",
    "the circuit breaker admits nothing while OPEN and only its probe while HALF_OPEN",
    "safety")
SHOWS_RECONNECTING = ShowsReconnecting(
    "chatsdk.shows_reconnecting",
    "while a lost connection is being re-established the manager shows RECONNECTING or FAILED",
    "safety",
    doc="Faithful: getReconnectDelay is never called, reconnectAttempts stays 0, and the "
        "'connecting' handler always picks CONNECTING.")
NO_LOGOUT = NoLogout(
    "chatsdk.no_logout", "the user is never logged out while the auth service is up",
    "safety",
    doc="Faithful: a lost refresh response leaves the client holding a rotated refresh "
        "token; presenting it again looks like theft and revokes the session.")
RECONNECTS = Reconnects(
    "chatsdk.reconnects",
    "once faults stop at t_heal, the browser is connected to Centrifugo by t_heal + 60s",
    "liveness", bound=s(60),
    doc="Dead-peer detection (server ping 25 s + 10 s), an attempt stuck in a partition "
        "(connect timeout 10 s), the largest delay (2 s), a relogin (5 s) and, under the fixed "
        "policy, the next health ping out of FAILED (10 s), rounded up.")

RECONNECTING_SHOWN = Sometimes(
    "chatsdk.reconnecting_shown", "some run shows RECONNECTING", when=_state_note("RECONNECTING"),
    doc="Faithful never does: that is the finding the document's Day 3 goal depends on.")
FAILED_SHOWN = Sometimes(
    "chatsdk.failed_shown", "some run shows FAILED after the attempts run out",
    when=_state_note("FAILED"),
    doc="Faithful never does: centrifuge-js retries forever.")
BREAKER_CYCLED = Then(
    "chatsdk.breaker_cycled", "some run sees the circuit breaker open and close again",
    first=_note_is("breaker.state", state="OPEN"), then=_note_is("breaker.state", state="CLOSED"))
REFRESHED_AFTER_401 = Then(
    "chatsdk.refreshed_after_401", "some run answers a 401 with a refresh that succeeds",
    first=_note_is("api.401"), then=_note_is("token.refresh.done"))
OFFLINE_DELIVERED = Then(
    "chatsdk.offline_delivered", "some run stores a message typed while offline",
    first=_offline_message, then=lambda rec: _stored(rec) is not None and rec.kind == OUT)

MONITORS = (SINGLE_REFRESH, NO_EXPIRED_TOKEN, SENT_IS_STORED, ONCE_IN_ORDER, BREAKER_GATE,
            SHOWS_RECONNECTING, NO_LOGOUT, RECONNECTS, ALL_STORED, RECONNECTING_SHOWN, FAILED_SHOWN,
            BREAKER_CYCLED, REFRESHED_AFTER_401, OFFLINE_DELIVERED)

__all__ = ["MONITORS", "AllStored", "BreakerGate", "NoExpiredToken", "NoLogout", "Reconnects",
           "SentIsStored", "ShowsReconnecting", "SingleRefresh", "note"]
