"""The restart pack's monitors: what ``ComfyApi`` promises through a server's deaths.

================================  ==========  ==============================================
monitor                           kind        promise
================================  ==========  ==============================================
``restart.reconnects``            liveness    once the server is back and faults stop, every
                                              live client that has not given up is connected
                                              (both ends) within the settle bound
``restart.failure_is_real``       safety      ``onReconnectionFailed`` runs exactly when the
                                              policy says: once the last attempt failed (so
                                              never while the server answers and that
                                              attempt is connecting), and that attempt never
                                              opens afterwards
``restart.one_socket``            safety      a client holds at most one open socket
``restart.destroy_is_final``      safety      a destroyed client opens no new socket
``restart.status_after_reconnect`` liveness   every reconnection brings a status message on
                                              the new socket within the status interval
``restart.prompt_accounted``      liveness    a prompt whose client did not give up or get
                                              destroyed is reported completed or failed
``restart.prompt_settles_once``   safety      ...and never both, never twice
``restart.reconnected``           sometimes   a client reconnects after losing its socket
``restart.gave_up``               sometimes   a reconnection loop runs out of attempts
================================  ==========  ==============================================
"""

from __future__ import annotations

from collections.abc import Hashable

from gatewaysim.models.restart.protocol import SERVER
from gatewaysim.simulator.clock import Time, format_duration, format_time, s
from gatewaysim.simulator.trace import FAULT, IN, OUT, TraceRecord

from ..monitor import Facts, Monitor
from ..monitors import SettlesOnce, Sometimes
from .driver import NAMES, RestartStatistics


def _note(record: TraceRecord) -> tuple[str | None, dict]:
    if record.kind == OUT and record.type == "Note":
        return record.data.get("event"), record.data.get("data", {})
    return None, {}


class Reconnects(Monitor):
    """After settling, each client that is initialised, not destroyed and has not given up
    (a ``reconnection_failed`` from its running loop) is connected on both ends."""

    def judge(self, facts: Facts) -> str | None:
        stats: RestartStatistics = facts.statistics
        if not stats.server_up:
            return None  # settle could not bring the server back: nothing to judge
        for c in stats.clients:
            if c.connected or c.destroyed or not c.ready or c.gave_up:
                continue
            how = "a loop is running" if c.loop_running else "no reconnection loop"
            return (f"{c.name} is not connected {format_duration(facts.settle_bound)} after "
                    f"faults stopped (connectionState {c.state!r}, {how}, polling "
                    f"{'on' if c.polling else 'off'})")
        return None


class FailureIsReal(Monitor):
    """Keeps, per client, the server's reachability and each loop's last attempt."""

    def reset(self) -> None:
        self.up = False
        self.accepting = False
        self.blocked: set[str] = set()
        self.open_socks: set[str] = set()
        self.settled: set[str] = set()
        self.fired: dict[str, tuple[str, Time]] = {}  # conn of the last attempt -> client, t
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None:
            return
        if record.kind == FAULT:
            host = record.data.get("host")
            if record.type in ("crash", "restart") and host == SERVER:
                self.up = self.accepting = record.type == "restart"
            elif record.type == "signal":
                self.accepting = False
            elif record.type == "partition":
                self.blocked.add(record.data["a"] if record.data["b"] == SERVER
                                 else record.data["b"])
            elif record.type == "heal":
                if record.data.get("a") is None:
                    self.blocked.clear()
                else:
                    self.blocked.discard(record.data["a"])
                    self.blocked.discard(record.data["b"])
            return
        if record.kind == IN and record.type in ("WsClosed", "WsRejected"):
            self.settled.add(record.data["conn"])
            return
        if record.kind == IN and record.type == "WsOpened":
            conn = record.data["conn"]
            if conn in self.fired:
                client, t = self.fired[conn]
                self.problem = (f"{client}: onReconnectionFailed ran at {format_time(t)}, "
                                f"then its last attempt {conn} opened at "
                                f"{format_time(record.t)}")
            return
        event, data = _note(record)
        if event == "callback" and data.get("name") == "onReconnectionFailed":
            conn = data.get("conn")
            if conn is None:
                return
            reachable = self.accepting and record.actor not in self.blocked
            if conn not in self.settled:
                where = ("while the server was up and" if reachable else
                         "before the policy's last attempt failed:")
                self.problem = (f"{record.actor}: onReconnectionFailed ran at "
                                f"{format_time(record.t)} {where} its last attempt {conn} "
                                "was still connecting")
            self.fired[conn] = (record.actor, record.t)

    def judge(self, facts: Facts) -> str | None:
        return self.problem


class OneSocket(Monitor):
    """At most one open socket per client (from the client's side), at every step."""

    def judge(self, facts: Facts) -> str | None:
        for c in facts.statistics.clients:
            if c.open_sockets > 1:
                return f"{c.name} holds {c.open_sockets} open sockets"
        return None


class DestroyIsFinal(Monitor):
    def reset(self) -> None:
        self.destroyed: dict[str, Time] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None or record.actor not in NAMES:
            return
        event, _ = _note(record)
        if event == "destroyed":
            self.destroyed[record.actor] = record.t
        elif (record.kind == OUT and record.type == "OpenConnection"
              and record.actor in self.destroyed):
            self.problem = (f"{record.actor} was destroyed at "
                            f"{format_time(self.destroyed[record.actor])} and opened "
                            f"{record.data['conn']} at {format_time(record.t)}")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


class StatusAfterReconnect(Monitor):
    """Each socket opened by a reconnection receives a server ``status`` within the bound,
    unless it closes first. Judged after settling."""

    def __init__(self, *args, bound: Time, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.bound = bound
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.waiting: dict[str, tuple[str, Time]] = {}

    def observe(self, record: TraceRecord) -> None:
        if record.actor not in NAMES:
            return
        if record.kind == IN and record.type in ("WsClosed", "WsRejected"):
            self.waiting.pop(record.data["conn"], None)
            return
        event, data = _note(record)
        if event == "event":
            if data.get("name") == "reconnected":
                self.waiting[data["conn"]] = (record.actor, record.t)
            elif data.get("name") == "status" and data.get("via") == "ws":
                self.waiting.pop(data.get("conn", ""), None)

    def judge(self, facts: Facts) -> str | None:
        for conn, (client, t) in self.waiting.items():
            if t + self.bound <= facts.now:
                return (f"{client} reconnected on {conn} at {format_time(t)} and has had no "
                        f"status message for {format_duration(facts.now - t)}")
        return None


class PromptAccounted(Monitor):
    """After settling, every prompt of a client that neither gave up nor was destroyed is
    reported completed or failed (never silently forgotten)."""

    def reset(self) -> None:
        self.open: dict[tuple[str, str], Time] = {}

    def observe(self, record: TraceRecord) -> None:
        if record.actor not in NAMES:
            return
        event, data = _note(record)
        if event == "prompt.submitted":
            self.open[(record.actor, data["label"])] = record.t
        elif event in ("prompt.completed", "prompt.failed"):
            self.open.pop((record.actor, data["label"]), None)

    def judge(self, facts: Facts) -> str | None:
        stats: RestartStatistics = facts.statistics
        for (client, label), t in self.open.items():
            c = stats.client(client)
            if c.destroyed or c.gave_up:
                continue
            return (f"{client}'s prompt {label} (submitted at {format_time(t)}) is neither "
                    f"completed nor reported failed {format_duration(facts.settle_bound)} "
                    f"after faults stopped (connectionState {c.state!r})")
        return None


def _prompt_issued(record: TraceRecord) -> Hashable | None:
    event, data = _note(record)
    return (record.actor, data["label"]) if event == "prompt.submitted" else None


def _prompt_settled(record: TraceRecord) -> Hashable | None:
    event, data = _note(record)
    if event in ("prompt.completed", "prompt.failed"):
        return (record.actor, data["label"])
    return None


RECONNECTS = Reconnects(
    "restart.reconnects",
    "once the server is back and faults stop, every live client that has not given up is "
    "connected within 120 s", "liveness",
    doc="Bound: the heartbeat finding a half-open socket (60 s idle, checked every 30 s, "
        "1 s to learn), the loop's longest pause (15 s + 15 % jitter) and a round trip. "
        "Excused: a destroyed client, and one whose reconnection loop ran out of attempts "
        "(its policy's last word).")
FAILURE_IS_REAL = FailureIsReal(
    "restart.failure_is_real",
    "onReconnectionFailed runs exactly when the policy says, once its last attempt failed: "
    "never while that attempt is connecting (the server may answer it), and that attempt "
    "never opens afterwards",
    "safety",
    doc="The library dispatches reconnection_failed when it launches attempt 10; if the "
        "server is back by then the callback tells the user it gave up, and 'reconnected' "
        "follows.")
ONE_SOCKET = OneSocket(
    "restart.one_socket", "a client never holds two open sockets", "safety",
    doc="createSocket() skips when a socket exists and each attempt terminates the previous "
        "one; a client without those guards opens a socket per attempt and per poll.")
DESTROY_IS_FINAL = DestroyIsFinal(
    "restart.destroy_is_final", "a destroyed client opens no new socket", "safety",
    doc="destroy() closes the socket and stops polling, but a reconnection loop's pending "
        "check survives it in the library.")
STATUS_AFTER_RECONNECT = StatusAfterReconnect(
    "restart.status_after_reconnect",
    "after each reconnection the client receives a status message on the new socket within "
    "6 s", "liveness", bound=s(6),
    doc="The server sends a status (with a new sid) on connect and every 5 s. The document's "
        "own test counts the null 'status' event the client dispatches on close, so it passes "
        "even when no message arrives after reconnecting; this one counts frames.")
PROMPT_ACCOUNTED = PromptAccounted(
    "restart.prompt_accounted",
    "a prompt submitted before a crash is reported completed or failed, never silently "
    "forgotten", "liveness",
    doc="CallWrapper reports WentMissingError when /queue and /history no longer know the "
        "prompt, DisconnectedError 5 s after 'disconnected'. Both need an event: a client "
        "that never hears of its disconnection never reports the prompt.")
PROMPT_SETTLES_ONCE = SettlesOnce(
    "restart.prompt_settles_once", "a prompt is reported completed or failed at most once",
    issued=_prompt_issued, settled=_prompt_settled,
    doc="History recovery, the status handler and the grace timer can all settle a prompt.")


def _reconnected(record: TraceRecord) -> str | None:
    event, data = _note(record)
    if record.actor in NAMES and event == "event" and data.get("name") == "reconnected":
        return f"{record.actor} reconnected at {format_time(record.t)}"
    return None


RECONNECTED = Sometimes(
    "restart.reconnected",
    "some run sees a client reconnect after losing its socket",
    when=_reconnected,
    doc="Without it, a campaign whose kills never hit a connected client passes the "
        "reconnection invariants without exercising a reconnection.")
GAVE_UP = Sometimes(
    "restart.gave_up", "some run sees a reconnection loop run out of attempts",
    when=lambda r: (r.actor in NAMES and _note(r)[0] == "callback"
                    and f"{r.actor} onReconnectionFailed at {format_time(r.t)}"),
    doc="Needs the server down for about 90 s: the campaign must draw long waits.")

MONITORS = (RECONNECTS, FAILURE_IS_REAL, ONE_SOCKET, DESTROY_IS_FINAL, STATUS_AFTER_RECONNECT,
            PROMPT_ACCOUNTED, PROMPT_SETTLES_ONCE, RECONNECTED, GAVE_UP)

__all__ = ["MONITORS"]
