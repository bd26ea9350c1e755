"""``gatewaysim packs``: every pack there is, with its variants, flags, mutants and scenarios.

Packs are found through the ``gatewaysim.packs`` entry points (and ``--pack MODULE:ATTR``);
one that fails to load is listed with its problem instead of hiding the others.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from gatewaysim.properties.monitor import catalogue_text
from gatewaysim.properties.pack import Pack, get_pack, loadable_packs
from gatewaysim.simulator.clock import format_duration

from .args import add_pack_option, load_packs

NAME = "packs"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME,
        help="list the packs with their variants, fix flags, mutants and scenarios",
        description=("List every pack (installed through the gatewaysim.packs entry points, or "
                     "loaded with --pack) with its variants, fix flags, mutants and scenarios. "
                     "With PACK, also its steps and invariants."),
    )
    p.add_argument("name", nargs="?", metavar="PACK", help="show one pack in full")
    add_pack_option(p)


def _wrap(label: str, items: list[str]) -> list[str]:
    text = ", ".join(items) if items else "none"
    return textwrap.wrap(text, width=96, initial_indent=f"  {label:<10} ",
                         subsequent_indent=" " * 13)


def describe_pack(pack: Pack, full: bool = False) -> list[str]:
    lines = [f"{pack.name}: {pack.summary}"]
    if pack.source:
        lines.append(f"  {'loaded':<10} from {pack.source}")
    lines += _wrap("variants", list(pack.variant_names))
    lines += _wrap("fix flags", sorted(pack.config.FIXES))
    lines += _wrap("mutants", sorted(pack.config.MUTANTS))
    lines += _wrap("scenarios", [f"{s.name} ({format_duration(s.default_duration)})"
                                 for s in pack.scenarios])
    if full:
        steps = [f"{k.name}[{k.fault}]" if k.fault else
                 (f"{k.name} (advances time by {k.time_arg})" if k.time_arg else k.name)
                 for k in pack.steps.values()]
        lines += _wrap("steps", steps)
        lines += ["  invariants:"]
        lines += [f"    {row}" for row in catalogue_text(pack.all_monitors).splitlines()]
        readme = pack.readme_path()
        if readme is not None:
            lines.append(f"  {'readme':<10} {readme}")
    return lines


def run(args: argparse.Namespace) -> int:
    load_packs(args)
    if args.name is not None:
        print("\n".join(describe_pack(get_pack(args.name), full=True)))
        return 0
    packs, broken = loadable_packs()
    blocks = ["\n".join(describe_pack(p)) for p in packs]
    blocks += [f"(not loaded: {problem})" for problem in broken]
    print("\n\n".join(blocks) if blocks else "no packs installed")
    return 0


__all__ = ["add_parser", "describe_pack", "run"]
