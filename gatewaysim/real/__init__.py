"""Sim-to-real: a pack's sans-IO nodes on a real asyncio loop, real sockets, real processes.

* :mod:`.host`: :class:`~.host.RealHost` applies a node's effects for real (timers on the
  loop's clock, WebSockets and HTTP on 127.0.0.1) and writes the same trace records.
* :mod:`.transport`: aiohttp (the ``real`` extra) serves and dials; without it every real
  run stops with one :class:`~gatewaysim.simulator.errors.ConfigError` naming the extra.
* :mod:`.serve`: a server node in its own process (SIGTERM becomes an input).
* :mod:`.runner`: a restart script with real processes, signals and dropped connections.
* :mod:`.conformance`: what a user observed in simulation against what they observed for
  real.
"""
