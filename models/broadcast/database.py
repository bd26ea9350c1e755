"""The one database every backend instance saves to: orders, versions, committed history.

It is shared by the instances as a plain object, not a host: SYNC-012's Postgres is the
source of truth and is not where its weaknesses lie, so a commit is instantaneous and never
fails. Each commit gets the next sequence number; a read returns the orders with the
sequence it was read at, so a reader (and a monitor) can tell which prefix of the history a
response reflects.
"""

from __future__ import annotations

from attrs import define, field, frozen


@frozen
class Commit:
    """One committed write: the ``seq``-th commit set ``order`` to ``version``."""

    seq: int
    order: str
    version: int
    mid: str


@define
class Database:
    orders: dict[str, int] = field(factory=dict)
    history: list[Commit] = field(factory=list)

    @property
    def seq(self) -> int:
        """The sequence number of the last commit (0: nothing committed)."""
        return len(self.history)

    def create(self, order: str, mid: str) -> Commit | None:
        """Insert ``order`` at version 1; ``None`` if it exists (a duplicate id)."""
        if order in self.orders:
            return None
        return self._commit(order, 1, mid)

    def update(self, order: str, mid: str) -> Commit | None:
        """Bump ``order``'s version; ``None`` if there is no such order."""
        if order not in self.orders:
            return None
        return self._commit(order, self.orders[order] + 1, mid)

    def _commit(self, order: str, version: int, mid: str) -> Commit:
        self.orders[order] = version
        commit = Commit(self.seq + 1, order, version, mid)
        self.history.append(commit)
        return commit

    def read(self) -> tuple[dict[str, int], int]:
        """Every order with its version, and the commit sequence this read reflects."""
        return dict(sorted(self.orders.items())), self.seq

    def __repr__(self) -> str:
        return f"Database(orders={len(self.orders)}, seq={self.seq})"


__all__ = ["Commit", "Database"]
