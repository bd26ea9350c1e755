"""One ``ci`` campaign on the faithful Lumenize model, shared by every test that needs its
failure files (exploring is the slow part; replaying is cheap).

Under pytest-xdist every worker would run the session fixture; the first one explores and
the others wait for it and read the same directory (a lock in the session's shared temp
directory, the pattern pytest-xdist documents for once-per-session work).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatewaysim.properties.failure import Failure, load_failure

#: The weaknesses of lumenize-mesh.md section 6 the faithful model must show, each as its
#: own invariant.
REAL_FINDINGS = {
    "lumenize.no_pingpong": "two tabs sharing an instanceName supersede each other forever",
    "lumenize.subscribed_in_rows": "silent subscription loss after a failed fan-out",
    "lumenize.client_calls_settle": "an awaited call hangs after its socket dropped",
    "lumenize.rejected_upgrade_stops": "a 403 from the access gate, seen as 1006, retried "
                                       "forever",
    "lumenize.herd_dispersed": "clients dropped together reconnect in lockstep",
}


def _campaign(out: Path) -> None:
    """Run the campaign as a user does, through the command line, in a fresh process.

    The ci campaign as documented (derandomized, 1,000 examples): the README shows what it
    finds. The last real finding is measured at example 452 (client_calls_settle); the rest
    leaves room for the search to change without the test starting to miss them.

    A fresh process also keeps the search independent of whatever Hypothesis already ran in
    this test worker: a derandomized campaign is then the same campaign on every run.
    """
    done = subprocess.run(
        [sys.executable, "-m", "gatewaysim", "explore", "lumenize", "--variant", "faithful",
         "--profile", "ci", "--budget", "600s", "--seed", "0",
         "--out", str(out)],
        capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 1, f"explore exited {done.returncode}: {done.stderr[-2000:]}"
    (out / "DONE").write_text(done.stdout)


@pytest.fixture(scope="session")
def faithful_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of one faithful ci campaign: its failure files, and ``DONE`` holding
    what the command printed."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent
        out = root / "lumenize-faithful-findings"
        with open(root / "lumenize-faithful.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (out / "DONE").exists():
                out.mkdir(exist_ok=True)
                _campaign(out)
    else:
        out = tmp_path_factory.mktemp("lumenize-faithful-findings")
        _campaign(out)
    return out


@pytest.fixture(scope="session")
def faithful_failures(faithful_campaign: Path) -> dict[str, tuple[Path, Failure]]:
    """invariant id -> (failure file, its contents), from one faithful ci campaign."""
    found = {}
    for path in sorted(faithful_campaign.glob("*.json")):
        failure = load_failure(path)
        found[failure.invariant_id] = (path, failure)
    return found
