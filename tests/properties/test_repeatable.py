"""A ci campaign is bounded by examples and gives the same findings, minimal runs and counts
however it is run: from the command line, from the Python API in a fresh process, and inside
this (long-lived, module-laden) pytest worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gatewaysim.properties.explorer import explore

from .helpers import gatewaysim

ARGS = {"pack": "echo", "variant": "buggy", "max_examples": 250, "seed": 3, "profile": "ci"}


def _summary(examples: int, steps: int, findings: dict[str, list]) -> dict:
    return {"examples": examples, "steps": steps, "findings": findings}


def _from_files(out: Path) -> dict[str, list]:
    found = {}
    for path in sorted(out.iterdir()):
        data = json.loads(path.read_text())
        found[data["invariant"]["id"]] = data["steps"]
    return found


def _cli(tmp: Path) -> dict:
    out = tmp / "cli"
    done = gatewaysim("explore", "echo", "--variant", "buggy", "--max-examples", "250",
                      "--seed", "3", "--profile", "ci", "--out", out)
    assert done.returncode == 1, done.stderr
    head = done.stdout.splitlines()[0]
    examples = int(head.split(": ")[1].split(" examples")[0])
    steps = int(head.split(" examples, ")[1].split(" steps")[0])
    return _summary(examples, steps, _from_files(out))


def _api_in_a_fresh_process(tmp: Path) -> dict:
    out = tmp / "api"
    code = (
        "import json; from gatewaysim.properties.explorer import explore; "
        f"r = explore(out_dir={str(out)!r}, progress=None, **{ARGS!r}); "
        "print(json.dumps([r.examples, r.steps]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    examples, steps = json.loads(done.stdout.splitlines()[-1])
    return _summary(examples, steps, _from_files(out))


def _in_this_worker(tmp: Path) -> dict:
    out = tmp / "here"
    report = explore(out_dir=out, progress=None, **ARGS)  # type: ignore[arg-type]
    return _summary(report.examples, report.steps, _from_files(out))


def test_the_same_ci_campaign_gives_the_same_results_every_way(tmp_path: Path) -> None:
    cli, api, here = _cli(tmp_path), _api_in_a_fresh_process(tmp_path), _in_this_worker(tmp_path)
    assert cli["examples"] == 250
    assert set(cli["findings"]) == {"echo.order", "echo.reconnects"}
    assert cli == api == here
