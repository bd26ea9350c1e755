"""Argument types every command shares, so each rule is written once and reads the same.

A bad value is an :class:`argparse.ArgumentTypeError` (argparse turns it into the one-line
usage error :func:`gatewaysim.cli.main` prints) or a
:class:`~gatewaysim.simulator.errors.ConfigError` raised by the command itself.
"""

from __future__ import annotations

import argparse

from gatewaysim.properties.pack import load_pack
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.rng import MAX_SEED


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def seed(text: str) -> int:
    """A seed: a decimal integer from 0 to 2**64 - 1."""
    stripped = str(text).strip()
    if not stripped.isdecimal() or len(stripped) > 20:
        raise ConfigError(f"bad seed {_show(text)}: expected an integer from 0 to {MAX_SEED}")
    value = int(stripped)
    if value > MAX_SEED:
        raise ConfigError(f"bad seed {_show(text)}: expected an integer from 0 to {MAX_SEED}")
    return value


def seed_arg(text: str) -> int:
    """:func:`seed` for argparse's ``type=``."""
    try:
        return seed(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("bad seed ")) from None


def positive(text: str) -> int:
    """A whole number of at least 1 (and at most a billion: a count, not a seed)."""
    stripped = str(text).strip()
    if not stripped.isdecimal() or len(stripped) > 10:
        raise argparse.ArgumentTypeError(f"not a whole number from 1 to 10^9: {_show(text)}")
    value = int(stripped)
    if not 1 <= value <= 10 ** 9:
        raise argparse.ArgumentTypeError(f"must be from 1 to 10^9, not {value}")
    return value


def add_pack_option(p: argparse.ArgumentParser) -> None:
    """``--pack module:attr``: load a pack from your own code (repeatable)."""
    p.add_argument("--pack", action="append", default=[], metavar="MODULE:ATTR", dest="packs",
                   help="load a pack of your own from MODULE:ATTR (imported from the current "
                        "directory), as if it were installed")


def add_determinism_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check-determinism", action="store_true",
                   help="do the work twice, in two processes with different PYTHONHASHSEED "
                        "values, and on a difference print where the runs part (exit 1)")


def pack_argv(args: argparse.Namespace) -> list[str]:
    """The ``--pack`` options of ``args``, to hand on to a child process."""
    return [word for spec in args.packs for word in ("--pack", spec)]


def load_packs(args: argparse.Namespace) -> None:
    for spec in args.packs:
        load_pack(spec)


__all__ = ["add_determinism_option", "add_pack_option", "load_packs", "pack_argv", "positive",
           "seed", "seed_arg"]
