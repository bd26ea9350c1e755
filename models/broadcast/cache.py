"""A tab's client cache of the order list: TanStack-Query-like, optimistic, refetched.

The cache holds the last list the server returned (``confirmed``, read at commit sequence
``as_of``) with optimistic entries laid over it (``overlay``, by mutation id). What the tab
shows is the overlay applied on the confirmed list.

Faithful behaviour, after SYNC-012 and its generated-hook pattern:

* a mutation's ``onMutate`` cancels the tab's in-flight fetches (their responses are then
  ignored), snapshots the cache and lays its entry over it;
* ``onError`` restores that snapshot, even if newer data arrived since;
* a refetch response *replaces* the data, optimistic entries included, in the order
  responses arrive: nothing says which of two racing responses is newer.

With ``versioned_cache`` a response read at an older sequence than the data held is
ignored, and a rollback removes only its own write (with any edit laid over an order it
failed to create).
"""

from __future__ import annotations

from typing import Any

from attrs import define, field, frozen


@frozen
class Snapshot:
    confirmed: dict[str, int]
    as_of: int
    overlay: dict[str, tuple[str, int]]


@define
class OrdersCache:
    confirmed: dict[str, int] = field(factory=dict)
    as_of: int = -1
    """The commit sequence ``confirmed`` was read at; -1 before the first response."""
    overlay: dict[str, tuple[str, int]] = field(factory=dict)
    snapshots: dict[str, Snapshot] = field(factory=dict)
    fetches: dict[str, bool] = field(factory=dict)
    """In-flight fetch request id -> cancelled (its response will be ignored)."""

    def shown(self) -> dict[str, int]:
        """What the tab displays: order -> version, optimistic entries laid over."""
        view = dict(self.confirmed)
        for order, version in self.overlay.values():
            view[order] = version
        return dict(sorted(view.items()))

    def begin_mutation(self, mid: str, order: str, version: int) -> None:
        """``onMutate``: cancel in-flight fetches, snapshot, lay the entry over."""
        for req in self.fetches:
            self.fetches[req] = True
        self.snapshots[mid] = Snapshot(dict(self.confirmed), self.as_of, dict(self.overlay))
        self.overlay[mid] = (order, version)

    def settle(self, mid: str) -> None:
        self.snapshots.pop(mid, None)

    def rollback(self, mid: str, *, versioned: bool) -> None:
        """``onError``: restore the snapshot (faithful) or remove only this write (fixed)."""
        snap = self.snapshots.pop(mid, None)
        if versioned or snap is None:
            self.drop(mid)
            return
        self.confirmed, self.as_of, self.overlay = dict(snap.confirmed), snap.as_of, dict(
            snap.overlay)

    def drop(self, mid: str) -> None:
        """Remove a failed write's entry; if it created its order, every entry laid over that
        order goes with it (an edit of an order that never existed cannot stand)."""
        entry = self.overlay.pop(mid, None)
        if entry is not None and entry[1] == 1:
            for other in [m for m, (order, _) in self.overlay.items() if order == entry[0]]:
                del self.overlay[other]

    def lay_over(self, mid: str, order: str, version: int) -> None:
        """Another tab's optimistic entry (``setQueryData`` from a BroadcastChannel message)."""
        self.overlay[mid] = (order, version)

    def fetch_sent(self, req: str) -> None:
        self.fetches[req] = False

    def response(self, req: str, orders: dict[str, int], as_of: int, *,
                 versioned: bool) -> str:
        """A fetch answered: ``applied``, ``cancelled``, ``stale`` (versioned) or ``unknown``."""
        if req not in self.fetches:
            return "unknown"
        if self.fetches.pop(req):
            return "cancelled"
        if versioned and as_of < self.as_of:
            return "stale"
        self.confirmed, self.as_of, self.overlay = dict(orders), as_of, {}
        return "applied"

    def to_note(self) -> dict[str, Any]:
        return {"confirmed": dict(sorted(self.confirmed.items())), "as_of": self.as_of,
                "overlay": {m: [o, v] for m, (o, v) in self.overlay.items()}}

    def __repr__(self) -> str:
        return (f"OrdersCache(as_of={self.as_of}, confirmed={len(self.confirmed)}, "
                f"overlay={len(self.overlay)})")


__all__ = ["OrdersCache", "Snapshot"]
