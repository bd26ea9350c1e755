"""The ``gatewaysim`` command line: one parser, one module per subcommand.

Each name in :data:`COMMANDS` is a module ``gatewaysim.cmd_<name>`` that exposes
``add_parser(subparsers) -> None`` (which adds a subparser called ``<name>``) and
``run(args) -> int``. Adding a command is adding a module and a name here.

:func:`main` is the single place where bad user input becomes one line on stderr and exit
status 2, argparse's own complaints included (one line, with ``--help`` for the rest). It
catches what the commands raise for input a user can fix: the simulator's
:class:`~gatewaysim.simulator.errors.ConfigError` and
:class:`~gatewaysim.simulator.errors.TraceFormatError`,
any other *subclass* of :class:`ValueError` (commands define those for their own input),
and the file errors a user-supplied path produces (a missing directory, a read-only or full
disk, a name too long). A plain ``ValueError`` or any other exception is a bug, and keeps
its traceback so it can be reported. SIGTERM (what ``timeout``, ``docker stop`` and CI
cancellation send) unwinds like Ctrl-C, so every command cleans up its temporary files.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from . import __version__

PROG = "gatewaysim"

COMMANDS: tuple[str, ...] = ("run", "explore", "replay", "packs", "real", "mutate")
"""Subcommand modules to load, in the order ``--help`` lists them."""

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 1  # what the Python docs recommend after SIGPIPE is ignored

_PATH_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
_USER_ERRNOS = frozenset({
    errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG,
    errno.EROFS, errno.ENOSPC, errno.EEXIST, errno.ELOOP, errno.EFBIG, errno.EDQUOT,
    errno.ENXIO, errno.ETXTBSY,
})


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that ``finally`` blocks clean up."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: what is wrong and where ``--help`` is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{PROG}: error: {_one_line(message)} (see '{self.prog} --help')",
              file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.cmd_{name}")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every command in :data:`COMMANDS` registered."""
    parser = Parser(
        prog=PROG,
        description=(
            "Deterministic simulation testing for real-time systems: WebSocket gateways, "
            "their clients, alarms and tokens, on a virtual clock with faults."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = _load(name)
        module.add_parser(subparsers)
        sub = subparsers.choices.get(name)
        if sub is None:
            raise RuntimeError(f"{module.__name__}.add_parser did not add a {name!r} command")
        sub.set_defaults(_run=module.run)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def error_message(exc: BaseException) -> str:
    """The line a user sees for an input error, without the ``gatewaysim: error:`` prefix."""
    if isinstance(exc, OSError) and exc.filename is not None:
        name = str(exc.filename)
        name = name if len(name) <= 200 else name[:60] + "..." + name[-40:]
        return _one_line(f"cannot use {name}: {exc.strerror or exc}")
    if isinstance(exc, OSError) and exc.strerror:
        return _one_line(exc.strerror)
    return _one_line(str(exc) or type(exc).__name__)


def is_user_error(exc: BaseException) -> bool:
    """True for the exceptions that mean "fix your input", not "report a bug"."""
    if isinstance(exc, _PATH_ERRORS):
        return True
    if isinstance(exc, OSError) and exc.errno in _USER_ERRNOS:
        return True
    return isinstance(exc, ValueError) and type(exc) is not ValueError


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, return the exit status."""
    previous = _install_sigterm()
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version, or a usage error already printed
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        command: Callable[[argparse.Namespace], int] = args._run
        return int(command(args))
    except Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``gatewaysim run ... | head``): stop quietly, and point
        # stdout at /dev/null so the interpreter's final flush does not complain.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if not is_user_error(exc):
            raise
        print(f"{PROG}: error: {error_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _install_sigterm() -> signal.Handlers | None:
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)  # type: ignore[return-value]
    except ValueError:  # not the main thread (main() called from a worker)
        return None


__all__ = ["COMMANDS", "build_parser", "error_message", "is_user_error", "main"]
