"""The token service at host ``"auth"``: rotating refresh tokens, short access tokens.

``POST /auth/refresh-token`` with the refresh token as its cookie (spec section 3, token
lifetimes). Each use revokes the presented refresh token and issues a new one, so a
replayed cookie gets 401; a missing, revoked or expired cookie gets 401 too. Access tokens
last ``config.access_ttl_s`` (900 s) and carry ``sub, iss, aud, exp, iat, emailVerified,
adminApproved`` plus per-user overrides.

Refresh tokens live in durable storage, so ``world.crash("auth")`` then ``restart`` does
not log everybody out. The fault modes (``AuthMode``, ``SetTokenTtl``) are process
settings and reset on a restart; per-user claims (``SetUserClaims``) are durable.
"""

from __future__ import annotations

from typing import Any

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    Effect,
    HttpRequestReceived,
    HttpRespond,
    Input,
    Note,
    Start,
    StorageDelete,
    StoragePut,
)
from gatewaysim.simulator.node import HostContext, Node

from . import protocol as p
from .config import LumenizeConfig

MODES = ("ok", "reject", "forbidden", "expired_tokens", "error")
REFRESH_KEY = "refresh:"  # refresh:<token> -> {"sub", "exp"}
CLAIMS_KEY = "claims:"  # claims:<sub> -> overrides set by SetUserClaims
SEEDED_KEY = "seeded"
INVALID_REFRESH = "Refresh token expired or invalid"
ACCOUNT_FORBIDDEN = "Account disabled"


class TokenService(Node):
    """Mints access tokens from rotating refresh tokens; faults come as inputs.

    Modes: ``ok``; ``reject`` answers every refresh 401; ``forbidden`` answers 403 (an
    account the service refuses, which the client also takes for "log in again": spec
    2.3, "URL refresh: 401/403"); ``expired_tokens`` mints access
    tokens whose ``exp`` is already past (the "refresh mints expired tokens" loop of
    section 6); ``error`` answers 503. "Down" is ``world.crash("auth")``, "slow" is
    ``world.slow_link``.
    """

    def __init__(self, ctx: HostContext, config: LumenizeConfig, users: dict[str, dict],
                 refresh_tokens: dict[str, str]) -> None:
        super().__init__(ctx)
        self.config = config
        self.users = {sub: dict(claims) for sub, claims in sorted(users.items())}
        self.initial_tokens = dict(sorted(refresh_tokens.items()))
        self.mode = "ok"
        self.ttl_s = config.access_ttl_s
        self.issued = 0
        self.refused = 0
        self.revoked: set[str] = set()  # only the revocation_in_memory mutant uses it

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start():
                return self._seed(now)
            case p.AuthMode(mode=mode):
                if mode not in MODES:
                    raise ValueError(f"unknown auth mode {mode!r} (choose from {MODES})")
                self.mode = mode
                return [Note("auth.mode", {"mode": mode})]
            case p.SetTokenTtl(ttl_s=ttl_s):
                self.ttl_s = ttl_s
                return [Note("auth.ttl", {"ttl_s": ttl_s})]
            case p.GrantRefreshToken(token=token, sub=sub):
                exp = p.now_seconds(now) + self.config.refresh_ttl_s
                return [StoragePut(REFRESH_KEY + token, {"sub": sub, "exp": exp})]
            case p.SetUserClaims(sub=sub, claims=claims):
                merged = {**(self.ctx.storage.get(CLAIMS_KEY + sub) or {}), **claims}
                return [StoragePut(CLAIMS_KEY + sub, merged),
                        Note("auth.claims", {"sub": sub, "claims": merged})]
            case HttpRequestReceived(req=req, method="POST", path=p.REFRESH_PATH,
                                     headers=headers):
                return self._refresh(now, req, p.header(headers, "Cookie"))
            case HttpRequestReceived(req=req):
                return [HttpRespond(req, 404, {"error": "Not Found"})]
        return []

    def _seed(self, now: Time) -> list[Effect]:
        """Store the initial refresh tokens once; a restart finds them already there."""
        if self.ctx.storage.get(SEEDED_KEY):
            return []
        exp = p.now_seconds(now) + self.config.refresh_ttl_s
        return [*(StoragePut(REFRESH_KEY + token, {"sub": sub, "exp": exp})
                  for token, sub in self.initial_tokens.items()),
                StoragePut(SEEDED_KEY, True)]

    def claims_for(self, sub: str, now: Time) -> dict[str, Any]:
        """The access-token payload ``sub`` gets now (defaults, then user overrides)."""
        now_s = p.now_seconds(now)
        exp = now_s - 60 if self.mode == "expired_tokens" else now_s + self.ttl_s
        return {"sub": sub, "iss": p.ISSUER, "aud": p.AUDIENCE, "iat": now_s, "exp": exp,
                "emailVerified": True, "adminApproved": True, **self.users.get(sub, {}),
                **(self.ctx.storage.get(CLAIMS_KEY + sub) or {})}

    def _refuse(self, req: str, status: int, why: str) -> list[Effect]:
        self.refused += 1
        return [HttpRespond(req, status, {"error": why}),
                Note("refresh", {"status": status, "why": why})]

    def _refresh(self, now: Time, req: str, cookie: Any) -> list[Effect]:
        if self.mode == "error":
            if self.config.mutant("error_mode_answers_401"):
                return self._refuse(req, 401, INVALID_REFRESH)
            return self._refuse(req, 503, "Service Unavailable")
        if self.mode == "forbidden":
            return self._refuse(req, 403, ACCOUNT_FORBIDDEN)
        if self.mode == "reject" or not cookie:
            return self._refuse(req, 401, INVALID_REFRESH)
        row = self.ctx.storage.get(REFRESH_KEY + str(cookie))
        if row is None or str(cookie) in self.revoked:
            if self.config.mutant("revoked_refresh_answered_500"):
                return self._refuse(req, 500, "Internal Server Error")
            return self._refuse(req, 401, INVALID_REFRESH)
        effects: list[Effect] = [StorageDelete(REFRESH_KEY + str(cookie))]  # rotate: revoke
        if self.config.mutant("revocation_in_memory"):
            # The planted bug: the revocation lives in memory, and a restart forgets it.
            self.revoked.add(str(cookie))
            effects = []
        if p.now_seconds(now) > row["exp"]:
            return effects + self._refuse(req, 401, INVALID_REFRESH)
        sub = row["sub"]
        rotated = f"rt.{sub}.{self.ctx.rng.getrandbits(48):012x}"
        claims = self.claims_for(sub, now)
        if not self.config.mutant("issued_not_counted"):
            self.issued += 1
        return [*effects,
                StoragePut(REFRESH_KEY + rotated,
                           {"sub": sub, "exp": p.now_seconds(now) + self.config.refresh_ttl_s}),
                HttpRespond(req, 200, {"access_token": p.encode_token(claims),
                                       "refresh_token": rotated}),
                Note("refresh", {"status": 200, "sub": sub, "exp": claims["exp"]})]

    def statistics(self) -> dict[str, Any]:
        live = sorted(k.removeprefix(REFRESH_KEY) for k in self.ctx.storage
                      if k.startswith(REFRESH_KEY))
        return {"mode": self.mode, "ttl_s": self.ttl_s, "issued": self.issued,
                "refused": self.refused, "live_refresh_tokens": len(live)}

    def __repr__(self) -> str:
        return f"TokenService({self.address!r}, mode={self.mode!r})"
