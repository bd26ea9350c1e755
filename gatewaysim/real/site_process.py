"""A site (:mod:`.site`) in its own OS process, driven from this one.

:class:`SiteProcess` spawns ``python -m gatewaysim.real.serve --node NAME`` on a free port
of 127.0.0.1, waits for ``READY``, then sends it commands on its standard input and waits
for each ``ACK`` (an outside input reaches its node before this process goes on, as
``world.inject`` does). The trace records the process writes (``R <json>``) are read as
they come and kept in :attr:`SiteProcess.records`, on the time base this process gave it
(``start(origin)``). :meth:`SiteProcess.cleanup` kills the process whatever happened; with
``--exit-with-parent`` the process also ends when this one dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

from gatewaysim.simulator.messages import Input
from gatewaysim.simulator.trace import TraceRecord, value_fields

READY_TIMEOUT_S = 30.0
"""Spawn to ``READY``: generous, a loaded machine takes seconds to import aiohttp."""
ACK_TIMEOUT_S = 20.0
EXIT_TIMEOUT_S = 10.0


def encode_input(inp: Input) -> dict[str, Any]:
    """An input as the process's ``decode`` reads it: its class name and its fields."""
    return {"type": type(inp).__name__, **value_fields(inp)}


class SiteProcess:
    """One site process: ``start``, ``command``, ``stop``, ``cleanup``."""

    def __init__(self, node: str, config: dict[str, Any], setup: dict[str, Any],
                 seed: int = 0) -> None:
        self.node = node
        self.config = config
        self.setup = setup
        self.seed = seed
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.pids: list[int] = []
        self.records: list[TraceRecord] = []
        self.startup_s = 0.0
        """Seconds from spawn to ``READY``."""
        self._acks: asyncio.Queue[str] = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self._errors: Any = None
        self.exited = False
        self.errors: list[str] = []
        """What the process's nodes raised (read at :meth:`stop`)."""

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def url(self, _address: str = "") -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        spawned = time.monotonic()
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in cleanup()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gatewaysim.real.serve", "--node", self.node,
            "--port", "0", "--seed", str(self.seed), "--config", json.dumps(self.config),
            "--setup", json.dumps(self.setup), "--exit-with-parent",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
            start_new_session=True, limit=2**24)
        self.pids.append(self.proc.pid)
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), READY_TIMEOUT_S)
        except TimeoutError:
            line = b"(no READY within %d s)" % READY_TIMEOUT_S
        if not line.startswith(b"READY "):
            why = self._last_error(line)
            await self.cleanup()
            raise RuntimeError(f"site process {self.node} did not start: {why}")
        self.port = int(line.split()[1])
        self.startup_s = time.monotonic() - spawned
        self._reader = asyncio.ensure_future(self._read())

    def _last_error(self, line: bytes) -> str:
        self._errors.seek(0)
        lines = self._errors.read().decode(errors="replace").strip().splitlines()
        return (lines or [line.decode(errors="replace").strip()])[-1]

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                await self._acks.put("GONE")
                return
            if line.startswith(b"R "):
                self.records.append(TraceRecord.from_dict(json.loads(line[2:])))
            elif line.startswith(b"ACK "):
                await self._acks.put(line.decode().strip())
            elif line.startswith(b"ERROR "):
                self.errors.append(line[6:].decode(errors="replace").strip())
            elif line.startswith(b"EXIT "):
                self.exited = True

    async def command(self, **cmd: Any) -> bool:
        """Send one command and wait for its answer: did it do something?"""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        answer = await asyncio.wait_for(self._acks.get(), ACK_TIMEOUT_S)
        if answer == "GONE":
            raise RuntimeError(f"site process {self.node} ended: {self._last_error(b'')}")
        parts = answer.split(maxsplit=2)
        if parts[2].startswith("error"):
            raise RuntimeError(f"site process {self.node} refused {cmd!r}: {parts[2]}")
        return parts[2] == "ok"

    async def inject(self, to: str, inp: Input) -> bool:
        return await self.command(op="inject", to=to, input=encode_input(inp))

    async def stop(self) -> None:
        """Ask the process to end; every record it wrote has been read when this returns."""
        if not self.running():
            return
        assert self.proc is not None and self.proc.stdin is not None
        with contextlib.suppress(ConnectionError):
            self.proc.stdin.write(b'{"op": "stop"}\n')
            await self.proc.stdin.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), EXIT_TIMEOUT_S)
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), EXIT_TIMEOUT_S)

    async def cleanup(self) -> None:
        """Kill the process if it still runs (called in ``finally``)."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._errors is not None:
            self._errors.close()
            self._errors = None

    def __repr__(self) -> str:
        return f"SiteProcess({self.node!r}, port={self.port}, pids={self.pids!r})"


__all__ = ["SiteProcess", "encode_input"]
