"""Errors raised by the simulator layer.

Each subclasses the builtin that fits, so callers can catch either the precise class
or the broad one. User-facing tools turn these into one line and exit status 2.
"""

from __future__ import annotations


class SimulationError(RuntimeError):
    """Something inside a run went wrong in a way the model did not intend."""


class DeterminismError(SimulationError):
    """Model code touched a source of nondeterminism (wall clock, global random, threads)."""


class ReplayMismatch(SimulationError):
    """A replayed run produced a different trace hash than the one recorded."""


class ConfigError(ValueError):
    """A configuration value (duration, preset, flag, scenario name) is not acceptable."""


class TraceFormatError(ValueError):
    """A trace or failure file is malformed or has an unsupported schema version."""
