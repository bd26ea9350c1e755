"""The six phases of the Lumenize resilience task as scripted scenarios in virtual time.

The real project planned these as integration tests against a running Worker (seed
``000``, ``lumenize-mesh.md`` cases 89-94) and never wrote them: they need real sockets,
real sleeps past a 5 s grace period, and a way to force-close a Durable Object's socket.
Here each phase is a script of faults and user actions at exact virtual times, played on
a world of real model nodes (client -> Worker -> gateway -> mesh DO), so it runs in
milliseconds and the same seed always gives the same trace.

Each phase is a :func:`~gatewaysim.simulator.scenario.scenario` (``lumenize-phase1`` ...
``lumenize-phase6`` for ``gatewaysim run``). Its function, ``phaseN.fn(seed, duration,
trace, variant="faithful")``, builds the world on the given trace, schedules its script,
runs until ``duration`` (a step scripted later than that does not happen, and the summary
then shows what did not happen), and summarises the outcomes the phase checks. The summary
is read by a listener on the trace rather than from kept records, so it is the same whether
or not the caller keeps records in memory.

Where the seed document and the behaviour of the real code (the spec) differ, the spec
wins and the phase's docstring says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
from attrs import define, field, frozen

from gatewaysim.simulator.clock import MINUTE, SECOND, Time, format_duration, format_time, ms, s
from gatewaysim.simulator.scenario import ScenarioResult, scenario
from gatewaysim.simulator.trace import OUT, Trace, TraceRecord

from . import protocol as p
from .config import LumenizeConfig
from .world import ClientSpec, LumenizeWorld, build_world

ALICE = "alice.t1"
ALICE_CLIENT = p.CLIENT_PREFIX + ALICE
ALICE_GATEWAY = p.gateway_address(ALICE)


# ---------------------------------------------------------------------- plumbing
@frozen
class Step:
    """One scripted happening: at virtual time ``at``, ``action`` acts on the world."""

    at: Time
    action: Callable[[LumenizeWorld], object]


#: The effect types the summaries read; everything else is not worth a record object.
WATCHED = frozenset({"Note", "CloseConnection", "RejectConnection", "OpenConnection"})


@define
class Watch:
    """A trace listener that keeps the few records a summary needs.

    A listener sees every record as it is emitted, so the summary does not depend on the
    trace keeping records (``gatewaysim run --quiet`` does not).
    """

    records: list[TraceRecord] = field(factory=list)

    def __call__(self, rec: TraceRecord) -> None:
        if rec.kind == OUT and rec.type in WATCHED:
            self.records.append(rec)

    def notes(self, event: str, actor: str | None = None) -> list[TraceRecord]:
        return [r for r in self.records if r.type == "Note" and r.data["event"] == event
                and (actor is None or r.actor == actor)]

    def effects(self, type_: str, actor: str | None = None) -> list[TraceRecord]:
        return [r for r in self.records if r.type == type_
                and (actor is None or r.actor == actor)]


Summarise = Callable[[LumenizeWorld, Watch, Time], dict[str, Any]]


def _play(variant: str, seed: int, duration: Time, trace: Trace,
          clients: Sequence[ClientSpec], steps: Sequence[Step], summarise: Summarise,
          **overrides: Any) -> ScenarioResult:
    """Build the world on ``trace``, schedule the steps, run to ``duration``, summarise."""
    config = LumenizeConfig.for_variant(variant)  # any variant: faithful, fixed, mutant:NAME
    if overrides:
        config = attrs.evolve(config, **overrides)
    watch = Watch()
    trace.listeners.append(watch)
    try:
        lw = build_world(config, seed, clients, trace=trace)

        def fire(action: Callable[[LumenizeWorld], object]) -> None:
            action(lw)

        for step in steps:
            lw.world.schedule(step.at, fire, step.action)
        lw.run_until(duration)
    finally:
        trace.listeners.remove(watch)
    summary = {"variant": config.variant, **summarise(lw, watch, duration)}
    return ScenarioResult(lw.world, summary, describe=lw.describe)


def _js(value: Any) -> str:
    """A claim value as the JSON of the token shows it (``false``, not ``False``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _at(rec: TraceRecord | None) -> str:
    return "never" if rec is None else format_time(rec.t)


def _first(records: list[TraceRecord], after: Time = -1) -> TraceRecord | None:
    return next((r for r in records if r.t > after), None)


def _error(data: dict) -> str:
    error = data.get("error") or {}
    return f"{error.get('name')}: {error.get('message')}" if isinstance(error, dict) \
        else str(error)


def _upgrades(watch: Watch, instance_name: str) -> list[TraceRecord]:
    return watch.notes("upgrade", p.gateway_address(instance_name))


def _subscribes(watch: Watch, client: str) -> list[TraceRecord]:
    return [r for r in watch.notes("call.sent", client)
            if str(r.data["data"].get("tag", "")).startswith("subscribe:")]


def _settled(watch: Watch, client: str, tag: str) -> TraceRecord | None:
    return next((r for r in watch.notes("call.settled", client)
                 if r.data["data"].get("tag") == tag), None)


def _mesh_result(watch: Watch, tag: str) -> TraceRecord | None:
    return next((r for r in watch.notes("mesh_call.result")
                 if r.data["data"].get("tag") == tag), None)


def _document(lw: LumenizeWorld, client: str = ALICE) -> str:
    latest = lw.broadcaster().statistics()["version"]
    return f"v{lw.client(client).statistics()['doc_version']} (latest v{latest})"


# ---------------------------------------------------------------------- phase 1
PHASE1_DROP = s(2)
PHASE1_CALL = s(2) + ms(500)


@scenario("lumenize-phase1",
          "grace-period queuing: a mesh call during grace is delivered on reconnect",
          10 * SECOND, timeline=True)
def phase1(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    """Grace-period queuing: a mesh call made during grace is delivered on reconnect.

    alice subscribes to ``doc/main``; at 2 s the gateway's socket is force-closed with
    1006 (what the real test does with ``ctx.getWebSockets()[0].close(1006)``); at 2.5 s
    ``node/main`` calls ``alice.ping()`` and the gateway parks it; the client's 1 s backoff
    brings it back within the 5 s grace, the parked call goes out on the new socket, and
    the upgrade says ``subscriptionRequired: false``, so the client does not resubscribe.
    A publish at 5 s shows the subscription survived without it.
    """
    steps = [
        Step(s(1), lambda lw: lw.publish("v1")),
        Step(PHASE1_DROP, lambda lw: lw.force_close(ALICE, p.CLOSE_ABNORMAL)),
        Step(PHASE1_CALL, lambda lw: lw.call_client(ALICE, "ping", ["parked"],
                                                    tag="during-grace")),
        Step(s(5), lambda lw: lw.publish("v2")),
    ]

    def summarise(lw: LumenizeWorld, watch: Watch, _end: Time) -> dict[str, Any]:
        parked = _first(watch.notes("call.parked", ALICE_GATEWAY))
        result = _mesh_result(watch, "during-grace")
        reconnect = _first(_upgrades(watch, ALICE), PHASE1_DROP)
        delivered = result is not None and result.data["data"]["ok"]
        return {
            "grace armed at": _at(_first(watch.notes("grace.armed", ALICE_GATEWAY))),
            "mesh call parked during grace": _yes(parked is not None),
            "client reconnected at": _at(reconnect),
            "parked call delivered": (f"yes, answered at {_at(result)}" if delivered
                                      else "no"),
            "subscriptionRequired on reconnect": (
                "-" if reconnect is None
                else str(reconnect.data["data"]["subscriptionRequired"]).lower()),
            "re-subscriptions after the drop": len(
                [r for r in _subscribes(watch, ALICE_CLIENT) if r.t > PHASE1_DROP]),
            "client document": _document(lw),
        }

    return _play(variant, seed, duration, trace, [ClientSpec("alice")], steps, summarise)


# ---------------------------------------------------------------------- phase 2
PHASE2_DROP = s(2)
PHASE2_CALL = s(2) + ms(500)
PHASE2_HEAL = s(10)


def _go_offline(lw: LumenizeWorld) -> None:
    """The tab loses its network: its socket drops and nothing reaches the Worker."""
    lw.drop_client(ALICE)
    lw.partition(ALICE_CLIENT, p.WORKER)


@scenario("lumenize-phase2",
          "grace expiry: the parked call fails; the late reconnect resubscribes",
          30 * SECOND, timeline=True)
def phase2(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    """Grace expiry: a call parked during grace is rejected when the alarm fires.

    alice goes offline at 2 s (socket dropped, client cut off from the Worker until 10 s);
    at 2.5 s ``node/main`` calls her and the call parks. The grace alarm fires at ~7 s and
    the caller gets ``ClientDisconnectedError`` "Client did not reconnect within grace
    period". The reconnect attempt made while offline waits out the 10 s connect timeout;
    the next one succeeds with ``subscriptionRequired: true``, ``onSubscriptionRequired``
    fires and the client subscribes again.
    """
    steps = [
        Step(PHASE2_DROP, _go_offline),
        Step(PHASE2_CALL, lambda lw: lw.call_client(ALICE, "ping", ["parked"],
                                                    tag="during-grace")),
        Step(PHASE2_HEAL, lambda lw: lw.heal(ALICE_CLIENT, p.WORKER)),
    ]

    def summarise(lw: LumenizeWorld, watch: Watch, _end: Time) -> dict[str, Any]:
        result = _mesh_result(watch, "during-grace")
        alarm = _first(watch.notes("alarm", ALICE_GATEWAY))
        reconnect = _first(_upgrades(watch, ALICE), PHASE2_DROP)
        resubscribed = [r for r in watch.notes("call.settled", ALICE_CLIENT)
                        if r.t > PHASE2_DROP and r.data["data"]["tag"] == "subscribe:doc/main"
                        and r.data["data"]["ok"]]
        return {
            "grace expired (alarm) at": _at(alarm),
            "parked call answered": ("never" if result is None else
                                     f"{_at(result)} with {_error(result.data['data'])}"
                                     if not result.data["data"]["ok"] else "ok"),
            "client reconnected at": _at(reconnect),
            "subscriptionRequired on reconnect": (
                "-" if reconnect is None
                else str(reconnect.data["data"]["subscriptionRequired"]).lower()),
            "onSubscriptionRequired fired": _yes(bool(
                [r for r in watch.notes("subscription_required", ALICE_CLIENT)
                 if r.t > PHASE2_DROP])),
            "client re-subscribed": (f"yes, at {_at(resubscribed[0])}" if resubscribed
                                     else "no"),
        }

    return _play(variant, seed, duration, trace, [ClientSpec("alice")], steps, summarise)


# ---------------------------------------------------------------------- phase 3
PHASE3_TTL_S = 2
PHASE3_FIRST_CALL = s(4)
PHASE3_SECOND_CALL = s(5)


@scenario("lumenize-phase3",
          "token expiry: 4401, refresh, reconnect; the expired call never settles",
          MINUTE, timeline=True)
def phase3(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    """Token expiry mid-session: 4401, refresh, reconnect; the expired call is lost.

    The token service mints 2 s access tokens from the start (``createTestRefreshFunction
    ({ttl: 2})``). At 4 s, with the token expired, alice calls the Worker binding; the
    gateway checks ``exp`` on the frame, drops the call and closes with 4401; the client
    refreshes and reconnects, and a second call at 5 s succeeds.

    The seed expected "call eventually succeeds or client is reconnected". The real code
    (spec 1.6) drops an expired ``call`` with no ``call_response``, and the client never
    rejects a call it already sent (2.4): in ``faithful`` the first call's promise never
    settles. Fix ``reject_calls_on_socket_close`` rejects it when its socket closes.
    """
    steps = [
        Step(0, lambda lw: lw.inject(p.AUTH, p.SetTokenTtl(PHASE3_TTL_S))),
        Step(PHASE3_FIRST_CALL, lambda lw: lw.client_call(
            ALICE, "echo", ["first"], instance=None, binding=p.WORKER_BINDING, tag="first")),
        Step(PHASE3_SECOND_CALL, lambda lw: lw.client_call(
            ALICE, "echo", ["second"], instance=None, binding=p.WORKER_BINDING, tag="second")),
    ]

    def summarise(lw: LumenizeWorld, watch: Watch, end: Time) -> dict[str, Any]:
        expired = _first(watch.notes("token.expired", ALICE_GATEWAY))
        close = next((r for r in watch.effects("CloseConnection", ALICE_GATEWAY)
                      if r.data["code"] == p.CLOSE_TOKEN_EXPIRED), None)
        refresh = next((r for r in watch.notes("refresh.started", ALICE_CLIENT)
                        if r.data["data"]["reason"] == "token_expired"), None)
        reconnect = _first(_upgrades(watch, ALICE), PHASE3_FIRST_CALL)
        first, second = _settled(watch, ALICE_CLIENT, "first"), _settled(watch, ALICE_CLIENT,
                                                                          "second")
        return {
            "access token TTL": f"{PHASE3_TTL_S}s",
            "expired token seen by gateway": (
                "-" if expired is None
                else f"{_at(expired)} (on {expired.data['data']['where']})"),
            "gateway closed with 4401": _yes(close is not None),
            "refresh after 4401": _at(refresh),
            "client reconnected at": _at(reconnect),
            "first call settled": (f"never (in {format_duration(end)})" if first is None
                                   else f"{_at(first)}: " + (
                                       "ok" if first.data["data"]["ok"]
                                       else _error(first.data["data"]))),
            "second call": ("never settled" if second is None else
                            f"ok: {second.data['data'].get('value')!r}"
                            if second.data["data"]["ok"] else _error(second.data["data"])),
        }

    return _play(variant, seed, duration, trace, [ClientSpec("alice")], steps, summarise)


# ---------------------------------------------------------------------- phase 4
PHASE4_SECOND_TAB = s(1)
PHASE4_CALL = s(1) + ms(500)
SECOND_TAB = ALICE_CLIENT + "#2"


@scenario("lumenize-phase4",
          "supersession: a duplicate tab takes over with 4409 (then ping-pong)",
          10 * SECOND, timeline=True)
def phase4(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    """Supersession: a second tab with the same instanceName takes over with 4409.

    Tab A (``alice.t1``) connects; at 1 s tab B opens with the same sub and tab id. The
    gateway closes A with 4409, B gets ``subscriptionRequired: false``, and a mesh call at
    1.5 s is handled by B.

    The seed expected A to "handle it gracefully". The real client treats 4409 on its
    current socket like any other close (spec 2.1) and reconnects ~1 s later, superseding
    B, which does the same: the two tabs ping-pong for as long as both live (spec 6, case
    85). Fix ``superseded_client_stays_down`` leaves A down after its 4409.
    """
    steps = [
        # A duplicated tab: sessionStorage is cloned, so the tab id is already stored.
        Step(PHASE4_SECOND_TAB,
             lambda lw: lw.add_client(ClientSpec("alice", tab_id_stored=True))),
        Step(PHASE4_CALL, lambda lw: lw.call_client(ALICE, "ping", ["who?"],
                                                    tag="after-supersession")),
    ]

    def summarise(lw: LumenizeWorld, watch: Watch, end: Time) -> dict[str, Any]:
        closes = [r for r in watch.effects("CloseConnection", ALICE_GATEWAY)
                  if r.data["code"] == p.CLOSE_SUPERSEDED]
        b_upgrade = next((r for r in _upgrades(watch, ALICE)
                          if r.data["data"]["conn"].startswith(SECOND_TAB)), None)
        handled = [r for r in watch.notes("incoming.handled") if r.t >= PHASE4_CALL]
        a_back = next((r for r in watch.notes("state", ALICE_CLIENT)
                       if r.t > PHASE4_SECOND_TAB and r.data["data"]["to"] == "connected"), None)
        return {
            "tab A closed with 4409 at": _at(_first(closes)),
            "tab B subscriptionRequired": (
                "-" if b_upgrade is None
                else str(b_upgrade.data["data"]["subscriptionRequired"]).lower()),
            "mesh call at 1.5s handled by": handled[0].actor if handled else "nobody",
            "tab A reconnected (took over again)": (
                f"yes, at {_at(a_back)}" if a_back is not None else "no"),
            f"4409 closes in {format_duration(end)}": len(closes),
            "tab A state at the end": lw.client(ALICE_CLIENT).statistics()["state"],
            "tab B state at the end": lw.client(SECOND_TAB).statistics()["state"]
            if SECOND_TAB in lw.specs else "-",
        }

    return _play(variant, seed, duration, trace, [ClientSpec("alice")], steps, summarise)


# ---------------------------------------------------------------------- phase 5
PHASE5_DROP = s(2)
PHASE5_HEAL = s(10)
PHASE5_PUBLISH = ((s(1), "v1"), (s(8), "v2"), (s(20), "v3"), (s(25), "v4"))


def _publisher(content: str) -> Callable[[LumenizeWorld], object]:
    return lambda lw: lw.publish(content)


@scenario("lumenize-phase5",
          "re-subscription lifecycle after the grace alarm; broadcasts flow on",
          30 * SECOND, timeline=True)
def phase5(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    """The full re-subscription lifecycle after the grace alarm fired.

    alice subscribes and gets v1; she goes offline at 2 s until 10 s. The alarm fires at
    ~7 s; a publish at 8 s fails to reach her ("Client is not connected") and the
    broadcaster drops her row. Her reconnect says ``subscriptionRequired: true``; she
    subscribes again and gets the current document (v2) as a snapshot; the publishes at
    20 s and 25 s reach her, so she ends on the latest version.
    """
    steps = [Step(PHASE5_DROP, _go_offline),
             Step(PHASE5_HEAL, lambda lw: lw.heal(ALICE_CLIENT, p.WORKER))]
    steps += [Step(at, _publisher(content)) for at, content in PHASE5_PUBLISH]
    steps.sort(key=lambda step: step.at)

    def summarise(lw: LumenizeWorld, watch: Watch, _end: Time) -> dict[str, Any]:
        dropped = _first(watch.notes("subscriber.dropped"))
        reconnect = _first(_upgrades(watch, ALICE), PHASE5_DROP)
        snapshot = next((r for r in watch.notes("call.settled", ALICE_CLIENT)
                         if r.t > PHASE5_DROP and r.data["data"]["tag"] == "subscribe:doc/main"
                         and r.data["data"]["ok"]), None)
        after = [r.data["data"]["version"] for r in watch.notes("document", ALICE_CLIENT)
                 if reconnect is not None and r.t > reconnect.t]
        return {
            "grace expired (alarm) at": _at(_first(watch.notes("alarm", ALICE_GATEWAY))),
            "subscriber row dropped": ("no" if dropped is None else
                                       f"{_at(dropped)} ({dropped.data['data']['reason']})"),
            "subscriptionRequired on reconnect": (
                "-" if reconnect is None
                else str(reconnect.data["data"]["subscriptionRequired"]).lower()),
            "re-subscribed, snapshot": (
                "no" if snapshot is None
                else f"v{snapshot.data['data']['value']['version']} at {_at(snapshot)}"),
            "versions received after reconnect": ", ".join(f"v{v}" for v in after) or "-",
            "client document": _document(lw),
            "subscribers at the end": ", ".join(lw.broadcaster().subscribers) or "-",
        }

    return _play(variant, seed, duration, trace, [ClientSpec("alice")], steps, summarise)


# ---------------------------------------------------------------------- phase 6
PHASE6_CLIENTS = (
    ClientSpec("carol", claims={"adminApproved": False}),
    ClientSpec("dave", claims={"emailVerified": False}),
    ClientSpec("erin"),
)


@scenario("lumenize-phase6",
          "access gate: unapproved users get 403 at the Worker, retried forever",
          5 * MINUTE, timeline=True)
def phase6(seed: int, duration: Time, trace: Trace, variant: str = "faithful") -> ScenarioResult:
    """The access gate: unapproved or unverified users are refused at the Worker (403).

    carol (``adminApproved: false``) and dave (``emailVerified: false``) are refused by the
    Worker's access gate and never reach a gateway; erin, approved, connects normally.

    The seed task expected 401; the code answers **403** "Account not yet approved" (spec
    3). A browser cannot see an upgrade's status and reports close 1006, so the faithful
    client retries forever on its backoff (the summary counts the upgrade attempts). Fix
    ``rejected_upgrade_terminal`` makes the 403 terminal: ``onLoginRequired``, no retry.
    """

    def summarise(lw: LumenizeWorld, watch: Watch, end: Time) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in PHASE6_CLIENTS:
            client = p.CLIENT_PREFIX + spec.instance_name
            stats = lw.client(client).statistics()
            if spec.claims:
                rejects = [r for r in watch.effects("RejectConnection", p.WORKER)
                           if r.data["conn"].startswith(client + ":")]
                statuses = sorted({f"{r.data['status']} {r.data['reason']}" for r in rejects})
                out[f"{spec.sub}: {', '.join(f'{k}={_js(v)}' for k, v in spec.claims.items())}"] = (
                    f"refused {len(rejects)}x at the Worker with {', '.join(statuses) or '-'}")
                out[f"{spec.sub}: upgrade attempts in {format_duration(end)}"] = len(
                    watch.effects("OpenConnection", client))
                out[f"{spec.sub}: reached a gateway"] = _yes(
                    lw.gateway(spec.instance_name) is not None)
                out[f"{spec.sub}: onLoginRequired"] = _yes(stats["login_required"] > 0)
            out[f"{spec.sub}: state at the end"] = stats["state"]
        return out

    return _play(variant, seed, duration, trace, PHASE6_CLIENTS, [], summarise)


PHASES = (phase1, phase2, phase3, phase4, phase5, phase6)
"""The six phases in order, as the pack manifest lists them."""

__all__ = ["PHASES", "Step", "Watch", "phase1", "phase2", "phase3", "phase4", "phase5",
           "phase6"]
