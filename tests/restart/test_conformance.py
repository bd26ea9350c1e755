"""How a simulated and a real run of a restart script are compared (no sockets needed)."""

from __future__ import annotations

from gatewaysim.models.restart.script import ClientLog, Verdict
from gatewaysim.real.conformance import compare, user_view


def log(closes: list[tuple[str, int]], opened: list[str]) -> ClientLog:
    return ClientLog(closes=[(i * 1000, conn, code) for i, (conn, code) in enumerate(closes)],
                     opened=opened)


def test_each_run_of_failed_attempts_counts_once():
    seen = log([("ws1", 1000), ("ws2", 0), ("ws3", 0), ("ws4", 0), ("ws5", 1000)],
               ["ws1", "ws5"])
    assert user_view(seen, []).close_codes == (1000, 0, 1000)


def test_an_attempt_replaced_while_connecting_is_a_failed_attempt():
    # reconnectWs() ends an attempt still connecting: 1006 for real, where the simulated
    # attempt was refused a millisecond earlier
    real = log([("ws1", 1000), ("ws2", 0), ("ws4", 1006), ("ws5", 1000)], ["ws1", "ws5"])
    sim = log([("ws1", 1000), ("ws2", 0), ("ws4", 0), ("ws5", 1000)], ["ws1", "ws5"])
    assert user_view(real, []).close_codes == user_view(sim, []).close_codes == (1000, 0, 1000)
    assert compare({"api": sim}, [], {"api": real}, [], [], [], 150) == []


def test_an_opened_socket_keeps_its_close_code():
    # a drop of an open socket (1006) is what the user sees, and differs from a clean close
    real = log([("ws1", 1006)], ["ws1"])
    sim = log([("ws1", 1000)], ["ws1"])
    differences = compare({"api": sim}, [], {"api": real}, [], [], [], 150)
    assert [(d.what, d.simulated, d.real) for d in differences] == [
        ("close_codes", (1000,), (1006,))]


def test_verdicts_are_compared_by_label():
    held = Verdict("connected", None, True, True)  # type: ignore[arg-type]
    failed = Verdict("connected", None, False, False)  # type: ignore[arg-type]
    differences = compare({}, [], {}, [], [held], [failed], 150)
    assert [d.what for d in differences] == ["connected"]
