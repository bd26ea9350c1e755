"""Properties: invariants, Hypothesis state machines, the explorer, failure files and replay.

This layer is pack-independent. A *pack* (``gatewaysim.properties.echo``,
``gatewaysim.properties.lumenize``)
supplies a :class:`~gatewaysim.properties.driver.Driver` subclass with its steps and invariants; the
rest (shrinking, swarm testing, rounds, failure files, replay, emitted regression tests)
works the same for every pack.
"""
