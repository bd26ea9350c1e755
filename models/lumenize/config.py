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
    "one_connect_in_flight": (
        "A wake-up (online, visible, focus) closes this.ws if it is still CONNECTING before "
        "opening another, so at most one socket of the tab opens: otherwise the first one's "
        "connection_status flushes the queued calls onto the second before it opens, where "
        "the browser drops them and the awaited calls never settle."
    ),
    "disconnected_stays_down": (
        "A disconnected tab (told to log in after a 401/403, superseded by a newer tab, or "
        "disconnect()ed) stays down until the app calls connect(): an 'online' wake-up does "
        "not reconnect it, so a refused tab does not knock on the access gate again and a "
        "superseded one does not take its instanceName back."
    ),
    "resubscribe_until_done": (
        "A subscriptionRequired: true stays owed until the app's resubscribe succeeds: a "
        "resubscribe lost with its socket is made again after the next connection_status, "
        "even one that says false (the gateway vouches for nothing lost since the socket "
        "it was told true on, which the client never caught up with)."
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
    "backoff_never_grows": (
        "The client never counts its reconnect attempts, so every delay is drawn from the "
        "first attempt's band: a long outage is retried about once a second."
    ),
    "takeover_not_checked": (
        "The gateway skips the page check of fix takeover_requires_resubscribe: a tab that "
        "takes over another tab's instance is told subscriptionRequired: false again."
    ),
    "unknown_operation_unanswered": (
        "The gateway leaves an RPC to an operation it does not serve unanswered instead of "
        "refusing it with 404."
    ),
    "refresh_refusal_retried": (
        "The client takes a refresh answered 401/403 for a transient failure and backs off, "
        "so a tab whose refresh cookie was refused retries forever and the app is never "
        "told to log in (the first-connect 401 'swallowed into endless reconnects')."
    ),
    "refresh_outage_logs_out": (
        "The client takes a refresh answered 5xx for a refusal: an outage of the token "
        "service calls onLoginRequired and logs the tab out."
    ),
    "error_mode_answers_401": (
        "The token service answers 401 instead of 503 while it is failing, so an outage "
        "reads as a refused refresh cookie."
    ),
    "subscription_required_on_false": (
        "The client calls onSubscriptionRequired on every connection_status that carries "
        "the flag, whatever its value."
    ),
    "forced_reauth_skipped": (
        "scheduleReconnect never nulls the token: a tab keeps presenting the token it has "
        "however often its upgrades fail (the 'chat down after hours' loop)."
    ),
    "reauth_failure_retried_at_once": (
        "On the 4401 path a refresh that fails transiently is retried at once (connect "
        "again, which refreshes) instead of backing off."
    ),
    "incoming_call_needs_connected": (
        "The client drops incoming_call frames that arrive before connection_status, so the "
        "calls a gateway releases from grace on reconnect are never run."
    ),
    "fanout_version_stale": (
        "The broadcaster builds its fan-out before counting the update: handleUpdate "
        "carries the new content with the previous version."
    ),
    "rotated_cookie_not_kept": (
        "The client ignores the refresh_token of a refresh answer and keeps presenting the "
        "cookie the service has just revoked."
    ),
    "delivery_treats_socket_uninitialised": (
        "The gateway's delivery check is inverted: a socket with an attachment is closed "
        "1011 as 'not properly initialized' and the mesh call fails."
    ),
    "publish_dropped": (
        "LumenizeWorld.publish loses the document: the broadcaster never hears of it."
    ),
    "disconnected_error_unnamed": (
        "The gateway's ClientDisconnectedError no longer names the instance called "
        "(clientInstanceName), as before the 2026-04-24 fix that backfills it."
    ),
    "subscription_lost_push_false": (
        "The connection_status the gateway pushes on an open socket after a broadcaster "
        "dropped the client's row says subscriptionRequired: false."
    ),
    "ping_wakes_gateway": (
        "The gateway never sets the lmz:ping auto-response, so every heartbeat wakes it."
    ),
    "issued_not_counted": (
        "The token service's statistics() never count the access tokens it issues."
    ),
    "unsubscribe_keeps_row": (
        "The broadcaster answers unsubscribe without dropping the row: fan-outs go on."
    ),
    "expired_frame_socket_kept": (
        "The gateway drops a frame sent under an expired token but leaves the socket open, "
        "so the client never learns it must refresh (no 4401)."
    ),
    "revoked_refresh_answered_500": (
        "The token service answers a revoked or unknown refresh cookie 500 instead of 401, "
        "so a client takes a dead cookie for an outage and retries it forever."
    ),
    "refreshed_attempt_backs_off": (
        "A connect attempt whose refresh succeeded backs off instead of connecting."
    ),
    "refresh_lead_ignored": (
        "needsTokenRefresh ignores the 30 s lead: a tab connects with a token about to "
        "expire instead of refreshing it first."
    ),
    "grace_call_dropped": (
        "A mesh call that arrives during grace is neither parked nor refused: it is lost."
    ),
    "answered_call_kept": (
        "The client settles an answered call but keeps its pending entry: every call leaks "
        "an entry, and statistics() report it held."
    ),
    "timed_out_call_stays_queued": (
        "A call queued while no socket is open times out and is rejected, but stays in the "
        "queue: the next open sends it, and a call its caller was told failed runs anyway."
    ),
    "probe_end_forgotten": (
        "A tab forgets that its duplicate probe ended: a first connect whose refresh "
        "outlasts the 50 ms probe waits for the probe for ever and never opens its socket."
    ),
    "update_reported_failed": (
        "The client applies a handleUpdate but answers it with success: false, so every "
        "fan-out reads as failed to the broadcaster."
    ),
    "row_drop_unreported": (
        "The broadcaster drops a subscriber row without reporting it, so the timeline "
        "still shows the subscriber."
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
