"""Sim-to-real: a pack's sans-IO nodes on a real asyncio loop, real sockets, real processes.

* :mod:`.host`: :class:`~.host.RealHost` applies a node's effects for real (timers on the
  loop's clock, WebSockets and HTTP on 127.0.0.1, a Durable Object's alarm, storage,
  socket attachments and auto-responses) and writes the same trace records.
* :mod:`.alarms`: the kernel's Durable Object alarm rules on the loop's clock.
* :mod:`.site`: several nodes in one process behind one listener (a Worker forwarding
  upgrades to objects created on first contact).
* :mod:`.transport`: aiohttp (the ``real`` extra) serves and dials; without it every real
  run stops with one :class:`~gatewaysim.simulator.errors.ConfigError` naming the extra.
* :mod:`.serve`: a server node, or a whole site, in its own process (SIGTERM becomes an
  input; a site takes commands on standard input).
* :mod:`.site_process`: a site process driven from the runner's.
* :mod:`.runner`: a restart script with real processes, signals and dropped connections.
* :mod:`.lumenize`: Lumenize phases 1 and 4 with the server side as one process.
* :mod:`.conformance`, :mod:`.lumenize_view`: what a user observed in simulation against
  what they observed for real.
"""
