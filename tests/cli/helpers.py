"""Running ``python -m gatewaysim`` in a fresh interpreter, as a user at a shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in a fresh interpreter, and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gatewaysim", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120, check=False,
    )
