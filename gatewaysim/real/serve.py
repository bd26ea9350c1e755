"""A server node in its own OS process: ``python -m gatewaysim.real.serve``.

Listens on 127.0.0.1 (``--port 0``: any free port), prints ``READY <port>`` once it serves,
turns SIGTERM into the node's ``Terminate`` input, and ends the process (``os._exit(0)``,
open sockets and all, as ``process.exit(0)`` does) when the node says ``process.exit``.
SIGKILL needs no help. ``--trace FILE`` writes the process's own trace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

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
    done = asyncio.Event()

    def on_note(event: str, data: dict) -> None:
        if event == EXIT:
            done.set()

    host = RealHost(address, lambda ctx: node_class(ctx, config), trace, RealClock(), {},
                    incarnation=args.incarnation, seed=args.seed, on_note=on_note)
    port = await host.listen(args.port)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM,
                                                  lambda: host.deliver(terminate()))
    host.start()
    print(f"READY {port}", flush=True)
    await done.wait()
    trace.close()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gatewaysim.real.serve")
    p.add_argument("--node", choices=sorted(NODES), default="restart-server")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--incarnation", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", default="{}")
    p.add_argument("--trace")
    args = p.parse_args(argv)
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":
    main()
