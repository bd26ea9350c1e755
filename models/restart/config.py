"""The restart pack's configuration: the library's real constants, its fix flags, a mutant.

Every number below is a default of ``comfyui-node``'s ``ComfyApi`` (and its reconnection
helper) or of the mock ComfyUI server its reconnection tests spawn. ``scaled(f)`` multiplies
every delay by ``f``: the sim-to-real conformance test runs the same scenarios on real
sockets with the delays cut tenfold so that a restart cycle costs a fraction of a second.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from attrs import field, frozen

from gatewaysim.simulator.clock import Time, ms
from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError


def _positive(_inst: object, attribute: attrs.Attribute, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{attribute.name} must be a positive integer, not {value!r}")


def _percent(_inst: object, attribute: attrs.Attribute, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ConfigError(f"{attribute.name} must be an integer from 0 to 100, not {value!r}")


@frozen(kw_only=True)
class RestartConfig(PackConfig):
    FIXES: ClassVar[dict[str, str]] = {
        "reconnect_after_reconnect": (
            "A socket opened by the reconnection loop (or by the polling fallback) ignores "
            "its own close: the library returns early when the socket was created for a "
            "reconnect, so the state stays 'connected', no event fires and nothing "
            "reconnects. Fixed: every socket's close is handled like the first one's, and a "
            "loop whose check took a still-connecting socket for success resumes."),
        "fail_after_last_attempt": (
            "reconnection_failed (and onReconnectionFailed) fires as soon as the last attempt "
            "is launched, before its socket has failed or opened, so it can fire while the "
            "server is reachable and be followed by 'reconnected'. Fixed: it fires when the "
            "last attempt's socket fails."),
        "heartbeat_per_socket": (
            "Any socket's close stops the heartbeat (one interval for the client), also the "
            "close of a socket the client replaced while the current one is open: that socket "
            "is then never pinged, and if it goes half-open nobody notices. Fixed: only the "
            "current socket's close stops it."),
        "destroy_stops_reconnect": (
            "destroy() does not abort the reconnection loop: its pending check still runs "
            "and opens a new socket for a destroyed client. Fixed: destroy() aborts it."),
    }
    MUTANTS: ClassVar[dict[str, str]] = {
        "silent_after_restart": (
            "A restarted server process (not the first) sends no status messages at all, "
            "neither on connect nor every 5 s."),
    }

    # -- the reconnection helper (runWebSocketReconnect) and the client's options
    max_attempts: int = field(default=10, validator=_positive)
    """Reconnection attempts of one loop before ``reconnection_failed``."""
    base_delay_ms: int = field(default=1000, validator=_positive)
    """Exponential backoff: the delay after attempt n is min(base * 2^(n-1), max)."""
    max_delay_ms: int = field(default=15_000, validator=_positive)
    jitter_percent: int = field(default=30, validator=_percent)
    """The delay is moved by up to +-jitter/2 percent (Math.random() - 0.5)."""
    polling_interval_ms: int = field(default=2000, validator=_positive)
    """The polling fallback's setInterval: GET /prompt, then recreate the socket."""
    poll_timeout_ms: int = field(default=1000, validator=_positive)
    """pollStatus()'s default abort timeout."""
    ping_timeout_ms: int = field(default=5000, validator=_positive)
    """ping() = pollStatus(5000), used by init()."""
    init_tries: int = field(default=10, validator=_positive)
    init_delay_ms: int = field(default=1000, validator=_positive)
    ws_timeout_ms: int = field(default=60_000, validator=_positive)
    """Inactivity before the heartbeat pings the socket (the class field's 60 s; the option's
    comment says 10 s). The heartbeat looks every max(1 s, ws_timeout / 2)."""
    disconnect_grace_ms: int = field(default=5000, validator=_positive)
    """CallWrapper's DISCONNECT_FAILURE_GRACE_MS: a prompt fails this long after a
    ``disconnected`` event unless the client reconnects first."""
    # -- the mock server
    status_interval_ms: int = field(default=5000, validator=_positive)
    """The mock server's periodic status broadcast."""
    exec_start_ms: int = field(default=200, validator=_positive)
    exec_output_ms: int = field(default=500, validator=_positive)
    exec_success_ms: int = field(default=100, validator=_positive)
    """A prompt: ``executing`` 200 ms after POST, ``executed`` 500 ms later, then
    ``execution_success`` 100 ms after that (the mock's timers)."""
    force_exit_ms: int = field(default=2000, validator=_positive)
    """After SIGTERM the mock exits when its sockets are closed, or after this at most."""

    # ------------------------------------------------------------------ derived
    def delay(self, name: str) -> Time:
        """A ``*_ms`` field as virtual time."""
        return ms(getattr(self, f"{name}_ms"))

    def scaled(self, factor: float) -> RestartConfig:
        """The same config with every delay multiplied by ``factor`` (at least 1 ms)."""
        if not factor > 0:
            raise ConfigError(f"scale factor must be positive, not {factor!r}")
        changes = {a.name: max(1, round(getattr(self, a.name) * factor))
                   for a in attrs.fields(type(self)) if a.name.endswith("_ms")}
        return attrs.evolve(self, **changes)


__all__ = ["RestartConfig"]
