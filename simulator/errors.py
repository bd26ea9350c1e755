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


class FailedWithEffects(Exception):
    """Raised by a node's ``handle`` to fail *after* some of its effects took place.

    A sans-IO handler that raises returns nothing, so the effects it had decided on are
    lost. A JavaScript handler that sends a frame, sets an alarm and then throws has
    already done the first two. Raise this with those effects: the world records and
    applies them, then treats the handler as failed. For ``alarm()`` that means a retry
    (unless one of the effects set a new alarm); for any other input the error propagates.
    """

    def __init__(self, message: str, effects: list | None = None) -> None:
        super().__init__(message)
        self.effects: list = list(effects or [])
