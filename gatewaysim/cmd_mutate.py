"""``gatewaysim mutate PACK``: how strong are a pack's invariants?

Makes seeded mutants of the pack's model package (never touching its files), runs a bounded
exploration campaign on each in a process of its own (on this machine's cores, or with
``--dask`` on a ``dask.distributed`` cluster), and prints which invariant killed
each mutant, the survivors with their diffs, and ``mutation score: X%`` last. Exit status
0 when the campaign ran (whatever the score), 2 for bad input, 130 when interrupted (what
was done is printed first; ``--resume`` with the same ``--work`` finishes it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from gatewaysim.properties.mutation import load_equivalents, model_package, mutate, render
from gatewaysim.properties.pack import get_pack
from gatewaysim.simulator.errors import ConfigError

from .args import add_pack_option, load_packs, positive, seed_arg

NAME = "mutate"


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME,
        help="mutation-test a pack: would its invariants notice a bug in the model?",
        description=(
            "Make seeded mutants of the pack's model code (a flipped comparison, a dropped "
            "effect, a changed constant, a removed statement...), explore each in its own "
            "process with a bounded campaign, and report which invariant killed it. Survivors "
            "are printed with their diffs; 'mutation score: X%' is the last line. Your files "
            "are never changed: each mutant runs from a copy."
        ),
    )
    p.add_argument("pack", metavar="PACK",
                   help="the pack to mutate (e.g. echo), or MODULE:ATTR for your own")
    p.add_argument("--variant", default="fixed",
                   help="the variant each campaign explores; it must pass unmutated "
                        "(default: fixed)")
    p.add_argument("--mutants", type=positive, default=50, metavar="N",
                   help="how many mutants to make (default: 50)")
    p.add_argument("--seed", type=seed_arg, default=0, metavar="N",
                   help="chooses the mutants, and is the campaigns' seed (default: 0)")
    p.add_argument("--max-examples", type=positive, default=200, metavar="N",
                   help="examples in each mutant's campaign (default: 200)")
    p.add_argument("--workers", type=positive, default=_cores(), metavar="N",
                   help="mutants judged at once, one process each, or LocalCluster workers "
                        "with --dask local (default: the cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="judge the mutants on the dask.distributed scheduler at ADDRESS "
                        "(e.g. tcp://10.0.0.5:8786; its workers need gatewaysim and the pack "
                        "importable, and are sent the model package with each mutant), or "
                        "'local' for a LocalCluster on this machine")
    p.add_argument("--timeout", type=positive, metavar="SECONDS",
                   help="wall-clock limit per mutant (default: ten times the unmutated "
                        "campaign's time plus a minute)")
    p.add_argument("--all-lines", action="store_true",
                   help="draw mutants from every line of the model package, not only the "
                        "lines the unmutated campaign runs")
    p.add_argument("--work", metavar="DIR",
                   help="keep the campaign's results here (default: a temporary directory); "
                        "with --resume, finish the campaign it holds")
    p.add_argument("--resume", action="store_true",
                   help="skip the mutants already judged in --work DIR")
    add_pack_option(p)


def run(args: argparse.Namespace) -> int:
    load_packs(args)
    if args.resume and not args.work:
        raise ConfigError("--resume needs --work DIR (where the earlier campaign was kept)")
    pack = get_pack(args.pack)
    pack.config_of(args.variant)
    _, package_dir = model_package(pack)
    equivalents = load_equivalents(package_dir)
    if args.work:
        work = Path(args.work)
        if work.exists() and not work.is_dir():
            raise ConfigError(f"--work {work} exists and is not a directory")
        work.mkdir(parents=True, exist_ok=True)
        return _run(args, pack, work, equivalents)
    with tempfile.TemporaryDirectory(prefix="gatewaysim-mutate-") as tmp:
        return _run(args, pack, Path(tmp), equivalents)


def _run(args: argparse.Namespace, pack: Any, work: Path, equivalents: dict[str, str]) -> int:
    campaign = mutate(
        args.pack if ":" in args.pack else pack, variant=args.variant, mutants=args.mutants,
        seed=args.seed, max_examples=args.max_examples, workers=args.workers, work=work,
        resume=args.resume, timeout_s=args.timeout, all_lines=args.all_lines,
        dask=args.dask, status=sys.stderr,
    )
    print(render(campaign, equivalents), flush=True)
    if campaign.interrupted:
        raise KeyboardInterrupt
    return 0
