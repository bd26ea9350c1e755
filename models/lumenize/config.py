"""The Lumenize Mesh model's configuration: real constants, fix flags, planted bugs.

``faithful`` is the default and models the real code at ``lumenize/lumenize@100dc455``,
weaknesses included. Each weakness has its own *fix flag*; preset ``fixed`` turns them all
on, so one world can show a bug and its fix side by side. *Mutants* are bugs the real code
does not have, planted on purpose to measure how quickly exploration finds a bug (the zoo).

The config is a frozen :class:`~gatewaysim.simulator.config.PackConfig` value and goes into
every trace header; variants (``faithful``, ``fixed``, ``mutant:<name>``) come from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
from attrs import field, frozen

from gatewaysim.simulator.clock import Time, ms, s
from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError

#: Fix flags: each corrects one real weakness (``lumenize-mesh.md`` section 6).
FIXES: dict[str, str] = {
    "superseded_client_stays_down": (
        "A client closed with 4409 (a newer tab took over its instanceName) does not reconnect, "
        "so two tabs sharing an instanceName cannot ping-pong."
    ),
    "jittered_backoff": (
        "Reconnect delays use full jitter, U(0, min(30000, 1000*2^n)) ms, so clients dropped "
        "together do not come back in lockstep."
    ),
    "resubscribe_after_fanout_drop": (
        "When the broadcaster drops a subscriber row after a failed fan-out, it tells the client "
        "(via the gateway's next connection_status) to resubscribe; no silent subscription loss."
    ),
    "reject_calls_on_socket_close": (
        "Awaited calls are rejected when their socket closes: the client rejects sent calls "
        "with no answer, the gateway rejects its pending mesh->client calls; nothing hangs."
    ),
    "rejected_upgrade_terminal": (
        "A rejected upgrade (403 from the access gate) is visible to the client and terminal "
        "(onLoginRequired), rather than a 1006 that is retried forever."
    ),
    "resubscribe_after_gateway_crash": (
        "A gateway that crashed during a grace period (and so lost its parked calls and "
        "missed the fan-outs sent while it was down) says subscriptionRequired: true at the "
        "next connection, instead of claiming continuity from the surviving alarm."
    ),
    "single_flight_first_connect": (
        "Until its first connection succeeds, the client refreshes through ensureFreshToken "
        "(single-flight) like later connects, instead of calling refreshToken() directly: "
        "overlapping attempts (a wake-up during a slow refresh) no longer race the rotating "
        "refresh cookie into a 401 and a logout."
    ),
    "reauth_retries_transient_failure": (
        "After a 4401 close, a refresh that fails because the token service is down or "
        "answers 5xx backs off and retries; only a definitive 401/403 calls onLoginRequired "
        "(the real client treats any failure on the 4401 path as terminal, spec case 82)."
    ),
    "takeover_requires_resubscribe": (
        "The gateway vouches for continuity (subscriptionRequired: false) on a supersession "
        "or a return within grace only to the page that held the instance; a tab taking "
        "over from another tab sharing its instanceName is told to resubscribe, instead of "
        "keeping a document that missed every update sent to the other tab."
    ),
    "connect_requires_token": (
        "A connect attempt that finds its access token (or the claims it names the instance "
        "after) gone when its awaits end fails and backs off, which refreshes, instead of "
        "opening a socket with no token and, on the first connect, fixing the instanceName "
        "for good as 'undefined.<tabId>' (the real client reads claims?.sub)."
    ),
}

#: Planted bugs for the bug zoo; none is in the real code.
MUTANTS: dict[str, str] = {
    "waiters_not_resolved_on_accept": (
        "The gateway forgets to resolve parked calls when a client reconnects."
    ),
    "alarm_not_deleted_on_accept": "The gateway keeps the grace alarm after a reconnect.",
    "subscription_required_after_close": (
        "subscriptionRequired is computed after closing old sockets."
    ),
    "no_stale_close_guard": (
        "The client reacts to a close event from a socket that is no longer current."
    ),
    "refresh_not_single_flight": (
        "ensureFreshToken starts a new refresh even when one is in flight."
    ),
    "queue_flushed_twice": (
        "The client flushes its queued calls on open and again on connection_status."
    ),
    "grace_alarm_on_4409": "The gateway arms the grace alarm on a 4409 close too.",
    "no_token_check_on_mesh_call": "The gateway forwards mesh->client calls without checking exp.",
    "backoff_never_reset": "The client's reconnect attempt counter is never reset on open.",
    "alarm_handler_raises": (
        "The gateway's alarm() raises after rejecting waiters, so it is retried."
    ),
    "parked_call_delivered_twice": (
        "A parked mesh->client call is forwarded on reconnect and again on the next frame."
    ),
    "call_response_inverted": (
        "The gateway answers a client call with success and failure swapped."
    ),
    "client_answers_ignored": (
        "The gateway ignores the client's incoming_call_response frames, so every "
        "mesh->client call ends in 'Client call timed out'."
    ),
    "subscribe_snapshot_empty": (
        "The broadcaster answers subscribe without loading its document: an empty "
        "version 0 instead of the current content."
    ),
    "grace_alarm_never_armed": (
        "The gateway never arms its grace alarm on a close, so a client gone for a moment "
        "is treated as gone for good."
    ),
    "instance_format_unchecked": (
        "The gateway's default onBeforeAccept no longer requires 'sub.tabId': an upgrade to "
        "instance '<sub>' is accepted."
    ),
    "revocation_in_memory": (
        "The token service keeps refresh-token revocations in memory instead of deleting "
        "the rows from durable storage, so a restart brings rotated tokens back."
    ),
    "backoff_cap_ignored": (
        "The reconnect delay's ceiling keeps doubling past reconnect_max (30 s)."
    ),
}

PRESETS = ("faithful", "fixed")


@frozen(kw_only=True)
class LumenizeConfig(PackConfig):
    """Every constant the model uses, with the real defaults (ms unless noted).

    Fix flags and mutants are the module's :data:`FIXES` and :data:`MUTANTS`; asking for an
    undeclared name (``config.fixed(name)`` with a name not in ``FIXES``) is a
    :class:`ConfigError`, so a misspelt flag in model code fails the first test that
    reaches it.
    """

    FIXES: ClassVar[Mapping[str, str]] = FIXES
    MUTANTS: ClassVar[Mapping[str, str]] = MUTANTS

    grace: Time = ms(5000)  # noqa: RUF009 - evaluated once, an int
    client_call_timeout: Time = ms(30000)  # noqa: RUF009 - evaluated once, an int
    heartbeat_interval: Time = ms(30000)  # noqa: RUF009 - evaluated once, an int
    reconnect_initial: Time = ms(1000)  # noqa: RUF009 - evaluated once, an int
    reconnect_max: Time = ms(30000)  # noqa: RUF009 - evaluated once, an int
    max_queue: int = 100
    queued_call_timeout: Time = ms(30000)  # noqa: RUF009 - evaluated once, an int
    refresh_lead_s: int = 30  # the client refreshes when exp - 30 <= now_s
    access_ttl_s: int = 900
    refresh_ttl_s: int = 2_592_000
    rate_limit_per_minute: int = 0  # 0: no per-user limit
    tab_probe: Time = ms(50)  # noqa: RUF009 - evaluated once, an int
    # The Worker's CORS allowlist (section 3 step 1); any other Origin gets 403.
    allowed_origins: tuple[str, ...] = field(default=("https://app.lumenize.local",),
                                             converter=tuple)


def preset(name: str, **overrides: Any) -> LumenizeConfig:
    """``faithful`` (the real code) or ``fixed`` (every fix flag on), with overrides.

    A thin helper over :meth:`LumenizeConfig.for_variant` for tests and scenarios that
    change a constant (``preset("faithful", grace=ms(100))``).
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown variant {name!r} (choose from: {', '.join(PRESETS)})")
    base = LumenizeConfig.for_variant(name)
    return attrs.evolve(base, **overrides) if overrides else base


DEFAULT_GRACE_TEST_MODE: Time = s(60)  # LUMENIZE_MESH_TEST_MODE, for reference
