"""The bug zoo: each planted bug of ``LumenizeConfig.MUTANTS`` and the monitor that catches it.

A mutant is planted on top of the ``fixed`` variant (variant ``mutant:<name>``), so the
real weaknesses, which ``fixed`` corrects, cannot mask it: whatever the exploration finds
is the planted bug. :func:`hunt` runs the Hypothesis machine until the first violation,
without shrinking, which is what "is it found, by what, and how fast" needs; the full
explorer (with shrinking and failure files) is ``gatewaysim explore lumenize --variant
mutant:<name>``.
"""

from __future__ import annotations

import time

from attrs import frozen
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from gatewaysim.simulator.rng import derive_seed

from ..machine import RunRecord, build_machine
from ..monitor import InvariantViolated
from ..profiles import profile_settings
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
}


@frozen
class Hunt:
    """How one search for a planted bug went."""

    variant: str
    invariant_id: str | None
    examples: int
    seconds: float
    steps: tuple[Step, ...] = ()


class _Counter:
    def __init__(self) -> None:
        self.examples = 0

    def example_started(self) -> None:
        self.examples += 1

    def example_finished(self, run: RunRecord) -> None:
        pass


def hunt(variant: str, max_examples: int, seed: int = 0, profile: str = "ci") -> Hunt:
    """Explore ``variant`` until the first violation (no shrinking); say which and when.

    Settings are ``profile``'s (``ci``: bounded, 15 steps a run, no database), seeded from
    ``seed`` and the variant's name, so the same call always runs the same examples.
    """
    counter = _Counter()
    machine = build_machine(PACK, PACK.config_of(variant), seed, variant=variant,
                            observer=counter)
    base = profile_settings(profile)
    # Seeded rather than derandomized: as repeatable (the seed is part of the call), but
    # a different seed is a different, equally repeatable, search.
    run_settings = settings(
        base, max_examples=max_examples, phases=(Phase.explicit, Phase.generate),
        report_multiple_bugs=False, database=None, deadline=None, derandomize=False,
        suppress_health_check=[*base.suppress_health_check, HealthCheck.too_slow,
                               HealthCheck.filter_too_much],
    )
    machine._hypothesis_internal_use_seed = derive_seed(seed, f"hunt {variant}")  # type: ignore[attr-defined]
    start = time.perf_counter()
    found, steps = None, ()
    try:
        run_state_machine_as_test(machine, settings=run_settings)
    except InvariantViolated as exc:
        found, steps = exc.violation.invariant_id, tuple(exc.steps)
    return Hunt(variant, found, counter.examples, time.perf_counter() - start, steps)
