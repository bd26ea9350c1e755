"""``gatewaysim explore PACK``: search a pack's state space for invariant violations.

Progress goes to stderr while the campaign runs (one live status line in a terminal, plain
lines in a pipe or in CI); the findings table, the coverage counters and a "next:" hint
(the commands that replay a finding, turn it into a test, report it) go to stdout at the
end. Exit status 1 when an invariant was violated (a failure file was written for each), 0
when none was, 2 for bad input. Ctrl-C prints the table so far (the findings already
shrunk, their failure files written) and exits 130.

With ``--seeds``, ``--workers`` or ``--dask`` the campaign is split into shards
(:mod:`gatewaysim.properties.scale.campaign`) that run on every core or on a Dask cluster;
without them it is one ``explore()`` in this process, as it always was. A sharded campaign
also exits 1 when a shard failed; there Ctrl-C prints the table of the shards finished so
far.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis.database import DirectoryBasedExampleDatabase

from gatewaysim.properties.explorer import Interrupted, explore
from gatewaysim.properties.pack import Pack, get_pack
from gatewaysim.properties.profiles import PROFILES, default_profile
from gatewaysim.properties.progress import is_terminal, terminal_width, wrap
from gatewaysim.properties.scale.campaign import DEFAULT_SEEDS, run_campaign
from gatewaysim.properties.shrink import DEFAULT_REPLAYS
from gatewaysim.report import write_report
from gatewaysim.report.store import check_report_dir
from gatewaysim.simulator.clock import SECOND, parse_duration

from .args import (
    add_determinism_option,
    add_pack_option,
    load_packs,
    pack_argv,
    positive,
    seed_arg,
)
from .determinism import run_twice

NAME = "explore"
EXIT_INTERRUPTED = 130


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME,
        help="explore a pack with Hypothesis and write a failure file per violated invariant",
        description=(
            "Explore a pack's steps and faults with Hypothesis stateful testing (swarm testing, "
            "shrinking) until the wall-clock budget is spent. Every distinct violated invariant "
            "gets a minimal run, written as a failure file for 'gatewaysim replay'. "
            "'gatewaysim packs' lists the packs and their variants."
        ),
    )
    p.add_argument("pack", metavar="PACK",
                   help="the pack to explore (e.g. echo), or MODULE:ATTR for your own")
    p.add_argument("--variant", help="which variant of the pack's model (default: the pack's, "
                                     "usually faithful)")
    p.add_argument("--budget", default="60s", metavar="DURATION",
                   help="wall-clock budget, e.g. 30s, 10m (default: 60s)")
    p.add_argument("--max-examples", type=positive, metavar="N",
                   help="examples per Hypothesis round (default: the profile's)")
    p.add_argument("--seed", type=seed_arg, default=0, metavar="N",
                   help="world seed, also seeds Hypothesis (default: 0)")
    p.add_argument("--shrink-replays", type=positive, default=DEFAULT_REPLAYS, metavar="N",
                   help="replays the fault-plan pass may spend on each finding after "
                        f"Hypothesis's shrink (default: {DEFAULT_REPLAYS})")
    p.add_argument("--out", default="findings", metavar="DIR",
                   help="directory for failure files (default: findings)")
    p.add_argument("--profile", metavar="NAME",
                   help=f"Hypothesis settings profile: {', '.join(PROFILES)} or one you "
                        "registered (default: $HYPOTHESIS_PROFILE, else dev)")
    scale = p.add_argument_group(
        "campaigns at scale",
        "Split the campaign into shards with disjoint seeds and different fault mixes, run "
        "them in parallel and merge their findings, with how many shards hit each. The "
        "example bound (--max-examples, or the ci profile's 1000) is the whole campaign's, "
        "split over the shards, so the same command finds the same whatever runs it.")
    scale.add_argument("--seeds", "--shards", type=positive, metavar="K", dest="seeds",
                       help=f"independent shards (default: {DEFAULT_SEEDS} when --workers or "
                            "--dask is given)")
    scale.add_argument("--workers", type=positive, metavar="N",
                       help="worker processes, or LocalCluster workers with --dask local "
                            "(default: every core)")
    scale.add_argument("--dask", metavar="ADDRESS",
                       help="run the shards on the dask.distributed scheduler at ADDRESS "
                            "(tcp://host:8786), or 'local' for a LocalCluster on this machine")
    scale.add_argument("--database", metavar="DIR",
                       help="example database directory shared by every worker (on a cluster: "
                            "one every worker mounts); failures found once are replayed "
                            "first by the next campaign (default: the profile's)")
    p.add_argument("--report", metavar="DIR",
                   help="also write a self-contained HTML report of the findings to DIR")
    add_pack_option(p)
    add_determinism_option(p)


def run(args: argparse.Namespace) -> int:
    load_packs(args)
    pack = get_pack(args.pack)
    budget = parse_duration(args.budget) / SECOND
    if args.report is not None:
        check_report_dir(args.report)  # bad input is found before the campaign, not after
    if args.seeds is not None or args.workers is not None or args.dask is not None:
        return _run_campaign(args, pack, budget)
    try:
        report = explore(
            pack,
            variant=args.variant or pack.default_variant,
            budget_s=budget,
            max_examples=args.max_examples,
            seed=args.seed,
            out_dir=args.out,
            profile=args.profile or default_profile(),
            shrink_replays=args.shrink_replays,
            progress=sys.stderr,
            database=DirectoryBasedExampleDatabase(args.database) if args.database else None,
        )
    except Interrupted as stop:
        _say(stop.report.render())
        _hint(args, stop.report.findings)
        if type(stop.__cause__) is not KeyboardInterrupt:  # SIGTERM: the command line's exit
            raise stop.__cause__ from None  # type: ignore[misc]
        return EXIT_INTERRUPTED
    _say(report.render())
    _report(args, report.findings, report)
    _hint(args, report.findings)
    return _check(args, report.findings, 1 if report.failed else 0)


def _report(args: argparse.Namespace, findings: Sequence[Any], explored: Any) -> None:
    """``--report DIR``: the HTML report of what the campaign found."""
    if args.report is not None:
        index = write_report(args.report, list(findings), explored)
        print(f"wrote report {index}")


def _run_campaign(args: argparse.Namespace, pack: Pack, budget: float) -> int:
    report = run_campaign(
        pack,
        variant=args.variant or pack.default_variant,
        seeds=args.seeds or DEFAULT_SEEDS,
        workers=args.workers,
        dask=args.dask,
        budget_s=budget,
        max_examples=args.max_examples,
        seed=args.seed,
        out_dir=args.out,
        profile=args.profile or default_profile(),
        database=Path(args.database) if args.database else None,
        shrink_replays=args.shrink_replays,
        progress=sys.stderr,
    )
    _say(report.render())
    if report.interrupted:
        _hint(args, report.findings)
        return EXIT_INTERRUPTED
    _report(args, [f.path for f in report.findings if f.path is not None], None)
    _hint(args, report.findings)
    return _check(args, report.findings, 1 if report.failed else 0)


def _say(text: str) -> None:
    """Print to stdout; in a terminal, each line wrapped to its width (a continuation
    indented), so that no line is wider than the terminal. A pipe or a file gets the lines
    whole, as scripts and the README expect them."""
    width = terminal_width(sys.stdout) if is_terminal(sys.stdout) else None
    print("\n".join(wrap(text, width)))


def next_hint(paths: Sequence[Path | str], report: bool = True) -> list[str]:
    """What to do with a failure file, as commands to copy: replay it (steps, timeline,
    verdict), turn it into a regression test, write its HTML report (``report``: unless
    the campaign wrote one). The first file of the table stands for any of them."""
    if not paths:
        return []
    first = str(paths[0])
    stem = Path(first).stem
    test = "test_" + (re.sub(r"[^0-9A-Za-z]+", "_", stem.rsplit("-", 1)[-1]).strip("_")
                      or "finding") + ".py"
    lines = ["next: replay a failure file (its steps, the timeline up to the violation, the "
             "verdict),",
             "turn it into a pytest regression test" + (", or write its HTML report:"
                                                        if report else ":"),
             f"  gatewaysim replay {first}",
             f"  gatewaysim replay {first} --emit-test {test}"]
    if report:
        lines.append(f"  gatewaysim replay {first} --report report")
    return lines


def _hint(args: argparse.Namespace, findings: Sequence[Any]) -> None:
    lines = next_hint([f.path for f in findings if f.path is not None],
                      report=args.report is None)
    if lines:
        _say("\n" + "\n".join(lines))


def _check(args: argparse.Namespace, findings: Sequence[Any], status: int) -> int:
    """``--check-determinism``: replay every finding twice in two processes."""
    if args.check_determinism:
        if not findings:
            print("determinism check: no finding to replay (checked nothing)")
        for finding in findings:
            if finding.path is None:
                continue
            print(f"{finding.invariant_id}:")
            lines = list(run_twice(["replay", str(finding.path), "--quiet", *pack_argv(args)]))
            print("\n".join(f"  {line}" for line in lines))
            if not lines[-1].endswith("identical traces"):
                return 1
    return status
