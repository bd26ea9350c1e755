"""A server node in its own OS process: ``python -m gatewaysim.real.serve``.

Listens on 127.0.0.1 (``--port 0``: any free port), prints ``READY <port>`` once it serves,
turns SIGTERM into the node's ``Terminate`` input, and ends the process (``os._exit(0)``,
open sockets and all, as ``process.exit(0)`` does) when the node says ``process.exit``,
printing ``EXIT <when>`` first (``time.monotonic()``).
SIGKILL needs no help. ``--trace FILE`` writes the process's own trace. With
``--exit-with-parent`` the process also ends when its standard input reaches end of file:
the runner holds the other end of that pipe, so a runner that dies (even by SIGKILL) takes
its server processes with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time

from gatewaysim.models.restart.config import RestartConfig
from gatewaysim.models.restart.protocol import SERVER
from gatewaysim.models.restart.server import EXIT, ComfyServer, Terminate
from gatewaysim.simulator.trace import Trace

from .host import RealClock, RealHost

NODES = {"restart-server": (SERVER, ComfyServer, RestartConfig, Terminate)}
"""Server nodes this entry point can run: name -> (address, node class, config class,
the input SIGTERM becomes)."""


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
    p.add_argument("--node", choices=sorted(NODES), default="restart-server")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--incarnation", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", default="{}")
    p.add_argument("--trace")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="end when standard input reaches end of file")
    args = p.parse_args(argv)
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":
    main()
