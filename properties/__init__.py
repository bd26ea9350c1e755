"""Properties: invariants, Hypothesis state machines, the explorer, failure files and replay.

This layer is pack-independent. A *pack* (``properties.echo``, later ``properties.lumenize``)
supplies a :class:`~properties.driver.Driver` subclass with its steps and invariants; the
rest (shrinking, swarm testing, rounds, failure files, replay, emitted regression tests)
works the same for every pack.
"""
