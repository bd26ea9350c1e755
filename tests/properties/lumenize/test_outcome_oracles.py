"""The outcome oracles on runs where they must hold, and that they judge something there:
every probe gets its documented answer, faithful's reconnect delays are the policy's own,
and a call made on a clean socket returns its result. (That each catches its planted bug,
and only it does, is in ``test_bugzoo``.)"""

from __future__ import annotations

import pytest

from gatewaysim.models.lumenize.prober import PROBER, PROBES
from gatewaysim.properties.lumenize import PACK
from gatewaysim.properties.lumenize.monitors import DOCUMENTED_ANSWERS
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.clock import SECOND

ADVANCE = Step("advance", {"ms": 500})
ANSWERS = ("WsRejected", "WsOpened", "HttpResponse")


def _notes(records: list, event: str, actor: str | None = None) -> list[dict]:
    return [r.data["data"] for r in records if r.type == "Note" and r.data["event"] == event
            and (actor is None or r.actor == actor)]


def test_every_malformed_request_has_a_documented_answer() -> None:
    assert set(DOCUMENTED_ANSWERS) | {"refresh", "replay_refresh"} == set(PROBES)


@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_every_probe_is_answered_as_documented(variant: str) -> None:
    steps = [ADVANCE, *(Step("probe", {"kind": k}) for k in sorted(DOCUMENTED_ANSWERS)),
             ADVANCE, Step("probe", {"kind": "refresh"}), ADVANCE,
             Step("probe", {"kind": "replay_refresh"}), ADVANCE]
    result = RunSpec.of(PACK, steps, variant=variant).execute(keep_records=True)
    assert result.violation is None, result.violation
    records = result.trace.records
    sent = {d["id"]: d["kind"] for d in _notes(records, "probe.sent", PROBER)}
    answered = {r.data.get("conn", r.data.get("req")): r for r in records
                if r.actor == PROBER and r.type in ANSWERS}
    assert set(sent.values()) == set(PROBES)  # every kind went out...
    assert set(answered) == set(sent)  # ...and every one was answered, so was judged
    statuses = {sent[key]: rec.data["status"] for key, rec in answered.items()}
    assert statuses["replay_refresh"] == 401 and statuses["refresh"] == 200
    assert not any(rec.type == "WsOpened" for rec in answered.values())


def test_faithful_reconnect_delays_are_the_policy_for_every_attempt() -> None:
    """A tab offline for four minutes runs through the whole schedule, cap included, and
    the oracle, judging each delay exactly, finds faithful's delays are the policy's."""
    steps = [Step("advance", {"ms": 1000}), Step("partition", {"client": 0}),
             Step("drop", {"client": 0}), Step("wait", {"minutes": 4})]
    result = RunSpec.of(PACK, steps, variant="faithful",
                        judge="lumenize.reconnect_delays_bounded").execute(keep_records=True)
    assert result.violation is None
    delays = [d["delay"] for d in _notes(result.trace.records, "reconnect.scheduled",
                                         "client/u0.t1")]
    assert delays[:7] == [s * SECOND for s in (1, 2, 4, 8, 16, 30, 30)]


@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_calls_on_a_clean_socket_return_the_callees_result(variant: str) -> None:
    steps = [Step("advance", {"ms": 1000}), Step("client_call", {"client": 1, "awaited": True}),
             Step("call_client", {"client": 2}), Step("advance", {"ms": 1000})]
    result = RunSpec.of(PACK, steps, variant=variant).execute(keep_records=True)
    assert result.violation is None
    records = result.trace.records
    settled = [d for d in _notes(records, "call.settled", "client/u1.t1")
               if d["tag"].startswith("await:")]
    assert settled and settled[0]["value"] == f"worker-echo: {settled[0]['tag']}"
    (ping,) = _notes(records, "mesh_call.result", "node/main")
    assert ping["ok"] and ping["value"] == ping["tag"]
