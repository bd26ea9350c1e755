"""The chat SDK model's configuration: the document's constants, week-3 parameters, fix flags.

``faithful`` models what the document's code does when it runs on centrifuge-js, weaknesses
included; each correction is a fix flag, and ``fixed`` turns them all on. The circuit
breaker, ``retryAsync``, the offline queue, 429 handling and resumable uploads are the
document's week 3, which the seed does not contain: they are modelled the conventional way,
every parameter a field here, identical in both variants.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import field, frozen

from gatewaysim.simulator.clock import MINUTE, MS, SECOND, Time
from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError


def _non_negative(_inst: object, attr: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{getattr(attr, 'name', attr)} must be a non-negative integer, "
                          f"not {value!r}")


@frozen(kw_only=True)
class ChatConfig(PackConfig):
    """Every constant the model uses (times in microseconds)."""

    FIXES: ClassVar[dict[str, str]] = {
        "intended_reconnect_policy": (
            "The connection manager's reconnect policy is the one the document meant its "
            "getReconnectDelay callback to set (centrifuge-js never calls it): delays "
            "min(100*2^n, 2000) ms, FAILED after 10 failed attempts, RECONNECTING shown while "
            "a lost connection is being re-established; from FAILED it tries again when the "
            "browser comes online or a health ping succeeds."
        ),
        "token_per_connect": (
            "Every connect attempt asks the token manager for a valid token, as the document's "
            "comment says ('Get fresh token for each connection'); centrifuge-js calls "
            "getToken only when it holds no token or the server said it expired, so it "
            "reconnects with a cached token that may have expired."
        ),
        "token_per_attempt": (
            "The API client asks for a valid token on every attempt, not once before the "
            "circuit breaker and the retries, so a retry never carries a token the client "
            "knows has expired."
        ),
        "checked_401_retry": (
            "The retry after a 401 keeps the request's headers (Content-Type included) and "
            "checks the status like the first attempt; the document's retry drops "
            "Content-Type and returns the body of whatever came back as a success."
        ),
        "idempotency_key": (
            "Messages carry a client id and the server stores each id once, so a retry after a "
            "lost response does not store the message twice."
        ),
        "refresh_parent_grace": (
            "The auth service answers a refresh that presents the parent of the current "
            "refresh token with the current child, as long as the child has not been used: a "
            "lost refresh response no longer looks like token theft and revokes the session."
        ),
        "refresh_lead_capped": (
            "A token that lives no longer than the 5-minute lead is refreshed halfway through "
            "its life; the document refreshes it at once, and the one that replaces it too: a "
            "refresh storm against a server that issues short tokens."
        ),
        "refresh_retry": (
            "A failed scheduled refresh is retried with backoff instead of only being logged."
        ),
        "windowed_quality": (
            "The quality indicator estimates loss as the percentage of failed probes among the "
            "last quality_window ones and probes every fast_probe_interval while that window "
            "holds a failure, instead of the +10/-5 estimate that takes minutes to decay."
        ),
    }
    MUTANTS: ClassVar[dict[str, str]] = {
        "refresh_not_single_flight": "refreshToken() starts a new refresh even while one is "
                                     "in flight.",
        "breaker_admits_when_open": "The circuit breaker lets requests through while OPEN.",
        "queue_not_fifo": "The offline queue flushes newest first.",
        "no_token_expiry_check": "getValidToken returns the stored token without checking its "
                                 "expiry.",
    }

    # --- network quality monitor (Day 1)
    ping_interval: Time = 10 * SECOND
    ping_path: str = "/api/health/ping"
    loss_up: int = 10  # packetLoss += 10 on a failed ping
    loss_down: int = 5  # packetLoss -= 5 on a successful one
    quality_window: int = 5  # windowed_quality: probes in the loss window
    fast_probe_interval: Time = 2 * SECOND  # windowed_quality: while a failure is in the window
    probe_timeout: Time = 3 * SECOND  # windowed_quality: a probe slower than this is a failure

    # --- token manager (Day 2)
    refresh_lead: Time = 5 * MINUTE  # refresh this long before expiry
    token_buffer: Time = 60 * SECOND  # getValidToken refreshes when less than this is left
    access_ttl: Time = 6 * MINUTE  # the modelled auth service's expiresIn (not in the document)
    refresh_retry_base: Time = 1 * SECOND  # refresh_retry: first delay, doubled per failure
    refresh_retry_max: Time = 8 * SECOND
    relogin_delay: Time = 5 * SECOND  # the modelled user signs in again after a logout

    # --- connection manager on centrifuge-js (Day 3)
    min_reconnect_delay: Time = 100 * MS
    max_reconnect_delay: Time = 2000 * MS
    max_reconnect_attempts: int = field(default=10, validator=_non_negative)
    server_ping_interval: Time = 25 * SECOND  # Centrifugo's ping
    max_server_ping_delay: Time = 10 * SECOND  # centrifuge-js: silence of ping + this: reconnect
    token_grace: Time = 25 * SECOND  # Centrifugo closes 3005 this long after exp without a refresh
    refresh_retry_delay_lo: Time = 5 * SECOND  # a failed in-band refresh: retry in 5-10 s
    refresh_retry_delay_hi: Time = 10 * SECOND

    # --- API client: circuit breaker, retryAsync, offline queue, 429, uploads (week 3)
    breaker_failure_threshold: int = field(default=3, validator=_non_negative)
    breaker_reset_timeout: Time = 30 * SECOND
    retry_max_retries: int = field(default=2, validator=_non_negative)
    retry_base_delay: Time = 1 * SECOND
    retry_max_delay: Time = 10 * SECOND
    retry_after_max: Time = 60 * SECOND  # a longer Retry-After is capped
    request_timeout: Time = 10 * SECOND
    queue_retry_interval: Time = 2 * SECOND
    upload_size: int = field(default=10_000_000, validator=_non_negative)
    upload_chunk: int = field(default=1_000_000, validator=_non_negative)
    upload_retry_delay: Time = 2 * SECOND

    # --- the modelled world
    latency: Time = 10 * MS
    connect_timeout: Time = 10 * SECOND
    http_unreachable: Time = 5 * SECOND


__all__ = ["ChatConfig"]
