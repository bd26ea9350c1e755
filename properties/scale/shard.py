"""A shard: one example-bounded ``explore()`` campaign, described by a plain value that can
travel to another process or another machine, and the function a worker runs for it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from attrs import frozen

from ..explorer import ExploreReport, explore
from ..pack import Pack, get_pack, load_pack
from .database import SnapshotDatabase


@frozen
class ShardTask:
    """Everything a worker needs to run shard ``index`` (no live objects: it is pickled)."""

    index: int
    pack: str
    variant: str
    seed: int
    profile: str
    max_examples: int | None
    budget_s: float
    shrink_replays: int
    swarm: tuple[str, ...] | None
    """Fault kinds this shard may enable (``None``: all of the pack's)."""
    source: str | None = None
    """``module:attr`` of a pack loaded with ``--pack`` (the worker loads it too)."""
    database: str | None = None
    """The shared example database directory (``None``: none)."""
    snapshot: str | None = None
    """The campaign's read-only copy of ``database``."""
    progress_every_s: float = 1.0
    deadline: float | None = None
    """The campaign's wall-clock deadline (``time.time()``): a shard started late gets only
    what is left, and one started after it does not run."""

    def __repr__(self) -> str:
        return f"ShardTask({self.index}, seed={self.seed}, max_examples={self.max_examples})"

    def budget_left(self) -> float:
        if self.deadline is None:
            return self.budget_s
        return min(self.budget_s, self.deadline - time.time())

    def find_pack(self) -> Pack:
        return load_pack(self.source) if self.source is not None else get_pack(self.pack)


class LineWriter:
    """A text stream that hands each complete line to ``emit`` (the explorer's progress)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.buffer = ""

    def write(self, text: str) -> int:
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            if line.strip():
                self.emit(line)
        return len(text)

    def flush(self) -> None:
        pass


BUDGET_SPENT = "not started: the campaign's budget was spent"


class BudgetSpent(Exception):
    """The campaign's deadline passed before this shard started."""

    def __init__(self) -> None:
        super().__init__(BUDGET_SPENT)


def run_shard(task: ShardTask, emit: Callable[[str], None] | None = None) -> ExploreReport:
    """Run ``task``'s campaign; progress lines go to ``emit``. Failure files are the
    coordinator's to write (once per invariant, after the merge), so none are written here."""
    budget = task.budget_left()
    if budget <= 0:
        raise BudgetSpent
    db = None
    if task.database is not None and task.snapshot is not None:
        db = SnapshotDatabase(Path(task.database), Path(task.snapshot))
    return explore(
        task.find_pack(), variant=task.variant, budget_s=budget,
        max_examples=task.max_examples, seed=task.seed, out_dir=None, profile=task.profile,
        progress=LineWriter(emit) if emit is not None else None,  # type: ignore[arg-type]
        progress_every_s=task.progress_every_s, shrink_replays=task.shrink_replays,
        swarm=task.swarm, database=db,
    )

