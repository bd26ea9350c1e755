"""Where a campaign's tasks run: in this process, in worker processes, or on a
``dask.distributed`` cluster. A task is a plain value with an ``index`` (a shard of an
exploration, a mutant of a mutation campaign) and the *work* is a module-level function
``work(task, emit) -> result`` (:func:`~.shard.run_shard` unless told), so every kind of
campaign shares one set of runners. Every runner reports to the same :class:`Sink`, and
none decides anything: which task is retried, and what a failure means, is the campaign's.

A worker process that dies (killed, out of memory) is seen by its pipe closing without a
result, so exactly its task is known lost; on Dask the scheduler says so with
``KilledWorker`` (a ``LocalCluster`` is started with no retries of its own, so the
campaign's one retry is the only one).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol, cast

from gatewaysim.simulator.errors import ConfigError

from .shard import BUDGET_SPENT, BudgetSpent, run_shard

Work = Callable[[Any, Callable[[str], None]], Any]
"""``work(task, emit) -> result``: runs one task, progress lines to ``emit``. A module-level
function, so that Dask can send it to a worker by name."""


class Sink(Protocol):
    """What a runner reports, as it happens."""

    def started(self, task: Any, attempt: int, pid: int | None) -> None: ...

    def line(self, task: Any, text: str) -> None: ...

    def finished(self, task: Any, report: Any) -> None: ...

    def failed(self, task: Any, attempt: int, why: str, retry: bool) -> bool:
        """Task ``task`` lost on ``attempt``; returns whether to run it again (``retry``
        is ``False`` for an error in the task itself, which a rerun would repeat)."""

    def tick(self) -> None:
        """Called a few times a second while tasks run (live progress)."""


class InProcess:
    """One task after another in this process: the reference every backend must match."""

    name = "1 process"

    def run(self, tasks: list[Any], sink: Sink, work: Work = run_shard) -> None:
        for task in tasks:
            sink.started(task, 1, None)

            def emit(text: str, task: Any = task) -> None:
                sink.line(task, text)
                sink.tick()

            try:
                report = work(task, emit)
            except BudgetSpent as exc:
                sink.failed(task, 1, str(exc), retry=False)
                continue
            except Exception as exc:  # a bug in the task, not in the machine running it
                sink.failed(task, 1, f"{type(exc).__name__}: {exc}", retry=False)
                continue
            sink.finished(task, report)


def _child(work: Work, task: Any, conn: Connection) -> None:
    """A worker process: run one task, send progress lines and then its result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    try:
        report = work(task, lambda text: conn.send(("line", text)))
    except BudgetSpent as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    else:
        conn.send(("done", report))
    finally:
        conn.close()


class Processes:
    """Up to ``workers`` tasks at a time, each in a process of its own (forked, so a
    worker starts with this process's modules already imported)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.name = f"{workers} process{'es' if workers != 1 else ''}"

    def run(self, tasks: list[Any], sink: Sink, work: Work = run_shard) -> None:
        ctx = multiprocessing.get_context("fork")
        pending: deque[tuple[Any, int]] = deque((t, 1) for t in tasks)
        running: dict[Connection, tuple[Any, Any, int]] = {}
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    task, attempt = pending.popleft()
                    ours, theirs = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_child, args=(work, task, theirs), daemon=True,
                                       name=f"gatewaysim task {task.index}")
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


def run_on_dask(work: Work, task: Any, queue_name: str) -> Any:
    """``work(task)`` on a ``dask.distributed`` worker: progress lines go to the named
    distributed queue the coordinator drains."""
    import warnings

    from distributed import Queue
    from distributed.gc import disable_gc_diagnosis
    from hypothesis.errors import HypothesisDeprecationWarning

    # A worker's own threads (heartbeats, the event loop) use the global ``random`` while
    # Hypothesis draws; Hypothesis takes that for a strategy using it. Ours do not (every
    # simulated choice comes from the world's seeded streams), so the warning is noise here.
    warnings.filterwarnings("ignore", message="Do not use the `random` module",
                            category=HypothesisDeprecationWarning)
    # Dask times every garbage collection with ``time.thread_time``, from whatever code the
    # collection interrupts; in a worker forked after the determinism guard wrapped the
    # clocks, a collection during a model step would count as the model reading the clock.
    # The timing feeds only a warning about time spent collecting: a campaign gives it up.
    disable_gc_diagnosis(force=True)
    queue = Queue(queue_name)
    return work(task, lambda line: queue.put([task.index, line]))


CONNECT_TIMEOUT_S = 10
"""How long to try to reach a scheduler given by address before calling it bad input."""

RETRY_AFTER_S = 1.0
"""How long a shard lost with its worker waits before its second run. Workers that die
together (every worker of a machine, say) are noticed by the scheduler one at a time; a
retry sent at once can land on one it has not noticed yet and be lost with it, a second
run wasted on the same event."""


LOCAL_CLUSTER: dict[str, object] = {
    # Dask's default, a fresh interpreter per worker, would import Dask, gatewaysim and the
    # pack again in each (seconds of a short campaign), and take seconds more to stop.
    "distributed.worker.multiprocessing-method": "fork",
    # The statistical profiler samples the running task 100 times a second, taking the GIL
    # from it each time; the event-loop health check runs 50 times a second, the system
    # monitor (CPU, memory, network and disk counters) twice, the memory monitor ten times.
    # On a machine with as many workers as cores, each of those is time the shards lose.
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}
"""Dask settings of a ``LocalCluster`` started for one campaign."""


class Dask:
    """Tasks on a ``dask.distributed`` cluster: ``address`` of its scheduler, or ``local``
    for a ``LocalCluster`` of ``workers`` single-threaded worker processes.

    The ``LocalCluster`` is set up for one campaign (:data:`LOCAL_CLUSTER`): its workers
    are forked from this process, as :class:`Processes`' are, after ``warm`` (the modules
    every task needs, imported once here), and they do none of the sampling that only feeds
    a dashboard, which a campaign's cluster does not have.
    """

    def __init__(self, address: str, workers: int,
                 warm: Callable[[], None] | None = None) -> None:
        self.address = address
        self.workers = workers
        self.warm = warm
        self.name = (f"dask LocalCluster of {workers} worker{'s' if workers != 1 else ''}"
                     if address == "local" else f"dask cluster {address}")

    def run(self, tasks: list[Any], sink: Sink, work: Work = run_shard) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster, Queue, wait
        except ImportError as exc:
            raise ConfigError(f"--dask needs dask.distributed installed ({exc})") from None

        cluster = None
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            if self.address == "local":
                if self.warm is not None:
                    self.warm()
                with dask.config.set(LOCAL_CLUSTER):
                    cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           silence_logs=40)
                client = Client(cluster)
            else:
                try:
                    client = Client(self.address, timeout=CONNECT_TIMEOUT_S)
                except (OSError, ValueError, TypeError) as exc:
                    raise ConfigError(f"cannot reach a dask scheduler at {self.address!r}: "
                                      f"{' '.join(str(exc).split())[:200]}") from None
        queue_name = f"gatewaysim-progress-{time.time_ns()}"
        futures: dict[Any, tuple[Any, int]] = {}
        try:
            queue = Queue(queue_name, client=client)

            def submit(task: Any, attempt: int) -> None:
                future = client.submit(run_on_dask, work, task, queue_name, pure=False,
                                       key=f"gatewaysim-task-{task.index}-{attempt}-"
                                           f"{time.time_ns()}")
                futures[future] = (task, attempt)
                sink.started(task, attempt, None)

            for task in tasks:
                submit(task, 1)
            retries: list[tuple[float, Any, int]] = []  # (when, task, attempt)
            while futures or retries:
                due = [r for r in retries if r[0] <= time.monotonic()]
                for retry in due:
                    retries.remove(retry)
                    submit(retry[1], retry[2])
                if futures:
                    with contextlib.suppress(TimeoutError):  # a tick of the status line
                        wait(list(futures), timeout=0.25, return_when="FIRST_COMPLETED")
                else:
                    time.sleep(0.05)
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
                            retries.append((time.monotonic() + RETRY_AFTER_S, task,
                                            attempt + 1))
                        continue
                    sink.finished(task, report)
                sink.tick()
            self._drain(queue, tasks, sink)
        finally:
            for future in futures:
                future.cancel()
            client.close()
            if cluster is not None:
                cluster.close()

    @staticmethod
    def _drain(queue: Any, tasks: list[Any], sink: Sink) -> None:
        by_index = {t.index: t for t in tasks}
        if queue.qsize():
            for index, text in queue.get(batch=True):
                sink.line(by_index[index], text)
