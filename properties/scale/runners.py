"""Where shards run: in this process, in worker processes, or on a ``dask.distributed``
cluster. Every runner reports to the same :class:`Sink`, and none decides anything: which
shard is retried, and what a failure means, is the campaign's.

A worker process that dies (killed, out of memory) is seen by its pipe closing without a
result, so exactly its shard is known lost; on Dask the scheduler says so with
``KilledWorker`` (a ``LocalCluster`` is started with no retries of its own, so the
campaign's one retry is the only one).
"""

from __future__ import annotations

import multiprocessing
import signal
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol, cast

from ..explorer import ExploreReport
from .shard import BUDGET_SPENT, BudgetSpent, ShardTask, run_shard, run_shard_on_dask


class Sink(Protocol):
    """What a runner reports, as it happens."""

    def started(self, task: ShardTask, attempt: int, pid: int | None) -> None: ...

    def line(self, task: ShardTask, text: str) -> None: ...

    def finished(self, task: ShardTask, report: ExploreReport) -> None: ...

    def failed(self, task: ShardTask, attempt: int, why: str, retry: bool) -> bool:
        """Shard ``task`` lost on ``attempt``; returns whether to run it again (``retry``
        is ``False`` for an error in the shard itself, which a rerun would repeat)."""

    def tick(self) -> None:
        """Called a few times a second while shards run (live progress)."""


class InProcess:
    """One shard after another in this process: the reference every backend must match."""

    name = "1 process"

    def run(self, tasks: list[ShardTask], sink: Sink) -> None:
        for task in tasks:
            sink.started(task, 1, None)

            def emit(text: str, task: ShardTask = task) -> None:
                sink.line(task, text)
                sink.tick()

            try:
                report = run_shard(task, emit)
            except BudgetSpent as exc:
                sink.failed(task, 1, str(exc), retry=False)
                continue
            except Exception as exc:  # a bug in the shard, not in the machine running it
                sink.failed(task, 1, f"{type(exc).__name__}: {exc}", retry=False)
                continue
            sink.finished(task, report)


def _child(task: ShardTask, conn: Connection) -> None:
    """A worker process: run one shard, send progress lines and then its report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    try:
        report = run_shard(task, lambda text: conn.send(("line", text)))
    except BudgetSpent as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    else:
        conn.send(("done", report))
    finally:
        conn.close()


class Processes:
    """Up to ``workers`` shards at a time, each in a process of its own (forked, so a
    worker starts with this process's modules already imported)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.name = f"{workers} process{'es' if workers != 1 else ''}"

    def run(self, tasks: list[ShardTask], sink: Sink) -> None:
        ctx = multiprocessing.get_context("fork")
        pending: deque[tuple[ShardTask, int]] = deque((t, 1) for t in tasks)
        running: dict[Connection, tuple[Any, ShardTask, int]] = {}
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    task, attempt = pending.popleft()
                    ours, theirs = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_child, args=(task, theirs), daemon=True,
                                       name=f"gatewaysim shard {task.index}")
                    proc.start()
                    theirs.close()
                    running[ours] = (proc, task, attempt)
                    sink.started(task, attempt, proc.pid)
                for ready in wait(list(running), timeout=0.2):
                    conn = cast(Connection, ready)
                    proc, task, attempt = running[conn]
                    payload: Any
                    try:
                        kind, payload = conn.recv()
                    except (EOFError, OSError):
                        kind, payload = "died", None
                    if kind == "line":
                        sink.line(task, payload)
                        continue
                    del running[conn]
                    conn.close()
                    proc.join()
                    if kind == "done":
                        sink.finished(task, payload)
                    elif kind == "error":
                        sink.failed(task, attempt, payload.splitlines()[0], retry=False)
                    elif sink.failed(task, attempt, _death(proc.exitcode), retry=True):
                        pending.appendleft((task, attempt + 1))
                sink.tick()
        finally:
            for conn, (proc, _, _) in running.items():  # Ctrl-C, or an error of our own
                proc.kill()
                proc.join()
                conn.close()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"worker process killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"worker process killed by signal {-exitcode}"
    return f"worker process exited with status {exitcode} before reporting"


class Dask:
    """Shards as tasks on a ``dask.distributed`` cluster: ``address`` of its scheduler, or
    ``local`` for a ``LocalCluster`` of ``workers`` single-threaded worker processes."""

    def __init__(self, address: str, workers: int) -> None:
        self.address = address
        self.workers = workers
        self.name = (f"dask LocalCluster of {workers} worker{'s' if workers != 1 else ''}"
                     if address == "local" else f"dask cluster {address}")

    def run(self, tasks: list[ShardTask], sink: Sink) -> None:
        import dask
        from distributed import Client, LocalCluster, Queue

        cluster = None
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            if self.address == "local":
                cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       silence_logs=40)
                client = Client(cluster)
            else:
                client = Client(self.address)
        queue_name = f"gatewaysim-progress-{time.time_ns()}"
        futures: dict[Any, tuple[ShardTask, int]] = {}
        try:
            queue = Queue(queue_name, client=client)

            def submit(task: ShardTask, attempt: int) -> None:
                future = client.submit(run_shard_on_dask, task, queue_name, pure=False,
                                       key=f"gatewaysim-shard-{task.index}-{attempt}-"
                                           f"{time.time_ns()}")
                futures[future] = (task, attempt)
                sink.started(task, attempt, None)

            for task in tasks:
                submit(task, 1)
            while futures:
                self._drain(queue, tasks, sink)
                for future in [f for f in futures if f.done()]:
                    task, attempt = futures.pop(future)
                    try:
                        report = future.result()
                    except Exception as exc:
                        died = type(exc).__name__ == "KilledWorker"
                        why = ("worker died (KilledWorker)" if died
                               else BUDGET_SPENT if BUDGET_SPENT in str(exc)
                               else f"{type(exc).__name__}: {exc}")
                        if sink.failed(task, attempt, why, retry=died):
                            submit(task, attempt + 1)
                        continue
                    sink.finished(task, report)
                sink.tick()
                time.sleep(0.1)
            self._drain(queue, tasks, sink)
        finally:
            for future in futures:
                future.cancel()
            client.close()
            if cluster is not None:
                cluster.close()

    @staticmethod
    def _drain(queue: Any, tasks: list[ShardTask], sink: Sink) -> None:
        by_index = {t.index: t for t in tasks}
        if queue.qsize():
            for index, text in queue.get(batch=True):
                sink.line(by_index[index], text)
