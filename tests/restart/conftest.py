"""Restart pack tests. Real-network tests are marked ``real`` (loopback only, port 0)."""

from __future__ import annotations


def pytest_configure(config):  # type: ignore[no-untyped-def]
    config.addinivalue_line(
        "markers", "real: runs servers in real processes on 127.0.0.1 (a few seconds)")
