"""``gatewaysim replay FILE``: rerun a failure file and show what happened.

Prints the minimal run's steps and the end of its timeline, the violation (or that it no
longer happens), and whether the trace hash matches the one the file recorded. Exit status:
0 the invariant now holds; 1 it fails as recorded (the same invariant after the same step,
the same trace); 3 it fails differently (another invariant or step, or another trace: the
model changed); 2 bad input (a malformed file, an unknown pack, variant or version).
Everything about the input is checked before anything runs or is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gatewaysim.properties.emit import emit_test
from gatewaysim.properties.failure import load_failure
from gatewaysim.properties.pack import get_pack
from gatewaysim.properties.replay import Verdict, replay
from gatewaysim.properties.steps import format_steps
from gatewaysim.simulator.clock import format_time
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.files import is_special, resolve_target, temp_sibling

from .args import add_determinism_option, add_pack_option, load_packs, pack_argv
from .determinism import run_twice

NAME = "replay"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME,
        help="rerun a failure file, print its timeline, optionally emit a regression test",
        description=(
            "Rerun the minimal failing run a failure file records, print its timeline and "
            "the violation, and check the trace hash. Exit 0 if the invariant now holds, 1 if "
            "it fails as recorded, 3 if it fails differently, 2 for bad input."
        ),
    )
    p.add_argument("file", metavar="FILE", help="a failure file written by 'gatewaysim explore'")
    p.add_argument("--variant", help="replay under this variant's config instead of the file's")
    p.add_argument("--emit-test", metavar="PATH",
                   help="also write a standalone pytest regression test for this run")
    p.add_argument("--quiet", action="store_true", help="do not print the steps and timeline")
    p.add_argument("--trace", metavar="FILE",
                   help="write the replayed run's trace as JSON Lines to FILE")
    add_pack_option(p)
    add_determinism_option(p)


def run(args: argparse.Namespace) -> int:
    load_packs(args)
    failure = load_failure(args.file)
    if args.variant is not None:
        get_pack(failure.pack).config_of(args.variant)  # unknown variant: ConfigError, exit 2
    emit_path = Path(args.emit_test) if args.emit_test else None
    if emit_path is not None:
        _check_writable(emit_path)
    if args.check_determinism:
        argv = ["replay", args.file, "--quiet", *pack_argv(args)]
        if args.variant is not None:
            argv += ["--variant", args.variant]
        lines = list(run_twice(argv))
        print("\n".join(lines))
        return 0 if lines[-1].endswith("identical traces") else 1
    trace_path = Path(args.trace) if args.trace else None
    if trace_path is not None:
        _check_writable(trace_path)

    result = replay(failure, args.variant, trace_path=trace_path)
    changed = args.variant is not None and args.variant != failure.variant
    print(f"replaying {args.file}: pack {failure.pack}, variant {result.variant}"
          f"{' (recorded: ' + failure.variant + ')' if changed else ''}, seed {failure.seed}, "
          f"{len(failure.steps)} steps")
    if not args.quiet:
        print("steps:")
        print(format_steps(list(failure.steps)) or "    (none)")
        print("timeline:")
        print(result.timeline_text)
    if result.records_before_timeline and not args.quiet:
        print(f"(the timeline shows the end of the run: {result.records_before_timeline} "
              "earlier records are not shown)")
    v = result.violation
    if result.verdict is Verdict.HOLDS:
        print(f"HOLDS {failure.invariant_id}: {failure.statement} "
              "(the failure no longer reproduces)")
    elif result.verdict is Verdict.REPRODUCED:
        print(f"VIOLATED {v.invariant_id} at t={format_time(v.t)} after step {v.step_index}: "
              f"{v.message}")
    else:
        assert v is not None
        recorded = failure.violation
        print(f"DIFFERENT {v.invariant_id} at t={format_time(v.t)} after step {v.step_index}: "
              f"{v.message} (recorded: {failure.invariant_id} after step "
              f"{recorded.step_index})")
    if result.hash_matches:
        print(f"trace sha256 {result.trace_sha256} matches the failure file")
    else:
        why = " (expected: the variant changed)" if result.config_changed else (
            ": the run is not the recorded one (the model or the file changed)")
        print(f"trace sha256 {result.trace_sha256} differs from the failure file's "
              f"{failure.trace_sha256}{why}")
    if emit_path is not None:
        emit_test(failure, emit_path, args.variant)
        print(f"wrote regression test {emit_path}")
    return int(result.verdict)


def _check_writable(path: Path) -> None:
    """Refuse an output path that cannot be written, before anything runs."""
    target = resolve_target(path)
    if target.is_dir():
        raise ConfigError(f"cannot write {path}: it is a directory")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {path}: {target.parent} is not a directory")
    if not is_special(target):
        temp_sibling(target).unlink()
