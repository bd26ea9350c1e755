"""A server node in its own OS process: ``python -m gatewaysim.real.serve``.

Listens on 127.0.0.1 (``--port 0``: any free port), prints ``READY <port>`` once it serves,
turns SIGTERM into the node's ``Terminate`` input, and ends the process (``os._exit(0)``,
open sockets and all, as ``process.exit(0)`` does) when the node says ``process.exit``,
printing ``EXIT <when>`` first (``time.monotonic()``).
SIGKILL needs no help. ``--trace FILE`` writes the process's own trace. With
``--exit-with-parent`` the process also ends when its standard input reaches end of file:
the runner holds the other end of that pipe, so a runner that dies (even by SIGKILL) takes
its server processes with it.

``--node lumenize`` runs a whole site instead (:mod:`.site`: the Worker, the token service,
the mesh objects, and a gateway per instance created on first contact), built from
``--config`` and ``--setup`` (its clients, so the token service knows their refresh
tokens). Its nodes start when the runner says so, and the runner drives it on standard
input, one JSON object a line, each answered ``ACK <n> <ok>``:

* ``{"op": "start", "origin": T}``: set the clock's origin (the runner's
  ``time.monotonic()`` at the scenario's zero) and start the nodes;
* ``{"op": "inject", "to": ADDRESS, "input": {"type": NAME, ...}}``: an outside input;
* ``{"op": "drop", "conn": ID}``: close that connection's TCP connection here;
* ``{"op": "force_close", "host": ADDRESS, "code": N}``: that node's first open socket
  sends a close frame with code ``N``, from outside the node;
* ``{"op": "stop"}``: end the process (``ERROR <repr>`` for each exception a node raised,
  then ``EXIT``).

Every trace record is written to standard output as it happens, ``R <canonical JSON>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable

from gatewaysim.models.restart.config import RestartConfig
from gatewaysim.models.restart.protocol import SERVER
from gatewaysim.models.restart.server import EXIT, ComfyServer, Terminate
from gatewaysim.simulator.messages import Input
from gatewaysim.simulator.trace import Trace, TraceRecord

from .host import RealClock, RealHost
from .site import RealSite

NODES = {"restart-server": (SERVER, ComfyServer, RestartConfig, Terminate)}
"""Server nodes this entry point can run: name -> (address, node class, config class,
the input SIGTERM becomes)."""
SITES = ("lumenize",)
"""Sites (several nodes behind one listener, :mod:`.site`) this entry point can run."""


async def _main(args: argparse.Namespace) -> None:
    address, node_class, config_class, terminate = NODES[args.node]
    config = config_class.from_dict(json.loads(args.config))
    trace = Trace(path=args.trace, header={"node": args.node,
                                           "incarnation": args.incarnation})
    def on_note(event: str, data: dict) -> None:
        if event == EXIT:  # now, as process.exit(0) does: the runner dates the exit
            trace.close()
            print(f"EXIT {time.monotonic():.6f}", flush=True)
            os._exit(0)

    host = RealHost(address, lambda ctx: node_class(ctx, config), trace, RealClock(), {},
                    incarnation=args.incarnation, seed=args.seed, on_note=on_note)
    port = await host.listen(args.port)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: host.deliver(terminate()))
    if args.exit_with_parent:
        loop.add_reader(sys.stdin.fileno(), _parent_gone)
    host.start()
    print(f"READY {port}", flush=True)
    await asyncio.Event().wait()  # until the node says process.exit, or a signal ends it


async def _site_main(args: argparse.Namespace) -> None:
    from . import lumenize  # the pack is imported only when its site runs

    builder = {"lumenize": lumenize.server_site}[args.node]
    trace = Trace(keep=False, hashed=False)
    out = sys.stdout

    def write(record: TraceRecord) -> None:
        out.write("R " + record.to_json() + "\n")
        out.flush()

    trace.listeners.append(write)
    clock = RealClock()
    site, decode = builder(json.loads(args.config), json.loads(args.setup), args.seed,
                           trace, clock)
    port = await site.listen(args.port)
    commands = _Lines(asyncio.get_running_loop())
    print(f"READY {port}", flush=True)
    n = 0
    while True:
        line = await commands.next()
        if line is None:  # end of file: the runner is gone
            os._exit(1)
        n += 1
        try:
            cmd = json.loads(line)
            ok = _command(site, decode, clock, cmd)
        except Exception as exc:  # a bad command, or a node that raised on an input
            print(f"ACK {n} error {type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
            continue
        if ok is None:  # stop
            for error in site.errors:  # what a node raised, for the runner to report
                print(f"ERROR {error!r}".replace("\n", " "), flush=True)
            print(f"EXIT {time.monotonic():.6f}", flush=True)
            os._exit(0)
        print(f"ACK {n} {'ok' if ok else 'no'}", flush=True)


def _command(site: RealSite, decode: Callable[[dict], Input], clock: RealClock,
             cmd: dict) -> bool | None:
    """Run one command: whether it did something, ``None`` for ``stop``."""
    op = cmd["op"]
    if op == "start":
        clock.t0 = float(cmd["origin"])
        site.start()
        return True
    if op == "inject":
        return site.inject(str(cmd["to"]), decode(cmd["input"]))
    if op == "drop":
        return site.drop(str(cmd["conn"]))
    if op == "force_close":
        return site.force_close(str(cmd["host"]), int(cmd["code"]),
                                str(cmd.get("reason", ""))) is not None
    if op == "stop":
        return None
    raise ValueError(f"unknown op {op!r}")


class _Lines:
    """Standard input as lines, read on the loop (``None`` at end of file)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.buffer = b""
        self.loop = loop
        loop.add_reader(sys.stdin.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(sys.stdin.fileno(), 65536)
        except OSError:
            data = b""
        if not data:
            self.loop.remove_reader(sys.stdin.fileno())
            self.queue.put_nowait(None)
            return
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self.queue.put_nowait(line.decode())

    async def next(self) -> str | None:
        return await self.queue.get()


def _parent_gone() -> None:
    """Standard input is readable: end of file means the runner is gone."""
    try:
        data = os.read(sys.stdin.fileno(), 4096)
    except OSError:
        data = b""
    if not data:
        os._exit(1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gatewaysim.real.serve")
    p.add_argument("--node", choices=sorted([*NODES, *SITES]), default="restart-server")
    p.add_argument("--setup", default="{}", help="a site's setup (JSON): its clients")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--incarnation", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", default="{}")
    p.add_argument("--trace")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="end when standard input reaches end of file")
    args = p.parse_args(argv)
    try:
        asyncio.run(_site_main(args) if args.node in SITES else _main(args))
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":
    main()
