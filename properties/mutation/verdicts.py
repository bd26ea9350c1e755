"""The book of a mutation campaign while its mutants run: what every runner reports to.

It is the :class:`~gatewaysim.properties.scale.runners.Sink` the scale runners (this
process, worker processes, a Dask cluster) report to, so a mutant is to them what a shard
is to an exploration. Each verdict is saved the moment it arrives (an interrupted campaign
loses only the mutants that were running). A mutant whose worker died is run once more
(``retries``), then booked as ``error``, which leaves it out of the score and makes a
resumed campaign run it again; the other verdicts stand.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from gatewaysim.properties.scale.campaign import Progress, ShardEvent

from .task import RUNNING, MutantTask


class MutantProgress(Progress):
    """The campaign on one status line in a terminal, plain lines in a pipe or CI; with no
    stream, lines of their own go to ``fallback`` and there is no status line."""

    def __init__(self, stream: TextIO | None, fallback: Callable[[str], None] | None,
                 every_s: float) -> None:
        super().__init__(stream, 0, 0.0, every_s)
        self.fallback = fallback
        self.total = 0
        self.earlier = 0
        self.counts: Counter[str] = Counter()
        self.running: set[int] = set()
        self.examples = 0

    def begin(self, total: int, judged: int) -> None:
        """The mutants start (after the baseline): ``total`` drawn, ``judged`` earlier."""
        self.total = total
        self.earlier = judged
        self.start = time.monotonic()
        self.next_line = self.start + self.every_s

    def say(self, text: str) -> None:
        if self.stream is None:
            if self.fallback is not None:
                self.fallback(text)
            return
        super().say(text)

    def status(self) -> str:
        now = time.monotonic()
        elapsed = max(now - self.start, 1e-9)
        judged = sum(self.counts.values())
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        left = self.total - self.earlier - judged
        eta = (f"about {left * elapsed / judged:.0f}s left" if judged and left
               else "" if not left else "time left unknown")
        return (f"{elapsed:6.1f}s  mutants {self.earlier + judged}/{self.total} judged"
                f"{f' ({counts})' if counts else ''}  {len(self.running)} running  "
                f"{self.examples} examples  {self.examples / elapsed:.0f} examples/s  "
                f"{eta}").rstrip()


class Verdicts:
    """Books verdicts into ``results`` (and calls ``save``), decides retries, shows progress."""

    def __init__(self, results: dict[str, dict[str, Any]], save: Callable[[], None],
                 meter: MutantProgress, retries: int,
                 listeners: Sequence[Callable[[ShardEvent], None]] = ()) -> None:
        self.results = results
        self.save = save
        self.meter = meter
        self.retries = retries
        self.listeners = listeners
        self.current: dict[int, tuple[int, int | None]] = {}

    def _tell(self, kind: str, task: MutantTask, text: str = "") -> None:
        attempt, pid = self.current.get(task.index, (0, None))
        for listen in self.listeners:
            listen(ShardEvent(kind, task.index, attempt, pid, text))

    def _book(self, task: MutantTask, verdict: dict[str, Any]) -> None:
        assert task.mutant is not None
        self.results[task.mutant.id] = {**verdict, "n": task.index}
        self.save()
        self.meter.running.discard(task.index)
        self.meter.counts[verdict["status"]] += 1
        self.meter.examples += int(verdict.get("examples", 0))
        self.meter.say(f"  [{self.meter.earlier + sum(self.meter.counts.values())}/"
                       f"{self.meter.total}] #{task.index} {verdict['status']}: "
                       f"{task.mutant.id}")

    def started(self, task: MutantTask, attempt: int, pid: int | None) -> None:
        self.current[task.index] = (attempt, pid)
        self._tell("started", task)

    def line(self, task: MutantTask, text: str) -> None:
        if text.startswith(RUNNING):  # (a Dask task is started when it is sent, not run)
            self.meter.running.add(task.index)
        self._tell("line", task, text)

    def finished(self, task: MutantTask, verdict: dict[str, Any]) -> None:
        attempt = self.current.get(task.index, (1, None))[0]
        self._book(task, {**verdict, "attempts": attempt} if attempt > 1 else verdict)
        self._tell("finished", task)
        self.meter.tick(force=True)

    def failed(self, task: MutantTask, attempt: int, why: str, retry: bool) -> bool:
        again = retry and attempt <= self.retries
        self.meter.running.discard(task.index)
        if again:
            self.meter.say(f"  #{task.index} lost on attempt {attempt}: {why}; running it "
                           "again")
        else:
            self._book(task, {"status": "error", "seconds": 0.0, "attempts": attempt,
                              "detail": f"{why} (after {attempt} attempt(s); --resume "
                                        "runs it again)"})
        self._tell("failed", task, why)
        return again

    def tick(self) -> None:
        self.meter.tick()


__all__ = ["MutantProgress", "Verdicts"]
