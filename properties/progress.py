"""Progress on a terminal or in a log: one live status line, or plain lines that fit.

A person watching a campaign in a terminal wants one line that keeps its place and says how
much budget is left, with the events that matter (a finding, its minimal run) printed above
it as lines of their own. A log (a pipe, a file, CI) wants the opposite: plain lines,
appended, with no control characters. :class:`StatusLine` gives the first in a terminal
and the second anywhere else.

The live line is drawn by ``rich`` when it is installed, the stream is a terminal and ``CI``
is not set; rich redraws it a few times a second from its own thread, so the clock and the
budget keep moving through a long shrink. Without rich, in a pipe or in CI, the caller's
periodic status lines are printed as plain lines instead.

No line is wider than the terminal: the live line is cut (with an ellipsis) to the width
:func:`shutil.get_terminal_size` reports, and plain lines are wrapped to it (in a pipe, to
``$COLUMNS`` or :data:`PIPE_WIDTH`). A stream that is not a file at all (a shard's line
sink, a ``StringIO``) hands lines to a program, so they are never wrapped.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import textwrap
from collections.abc import Callable
from typing import Any, TextIO

PIPE_WIDTH = 100
"""Plain lines to a pipe or a file are wrapped at ``$COLUMNS`` if set, else here."""
MIN_WIDTH = 20
REFRESH_PER_SECOND = 4


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (OSError, ValueError):  # a closed stream
        return False


def in_ci() -> bool:
    """``CI`` set to anything but an empty string (what CI systems export)."""
    return bool(os.environ.get("CI"))


def terminal_width(stream: Any = None) -> int:
    """The columns a line on ``stream`` may take.

    ``$COLUMNS`` first, as :func:`shutil.get_terminal_size` has it; then the size of
    ``stream`` itself when it is a terminal (stderr may be one when stdout is piped); then
    the terminal of stdout; then :data:`PIPE_WIDTH`.
    """
    fd = _fileno(stream)
    if fd is not None and is_terminal(stream) and not os.environ.get("COLUMNS", "").isdigit():
        try:
            return max(MIN_WIDTH, os.get_terminal_size(fd).columns)
        except OSError:
            pass
    return max(MIN_WIDTH, shutil.get_terminal_size(fallback=(PIPE_WIDTH, 24)).columns)


def plain_width(stream: Any) -> int | None:
    """The width plain lines on ``stream`` are wrapped at: :func:`terminal_width` for a file,
    a pipe or a terminal; ``None`` (not wrapped) for a stream that is not a file (its lines
    go to a program, such as a shard's lines to the campaign that parses them)."""
    return terminal_width(stream) if stream is not None and _fileno(stream) is not None else None


def fit(text: str, width: int) -> str:
    """``text`` on one line of at most ``width`` characters (cut with an ellipsis)."""
    text = " ".join(text.splitlines())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def wrap(text: str, width: int | None) -> list[str]:
    """``text`` as lines of at most ``width`` characters; a continuation is indented four
    spaces further than the line it continues. ``None``: as it is."""
    if width is None:
        return text.splitlines() or [""]
    out: list[str] = []
    for line in text.splitlines() or [""]:
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")))
        more = indent + "    " if len(indent) + 4 < width // 2 else ""
        out += textwrap.wrap(line, width, subsequent_indent=more,
                             break_long_words=True, break_on_hyphens=False,
                             drop_whitespace=True)
    return [line.rstrip() for line in out]


def rich_available() -> bool:
    try:
        import rich.live  # noqa: F401
    except ImportError:
        return False
    return True


def wants_live_line(stream: Any) -> bool:
    """A live line on ``stream``: a terminal, not in CI, and rich installed."""
    return stream is not None and is_terminal(stream) and not in_ci() and rich_available()


class _Status:
    """What rich draws on each refresh: the caller's status, cut to the terminal."""

    def __init__(self, stream: Any, status: Callable[[], str]) -> None:
        self.stream = stream
        self.status = status
        self.last = ""

    def __rich__(self) -> Any:
        from rich.text import Text

        # state changing under the reader: show the last line once more
        with contextlib.suppress(Exception):
            self.last = self.status()
        text = fit(self.last, terminal_width(self.stream) - 1)
        return Text(text, no_wrap=True, overflow="ellipsis", end="")


class StatusLine:
    """Progress on ``stream``: a live line in a terminal (see the module's docstring), plain
    lines elsewhere. ``status`` gives the text of the live line when asked (it is asked from
    rich's refresh thread, so it only reads). ``stream`` ``None``: print nothing.

    Use as a context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(self, stream: TextIO | None, status: Callable[[], str] | None = None,
                 live: bool | None = None) -> None:
        self.stream = stream
        self.status = status
        self.live = (wants_live_line(stream) if live is None else live) and status is not None \
            and stream is not None
        self._live: Any = None
        self.width = plain_width(stream)
        """Plain lines are wrapped at this width (``None``: not wrapped)."""

    def start(self) -> StatusLine:
        if self.live and self._live is None:
            from rich.console import Console
            from rich.live import Live

            assert self.status is not None
            console = Console(file=self.stream, highlight=False, emoji=False,
                              soft_wrap=False)
            self._live = Live(_Status(self.stream, self.status), console=console,
                              auto_refresh=True, refresh_per_second=REFRESH_PER_SECOND,
                              transient=True, redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        return self

    def __enter__(self) -> StatusLine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def say(self, text: str) -> None:
        """A line of its own: above the live line in a terminal, wrapped to fit elsewhere."""
        if self.stream is None:
            return
        if self._live is not None:
            from rich.text import Text

            self._live.console.print(Text(text, overflow="fold"), soft_wrap=False)
            return
        for line in wrap(text, self.width):
            print(line, file=self.stream, flush=True)

    def refresh(self) -> None:
        """Redraw the live line now (it redraws itself a few times a second anyway)."""
        if self._live is not None:
            self._live.refresh()

    def close(self) -> None:
        """Take the live line off the terminal (the lines said stay)."""
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()


__all__ = ["PIPE_WIDTH", "StatusLine", "fit", "in_ci", "is_terminal", "plain_width",
           "rich_available", "terminal_width", "wants_live_line", "wrap"]
