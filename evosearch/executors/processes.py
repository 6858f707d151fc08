"""Local worker processes through joblib's loky backend.

Each evaluation has a soft time limit (``SIGALRM`` inside the worker, which turns a hang in
Python code into a ``timeout`` result) and a hard one: a task whose result has not arrived
``grace`` seconds after its limit gets its workers killed and is recorded as ``timeout``;
tasks that were merely queued behind it are resubmitted. A worker that dies (segfault,
``os._exit``, OOM kill) is an infrastructure failure: its tasks are retried up to
``retries`` times, then recorded as ``failed``.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

from joblib.externals.loky import get_reusable_executor
from joblib.externals.loky.process_executor import TerminatedWorkerError

from evosearch import registry
from evosearch.executors import lifeline
from evosearch.executors.base import Executor, Task, run_task
from evosearch.individual import FitnessResult, Status


@registry.executors.register("processes")
class ProcessExecutor(Executor):
    """A pool of ``workers`` loky processes, reused across generations.

    Args:
        workers: Number of worker processes.
        grace: Seconds past a task's time limit before its workers are killed.
        retries: Resubmissions of a task whose worker died.
    """

    def __init__(self, workers: int = 2, grace: float = 5.0, retries: int = 1):
        super().__init__(workers)
        self.grace = grace
        self.retries = retries
        self._lock = threading.Lock()
        self._live: set[cf.Future] = set()  # submitted, not yet resolved
        self._retry: list[cf.Future] = []
        self._pool = get_reusable_executor(
            max_workers=workers, timeout=300, **lifeline.pool_kwargs()
        )

    def submit(self, task: Task) -> cf.Future:
        outer: cf.Future = cf.Future()
        self._live.add(outer)
        outer.add_done_callback(self._live.discard)
        self._start(task, outer, attempt=0)
        return outer

    def _start(self, task: Task, outer: cf.Future, attempt: int) -> None:
        try:
            inner = self._pool.submit(run_task, task)
        except (RuntimeError, TerminatedWorkerError):  # the pool was broken: make a new one
            self._pool = get_reusable_executor(
                max_workers=self.workers, timeout=300, **lifeline.pool_kwargs()
            )
            inner = self._pool.submit(run_task, task)
        with self._lock:
            outer._evosearch = (task, inner, attempt, None)  # type: ignore[attr-defined]

        def relay(f: cf.Future) -> None:
            # Runs in loky's thread: never touch the pool here (a resubmission from inside
            # a broken pool's callback deadlocks); retries are queued for the waiting thread.
            with self._lock:
                if outer.done() or outer._evosearch[1] is not f:  # superseded
                    return
                exc = cf.CancelledError() if f.cancelled() else f.exception()
                if exc is None:
                    outer.set_result(f.result())
                elif isinstance(
                    exc, (TerminatedWorkerError, cf.process.BrokenProcessPool, cf.CancelledError)
                ):
                    if attempt < self.retries:
                        outer._evosearch = (task, None, attempt + 1, None)
                        self._retry.append(outer)
                    else:
                        err = f"worker process died during evaluation ({type(exc).__name__}: {exc})"
                        outer.set_result(task.failure(Status.FAILED, err))
                else:  # cannot happen for run_task, which returns failures as results
                    err = f"{type(exc).__name__}: {exc}"
                    outer.set_result(task.failure(Status.FAILED, err))

        inner.add_done_callback(relay)

    def _resubmit(self) -> None:
        with self._lock:
            todo, self._retry = self._retry, []
        for outer in todo:
            task, _inner, attempt, _ = outer._evosearch
            self._start(task, outer, attempt)

    def wait(self, futures, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._resubmit()
            step = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            if self._retry:
                step = 0.0
            done, pending = cf.wait(futures, timeout=step, return_when=cf.FIRST_COMPLETED)
            if done:
                return set(done), set(pending)
            # every live task, not only the awaited ones: a kill hits all workers
            # (copied in one C call: relay threads discard from _live concurrently)
            self._enforce_hard_limits({f for f in set(self._live) if not f.done()})
            if deadline is not None and time.monotonic() >= deadline:
                return set(), set(pending)

    def result(self, future: cf.Future) -> list[FitnessResult]:
        while not future.done():
            self.wait([future], timeout=None)
        return future.result()

    def _enforce_hard_limits(self, pending) -> None:
        now = time.monotonic()
        overdue = []
        for outer in pending:
            task, inner, attempt, started = outer._evosearch
            if inner is None:  # waiting to be resubmitted after a worker died
                continue
            if started is None and inner.running():
                outer._evosearch = (task, inner, attempt, now)
                continue
            if task.overdue(started, now, self.grace):
                overdue.append(outer)
        if not overdue:
            return
        with self._lock:  # detach every running task from the pool about to be killed
            detached = [o for o in pending if not o.done()]
            for outer in detached:
                task, _inner, attempt, _ = outer._evosearch
                outer._evosearch = (task, None, attempt, None)
        # Killing the pool is the only way to stop a worker stuck outside Python code.
        self._pool.shutdown(wait=False, kill_workers=True)
        self._pool = get_reusable_executor(
            max_workers=self.workers, timeout=300, **lifeline.pool_kwargs()
        )
        for outer in overdue:
            outer.set_result(outer._evosearch[0].killed())
        for outer in detached:
            if not outer.done():  # innocent bystanders of the kill: run them again
                task, _inner, attempt, _ = outer._evosearch
                self._start(task, outer, attempt)

    def close(self) -> None:
        pass  # the reusable pool is shared and shuts down on its own idle timeout
