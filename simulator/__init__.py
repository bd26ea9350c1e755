"""gatewaysim's kernel: virtual clock, scheduler, rng streams, network, alarms, trace, guard.

This layer knows no model. Models are sans-IO nodes (``gatewaysim.simulator.node``) that talk to the
world only through the values in ``gatewaysim.simulator.messages``.
"""

from .clock import (
    HOUR,
    MINUTE,
    MS,
    SECOND,
    Time,
    format_time,
    hours,
    minutes,
    ms,
    parse_duration,
    s,
    us,
)
from .errors import (
    ConfigError,
    DeterminismError,
    FailedWithEffects,
    ReplayMismatch,
    SimulationError,
    TraceFormatError,
)
from .network import NetworkConfig
from .node import HostContext, Node, SocketView
from .rng import RngStreams, derive_seed
from .scheduler import Scheduler, TimerHandle
from .trace import SCHEMA_VERSION, Trace, TraceRecord, read_trace
from .world import World

__all__ = [
    "HOUR", "MINUTE", "MS", "SCHEMA_VERSION", "SECOND", "ConfigError", "DeterminismError",
    "FailedWithEffects",
    "HostContext", "NetworkConfig", "Node", "ReplayMismatch", "RngStreams", "Scheduler",
    "SimulationError", "SocketView", "Time", "TimerHandle", "Trace", "TraceFormatError",
    "TraceRecord", "World", "derive_seed", "format_time", "hours", "minutes", "ms",
    "parse_duration", "read_trace", "s", "us",
]
