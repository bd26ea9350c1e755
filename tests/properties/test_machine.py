"""The generated state machine: swarm subsets are honoured, invariants are distinct bugs,
muted invariants stay quiet, and runs execute the way replay executes them."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from gatewaysim.properties.echo import PACK
from gatewaysim.properties.execution import check_all, only
from gatewaysim.properties.machine import RunRecord, build_machine, fault_kinds
from gatewaysim.properties.monitor import Monitor, violation_error
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.trace import TraceRecord

SETTINGS = settings(max_examples=40, stateful_step_count=12, derandomize=True, database=None,
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Recorder:
    def __init__(self) -> None:
        self.runs: list[RunRecord] = []

    def example_started(self) -> None:
        pass

    def example_finished(self, run: RunRecord) -> None:
        self.runs.append(run)


def test_swarm_subset_is_honoured() -> None:
    recorder = Recorder()
    machine = build_machine(PACK, PACK.config_of("faithful"), 0, observer=recorder)
    run_state_machine_as_test(machine, settings=SETTINGS)
    kinds = PACK.driver.step_kinds
    faults_seen = set()
    for run in recorder.runs:
        for step in run.steps:
            fault = kinds[step.name].fault
            assert fault is None or fault in run.enabled, (run.enabled, step)
            faults_seen.add(fault)
    subsets = {run.enabled for run in recorder.runs}
    # Not vacuous: the runs used several different subsets, and faults did happen.
    assert len(subsets) > 2
    assert faults_seen - {None}
    assert all(s <= set(fault_kinds(PACK)) for s in subsets)


def test_each_invariant_has_its_own_exception_class() -> None:
    order, reconnects = violation_error("echo.order"), violation_error("echo.reconnects")
    assert order is not reconnects
    assert order is violation_error("echo.order")
    assert issubclass(order, AssertionError) and order.__name__ == "EchoOrderViolated"


def test_muted_invariants_are_not_reported() -> None:
    machine = build_machine(PACK, PACK.config_of("buggy"), 0,
                            muted=("echo.order", "echo.reconnects"))
    run_state_machine_as_test(machine, settings=SETTINGS)  # raises if anything is reported


_OBSERVED: list[str] = []


class _Spy(Monitor):
    """Notes, across its fresh copies, every record it is handed."""

    def observe(self, record: TraceRecord) -> None:
        _OBSERVED.append(record.type)


def test_muted_invariants_observe_nothing_not_even_while_the_world_is_built() -> None:
    spy = _Spy("t.spy", "watches", "safety")
    pack = attrs.evolve(PACK, monitors=(*PACK.monitors, spy))
    _OBSERVED.clear()
    build_machine(pack, pack.config_of("faithful"), 0)().teardown()
    assert "Start" in _OBSERVED  # unmuted, it saw the world boot
    _OBSERVED.clear()
    instance = build_machine(pack, pack.config_of("faithful"), 0, muted=["t.spy"])()
    assert instance.driver.trace.count > 0 and _OBSERVED == []
    instance.teardown()


def test_unmuted_buggy_machine_fails_with_an_invariant_exception() -> None:
    machine = build_machine(PACK, PACK.config_of("mutant:duplicate_after_restart"), 0)
    with pytest.raises(violation_error("echo.order")) as caught:
        run_state_machine_as_test(machine, settings=settings(
            SETTINGS, max_examples=2000, phases=[Phase.generate]))
    assert caught.value.violation.invariant_id == "echo.order"
    assert caught.value.steps and all(isinstance(s, Step) for s in caught.value.steps)


GIVE_UP_RUN = [step for _ in range(4)
               for step in (Step("drop"), Step("advance", {"ms": 3000}))]


def test_give_up_client_stops_reconnecting() -> None:
    violation = RunSpec.of(PACK, GIVE_UP_RUN, variant="mutant:give_up").execute().violation
    assert violation is not None and violation.invariant_id == "echo.reconnects"
    assert "given up" in violation.message


def test_faithful_client_reconnects_after_the_same_run() -> None:
    assert RunSpec.of(PACK, GIVE_UP_RUN).execute().violation is None


def test_only_checks_the_named_invariant() -> None:
    run = [Step("crash"), Step("restart"), Step("advance", {"ms": 5000}), *GIVE_UP_RUN]
    spec = RunSpec.of(PACK, run, variant="buggy")
    first = spec.execute(checked=check_all).violation
    assert first is not None and first.invariant_id == "echo.order"
    later = spec.execute(checked=only("echo.reconnects")).violation
    assert later is not None and later.invariant_id == "echo.reconnects"


def test_same_run_same_trace_hash() -> None:
    spec = RunSpec.of(PACK, GIVE_UP_RUN, seed=7)
    hashes = {spec.execute().trace_sha256 for _ in range(2)}
    assert len(hashes) == 1
    # The header carries pack, variant and config, so the hash covers the configuration.
    assert spec.under("buggy").execute().trace_sha256 not in hashes


def test_an_exception_from_judging_replays_as_it_was_found(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Statistics are read by monitors when judged; a driver whose statistics raise fails
    ``no-exception`` in a run judging everything, and the replay of that failure (which
    checks ``no-exception`` alone) must judge the monitors as well to see it again."""
    def broken(self: object) -> object:
        raise RuntimeError("statistics read a field the model no longer has")

    monkeypatch.setattr(type(PACK.new_driver(PACK.config_of("faithful"), 0)), "statistics",
                        broken)
    spec = RunSpec.of(PACK, GIVE_UP_RUN)
    found = spec.execute(checked=check_all).violation
    assert found is not None and found.invariant_id == "no-exception"
    assert "no longer has" in found.message
    assert spec.execute(checked=only("no-exception")).violation == found
