"""The faithful model's weaknesses, each as a minimal scripted run: found on ``faithful``,
absent on ``fixed``, and removed by the fix flag that names it. Then the planted mutants,
each caught by a run on top of ``fixed``.

Runs act on the driver's topology: alice's tabs ``alice/0`` and ``alice/1`` (one browser,
one BroadcastChannel), bob's ``bob/0``, instances ``api-a`` and ``api-b``, pages loaded.
"""

from __future__ import annotations

from gatewaysim.models.broadcast import BroadcastConfig
from gatewaysim.properties.broadcast import PACK, TABS
from gatewaysim.properties.run import RunResult, RunSpec
from gatewaysim.properties.steps import Step


def create(tab: str, valid: bool = True) -> Step:
    return Step("create", {"tab": tab, "valid": valid})


def run(steps: list[Step], variant: str = "faithful", *, fixes: tuple[str, ...] | None = None,
        judge: str | None = None, seed: int = 0) -> RunResult:
    config = None if fixes is None else BroadcastConfig(fixes=frozenset(fixes))
    return RunSpec.of(PACK, steps, variant=variant, config=config, judge=judge,
                      seed=seed).execute()


def found(result: RunResult) -> str | None:
    return None if result.violation is None else result.violation.invariant_id


def home_of(tab: str, seed: int = 0) -> str:
    """The instance ``tab``'s socket landed on once the pages loaded (the balancer draws)."""
    driver = PACK.new_driver(PACK.config_of("faithful"), seed)
    t = driver.bw.tab(tab)
    assert t is not None
    where = driver.bw.instance_of(t.conn)
    assert where is not None
    return where


# --------------------------------------------------------------------------- W1
def test_client_reconnect_loses_an_invalidation() -> None:
    """bob's socket drops; alice saves an order while bob reconnects (1 s); Redis and the
    instance deliver the broadcast to nobody; bob resubscribes but never refetches."""
    steps = [Step("drop_socket", {"tab": "bob/0"}), create("alice/0")]
    faithful = run(steps)
    assert found(faithful) == "broadcast.invalidation-delivered"
    assert faithful.violation is not None and faithful.violation.message.startswith("bob/0")
    assert found(run(steps, judge="broadcast.converges")) == "broadcast.converges"
    assert found(run(steps, "fixed")) is None
    assert found(run(steps, fixes=("refetch_on_resubscribe",))) is None


def test_instance_bus_reconnect_loses_an_invalidation() -> None:
    """The Redis subscription of bob's instance drops; alice's order is published while it
    is away; Redis keeps nothing, so bob's instance never fans it out."""
    steps = [Step("drop_bus", {"instance": home_of("bob/0")}), create("alice/0")]
    faithful = run(steps)
    assert found(faithful) == "broadcast.invalidation-delivered"
    assert found(run(steps, judge="broadcast.converges")) == "broadcast.converges"
    assert found(run(steps, "fixed")) is None
    assert found(run(steps, fixes=("resync_after_bus_reconnect",))) is None
    # A client-side refetch on resubscribe cannot help: bob's socket never dropped.
    assert found(run(steps, fixes=("refetch_on_resubscribe",))) == (
        "broadcast.invalidation-delivered")


# --------------------------------------------------------------------------- W2
LATE_REFETCH = [create("bob/0", valid=False), Step("advance", {"ms": 34}), create("alice/0")]
"""bob's rejected order makes bob refetch (onSettled); the request goes through the slow
api-b path, reads before alice's commit, and is answered after the refetch alice's
broadcast triggered, so it overwrites the newer list."""


def test_late_refetch_overwrites_a_newer_broadcast() -> None:
    faithful = run(LATE_REFETCH)
    assert found(faithful) == "broadcast.monotonic-reads"
    assert faithful.violation is not None
    assert "bob/0 read alice-1 v1" in faithful.violation.message
    assert found(run(LATE_REFETCH, judge="broadcast.converges")) == "broadcast.converges"
    assert found(run(LATE_REFETCH, "fixed")) is None
    assert found(run(LATE_REFETCH, fixes=("versioned_cache",))) is None


# --------------------------------------------------------------------------- W3
def test_rejected_optimistic_write_survives_in_another_tab() -> None:
    steps = [create("alice/0", valid=False)]
    faithful = run(steps)
    assert found(faithful) == "broadcast.no-phantom"
    assert faithful.violation is not None and faithful.violation.message.startswith("alice/1")
    assert found(run(steps, "fixed")) is None
    assert found(run(steps, fixes=("rollback_broadcast",))) is None


def test_a_phantom_shown_again_is_an_aborted_read() -> None:
    """Mid-run, the same weakness: alice/1 re-renders with the rejected entry (G1a)."""
    steps = [create("alice/0", valid=False), Step("advance", {"ms": 2000}),
             create("alice/0", valid=False)]
    faithful = run(steps, judge="broadcast.history")
    assert faithful.violation is not None
    assert faithful.violation.message.startswith("alice/1")
    assert "aborted read" in faithful.violation.message
    assert found(run(steps, "fixed", judge="broadcast.history")) is None


# --------------------------------------------------------------------------- W4
def test_rollback_to_a_stale_snapshot_resurrects_a_rejected_write() -> None:
    """Two optimistic writes in one tab, both rejected: the second's rollback restores the
    snapshot taken while the first was still laid over the cache."""
    steps = [create("alice/0", valid=False), create("alice/0", valid=False)]
    faithful = run(steps, judge="broadcast.history")
    assert faithful.violation is not None
    assert faithful.violation.message.startswith("alice/0 ")
    assert "from alice:m1" in faithful.violation.message
    assert found(run(steps, "fixed", judge="broadcast.history")) is None
    assert found(run(steps, fixes=("versioned_cache",), judge="broadcast.history")) is None


# --------------------------------------------------------------------------- mutants
def test_mutant_no_resubscribe() -> None:
    steps = [Step("drop_socket", {"tab": "bob/0"})]
    assert found(run(steps, "fixed")) is None
    assert found(run(steps, "mutant:no_resubscribe")) == "broadcast.subscriptions-restored"


def test_mutant_no_rollback() -> None:
    steps = [create("alice/0", valid=False)]
    assert found(run(steps, "mutant:no_rollback")) == "broadcast.no-phantom"


def test_mutant_fanout_skips_last() -> None:
    """Whoever is the newest subscriber of an instance misses broadcasts; some creator's
    order is then lost to it, while ``fixed`` loses none."""
    caught = set()
    for tab in TABS:
        assert found(run([create(tab)], "fixed")) is None
        caught.add(found(run([create(tab)], "mutant:fanout_skips_last")))
    assert "broadcast.invalidation-delivered" in caught


def test_runs_replay_byte_for_byte() -> None:
    first, second = run(LATE_REFETCH), run(LATE_REFETCH)
    assert first.trace_sha256 == second.trace_sha256
    assert run(LATE_REFETCH, seed=1).trace_sha256 != first.trace_sha256
