"""The document's eight resilience scenarios (Day 4-5), in virtual time.

The document leaves each test as a comment ("Simulate 500ms delay / Verify message sends
within 2 seconds"); here each is a script of faults and user actions at exact virtual
instants, and its summary holds the measurement the comment asks for. Every scenario takes
``variant`` so a test can run the same script on ``faithful`` and ``fixed``.

Choices where the comment is silent (each a constant below):

1. ``chatsdk-slow``: 500 ms one way (a 1 s round trip) to both servers.
2. ``chatsdk-lossy``: 50 % of messages lost on both links, 100 chat messages one a second,
   then the rest of an hour; "eventual success" counts distinct messages stored.
3. ``chatsdk-outage``: the API host crashes at 10 s and restarts at 40 s while the user keeps
   sending; the breaker must open and, after recovery, close.
4. ``chatsdk-token-expiry``: the API stops accepting the access token the client still holds
   (a signing-key rotation: the client's clock cannot know, which is the only way a request
   reaches the server with a token the client believes valid, given the 60 s buffer).
5. ``chatsdk-ws-drop``: the WebSocket is dropped (1006 at both ends) at 10 s.
6. ``chatsdk-offline``: airplane mode from 10 s to 40 s; five messages typed meanwhile.
7. ``chatsdk-429``: the API's gateway answers the next two requests 429, Retry-After 1 s.
8. ``chatsdk-upload``: a 10 MB upload in 1 MB chunks; chunks at 80 % and beyond fail for 15 s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gatewaysim.simulator.clock import MINUTE, MS, Time, format_duration, ms, s
from gatewaysim.simulator.scenario import ScenarioResult, scenario
from gatewaysim.simulator.trace import FAULT, IN, OUT, Trace, TraceRecord

from .config import ChatConfig
from .describe import describe
from .protocol import API, BROWSER
from .world import ChatWorld

Event = tuple[Time, str, str, dict[str, Any]]
"""``(t, actor, name, data)``: a note (its event name) or an input or fault (its type)."""

SLOW_ONE_WAY = ms(500)
LOSS = 0.5
LOSSY_MESSAGES = 100
OUTAGE_AT, OUTAGE_FOR = s(10), s(30)
DROP_AT = s(10)
OFFLINE_AT, ONLINE_AT = s(10), s(40)
RATE_LIMITED, RETRY_AFTER = 2, s(1)
UPLOAD_FAIL_FOR = s(15)


class Events:
    """Collects notes, inputs and faults from a trace as it is written."""

    def __init__(self) -> None:
        self.items: list[Event] = []

    def __call__(self, rec: TraceRecord) -> None:
        if rec.kind == OUT and rec.type == "Note":
            self.items.append((rec.t, rec.actor, rec.data["event"], rec.data.get("data", {})))
        elif rec.kind in (IN, FAULT) and rec.type in (
                "HttpResponseWithHeaders", "WsClosed", "SendMessage", "drop", "crash",
                "restart", "offline", "online"):
            self.items.append((rec.t, rec.actor, rec.type, rec.data))

    def named(self, name: str, actor: str | None = None) -> list[Event]:
        return [e for e in self.items if e[2] == name and (actor is None or e[1] == actor)]

    def times(self, name: str, actor: str | None = None) -> list[Time]:
        return [e[0] for e in self.named(name, actor)]


def _run(seed: int, trace: Trace, variant: str,
         body: Callable[[ChatWorld, Events], dict[str, Any]]) -> ScenarioResult:
    config = ChatConfig.for_variant(variant)
    events = Events()
    trace.listeners.append(events)
    try:
        cw = ChatWorld(config, seed, trace)
        summary = {"variant": variant, **body(cw, events)}
    finally:
        trace.listeners.remove(events)
    return ScenarioResult(world=cw.world, summary=summary, describe=describe)


def _sent_after(events: Events, seq: int, since: Time) -> Time | None:
    for t, actor, name, data in events.items:
        if name == "message.sent" and data.get("seq") == seq and actor == BROWSER:
            return t - since
    return None


def _stored(events: Events) -> list[int]:
    return [d["seq"] for _, _, _, d in events.named("message.stored", API)]


# ---------------------------------------------------------------------------- 1
@scenario("chatsdk-slow", "500 ms latency each way: a chat message is sent within 2 s",
          s(30))
def slow(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    def body(cw: ChatWorld, events: Events) -> dict[str, Any]:
        cw.set_latency(SLOW_ONE_WAY)
        cw.run_until(min(duration, s(10)))
        start = cw.now
        seq = cw.send_message()
        cw.run_until(duration)
        took = _sent_after(events, seq, start)
        return {"one-way latency": format_duration(SLOW_ONE_WAY),
                "message sent after": format_duration(took) if took is not None else "never",
                "sent_after_us": took, "stored": _stored(events)}

    return _run(seed, trace, variant, body)


# ---------------------------------------------------------------------------- 2
@scenario("chatsdk-lossy", "50 % loss: 100 messages, how many eventually succeed", 60 * MINUTE)
def lossy(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    def body(cw: ChatWorld, events: Events) -> dict[str, Any]:
        cw.run_for(s(5))
        cw.set_loss(LOSS)
        created = []
        for _ in range(LOSSY_MESSAGES):
            if cw.now + s(1) > duration:
                break
            created.append(cw.send_message())
            cw.run_for(s(1))
        cw.run_until(duration)
        stored = _stored(events)
        distinct = set(stored)
        rate = len(distinct & set(created)) / len(created) if created else 0.0
        return {"loss": LOSS, "messages": len(created), "stored (distinct)": len(distinct),
                "stored twice or more": len(stored) - len(distinct),
                "eventual success": f"{100 * rate:.1f} %", "success_rate": rate,
                "logouts": len(events.named("auth.logout"))}

    return _run(seed, trace, variant, body)


# ---------------------------------------------------------------------------- 3
@scenario("chatsdk-outage", "the API is down for 30 s: the circuit opens, then closes", s(120))
def outage(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    def body(cw: ChatWorld, events: Events) -> dict[str, Any]:
        created = []
        for tick in range(int(min(duration, s(70)) // s(2))):
            at = tick * s(2)
            cw.run_until(at)
            if at == OUTAGE_AT:
                cw.crash(API)
            if at == OUTAGE_AT + OUTAGE_FOR:
                cw.restart(API)
            if at >= s(4):
                created.append(cw.send_message())
        cw.run_until(duration)
        states = [(t, d["state"]) for t, _, _, d in events.named("breaker.state")]
        opened = [t for t, st in states if st == "OPEN"]
        closed = [t for t, st in states if st == "CLOSED"]
        stored = set(_stored(events))
        return {"breaker transitions": " ".join(f"{st}@{t / 1e6:g}s" for t, st in states),
                "opened_at": opened[0] if opened else None,
                "closed_at": closed[-1] if closed else None,
                "final breaker state": cw.client.api.breaker.state.value,
                "messages": len(created), "delivered": len(stored & set(created))}

    return _run(seed, trace, variant, body)


# ---------------------------------------------------------------------------- 4
@scenario("chatsdk-token-expiry",
          "the server stops accepting the token mid-session: refresh and retry", s(30))
def token_expiry(seed: int, duration: Time, trace: Trace,
                 variant: str = "faithful") -> ScenarioResult:
    def body(cw: ChatWorld, events: Events) -> dict[str, Any]:
        cw.run_until(min(duration, s(10)))
        cw.rotate_signing_key()
        seq = cw.send_message()
        cw.run_until(duration)
        return {"got 401": bool(events.named("api.401")),
                "refreshes": len(events.named("token.refresh.done")),
                "reported sent": seq in cw.client.api.sent,
                "stored": seq in _stored(events),
                "rejected by the server": [d.get("why") for *_, d in
                                           events.named("message.rejected")],
                "unchecked retry statuses": [d["status"] for *_, d in
                                             events.named("api.unchecked_401_retry")]}

    return _run(seed, trace, variant, body)


# ---------------------------------------------------------------------------- 5
@scenario("chatsdk-ws-drop", "the WebSocket drops: reconnected within 2 s", s(30))
def ws_drop(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    def body(cw: ChatWorld, events: Events) -> dict[str, Any]:
        cw.run_until(min(duration, DROP_AT))
        dropped = cw.drop_ws()
        cw.run_until(duration)
        back = [t for t, _, _, d in events.named("conn.state") if t > DROP_AT
                and d["to"] == "CONNECTED"]
        shown = [d["to"] for t, _, _, d in events.named("conn.state") if t > DROP_AT]
        took = back[0] - DROP_AT if back else None
        return {"dropped": dropped,
                "reconnected after": format_duration(took) if took is not None else "never",
                "reconnect_us": took, "states shown": shown}

    return _run(seed, trace, variant, body)


# ---------------------------------------------------------------------------- 6
@scenario("chatsdk-offline", "airplane mode: messages queue, then go out in order", s(60))
def offline(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    def body(cw: ChatWorld, events: Events) -> dict[str, Any]:
        cw.run_until(OFFLINE_AT)
        cw.go_offline()
        created = []
        for i in range(5):
            cw.run_until(OFFLINE_AT + s(2) + i * s(4))
            created.append(cw.send_message())
        cw.run_until(ONLINE_AT - ms(1))
        queued_before_online = len(cw.client.api.queue)
        stored_before_online = len(_stored(events))
        cw.run_until(ONLINE_AT)
        cw.go_online()
        cw.run_until(duration)
        stored_at = [t for t, *_ in events.named("message.stored", API)]
        return {"created": created, "queued while offline": queued_before_online,
                "stored while offline": stored_before_online, "stored": _stored(events),
                "first stored after online": (format_duration(stored_at[0] - ONLINE_AT)
                                              if stored_at else "never")}

    return _run(seed, trace, variant, body)


# ---------------------------------------------------------------------------- 7
@scenario("chatsdk-429", "HTTP 429 with Retry-After: exponential backoff, then success", s(30))
def rate_limited(seed: int, duration: Time, trace: Trace,
                 variant: str = "faithful") -> ScenarioResult:
    def body(cw: ChatWorld, events: Events) -> dict[str, Any]:
        cw.run_until(min(duration, s(10) + ms(500)))  # just after a health ping
        cw.world.rate_limit(API, RATE_LIMITED, RETRY_AFTER)
        start = cw.now
        seq = cw.send_message()
        cw.run_until(duration)
        limited = [t for t, actor, name, d in events.items
                   if name == "HttpResponseWithHeaders" and actor == BROWSER
                   and d.get("status") == 429]
        retries = [d["delay"] for *_, d in events.named("api.retry")]
        took = _sent_after(events, seq, start)
        return {"429 answers": len(limited), "retry delays": [f"{r // MS} ms" for r in retries],
                "retry_delays_us": retries, "sent after": format_duration(took) if took
                else "never", "stored": seq in _stored(events)}

    return _run(seed, trace, variant, body)


# ---------------------------------------------------------------------------- 8
@scenario("chatsdk-upload", "an upload fails at 80 %: it resumes from the checkpoint", s(90))
def upload(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    def body(cw: ChatWorld, events: Events) -> dict[str, Any]:
        cw.run_until(min(duration, s(5)))
        size = cw.config.upload_size
        fail_at = size * 8 // 10
        cw.fail_uploads_at("file1", fail_at, cw.now + UPLOAD_FAIL_FOR)
        cw.start_upload("file1")
        cw.run_until(duration)
        chunks = [d["offset"] for *_, d in events.named("upload.chunk", API)]
        resumed = [d["offset"] for *_, d in events.named("upload.resumed", BROWSER)]
        done = events.named("upload.done", BROWSER)
        return {"size": size, "failed from": fail_at, "resumed at": resumed,
                "chunk offsets stored": chunks, "done": bool(done),
                "chunks re-sent from zero": chunks.count(0) - 1 if chunks else 0}

    return _run(seed, trace, variant, body)


SCENARIOS = (slow, lossy, outage, token_expiry, ws_drop, offline, rate_limited, upload)

__all__ = ["SCENARIOS", "Events", "lossy", "offline", "outage", "rate_limited", "slow",
           "token_expiry", "upload", "ws_drop"]
