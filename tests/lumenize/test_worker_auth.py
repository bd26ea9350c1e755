"""The Worker's upgrade checks (spec section 3) and the token service: cases 83, 84, 88 and
the access-gate part of 94, plus refresh-token rotation."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import frozen

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.auth import TokenService
from gatewaysim.models.lumenize.config import LumenizeConfig, preset
from gatewaysim.simulator.clock import SECOND, Time, s
from gatewaysim.simulator.messages import Effect, HttpFailed, HttpRequest, HttpResponse, Input
from gatewaysim.simulator.node import HostContext, Node
from gatewaysim.simulator.world import World

from .conftest import Bench, BenchFactory, claims_for


def _request(token: str | None, *, origin: str = p.DEFAULT_ORIGIN,
             instance: str = "alice.tab1") -> dict[str, Any]:
    protocols = ["lmz"] + ([p.TOKEN_PROTOCOL_PREFIX + token] if token is not None else [])
    return {"path": p.upgrade_path(p.DEFAULT_BINDING, instance),
            "headers": {"Upgrade": "websocket", "Origin": origin}, "protocols": protocols}


def _via_worker(bench: Bench, token: str | None, **kw: Any) -> tuple[str, Any]:
    conn = bench.open("alice", _request(token, **kw), to=p.WORKER)
    raw = bench.client()
    return conn, raw.rejected.get(conn) or ("open" if conn in raw.opened else None)


def _token(**extra: Any) -> str:
    return p.encode_token(claims_for("alice", 0, **extra))


def test_case83_evil_origin_is_403_and_allowed_origin_is_not(bench: Bench) -> None:
    _, outcome = _via_worker(bench, _token(), origin="https://evil.com")
    assert outcome == (403, "Forbidden: Origin not allowed")
    _, outcome = _via_worker(bench, _token())
    assert outcome == "open"


def test_case83_origin_is_checked_before_the_token(bench: Bench) -> None:
    _, outcome = _via_worker(bench, None, origin="https://evil.com")
    assert outcome[0] == 403


def test_case84_forged_jwt_is_401_and_no_token_is_401(bench: Bench) -> None:
    _, forged = _via_worker(bench, p.forge_token(claims_for("alice", 0)))
    _, missing = _via_worker(bench, None)
    assert forged == (401, "invalid_token")
    assert missing[0] == 401


def test_case88_on_before_connect_statuses(make_bench: BenchFactory) -> None:
    """No token 401; invalid 401; gate fails 403; wrong aud or iss 401; valid forwarded."""
    bench = make_bench()
    cases = {
        "no token": None,
        "invalid": "x.y.z",
        "gate": _token(adminApproved=False),
        "aud": _token(aud="https://other"),
        "iss": _token(iss="https://other"),
        "no sub": p.encode_token(claims_for(None, 0)),
    }
    statuses = {name: _via_worker(bench, token)[1][0] for name, token in cases.items()}
    assert statuses == {"no token": 401, "invalid": 401, "gate": 403, "aud": 401,
                        "iss": 401, "no sub": 401}
    conn, outcome = _via_worker(bench, _token())
    assert outcome == "open"
    forwarded = next(r for r in bench.world.trace.records
                 if r.type == "ForwardConnection" and r.data["conn"] == conn)
    headers = forwarded.data["request"]["headers"]
    assert headers["Authorization"] == "Bearer " + _token()
    assert headers[p.INSTANCE_HEADER] == "alice.tab1"
    assert headers[p.BINDING_HEADER] == p.DEFAULT_BINDING
    assert forwarded.data["to"] == "gateway/alice.tab1"


def test_case88_expired_token_is_401_at_the_worker(bench: Bench) -> None:
    """The Worker checks exp (section 3), unlike the gateway's upgrade (section 1.1)."""
    bench.run(s(100))
    _, outcome = _via_worker(bench, p.encode_token(claims_for("alice", 0, ttl_s=50)))
    assert outcome == (401, "invalid_token")


def test_case88_rate_limit_per_sub_is_429(make_bench: BenchFactory) -> None:
    bench = make_bench(rate_limit_per_minute=2)
    outcomes = [_via_worker(bench, _token())[1] for _ in range(3)]
    assert [o if o == "open" else o[0] for o in outcomes] == ["open", "open", 429]
    bench.run(s(61))
    assert _via_worker(bench, _token())[1] == "open"


def test_case88_checks_run_in_section_3_order(make_bench: BenchFactory) -> None:
    """Signature and claims (401) before the access gate (403) before the rate limit (429)."""
    bench = make_bench(rate_limit_per_minute=1)
    forged = p.forge_token(claims_for("alice", 0, adminApproved=False))
    assert _via_worker(bench, forged)[1][0] == 401
    assert _via_worker(bench, _token(aud="https://other", adminApproved=False))[1][0] == 401
    assert _via_worker(bench, _token())[1] == "open"  # uses alice's one upgrade
    assert _via_worker(bench, _token(adminApproved=False))[1][0] == 403
    assert _via_worker(bench, _token())[1][0] == 429


def test_case88_rate_limit_is_off_by_default(bench: Bench) -> None:
    assert all(_via_worker(bench, _token())[1] == "open" for _ in range(5))


@pytest.mark.parametrize("claims", [{"adminApproved": False}, {"emailVerified": False}])
def test_case94_access_gate_rejects_with_403_not_401(bench: Bench, claims: dict) -> None:
    """Case 94: the resilience task expects 401; the code returns 403."""
    _, outcome = _via_worker(bench, _token(**claims))
    assert outcome == (403, "Account not yet approved")


def test_case94_admin_passes_the_gate_without_approval(bench: Bench) -> None:
    _, outcome = _via_worker(bench, _token(isAdmin=True, adminApproved=False,
                                           emailVerified=False))
    assert outcome == "open"


def test_worker_rejects_unknown_paths(bench: Bench) -> None:
    request = {**_request(_token()), "path": "/elsewhere"}
    conn = bench.open("alice", request, to=p.WORKER)
    assert bench.client().rejected[conn][0] == 404


# ---------------------------------------------------------------------- token service
@frozen
class DoRefresh(Input):
    cookie: str | None


class Refresher(Node):
    """Posts to ``/auth/refresh-token`` with the cookie it is given; records answers."""

    def __init__(self, ctx: HostContext) -> None:
        super().__init__(ctx)
        self.answers: list[tuple[Time, int, Any]] = []

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case DoRefresh(cookie=cookie):
                headers = {} if cookie is None else {"Cookie": cookie}
                req = f"{self.address}:r{len(self.answers)}:{now}"
                return [HttpRequest(req, p.AUTH, "POST", p.REFRESH_PATH, headers)]
            case HttpResponse(status=status, body=body):
                self.answers.append((now, status, body))
            case HttpFailed(reason=reason):
                self.answers.append((now, 0, reason))
        return []


def _auth_world(config: LumenizeConfig | None = None,
                users: dict | None = None) -> tuple[World, Refresher]:
    config = config or preset("faithful")
    world = World(3)
    world.add_host(p.AUTH, lambda ctx: TokenService(
        ctx, config, users or {"alice": {"isAdmin": True}}, {"rt0.alice": "alice"}))
    world.add_host("tab", Refresher)
    return world, world.node("tab")


def _refresh(world: World, cookie: str | None) -> tuple[int, Any]:
    world.inject("tab", DoRefresh(cookie))
    world.run_for(s(1))
    _, status, body = world.node("tab").answers[-1]
    return status, body


def test_refresh_mints_an_access_token_with_the_default_ttl_and_claims() -> None:
    world, _ = _auth_world()
    status, body = _refresh(world, "rt0.alice")
    assert status == 200
    claims = p.verify_token(body["access_token"])
    now_s = world.now // SECOND
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iat"] <= now_s
    assert claims["iss"] == claims["aud"] == "https://lumenize.local"
    assert claims["emailVerified"] is True and claims["adminApproved"] is True
    assert claims["isAdmin"] is True  # the per-user override


def test_refresh_tokens_rotate_and_a_replayed_one_is_401() -> None:
    world, _ = _auth_world()
    _, body = _refresh(world, "rt0.alice")
    rotated = body["refresh_token"]
    assert rotated != "rt0.alice"
    assert _refresh(world, "rt0.alice")[0] == 401  # revoked on first use
    assert _refresh(world, rotated)[0] == 200
    assert _refresh(world, None)[0] == 401
    assert _refresh(world, "never-issued")[0] == 401


def test_refresh_token_expires_after_refresh_ttl() -> None:
    world, _ = _auth_world(preset("faithful", refresh_ttl_s=10))
    world.run_for(s(11))
    assert _refresh(world, "rt0.alice")[0] == 401


def test_refresh_tokens_survive_a_crash_of_the_token_service() -> None:
    world, _ = _auth_world()
    _, body = _refresh(world, "rt0.alice")
    world.crash(p.AUTH)
    status, reason = _refresh(world, body["refresh_token"])
    assert status == 0 and "refused" in reason  # down: HttpFailed
    world.restart(p.AUTH)
    assert _refresh(world, body["refresh_token"])[0] == 200


def test_auth_modes_reject_error_and_expired_tokens() -> None:
    world, _ = _auth_world()
    world.inject(p.AUTH, p.AuthMode("reject"))
    assert _refresh(world, "rt0.alice")[0] == 401
    world.inject(p.AUTH, p.AuthMode("error"))
    assert _refresh(world, "rt0.alice")[0] == 503
    world.inject(p.AUTH, p.AuthMode("expired_tokens"))
    status, body = _refresh(world, "rt0.alice")  # the cookie was not used up above
    assert status == 200
    assert p.is_expired(p.decode_token(body["access_token"])["exp"], world.now)


def test_set_token_ttl_and_user_claims_apply_to_later_tokens() -> None:
    world, _ = _auth_world()
    world.inject(p.AUTH, p.SetTokenTtl(2))
    world.inject(p.AUTH, p.SetUserClaims("alice", {"adminApproved": False}))
    _, body = _refresh(world, "rt0.alice")
    claims = p.decode_token(body["access_token"])
    assert claims["exp"] - claims["iat"] == 2
    assert claims["adminApproved"] is False


def test_token_service_is_deterministic_per_seed() -> None:
    tokens = []
    for _ in range(2):
        world, _ = _auth_world()
        tokens.append(_refresh(world, "rt0.alice")[1]["refresh_token"])
    assert tokens[0] == tokens[1]
