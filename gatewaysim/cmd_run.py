"""``gatewaysim run SCENARIO``: run one registered scenario and print what happened.

The output ends with ``trace sha256: <hex>`` on its own last line, always, so a script (or
a person comparing two machines) can check determinism with ``tail -n 1``.

A trace file is written next to its destination under a temporary name and renamed into
place only once the run has finished, so an interrupted or failed run never leaves a
half-written trace where a finished one is expected. Whether the destination can be
written is checked before the run starts, so a typo costs no simulated hour.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

from gatewaysim.properties.pack import find_scenario, load_pack, loadable_packs
from gatewaysim.simulator.clock import Time, format_duration, parse_duration
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.scenario import Scenario, ScenarioResult
from gatewaysim.simulator.timeline import render_timeline
from gatewaysim.simulator.trace import Trace

NAME = "run"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME,
        help="run a named scenario and print its summary and trace hash",
        description=(
            "Run a registered scenario on the virtual clock. Prints a summary, the timeline "
            "when the scenario has one, and as the last line the sha256 of the trace: the "
            "same scenario, seed and duration give the same hash on any machine."
        ),
    )
    p.add_argument("scenario", nargs="?", metavar="SCENARIO",
                   help="scenario name (see --list)")
    p.add_argument("--seed", default="0", metavar="N",
                   help="master seed, an integer >= 0 (default: 0)")
    p.add_argument("--duration", metavar="SPAN",
                   help="virtual time to run: 250ms, 5s, 10m, 1h (default: the scenario's)")
    p.add_argument("--trace", metavar="FILE",
                   help="write the trace as JSON Lines to FILE (its sha256 is the printed hash)")
    p.add_argument("--timeline", action="store_true",
                   help="print the timeline even when the scenario does not by default")
    p.add_argument("--verbose", action="store_true",
                   help="show every record in the timeline, timers and messages included")
    p.add_argument("--quiet", action="store_true",
                   help="print only the trace hash line")
    p.add_argument("--list", action="store_true",
                   help="list the scenarios with one-line descriptions and exit")
    add_pack_option(p)


def add_pack_option(p: argparse.ArgumentParser) -> None:
    """``--pack module:attr``: load a pack from your own code (repeatable)."""
    p.add_argument("--pack", action="append", default=[], metavar="MODULE:ATTR", dest="packs",
                   help="load a pack of your own from MODULE:ATTR (imported from the current "
                        "directory), as if it were installed")


def load_packs(args: argparse.Namespace) -> None:
    for spec in args.packs:
        load_pack(spec)


def parse_seed(text: str) -> int:
    """A seed is a non-negative integer written in decimal."""
    stripped = str(text).strip()
    if not stripped.isdecimal():
        raise ConfigError(f"bad seed {text!r}: expected an integer >= 0")
    return int(stripped)


def list_scenarios() -> str:
    packs, broken = loadable_packs()
    scenarios = [sc for pack in packs for sc in pack.scenarios]
    width = max((len(sc.name) for sc in scenarios), default=0)
    lines = [f"{sc.name:<{width}}  {sc.summary} (default {format_duration(sc.default_duration)})"
             for sc in scenarios]
    return "\n".join([*lines, *(f"(not loaded: {problem})" for problem in broken)])


def _temp_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{os.getpid()}.tmp")


def prepare_trace_path(path: str) -> tuple[Path, Path]:
    """Check that ``path`` can be written; return it and a fresh temporary sibling.

    The temporary file is created here (so permissions and missing directories show up
    before the run) and must be renamed or removed by the caller.
    """
    dest = Path(path)
    if path == "" or dest.is_dir():
        raise ConfigError(f"cannot write trace {path!r}: it is a directory")
    tmp = _temp_path(dest)
    try:
        with open(tmp, "x", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write trace {path}: {exc.strerror or exc}") from exc
    return dest, tmp


def _summary_lines(scenario: Scenario, seed: int, duration: Time,
                   result: ScenarioResult, trace: Trace) -> list[str]:
    rows: list[tuple[str, Any]] = [
        ("scenario", f"{scenario.name}: {scenario.summary}"),
        ("seed", seed),
        ("virtual time", format_duration(duration)),
        ("events", result.world.scheduler.steps),
        ("trace records", trace.count),
        *result.summary.items(),
    ]
    width = max(len(str(label)) for label, _ in rows) + 1
    return [f"{str(label) + ':':<{width}} {value}" for label, value in rows]


def run(args: argparse.Namespace) -> int:
    load_packs(args)
    if args.list:
        print(list_scenarios())
        return 0
    if args.scenario is None:
        raise ConfigError("a scenario name is required (see 'gatewaysim run --list')")
    pack, scenario = find_scenario(args.scenario)
    seed = parse_seed(args.seed)
    duration = (scenario.default_duration if args.duration is None
                else parse_duration(args.duration))
    show_timeline = (scenario.timeline or args.timeline) and not args.quiet

    dest, tmp = prepare_trace_path(args.trace) if args.trace is not None else (None, None)
    header = {"pack": pack.name, "scenario": scenario.name, "seed": seed, "duration": duration}
    trace: Trace | None = None
    try:
        trace = Trace(header=header, path=tmp, keep=show_timeline)
        result = scenario.run(seed, duration, trace)
        trace.close()
        if tmp is not None and dest is not None:
            os.replace(tmp, dest)
    finally:
        if trace is not None:
            trace.close()
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    if not args.quiet:
        for line in _summary_lines(scenario, seed, duration, result, trace):
            print(line)
        if dest is not None:
            print(f"trace file: {dest}")
        if show_timeline:
            text = render_timeline(trace.records, describe=result.describe,
                                   verbose=args.verbose)
            print()
            print(text if text else "(nothing to show in the timeline)")
            print()
    print(f"trace sha256: {trace.sha256}")
    return 0


__all__ = ["add_pack_option", "add_parser", "list_scenarios", "load_packs", "parse_seed",
           "prepare_trace_path", "run"]
