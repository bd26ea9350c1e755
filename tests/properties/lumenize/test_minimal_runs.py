"""The real weaknesses of the faithful model, each on a minimal run: violated under
``faithful``, holding under ``fixed``. Fast and deterministic; the exploration that finds
these runs on its own is in ``test_findings``."""

from __future__ import annotations

import pytest

from gatewaysim.properties.lumenize import PACK
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step

RUNS: dict[str, list[Step]] = {
    # A second tab shares the instanceName: the two supersede each other about once a second.
    "lumenize.no_pingpong": [Step("open_tab", {"client": 0})],
    # The refresh at first connect already mints an unapproved token: 403, retried forever.
    "lumenize.rejected_upgrade_stops": [Step("revoke", {"client": 0})],
    # Every socket dropped at once: every client back after exactly 1 s.
    "lumenize.herd_dispersed": [Step("advance", {"ms": 100}), Step("herd")],
    # The call's socket dies before the reply: nobody ever settles it.
    "lumenize.client_calls_settle": [
        Step("advance", {"ms": 100}), Step("client_call", {"client": 0, "awaited": True}),
        Step("drop", {"client": 0})],
    # Tokens expire on connected clients; the fan-out fails "Client token expired", drops
    # every row, and the clients come back within grace, told subscriptionRequired: false.
    "lumenize.subscribed_in_rows": [Step("wait", {"minutes": 16}), Step("broadcast")],
    # Access tokens expire while the token service is down: the broadcast's fan-out closes
    # every socket 4401, the refresh fails (service down) and the client treats any failure
    # there as terminal: logged out for good, although the service is back a moment later.
    "lumenize.one_connected": [
        Step("advance", {"ms": 1}), Step("wait", {"minutes": 15}), Step("auth_down", {}),
        Step("broadcast", {}), Step("wait", {"minutes": 1})],
    # The first connect fails (token service down), and two wake-ups a minute later each
    # start a first-connect attempt that calls refreshToken() directly: two refreshes
    # present the same rotating cookie.
    "lumenize.single_flight_refresh": [
        Step("auth_down", {}), Step("wait", {"minutes": 1}),
        Step("wake", {"client": 0, "kind": "online"}),
        Step("wake", {"client": 0, "kind": "online"})],
    # The gateway crashes during grace; the client returns within grace and is told its
    # state survived, although fan-outs sent while the gateway was down were lost.
    "lumenize.subscription_required": [
        Step("advance", {"ms": 100}), Step("drop", {"client": 0}), Step("advance", {"ms": 100}),
        Step("crash_gateway", {"client": 0}), Step("advance", {"ms": 2000})],
}


@pytest.mark.parametrize("invariant_id", sorted(RUNS))
def test_minimal_run_violates_faithful_and_holds_in_fixed(invariant_id: str) -> None:
    spec = RunSpec.of(PACK, RUNS[invariant_id], variant="faithful")
    found = spec.execute().violation
    assert found is not None and found.invariant_id == invariant_id, found
    assert spec.under("fixed").judged_by(invariant_id).execute().violation is None
    assert spec.under("fixed").execute().violation is None


#: Found by lumenize.document_converges on the fixed model before it had the fix: tab A's
#: socket drops, a second tab B sharing its instanceName connects within A's grace and is
#: told subscriptionRequired: false, the update goes to B, and A comes back, supersedes B,
#: and is told false too: A keeps version 0 for good. Faithful's ping-pong hides it (every
#: takeover there is followed by another), so it shows once superseded_client_stays_down
#: is on.
TAKEOVER = [Step("advance", {"ms": 1000}), Step("drop", {"client": 0}),
            Step("open_tab", {"client": 0}), Step("broadcast", {}),
            Step("advance", {"ms": 2000})]


def test_takeover_by_another_tab_is_found_without_its_fix_and_fixed_with_it() -> None:
    without = PACK.config_of("fixed")
    without = type(without)(fixes=without.fixes - {"takeover_requires_resubscribe"})
    spec = RunSpec.of(PACK, TAKEOVER, variant="fixed", config=without)
    found = spec.execute().violation
    assert found is not None and found.invariant_id == "lumenize.document_converges", found
    assert "holds version (0, '')" in found.message
    assert RunSpec.of(PACK, TAKEOVER, variant="fixed").execute().violation is None


def test_same_seed_same_trace_hash() -> None:
    spec = RunSpec.of(PACK, RUNS["lumenize.client_calls_settle"], variant="faithful", seed=7)
    hashes = {spec.execute().trace_sha256 for _ in range(2)}
    assert len(hashes) == 1


def test_herd_check_leaves_out_tabs_the_user_woke() -> None:
    """Wake-ups fired at one instant after a gateway-wide drop reconnect at once by design
    (reconnectNow); the herd invariant judges the backoff schedule, so fixed passes, while
    faithful's lockstep without wake-ups still fails."""
    herd = [Step("advance", {"ms": 100}), Step("herd", {}), Step("advance", {"ms": 50})]
    wakes = [Step("wake", {"client": i, "kind": "online"}) for i in range(4)]
    fixed = RunSpec.of(PACK, herd + wakes, variant="fixed").execute().violation
    assert fixed is None, fixed
    settle = Step("advance", {"ms": 2000})
    lockstep = RunSpec.of(PACK, [*herd, settle], variant="faithful").execute().violation
    assert lockstep is not None and lockstep.invariant_id == "lumenize.herd_dispersed"
