"""The bug zoo: each planted bug of ``LumenizeConfig.MUTANTS`` and the monitor that catches it.

A mutant is planted on top of the ``fixed`` variant (variant ``mutant:<name>``), so the
real weaknesses, which ``fixed`` corrects, cannot mask it: whatever the exploration finds
is the planted bug. :func:`hunt` runs the Hypothesis machine until the first violation,
which is what "is it found, by what, and how fast" needs, and then shrinks that run with
budgets of its own (Hypothesis's shrinker, then the fault-plan pass), so the minimal run
it reports does not depend on how long the search took. ``benchmarks/bugzoo.py`` runs
the hunts as tasks on the campaign runners of :mod:`gatewaysim.properties.scale`
(:class:`HuntTask`, :func:`run_hunt`). The full explorer (several findings, failure files)
is ``gatewaysim explore lumenize --variant mutant:<name>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from attrs import frozen
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from gatewaysim.simulator.errors import DeterminismError
from gatewaysim.simulator.rng import derive_seed

from ..explorer import ExploreReport, _settle_imports
from ..machine import OutOfTime, RunRecord, build_machine
from ..monitor import InvariantViolated, Violation
from ..profiles import profile_settings
from ..run import RunSpec
from ..scale.shard import ShardTask, run_shard
from ..shrink import DEFAULT_REPLAYS
from ..shrink import shrink as shrink_run
from ..steps import Step
from . import PACK

#: Which invariant catches each planted bug, and why it must.
CAUGHT_BY: dict[str, str] = {
    # The returning client's step must release the waiters; they stay parked instead.
    "waiters_not_resolved_on_accept": "lumenize.parked_call_delivered_once",
    # The alarm outlives the reconnect; after a crash the revived gateway trusts it and
    # claims continuity across a new epoch.
    "alarm_not_deleted_on_accept": "lumenize.subscription_required",
    # A superseding tab is told true although the instance never lost its state.
    "subscription_required_after_close": "lumenize.subscription_required",
    # The failed upgrade of an abandoned socket makes the client schedule a reconnect.
    "no_stale_close_guard": "lumenize.stale_socket_fenced",
    # A second connect attempt starts its own refresh beside the one in flight.
    "refresh_not_single_flight": "lumenize.single_flight_refresh",
    # The queue is sent on open and again on connection_status: one call id, twice.
    "queue_flushed_twice": "lumenize.call_id_once",
    # A grace alarm armed by a supersession outlives it; after a crash it is trusted.
    "grace_alarm_on_4409": "lumenize.subscription_required",
    # An expired socket receives the incoming_call.
    "no_token_check_on_mesh_call": "lumenize.no_expired_incoming_call",
    # The second drop after a reconnection waits for the grown backoff.
    "backoff_never_reset": "lumenize.prompt_first_reconnect",
    # The failing alarm stays pending, so a client back after grace is told its state
    # survived (and the rejections of parked calls are lost with the handler's effects).
    "alarm_handler_raises": "lumenize.subscription_required",
    # The parked incoming_call goes out again on the next frame.
    "parked_call_delivered_twice": "lumenize.parked_call_delivered_once",
    # The subscribe the app makes at its first connection already fails, on a clean socket.
    "call_response_inverted": "lumenize.client_call_returns_result",
    # A ping on a clean socket ends in "Client call timed out" 30 s later.
    "client_answers_ignored": "lumenize.mesh_call_returns_result",
    # A tab that resubscribes after missing an update holds version 0 for good.
    "subscribe_snapshot_empty": "lumenize.document_converges",
    # A return 1 s after a drop is told subscriptionRequired: true (and a call made during
    # the drop fails at once); with no alarm, the subscriptionRequired oracle agrees.
    "grace_alarm_never_armed": "lumenize.grace_hides_short_drop",
    # The seventh attempt of a long outage waits up to 64 s.
    "backoff_cap_ignored": "lumenize.reconnect_delays_bounded",
    # A probe to instance 'u0' opens a socket.
    "instance_format_unchecked": "lumenize.malformed_input_answered",
    # After a restart of the token service a replayed refresh cookie mints again.
    "revocation_in_memory": "lumenize.revoked_refresh_stays_revoked",
    # Every delay of a long outage stays in the first attempt's [0, 1 s] band.
    "backoff_never_grows": "lumenize.reconnect_delays_bounded",
    # A second tab supersedes the first one's socket and is told false.
    "takeover_not_checked": "lumenize.subscription_required",
    # A probe to an operation the gateway does not serve is never answered.
    "unknown_operation_unanswered": "lumenize.malformed_input_answered",
    # A refresh refused 401 on the 4401 path backs off instead of prompting a login.
    "refresh_refusal_retried": "lumenize.login_required_on_refusal",
    # A 503 from the failing token service prompts a login.
    "refresh_outage_logs_out": "lumenize.transient_refresh_not_terminal",
    # A refresh during the outage is answered 401.
    "error_mode_answers_401": "lumenize.token_service_answers_by_mode",
    # A return within grace (told false) calls onSubscriptionRequired all the same.
    "subscription_required_on_false": "lumenize.subscription_required_signalled",
    # An unsubscribe removes the row and says nothing.
    "row_drop_unreported": "lumenize.subscriber_rows_reported",
    # The second failed upgrade in a row is followed by a third with the same token.
    "forced_reauth_skipped": "lumenize.forced_reauth",
    # The 503 on the 4401 path is followed, in the same step, by another refresh.
    "reauth_failure_retried_at_once": "lumenize.refresh_retry_backs_off",
    # The call parked during the drop reaches the tab before connection_status: dropped.
    "incoming_call_needs_connected": "lumenize.incoming_call_runs",
    # The first broadcast goes out as handleUpdate(content, 0).
    "fanout_version_stale": "lumenize.document_served_as_published",
    # The 4401 path's refresh presents the cookie the first refresh rotated away.
    "rotated_cookie_not_kept": "lumenize.refresh_cookie_rotated",
    # A ping on a clean socket fails 'not properly initialized' (and the 1011 excuses nothing).
    "delivery_treats_socket_uninitialised": "lumenize.mesh_call_returns_result",
    # The first publish never reaches doc/main.
    "publish_dropped": "lumenize.document_served_as_published",
    # A call to a tab gone past grace fails naming no instance.
    "disconnected_error_unnamed": "lumenize.mesh_call_returns_result",
    # A fan-out that times out on a socket only the gateway thinks open is pushed as false.
    "subscription_lost_push_false": "lumenize.subscription_required",
    # The first heartbeat reaches the gateway as a frame.
    "ping_wakes_gateway": "lumenize.ping_answered",
    # The first refreshes leave auth.issued at 0.
    "issued_not_counted": "lumenize.counters_agree",
    # An unsubscribe leaves its row in place.
    "unsubscribe_keeps_row": "lumenize.subscriber_rows_reported",
    # A call sent on an expired token is dropped and its socket stays open.
    "expired_frame_socket_kept": "lumenize.no_expired_frame",
    # The replayed refresh cookie is answered 500.
    "revoked_refresh_answered_500": "lumenize.revoked_refresh_stays_revoked",
    # The first connect's refresh succeeds and the tab backs off.
    "refreshed_attempt_backs_off": "lumenize.fresh_token_used",
    # A reconnect 20 s after a 45 s token was minted presents it instead of refreshing.
    "refresh_lead_ignored": "lumenize.stale_token_refreshed",
    # A call during the drop is lost on arrival.
    "grace_call_dropped": "lumenize.mesh_call_handled",
    # An answered call stays in the tab's pending entries.
    "answered_call_kept": "lumenize.counters_agree",
    # A call times out in the queue and the tab still counts it queued.
    "timed_out_call_stays_queued": "lumenize.counters_agree",
    # A duplicate tab's refresh outlasts its probe, and its first connect never ends while
    # the first tab holds the instance.
    "probe_end_forgotten": "lumenize.one_connected",
    # The first fan-out is applied and answered success: false.
    "update_reported_failed": "lumenize.incoming_call_runs",
}


@frozen
class Hunt:
    """How one search for a planted bug went, and the minimal run it shrank to.

    ``examples`` and ``seconds`` are the search's: generated examples up to and including
    the one that failed, and the wall time they took (time to find). Shrinking is counted
    apart, in replays (``hypothesis_replays``, then ``plan_replays`` of the fault-plan pass)
    and ``shrink_s``: it has a budget of its own, so how small ``steps`` is does not depend
    on how long the search took or how busy the machine was.
    """

    variant: str
    invariant_id: str | None
    examples: int
    seconds: float
    steps: tuple[Step, ...] = ()
    """The minimal run (the run as found when the hunt did not shrink)."""
    seed: int = 0
    found_steps: int = 0
    """Steps of the run as the search found it, before any shrinking."""
    violation: Violation | None = None
    """The violation ``steps`` ends in."""
    shrunk: bool = False
    """The fault-plan pass reached its fixpoint: no single deletion, merge or weakening left
    makes the run smaller while the same invariant fails. ``False``: it was not run, or its
    budget ran out first (the run is then only as small as the budget let it get)."""
    hypothesis_replays: int = 0
    hypothesis_complete: bool = False
    """Hypothesis's shrinker finished within its budget of replays."""
    plan_replays: int = 0
    shrink_s: float = 0.0
    stopped: str = "found"
    """``found``; ``example bound reached``; or ``incomplete: ...`` (the wall-clock safety
    stop came first, so a miss says less than the bound promised)."""


HYPOTHESIS_REPLAYS = 50
"""Replays Hypothesis's own shrinker may spend on a hunt's finding before the fault-plan
pass takes over. Small on purpose: Hypothesis shrinks towards simpler choices, not fewer
steps (a 5 s token and a 5 s wait rather than one 20-minute wait). Measured on five zoo
bugs, 300 replays cost 10-20 s a finding and twice left the final run a step longer than
the fault-plan pass reaches on its own; 50 cost about a second and, on those five,
never did."""


class _Hunter:
    """The hunt's observer: counts the search's examples, then the shrinker's replays, and
    keeps the shortest failing run of each invariant seen."""

    def __init__(self, budget_s: float | None, hypothesis_replays: int,
                 emit: Callable[[str], None] | None, every_s: float) -> None:
        self.start = time.perf_counter()
        self.deadline = self.start + budget_s if budget_s is not None else None
        self.replay_budget = hypothesis_replays
        self.emit = emit
        self.every_s = every_s
        self.next_line = self.start + every_s
        self.examples = 0
        self.steps = 0
        self.replays = 0
        self.first: tuple[Violation, tuple[Step, ...]] | None = None
        self.found_s = 0.0
        self.best: dict[str, tuple[Violation, tuple[Step, ...]]] = {}
        self.timed_out = False
        self.cut = False

    def say(self, text: str) -> None:
        if self.emit is not None:
            self.emit(text)

    def example_started(self) -> None:
        now = time.perf_counter()
        if self.first is not None:  # shrinking: a replay of its own budget
            if self.replays >= self.replay_budget:
                self.cut = True
                raise OutOfTime
            self.replays += 1
            return
        if self.deadline is not None and now >= self.deadline:
            self.timed_out = True
            raise OutOfTime
        self.examples += 1
        if now >= self.next_line:  # the explorer's progress format, which campaigns read
            self.next_line = now + self.every_s
            elapsed = now - self.start
            self.say(f"  {elapsed:6.1f}s  round 1  {self.examples} examples  {self.steps} "
                     f"steps  {self.examples / max(elapsed, 1e-9):.1f}/s  findings: none")

    def example_finished(self, run: RunRecord) -> None:
        if self.first is None:
            self.steps += len(run.steps)
        v = run.violation
        if v is None:
            return
        if self.first is None:
            self.first = (v, run.steps)
            self.found_s = time.perf_counter() - self.start
            self.say(f"  {self.found_s:6.1f}s  found {v.invariant_id} after {self.examples} "
                     f"examples ({len(run.steps)} steps); shrinking")
        best = self.best.get(v.invariant_id)
        if best is None or len(run.steps) < len(best[1]):
            self.best[v.invariant_id] = (v, run.steps)


def hunt(variant: str, max_examples: int, seed: int = 0, profile: str = "ci", *,
         judge: str | None = None, shrink: bool = True,
         hypothesis_replays: int = HYPOTHESIS_REPLAYS,
         shrink_replays: int = DEFAULT_REPLAYS, budget_s: float | None = None,
         emit: Callable[[str], None] | None = None, progress_every_s: float = 5.0) -> Hunt:
    """Explore ``variant`` until the first violation; say which, when, and its minimal run.

    Settings are ``profile``'s (``ci``: bounded, 15 steps a run, no database), seeded from
    ``seed`` and the variant's name, so the same call always runs the same examples, in any
    process. The search stops at the first violation of any invariant or, with ``judge``,
    of that invariant only (the others are muted, so a weakness that another invariant
    catches first, even one of the base variant, does not end the hunt; a model that
    raises still does). With ``shrink``, its run is then made minimal: Hypothesis's
    shrinker first, with ``hypothesis_replays`` replays of its own, then the fault-plan pass
    (:mod:`gatewaysim.properties.shrink`) with ``shrink_replays``. ``budget_s`` is a
    wall-clock safety stop for the search only (a hunt it cuts short says ``incomplete``).
    Progress lines go to ``emit``.
    """
    _settle_imports()  # what Hypothesis draws must not depend on what this process imported
    hunter = _Hunter(budget_s, hypothesis_replays if shrink else 0, emit, progress_every_s)
    config = PACK.config_of(variant)
    muted: list[str] = []
    if judge is not None:
        PACK.monitor(judge)  # an unknown invariant is an error before the search
        muted = [m.id for m in PACK.monitors if m.id != judge]
    machine = build_machine(PACK, config, seed, variant=variant, muted=muted,
                            observer=hunter)
    # Seeded rather than derandomized: as repeatable (the seed is part of the call), but
    # a different seed is a different, equally repeatable, search.
    machine = hypothesis_seed(derive_seed(seed, f"hunt {variant}"))(machine)
    base = profile_settings(profile)
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())
    run_settings = settings(
        base, max_examples=max_examples, phases=phases, report_multiple_bugs=False,
        database=None, deadline=None, derandomize=False, verbosity=Verbosity.quiet,
        suppress_health_check=[*base.suppress_health_check, HealthCheck.too_slow,
                               HealthCheck.filter_too_much],
    )
    try:
        run_state_machine_as_test(machine, settings=run_settings)
    except InvariantViolated:
        pass  # found (and shrunk, if asked); every run was observed, the last one too
    except Exception as exc:
        # The safety stop or the shrinker's budget (OutOfTime) abandons an example halfway;
        # Hypothesis may report that as flaky data generation. Still only a stop: the
        # observer has every run seen so far.
        if not (hunter.cut or hunter.timed_out):
            if isinstance(exc, Flaky):
                raise DeterminismError(f"lumenize/{variant}: a run behaved differently when "
                                       f"rerun, so the model is not deterministic: {exc}"
                                       ) from exc
            raise
    except OutOfTime:
        pass
    if hunter.first is None:
        stopped = (f"incomplete: the wall-clock safety stop ({budget_s:g}s) came first"
                   if hunter.timed_out else "example bound reached")
        return Hunt(variant, None, hunter.examples, time.perf_counter() - hunter.start,
                    seed=seed, stopped=stopped)
    first, found = hunter.first
    invariant_id = first.invariant_id
    violation, steps = hunter.best[invariant_id]
    found_s = hunter.found_s
    if not shrink:
        return Hunt(variant, invariant_id, hunter.examples, found_s, found, seed,
                    len(found), first)
    started = time.perf_counter()
    spec = RunSpec(PACK.name, variant, config.to_dict(), seed, steps)
    plan = shrink_run(spec, violation, replays=shrink_replays)
    shrink_s = time.perf_counter() - hunter.start - found_s
    hunter.say(f"  {found_s + shrink_s:6.1f}s  {invariant_id}: minimal run has "
               f"{len(plan.steps)} steps (from {len(found)}; Hypothesis's shrinker "
               f"{hunter.replays} replays, the fault-plan pass {plan.replays} in "
               f"{time.perf_counter() - started:.1f}s)")
    return Hunt(variant, invariant_id, hunter.examples, found_s, plan.steps, seed, len(found),
                plan.violation, plan.complete, hunter.replays, not hunter.cut, plan.replays,
                shrink_s)


@frozen
class HuntTask:
    """One hunt as a task the campaign runners of :mod:`gatewaysim.properties.scale` run (a
    plain value: it is pickled to a worker process or a Dask worker)."""

    index: int
    variant: str
    seed: int
    max_examples: int
    profile: str = "dev"
    judge: str | None = None
    budget_s: float | None = None
    hypothesis_replays: int = HYPOTHESIS_REPLAYS
    shrink_replays: int = DEFAULT_REPLAYS
    progress_every_s: float = 5.0


def run_hunt(task: HuntTask, emit: Callable[[str], None] | None = None) -> Hunt:
    """Run ``task`` (a runner's ``work`` function: module-level, so Dask can name it)."""
    return hunt(task.variant, task.max_examples, task.seed, task.profile, judge=task.judge,
                budget_s=task.budget_s, hypothesis_replays=task.hypothesis_replays,
                shrink_replays=task.shrink_replays, emit=emit,
                progress_every_s=task.progress_every_s)


def run_zoo_task(task: HuntTask | ShardTask,
                 emit: Callable[[str], None] | None = None) -> Hunt | ExploreReport:
    """The bug-zoo benchmark's ``work`` function: a hunt for a planted bug, or (a
    :class:`~gatewaysim.properties.scale.shard.ShardTask`) an exploration of a variant for
    its real weaknesses, so both kinds share one set of workers."""
    if isinstance(task, HuntTask):
        return run_hunt(task, emit)
    return run_shard(task, emit)
