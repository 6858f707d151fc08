"""Ray: evaluations on a local Ray instance or on a whole cluster (``address: auto``).

Two worker kinds:

- ``actors: true`` (default): ``workers`` long-lived actors, each with ``cpus_per_worker``
  CPUs and ``gpus_per_worker`` GPUs. A fitness's ``setup`` resource (a model pool) is built
  once per actor, on its first task, and stays resident for every later one.
- ``actors: false``: stateless Ray tasks (elastic; a resource is built once per Ray worker
  process, which Ray reuses).

Results stream back: each ``submit`` returns a future that completes on its own, and
``wait`` returns as soon as one is done, which is what the steady-state engine needs.
Back-pressure: at most one task per actor (``workers`` tasks in tasks mode) is in Ray at a
time; the rest wait in a local queue, so a large generation never floods the object store.

Failures: an evaluation that raises or exceeds its limit is a result (``failed`` /
``timeout``). The soft limit is ``SIGALRM`` inside the worker; the hard limit kills the actor
(``ray.kill``, Ray restarts it) or cancels the task (``ray.cancel(force=True)``) ``grace``
seconds later. A lost worker or node (``WorkerCrashedError``, ``ActorDiedError``,
``NodeDiedError`` ...) is infrastructure: the task runs again, up to ``retries`` times. A
retried task's original attempt can still finish later; its result is dropped, so one
evaluation key (``Task.key``) yields exactly one result.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import os
import sys
import tempfile
import time
from typing import Any

from evosearch import registry
from evosearch.executors.base import Executor, Task, run_task
from evosearch.individual import FitnessResult, Status

ray: Any = None  # imported on first use: importing Ray costs ~1 s, most runs never need it
rex: Any = None
# Failures of the machinery, not of the evaluation: these are retried (set by _import_ray).
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = ()


def _import_ray() -> None:
    global ray, rex, INFRASTRUCTURE_ERRORS
    if ray is not None:
        return
    try:
        import ray as _ray
        import ray.exceptions as _rex
    except ImportError:
        raise RuntimeError("the ray executor needs Ray: pip install 'evosearch[dist]'") from None
    ray, rex = _ray, _rex
    INFRASTRUCTURE_ERRORS = (
        rex.WorkerCrashedError,
        rex.RayActorError,  # ActorDiedError, ActorUnavailableError
        rex.NodeDiedError,
        rex.LocalRayletDiedError,
        rex.ObjectLostError,  # OwnerDiedError, ObjectReconstructionFailedError, ...
        rex.OutOfMemoryError,
        rex.RaySystemError,
    )


def init_local(num_cpus: int = 2, temp_dir: str | None = None, **kwargs: Any) -> str:
    """Start a private single-machine Ray instance (no dashboard) and return its temp dir.

    The temp dir must be short (Ray puts unix sockets in it), so it goes under ``/tmp``.
    Workers get this process's import path, so fitness modules importable here import there.
    """
    _import_ray()
    temp_dir = temp_dir or tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    env = {"PYTHONPATH": os.pathsep.join(dict.fromkeys([os.getcwd(), *paths]))}
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        _temp_dir=temp_dir,
        runtime_env={"env_vars": env},
        log_to_driver=kwargs.pop("log_to_driver", False),
        **kwargs,
    )
    return temp_dir


STARTED = "started"


def evaluate_streaming(task: Task, device: str | None = None):
    """Yield ``STARTED`` once the fitness resource is ready, then the task's results.

    The start marker is how the driver knows a task left Ray's queue: the hard time limit
    counts from it, so neither scheduling delay nor loading a model pool counts against it.
    """
    from evosearch.fitness.resources import SetupFailed, with_resource

    if device is not None:
        task = dataclasses.replace(task, ctx=dataclasses.replace(task.ctx, device=device))
    try:
        task = dataclasses.replace(task, ctx=with_resource(task.spec, task.ctx))
    except SetupFailed as exc:
        yield STARTED
        yield _fail(task, Status.FAILED, str(exc))
        return
    yield STARTED
    yield run_task(task)


class _Evaluator:
    """The actor body: a worker process that keeps fitness resources resident."""

    def __init__(self, device: str | None):
        self.device = device

    def run(self, task: Task):
        yield from evaluate_streaming(task, self.device)

    def pid(self) -> int:
        return os.getpid()


@dataclasses.dataclass(eq=False)
class _Job:
    task: Task
    outer: cf.Future
    attempt: int = 0
    ref: Any = None  # the ObjectRefGenerator of the running attempt
    actor: int | None = None
    started: float | None = None  # set when the worker reports STARTED


@registry.executors.register("ray")
class RayExecutor(Executor):
    """Evaluate on Ray.

    Args:
        workers: Actors (or concurrent tasks) = evaluations in flight.
        address: ``None`` starts a private local instance; ``auto`` joins the cluster this
            machine belongs to; ``ray://host:10001`` connects a client.
        num_cpus: CPUs of the private local instance (default: ``workers``).
        actors: Long-lived actors holding resources (True) or stateless tasks (False).
        cpus_per_worker: CPUs reserved per actor/task.
        gpus_per_worker: GPUs per actor/task (fractions share a GPU).
        device: Device name given to the fitness in the workers (default ``cuda`` when
            ``gpus_per_worker > 0``, else the engine's choice).
        retries: Re-runs of a task whose worker or node was lost.
        grace: Seconds past the soft limit before the hard kill.
        runtime_env: Ray runtime environment for the workers (``pip``, ``env_vars`` ...).
    """

    def __init__(
        self,
        workers: int = 2,
        address: str | None = None,
        num_cpus: int | None = None,
        actors: bool = True,
        cpus_per_worker: float = 1.0,
        gpus_per_worker: float = 0.0,
        device: str | None = None,
        retries: int = 2,
        grace: float = 5.0,
        runtime_env: dict[str, Any] | None = None,
    ):
        super().__init__(workers)
        _import_ray()
        self.actors = actors
        self.retries = retries
        self.grace = grace
        self.device = device or ("cuda" if gpus_per_worker > 0 else None)
        self._owns_ray = False
        if not ray.is_initialized():
            if address is None:
                init_local(num_cpus or workers)
            else:
                ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
            self._owns_ray = True
        self._opts = {"num_cpus": cpus_per_worker, "num_gpus": gpus_per_worker}
        if runtime_env and not self._owns_ray:
            self._opts["runtime_env"] = runtime_env
        self._queue: collections.deque[_Job] = collections.deque()
        self._running: dict[Any, _Job] = {}  # ObjectRef -> job
        self._by_key: dict[str, cf.Future] = {}
        self._pool: list[Any] = []
        self._busy: list[bool] = []
        # per actor: None when usable, else the ObjectRef of a ping that returns once a
        # restarted actor is up again (Ray refuses calls to an actor while it restarts)
        self._probe: list[Any] = []
        self._remote_task = None
        self.stats = collections.Counter()

    # ------------------------------------------------------------------ public API
    def submit(self, task: Task) -> cf.Future:
        key = task.key
        existing = self._by_key.get(key)
        if existing is not None and not existing.done():
            self.stats["duplicates_merged"] += 1
            return existing
        outer: cf.Future = cf.Future()
        self._by_key[key] = outer
        outer.add_done_callback(lambda _f, k=key: self._by_key.pop(k, None))
        self._queue.append(_Job(task, outer))
        self._dispatch()
        return outer

    def wait(self, futures, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done = {f for f in futures if f.done()}
            if done:
                return done, set(futures) - done
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return set(), set(futures)
            self._poll(0.2 if left is None else min(0.2, left))

    def result(self, future: cf.Future) -> list[FitnessResult]:
        while not future.done():
            self._poll(0.2)
        return future.result()

    @property
    def in_flight(self) -> int:
        """Tasks handed to Ray and not finished (never more than ``workers``)."""
        return len(self._running)

    def close(self) -> None:
        for actor in self._pool:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001  (already gone)
                pass
        self._pool.clear()
        for job in list(self._running.values()) + list(self._queue):
            if not job.outer.done():
                job.outer.set_result(_fail(job.task, Status.FAILED, "executor closed"))
        self._running.clear()
        self._queue.clear()
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    # ------------------------------------------------------------------ scheduling
    def _capacity(self) -> int:
        return self.workers - len(self._running)

    def _dispatch(self) -> None:
        if self.actors and not self._pool and self._queue:
            cls = ray.remote(_Evaluator).options(max_restarts=-1, max_task_retries=0, **self._opts)
            self._pool = [cls.remote(self.device) for _ in range(self.workers)]
            self._busy = [False] * self.workers
            self._probe = [None] * self.workers
        while self._queue and self._capacity() > 0:
            job = self._queue.popleft()
            if self.actors:
                idle = [i for i, b in enumerate(self._busy) if not b and self._probe[i] is None]
                if not idle:
                    self._queue.appendleft(job)
                    return
                job.actor = idle[0]
                self._busy[job.actor] = True
                job.ref = self._pool[job.actor].run.remote(job.task)
            else:
                if self._remote_task is None:
                    self._remote_task = ray.remote(max_retries=0)(evaluate_streaming)
                job.ref = self._remote_task.options(**self._opts).remote(job.task, self.device)
            self._running[job.ref] = job
            self.stats["dispatched"] += 1

    def _poll(self, timeout: float) -> None:
        """Collect started and finished work, enforce hard limits, dispatch queued tasks."""
        self._dispatch()
        probes = [p for p in self._probe if p is not None]
        refs = list(self._running) + probes
        if refs:
            ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                if ref in self._running:
                    self._advance(ref)
                else:
                    self._probed(ref)
        elif timeout:
            time.sleep(min(timeout, 0.05))
        self._enforce_hard_limits()
        self._dispatch()

    def _advance(self, gen: Any) -> None:
        """Read the next item a task streamed: its start marker, its results or its failure."""
        job = self._running.get(gen)
        if job is None:
            return
        try:
            value = ray.get(next(gen))
        except StopIteration:
            value = None
        except INFRASTRUCTURE_ERRORS as exc:
            self._release(job, lost=True)
            if job.attempt < self.retries:
                self.stats["retries"] += 1
                self._queue.appendleft(_Job(job.task, job.outer, attempt=job.attempt + 1))
                return
            err = (
                f"worker lost {job.attempt + 1} times during this evaluation "
                f"(last: {type(exc).__name__}: {_first_line(exc)})"
            )
            job.outer.set_result(_fail(job.task, Status.FAILED, err))
            return
        except rex.TaskCancelledError:
            value = _fail(job.task, Status.TIMEOUT, "evaluation cancelled")
        except rex.RayError as exc:  # e.g. the task could not be unpickled on the worker
            value = _fail(job.task, Status.FAILED, f"{type(exc).__name__}: {_first_line(exc)}")
        if value == STARTED:
            job.started = time.monotonic()
            return
        self._release(job)
        if value is None:
            value = _fail(job.task, Status.FAILED, "worker returned no result")
        if job.outer.done():  # cannot happen for a live job; kept as a guard
            self.stats["late_results_dropped"] += 1
            return
        job.outer.set_result(value)

    def _release(self, job: _Job, lost: bool = False) -> None:
        self._running.pop(job.ref, None)
        if job.actor is not None:
            self._busy[job.actor] = False
            if lost:
                self._reprobe(job.actor)

    def _reprobe(self, index: int) -> None:
        ping = self._pool[index].pid.options(max_task_retries=-1)
        self._probe[index] = ping.remote()

    def _probed(self, ref: Any) -> None:
        index = self._probe.index(ref)
        try:
            ray.get(ref)
            self._probe[index] = None
        except INFRASTRUCTURE_ERRORS:
            self.stats["probe_failures"] += 1
            time.sleep(0.1)
            self._reprobe(index)

    def _enforce_hard_limits(self) -> None:
        now = time.monotonic()
        for ref, job in list(self._running.items()):
            if not job.task.overdue(job.started, now, self.grace):
                continue
            self.stats["hard_kills"] += 1
            job.outer.set_result(job.task.killed())
            self._release(job)
            if job.actor is None:
                ray.cancel(ref, force=True)
            else:  # actor tasks cannot be force-cancelled: kill the actor, Ray restarts it
                ray.kill(self._pool[job.actor], no_restart=False)
                self._reprobe(job.actor)


def _fail(task: Task, status: Status, error: str) -> list[FitnessResult]:
    return task.failure(status, error)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
