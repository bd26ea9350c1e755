"""Exploration finds the faithful client's real bugs, and nothing on the fixed one."""

from __future__ import annotations

import pytest

from gatewaysim.properties.explorer import explore
from gatewaysim.properties.restart import PACK
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step

A = {"client": "api"}

MINIMAL = {
    # one reconnection through the loop, then a kill: the reconnect socket's close is ignored
    "restart.reconnects": [Step("reconnect_ws", A), Step("advance", {"ms": 1012}),
                           Step("sigkill")],
    # destroy() during an outage: the loop's pending check opens a socket for a dead client
    "restart.destroy_is_final": [Step("sigkill"), Step("advance", {"ms": 1}),
                                 Step("destroy")],
    # 82 s of outage; the server is back (settle) 1.7 s before attempt 10, between two polls
    "restart.failure_is_real": [Step("sigkill"), Step("advance", {"ms": 82_001})],
    # a prompt running when the reconnected client's server is killed is never reported
    "restart.prompt_accounted": [
        Step("sigterm"), Step("advance", {"ms": 500}), Step("start"),
        Step("advance", {"ms": 5000}), Step("submit_prompt", A), Step("advance", {"ms": 300}),
        Step("sigkill"), Step("advance", {"ms": 500}), Step("start")],
}


@pytest.mark.parametrize("invariant", sorted(MINIMAL))
def test_minimal_run_violates_on_faithful_and_not_on_fixed(invariant):
    spec = RunSpec.of(PACK, MINIMAL[invariant], variant="faithful", judge=invariant)
    assert spec.execute().violation.invariant_id == invariant
    assert spec.under("fixed").execute().violation is None


def test_planted_silent_server_breaks_status_after_reconnect():
    steps = [Step("sigkill"), Step("start"), Step("advance", {"ms": 10_000})]
    spec = RunSpec.of(PACK, steps, variant="mutant:silent_after_restart",
                      judge="restart.status_after_reconnect")
    assert spec.execute().violation.invariant_id == "restart.status_after_reconnect"
    assert spec.under("fixed").execute().violation is None


def test_exploration_finds_the_faithful_bugs_and_none_when_fixed(tmp_path):
    faithful = explore(PACK, "faithful", max_examples=200, profile="ci", budget_s=600,
                       out_dir=tmp_path / "faithful", progress=None)
    found = {f.invariant_id for f in faithful.findings}
    # 200 examples in all: the campaign finds the two bugs that need one outage; the others
    # (destroy during an outage, a prompt on a reconnected socket) have the minimal runs above
    assert {"restart.reconnects", "restart.failure_is_real"} <= found
    assert found <= set(MINIMAL)
    assert faithful.unreached == ()
    fixed = explore(PACK, "fixed", max_examples=200, profile="ci", budget_s=600,
                    out_dir=tmp_path / "fixed", progress=None)
    assert fixed.findings == ()
    assert fixed.unreached == ()  # a client reconnected, a loop gave up: the faults bit
    covered = dict(fixed.coverage)
    assert sum(n for label, n in covered.items() if label.startswith("SIGKILL")) > 20
    assert sum(n for label, n in covered.items() if label.startswith("SIGTERM")) > 20
    assert sum(n for label, n in covered.items() if label.startswith("restart while")) > 20
