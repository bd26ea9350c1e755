"""gatewaysim: deterministic simulation testing for WebSocket gateways and their clients.

The command line lives in :mod:`gatewaysim.cli`; the kernel in :mod:`simulator`; the
models in :mod:`models`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("gatewaysim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
