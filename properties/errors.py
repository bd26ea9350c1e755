"""Errors of the properties layer that a user can fix."""

from __future__ import annotations

from gatewaysim.simulator.errors import TraceFormatError


class FailureFileError(TraceFormatError):
    """A failure file is not JSON, has the wrong format or version, or names something unknown.

    It subclasses :class:`~gatewaysim.simulator.errors.TraceFormatError` (a ``ValueError``), so the
    command line turns it into one line on stderr and exit status 2.
    """
