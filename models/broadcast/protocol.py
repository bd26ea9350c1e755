"""What crosses the wires of the broadcast model, and the user actions a browser receives.

Wire shapes follow the SYNC-012 WebSocket protocol: the client sends ``{"subscribe": [...]}``
and ``{"unsubscribe": [...]}``, the backend sends ``{"channel", "event", "payload"}``. The
Redis side is a pub/sub connection: ``subscribe`` (answered with ``subscribed``), ``publish``
(on a separate pool connection, as redis-py does) and ``message`` deliveries. Everything is a
plain dict so the trace shows it as JSON.
"""

from __future__ import annotations

from attrs import frozen

from gatewaysim.simulator.messages import Input

ORDERS = "orders"
"""The channel whose events invalidate the order list."""
CONTACTS = "contacts"
"""A second channel a tab may subscribe to, so subscription sets have more than one member."""
CHANNELS = (ORDERS, CONTACTS)

REDIS = "redis"
"""The Redis host's address."""

CREATED = "order.created"
UPDATED = "order.updated"
RESYNC = "resync"
"""The invalidation an instance sends its subscribers after its bus comes back (a fix)."""


def instance_name(i: int) -> str:
    """``api-a``, ``api-b``, ...: the backend instances behind the load balancer."""
    return f"api-{chr(ord('a') + i)}"


# ----------------------------------------------------------------------------- user actions
@frozen
class CreateOrder(Input):
    """The user creates an order in tab ``tab``; ``valid=False`` makes the API reject it."""

    tab: int
    valid: bool = True


@frozen
class UpdateOrder(Input):
    """The user edits the ``pick``-th order the tab shows (modulo; nothing if it shows none)."""

    tab: int
    pick: int = 0


@frozen
class CloseTab(Input):
    tab: int


@frozen
class OpenTab(Input):
    """Open (or reload) tab slot ``tab``: a new page, a fresh cache, a new socket."""

    tab: int


@frozen
class Subscribe(Input):
    tab: int
    channel: str


@frozen
class Unsubscribe(Input):
    tab: int
    channel: str


__all__ = ["CHANNELS", "CONTACTS", "CREATED", "ORDERS", "REDIS", "RESYNC", "UPDATED",
           "CloseTab", "CreateOrder", "OpenTab", "Subscribe", "Unsubscribe", "UpdateOrder",
           "instance_name"]
