"""``gatewaysim replay FILE``: rerun a failure file and show what happened.

Prints the minimal run's steps (numbered from 0, as ``steps[i]`` in the file) and the
timeline of the minute before the violation (``--window``, ``--actor``, ``--limit``), the
violation (or that it no longer happens), and whether the trace hash matches the one the
file recorded. ``--report DIR`` also writes a self-contained HTML report of the run;
``--perfetto OUT.json`` its trace in the Chrome trace-event format. Exit status:
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
from gatewaysim.properties.replay import DEFAULT_WINDOW, Verdict, describe_window, replay
from gatewaysim.simulator.clock import SECOND, Time, format_duration, format_time, parse_duration
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
    p.add_argument("--window", metavar="SECONDS", type=_window,
                   default=DEFAULT_WINDOW,
                   help="how much of the run before the violation the timeline shows: "
                        "seconds or a duration such as 90s or 5m, or 'all' (default: "
                        f"{format_duration(DEFAULT_WINDOW)})")
    p.add_argument("--actor", metavar="PATTERN", action="append", default=[],
                   help="show only actors matching this glob, e.g. 'client/*' (repeatable; "
                        "faults and steps are always shown)")
    p.add_argument("--limit", metavar="N", type=_limit, default=400,
                   help="at most N timeline lines, the ones nearest the violation "
                        "(default: 400; 0: no limit)")
    p.add_argument("--report", metavar="DIR",
                   help="also write a self-contained HTML report of the run to DIR "
                        "(index.html, one page per finding, summary.json)")
    p.add_argument("--perfetto", metavar="OUT.json",
                   help="also write the run's trace in the Chrome trace-event format, "
                        "to open in https://ui.perfetto.dev")
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
    perfetto_path = Path(args.perfetto) if args.perfetto else None
    if perfetto_path is not None:
        _check_writable(perfetto_path)
    report_dir = Path(args.report) if args.report else None
    if report_dir is not None:
        from gatewaysim.report import check_report_dir

        check_report_dir(report_dir)

    result = replay(failure, args.variant, trace_path=trace_path, window=args.window,
                    actors=tuple(args.actor),
                    timeline_limit=0 if args.quiet else (args.limit or None))
    changed = args.variant is not None and args.variant != failure.variant
    print(f"replaying {args.file}: pack {failure.pack}, variant {result.variant}"
          f"{' (recorded: ' + failure.variant + ')' if changed else ''}, seed {failure.seed}, "
          f"{len(failure.steps)} steps")
    v = result.violation
    if not args.quiet:
        _print_steps(failure, result.marks)
        assert result.window is not None
        only = f", actors {' '.join(args.actor)}" if args.actor else ""
        print(f"timeline: {describe_window(result.window, v)}{only}")
        if result.records_before_timeline:
            print(f"    ({result.records_before_timeline} earlier records not shown: "
                  "--window all shows them)")
        if result.lines_cut:
            print(f"    ({result.lines_cut} earlier lines of the window not shown: "
                  "--limit 0 shows them)")
        print(result.timeline_text or "    (no record in the window)")
    if result.verdict is Verdict.HOLDS:
        print(f"HOLDS {failure.invariant_id}: {failure.statement} "
              "(the failure no longer reproduces)")
    elif result.verdict is Verdict.REPRODUCED:
        print(f"VIOLATED {v.invariant_id} at t={format_time(v.t)} {_after(v.step_index)}: "
              f"{v.message}")
    else:
        assert v is not None
        recorded = failure.violation
        print(f"DIFFERENT {v.invariant_id} at t={format_time(v.t)} {_after(v.step_index)}: "
              f"{v.message} (recorded: {failure.invariant_id} "
              f"{_after(recorded.step_index)})")
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
    if perfetto_path is not None or report_dir is not None:
        _write_views(failure, args, perfetto_path, report_dir)
    return int(result.verdict)


def _write_views(failure: Any, args: argparse.Namespace, perfetto_path: Path | None,
                 report_dir: Path | None) -> None:
    """Run once more keeping every record (replay streams) and write the asked-for views."""
    spec = failure.run if args.variant is None else failure.run.under(args.variant)
    executed = spec.execute(keep_records=True)
    if perfetto_path is not None:
        from gatewaysim.report.perfetto import to_trace_events, write_trace_events

        events = to_trace_events(executed.trace.records, describe=executed.describe,
                                 steps=executed.marks, violation=executed.violation,
                                 title=f"{failure.pack} {spec.variant} seed {failure.seed}")
        write_trace_events(perfetto_path, events)
        print(f"wrote Perfetto trace {perfetto_path} ({len(events['traceEvents'])} events): "
              "open it in https://ui.perfetto.dev")
    if report_dir is not None:
        from gatewaysim.report import write_report

        source = Path(args.file)
        index = write_report(report_dir, [(failure, executed, source)])
        print(f"wrote report {index}")


def _print_steps(failure: Any, marks: Any) -> None:
    """The steps as Python, numbered from 0 with the time each was applied."""
    print("steps:")
    if not failure.steps:
        print("    (none)")
    at = {m.index: m for m in marks}
    for i, step in enumerate(failure.steps):
        mark = at.get(i)
        when = f"{format_time(mark.t_us):>9}" if mark is not None else "  not run"
        tag = f"  [{mark.fault}]" if mark is not None and mark.fault else ""
        print(f"  {i:>3}  {when}  {step!r}{tag}")


def _after(step_index: int) -> str:
    """Where a violation happened, with steps numbered from 0 (``step_index`` counts the
    steps applied before it)."""
    return f"after step {step_index - 1}" if step_index > 0 else "before any step"


def _window(text: str) -> Time | None:
    if text == "all":
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            return parse_duration(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"the window must be zero or more, not {text}")
    return round(value * SECOND)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"the limit must be zero or more, not {value}")
    return value


def _check_writable(path: Path) -> None:
    """Refuse an output path that cannot be written, before anything runs."""
    target = resolve_target(path)
    if target.is_dir():
        raise ConfigError(f"cannot write {path}: it is a directory")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {path}: {target.parent} is not a directory")
    if not is_special(target):
        temp_sibling(target).unlink()
