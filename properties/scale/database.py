"""The example database a campaign's shards share.

Every shard saves its failing examples to one ``DirectoryBasedExampleDatabase`` directory
(on a cluster, a directory every worker mounts), so the next campaign, anywhere, replays
them first. Within a campaign each shard *reads* a snapshot taken when the campaign
started: whether shard 5 replays what shard 2 found must not depend on which of them a
busy worker ran first, or the merged findings would change with the number of workers.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase


class SnapshotDatabase(ExampleDatabase):
    """Reads from the campaign's snapshot, writes to the shared directory."""

    def __init__(self, shared: str | Path, snapshot: str | Path) -> None:
        super().__init__()
        self.shared = DirectoryBasedExampleDatabase(str(shared))
        self.snapshot = DirectoryBasedExampleDatabase(str(snapshot))

    def save(self, key: bytes, value: bytes) -> None:
        self.shared.save(key, value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        return self.snapshot.fetch(key)

    def delete(self, key: bytes, value: bytes) -> None:
        self.shared.delete(key, value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self.shared.move(src, dest, value)

    def __repr__(self) -> str:
        return f"SnapshotDatabase({str(self.shared.path)!r}, {str(self.snapshot.path)!r})"


def take_snapshot(shared: Path) -> Path:
    """Copy ``shared`` beside itself (so a cluster that mounts one mounts both)."""
    shared.mkdir(parents=True, exist_ok=True)
    snapshot = Path(tempfile.mkdtemp(prefix=f".{shared.name}-snapshot-", dir=shared.parent))
    shutil.copytree(shared, snapshot, dirs_exist_ok=True)
    return snapshot


def drop_snapshot(snapshot: Path) -> None:
    shutil.rmtree(snapshot, ignore_errors=True)
