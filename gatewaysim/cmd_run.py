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

from gatewaysim.properties.pack import Pack, find_scenario, loadable_packs
from gatewaysim.simulator.clock import Time, format_duration, format_time, parse_duration
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.files import is_special, resolve_target, temp_sibling
from gatewaysim.simulator.scenario import Scenario, ScenarioResult
from gatewaysim.simulator.timeline import render_timeline
from gatewaysim.simulator.trace import Trace

from .args import add_determinism_option, add_pack_option, load_packs, pack_argv, seed
from .determinism import run_twice

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
    p.add_argument("--variant", metavar="NAME",
                   help="run under another variant of the pack's model: faithful, fixed or "
                        "mutant:NAME (only scenarios that take one; see --list)")
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
    add_determinism_option(p)


def check_determinism(args: argparse.Namespace) -> int:
    """``run --check-determinism``: the scenario twice, in two processes; where they part."""
    argv = ["run", args.scenario, "--seed", str(parse_seed(args.seed)), "--quiet",
            *pack_argv(args)]
    if args.variant is not None:
        argv += ["--variant", args.variant]
    if args.duration is not None:
        argv += ["--duration", args.duration]
    lines = list(run_twice(argv))
    print("\n".join(lines))
    return 0 if lines[-1].endswith("identical traces") else 1


def parse_seed(text: str) -> int:
    """A seed is a decimal integer from 0 to 2**64 - 1."""
    return seed(text)


def list_scenarios() -> str:
    packs, broken = loadable_packs()
    scenarios = [sc for pack in packs for sc in pack.scenarios]
    width = max((len(sc.name) for sc in scenarios), default=0)
    lines = [f"{sc.name:<{width}}  {sc.summary} (default {format_duration(sc.default_duration)}"
             f"{'; takes --variant' if sc.takes_variant else ''})"
             for sc in scenarios]
    return "\n".join([*lines, *(f"(not loaded: {problem})" for problem in broken)])


def prepare_trace_path(path: str) -> tuple[Path, Path | None]:
    """Check that ``path`` can be written; return where to write and a temporary sibling.

    A regular file is written under a fresh temporary name (created here, so a missing
    directory, a read-only disk or a name that is too long show up before the run) and
    renamed into place; the caller renames or removes it. A FIFO or a device
    (``/dev/null``, ``/dev/stdout``) is written in place: the sibling is ``None``. A
    symbolic link is followed.
    """
    if path == "":
        raise ConfigError("cannot write trace '': no file name")
    dest = resolve_target(path)
    if dest.is_dir():
        raise ConfigError(f"cannot write trace {path!r}: it is a directory")
    if is_special(dest):
        return dest, None
    try:
        return dest, temp_sibling(dest)
    except OSError as exc:
        shown = path if len(path) <= 200 else path[:60] + "..." + path[-40:]
        raise ConfigError(f"cannot write trace {shown}: {exc.strerror or exc}") from exc


def check_variant(pack: Pack, scenario: Scenario, variant: str | None) -> None:
    """Refuse ``--variant`` for a scenario that cannot take one, or a name the pack lacks."""
    if variant is None:
        return
    if not scenario.takes_variant:
        takers = [sc.name for sc in pack.scenarios if sc.takes_variant]
        hint = f" (scenarios of {pack.name} that do: {', '.join(takers)})" if takers else ""
        raise ConfigError(f"scenario {scenario.name!r} runs one fixed configuration and "
                          f"takes no --variant{hint}")
    pack.config.for_variant(variant)  # a ConfigError naming the known variants


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
    shown = [_readable(str(label), value) for label, value in rows]
    # a machine-readable ``*_us`` row that restates a row shown for people is left out
    kept = {(label, str(value)) for (label, value), (new, _) in zip(rows, shown, strict=True)
            if new == str(label)}
    labels, values = {label for label, _ in kept}, {value for _, value in kept}
    rows = [(new, value) for (old, _), (new, value) in zip(rows, shown, strict=True)
            if new == str(old) or (new not in labels and str(value) not in values)]
    width = max(len(label) for label, _ in rows) + 1
    return [f"{label + ':':<{width}} {value}" for label, value in rows]


def _readable(label: str, value: Any) -> tuple[str, Any]:
    """A summary row with microseconds shown as time: a ``*_us`` key holds a span
    (``sent_after_us: 1000000`` prints ``sent after: 1s``), a ``*_at`` key an instant."""
    def span(v: Any) -> Any:
        return format_duration(v) if v else "0s"

    if label.endswith("_us") and _micros(value):
        shown = [span(v) for v in value] if isinstance(value, list) else span(value)
        return label.removesuffix("_us").replace("_", " "), shown
    if label.endswith("_at") and _micros(value):
        return label.replace("_", " "), format_time(value)
    return label, value


def _micros(value: Any) -> bool:
    def one(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    return one(value) or (isinstance(value, list) and all(one(v) for v in value))


def run(args: argparse.Namespace) -> int:
    load_packs(args)
    if args.list:
        print(list_scenarios())
        return 0
    if args.scenario is None:
        raise ConfigError("a scenario name is required (see 'gatewaysim run --list')")
    pack, scenario = find_scenario(args.scenario)
    seed = parse_seed(args.seed)
    check_variant(pack, scenario, args.variant)
    if args.check_determinism:
        if args.duration is not None:
            parse_duration(args.duration)
        return check_determinism(args)
    duration = (scenario.default_duration if args.duration is None
                else parse_duration(args.duration))
    show_timeline = (scenario.timeline or args.timeline) and not args.quiet

    dest, tmp = prepare_trace_path(args.trace) if args.trace is not None else (None, None)
    target = tmp if tmp is not None else dest
    header: dict[str, Any] = {"pack": pack.name, "scenario": scenario.name, "seed": seed,
                              "duration": duration}
    if args.variant is not None:  # only when asked: default runs keep their trace hashes
        header["variant"] = args.variant
    trace: Trace | None = None
    try:
        trace = Trace(header=header, path=target, keep=show_timeline)
        result = scenario.run(seed, duration, trace, variant=args.variant)
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
        if args.trace is not None:
            print(f"trace file: {args.trace}")
        if show_timeline:
            text = render_timeline(trace.records, describe=result.describe,
                                   verbose=args.verbose)
            print()
            print(text if text else "(nothing to show in the timeline)")
            print()
    print(f"trace sha256: {trace.sha256}")
    return 0


__all__ = ["add_parser", "list_scenarios", "parse_seed", "prepare_trace_path", "run"]
