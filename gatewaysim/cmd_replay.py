"""``gatewaysim replay FILE``: rerun a failure file and show what happened.

Prints the minimal run's steps and timeline, the violation (or that it no longer
happens), and whether the trace hash matches the one the file recorded. Exit status 1
when a violation reproduces, 0 when the invariant now holds, 2 for a malformed file, an
unknown pack, variant or version. Everything about the input is checked before anything
runs or is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gatewaysim.properties.emit import emit_test
from gatewaysim.properties.failure import load_failure
from gatewaysim.properties.pack import get_pack
from gatewaysim.properties.replay import replay
from gatewaysim.properties.steps import format_steps
from gatewaysim.simulator.clock import format_time
from gatewaysim.simulator.errors import ConfigError

from .cmd_run import add_pack_option, load_packs

NAME = "replay"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME,
        help="rerun a failure file, print its timeline, optionally emit a regression test",
        description=(
            "Rerun the minimal failing run a failure file records, print its timeline and "
            "the violation, and check the trace hash. Exit 1 if the violation reproduces, 0 "
            "if the invariant now holds."
        ),
    )
    p.add_argument("file", metavar="FILE", help="a failure file written by 'gatewaysim explore'")
    p.add_argument("--variant", help="replay under this variant's config instead of the file's")
    p.add_argument("--emit-test", metavar="PATH",
                   help="also write a standalone pytest regression test for this run")
    p.add_argument("--quiet", action="store_true", help="do not print the steps and timeline")
    add_pack_option(p)


def run(args: argparse.Namespace) -> int:
    load_packs(args)
    failure = load_failure(args.file)
    if args.variant is not None:
        get_pack(failure.pack).config_of(args.variant)  # unknown variant: ConfigError, exit 2
    emit_path = Path(args.emit_test) if args.emit_test else None
    if emit_path is not None and not emit_path.parent.is_dir():
        raise ConfigError(f"cannot write {emit_path}: {emit_path.parent} is not a directory")
    if emit_path is not None and emit_path.is_dir():
        raise ConfigError(f"cannot write {emit_path}: it is a directory")

    result = replay(failure, args.variant)
    changed = args.variant is not None and args.variant != failure.variant
    print(f"replaying {args.file}: pack {failure.pack}, variant {result.variant}"
          f"{' (recorded: ' + failure.variant + ')' if changed else ''}, seed {failure.seed}, "
          f"{len(failure.steps)} steps")
    if not args.quiet:
        print("steps:")
        print(format_steps(list(failure.steps)) or "    (none)")
        print("timeline:")
        print(result.timeline_text)
    v = result.violation
    if v is None:
        print(f"HOLDS {failure.invariant_id}: {failure.statement} "
              "(the failure no longer reproduces)")
    elif v.invariant_id == failure.invariant_id:
        print(f"VIOLATED {v.invariant_id} at t={format_time(v.t)} after step {v.step_index}: "
              f"{v.message}")
    else:
        print(f"ERROR {v.invariant_id} at t={format_time(v.t)} after step {v.step_index}: "
              f"{v.message} (instead of {failure.invariant_id})")
    if result.hash_matches:
        print(f"trace sha256 {result.trace_sha256} matches the failure file")
    else:
        why = " (expected: the variant changed)" if changed else ""
        print(f"trace sha256 {result.trace_sha256} differs from the failure file's "
              f"{failure.trace_sha256}{why}")
    if emit_path is not None:
        emit_test(failure, emit_path, args.variant)
        print(f"wrote regression test {emit_path}")
    return 1 if v is not None else 0
