"""Helpers for the mutation tests: run ``gatewaysim mutate`` in-process."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gatewaysim import cli


@pytest.fixture
def gatewaysim(monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``gatewaysim(*argv) -> (status, stdout, stderr)``."""

    def run(*argv: str) -> tuple[int, str, str]:
        status = cli.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run
