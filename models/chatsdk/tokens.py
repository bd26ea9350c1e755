"""The document's ``TokenManager`` (Day 2), as it runs.

* ``setTokens`` schedules a refresh ``refresh_lead`` (5 min) before expiry, at once if less
  is left (``Math.max(0, ...)``). A server that issues tokens of 5 minutes or less therefore
  gets a refresh storm: each new token is refreshed at once (fix ``refresh_lead_capped``).
* ``getValidToken`` returns the access token while more than ``token_buffer`` (60 s) is
  left, otherwise refreshes.
* ``refreshToken`` is single-flight: callers that arrive during a refresh wait for it.
* ``performRefresh`` POSTs the refresh token; a non-OK answer throws ``Token refresh
  failed``, a network error throws too. The new refresh token is ``data.refreshToken ||
  old`` (rotation if the server rotates).
* The scheduled refresh only logs a failure (``console.error``); nothing retries it. Fix
  ``refresh_retry`` retries with backoff.

What the app does when the refresh token itself is refused (401) is not in the document; the
modelled app logs the user out and has them sign in again after ``relogin_delay``. A logout
while the auth service is up is what the ``no_logout`` invariant counts.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import define, field, frozen

from gatewaysim.simulator.clock import Time

from .config import ChatConfig
from .protocol import API, JSON, REFRESH
from .runtime import Effects, Runtime

TokenDone = Callable[[Time, "str | None", "str | None"], Effects]
"""``(now, token, error)``: the promise of a token settles with one or the other."""

NO_TOKENS = "No tokens available"
REFRESH_FAILED = "Token refresh failed"
REFRESH_TIMER = "token.refresh"
RETRY_TIMER = "token.refresh_retry"


@frozen
class Tokens:
    access: str
    refresh: str
    expires_at: Time


@define(eq=False)
class Flight:
    """One refresh request and everybody awaiting it (``refreshPromise``)."""

    n: int
    waiters: list[TokenDone] = field(factory=list)


class TokenManager:
    def __init__(self, rt: Runtime, config: ChatConfig,
                 on_logout: Callable[[Time], Effects]) -> None:
        self.rt = rt
        self.config = config
        self.on_logout = on_logout
        self.tokens: Tokens | None = None
        self.flight: Flight | None = None
        self.in_flight = 0  # refresh requests on the wire (1 at most unless a mutant)
        self._flights = 0
        self.retries = 0  # refresh_retry: consecutive failed scheduled refreshes
        self.chains = {"ok": 0, "failed": 0, "logout": 0}

    # ------------------------------------------------------------------ the document's API
    def set_tokens(self, now: Time, tokens: Tokens) -> Effects:
        self.tokens = tokens
        return self._schedule_refresh(now)

    def clear(self) -> Effects:
        self.tokens = None
        return [*self.rt.cancel(REFRESH_TIMER), *self.rt.cancel(RETRY_TIMER)]

    def get_valid_token(self, now: Time, done: TokenDone) -> Effects:
        if self.tokens is None:
            return done(now, None, NO_TOKENS)
        if self.config.mutant("no_token_expiry_check"):
            return done(now, self.tokens.access, None)
        if self.tokens.expires_at - now > self.config.token_buffer:
            return done(now, self.tokens.access, None)
        return self.refresh_token(now, done)

    def refresh_token(self, now: Time, done: TokenDone) -> Effects:
        if self.flight is not None and not self.config.mutant("refresh_not_single_flight"):
            self.flight.waiters.append(done)
            return []
        if self.tokens is None:
            return done(now, None, "No refresh token available")
        self._flights += 1
        flight = Flight(self._flights, [done])
        self.flight = flight
        self.in_flight += 1
        presented = self.tokens.refresh
        return [
            self.rt.note("token.refresh.start", flight=flight.n, presented=presented,
                         in_flight=self.in_flight),
            *self.rt.fetch(API, "POST", REFRESH, {"Content-Type": JSON},
                           {"refreshToken": presented},
                           lambda t, resp, fail: self._refreshed(t, flight, resp, fail)),
        ]

    # ------------------------------------------------------------------ internals
    def _refreshed(self, now: Time, flight: Flight, resp: object, failure: str | None) -> Effects:
        self.in_flight -= 1
        if self.flight is flight:
            self.flight = None
        status = getattr(resp, "status", None)
        effects: Effects = []
        token: str | None = None
        error: str | None = None
        if status is not None and 200 <= status < 300 and self.tokens is not None:
            data = resp.body  # type: ignore[attr-defined]
            tokens = Tokens(data["token"], data.get("refreshToken") or self.tokens.refresh,
                            now + data["expiresIn"])
            effects += self.set_tokens(now, tokens)
            token = tokens.access
            self.retries = 0
            self.chains["ok"] += 1
            effects.append(self.rt.note("token.refresh.done", flight=flight.n,
                                        expires_at=tokens.expires_at, in_flight=self.in_flight))
        else:
            error = REFRESH_FAILED if status is not None else f"fetch failed: {failure}"
            effects.append(self.rt.note("token.refresh.failed", flight=flight.n, status=status,
                                        failure=failure, in_flight=self.in_flight))
            if status == 401 and self.tokens is not None:
                self.chains["logout"] += 1
                effects += self.on_logout(now)
        for waiter in flight.waiters:
            effects += waiter(now, token, error)
        return effects

    def _schedule_refresh(self, now: Time) -> Effects:
        effects = self.rt.cancel(REFRESH_TIMER)
        if self.tokens is None:
            return effects
        lead = self.config.refresh_lead
        left = self.tokens.expires_at - now
        if self.config.fixed("refresh_lead_capped") and left <= lead:
            lead = left // 2  # halfway through a token shorter than the lead
        at = max(now, self.tokens.expires_at - lead)
        return [*effects, *self.rt.after(REFRESH_TIMER, at, self._auto_refresh)]

    def _auto_refresh(self, now: Time) -> Effects:
        return self.refresh_token(now, self._auto_done)

    def _auto_done(self, now: Time, token: str | None, error: str | None) -> Effects:
        if error is None:
            return []
        effects: Effects = [self.rt.note("token.auto_refresh_failed", error=error)]
        if self.tokens is None:  # logged out: the chain ended there
            return effects
        if self.config.fixed("refresh_retry"):
            delay = min(self.config.refresh_retry_max,
                        self.config.refresh_retry_base * 2 ** min(self.retries, 16))
            self.retries += 1
            return [*effects, *self.rt.after(RETRY_TIMER, now + delay, self._auto_refresh)]
        self.chains["failed"] += 1
        return effects

    def __repr__(self) -> str:
        exp = None if self.tokens is None else self.tokens.expires_at
        return f"TokenManager(expires_at={exp}, refreshing={self.flight is not None})"


__all__ = ["NO_TOKENS", "REFRESH_FAILED", "Flight", "TokenDone", "TokenManager", "Tokens"]
