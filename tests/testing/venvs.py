"""Throwaway virtual environments for tests that install things, never into this one.

``python -m venv --without-pip`` takes a second and needs no network. Besides its own
site-packages, the new environment sees this one's: as plain folders (hypothesis, attrs,
pytest, pip; not this checkout's editable gatewaysim, whose import hook is started by a
``.pth`` file that a plain path line does not run), or, with ``editable_checkout``, as a
site directory (everything, the editable gatewaysim included).
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path


def make_venv(path: Path, *, editable_checkout: bool) -> Path:
    """A venv at ``path`` that sees this environment's packages; returns its ``bin``.

    ``editable_checkout``: also see this checkout's gatewaysim (its editable install).
    Without it, gatewaysim must be installed into the new venv to be importable.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True,
                   capture_output=True, timeout=120)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    if editable_checkout:
        lines = [f"import site; site.addsitedir({d!r})" for d in dirs]
    else:
        lines = dirs
    Path(purelib, "_shared_environment.pth").write_text("\n".join(lines) + "\n")
    return path / "bin"


def add_script(bin_dir: Path, name: str, module: str, function: str) -> Path:
    """A console script ``name`` in ``bin_dir`` running ``module.function`` in that venv."""
    script = bin_dir / name
    script.write_text(f"#!{bin_dir / 'python'}\nimport sys\nfrom {module} import {function}\n"
                      f"sys.exit({function}())\n")
    script.chmod(0o755)
    return script


def venv_environment(bin_dir: Path) -> dict[str, str]:
    """``os.environ`` with ``bin_dir`` first on PATH and nothing pointing at this checkout."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "HYPOTHESIS_PROFILE")
           and not k.startswith("PYTEST_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env["PYTHONNOUSERSITE"] = "1"
    return env
