"""The executor protocol: where and how evaluations run.

An executor never raises for a failing evaluation: every outcome, including a crash or a
timeout, comes back as a ``FitnessResult``. Only infrastructure problems are retried.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import dataclasses
from collections.abc import Sequence

import numpy as np

from evosearch.batch import Batch, Results
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.fitness.evaluate import VectorRows
from evosearch.genomes.base import Genome
from evosearch.individual import FitnessResult, Status


@dataclasses.dataclass
class Task:
    """One unit of work: a genome (or a batch for batched fitnesses) and its context.

    A *rows* task (``ids`` and ``seeds`` given) is a chunk of a ``Batch``: it resolves to
    ``Results`` (columns) instead of ``list[FitnessResult]``.
    """

    spec: FitnessSpec
    genomes: list[Genome] | VectorRows
    ctx: FitnessContext
    batched_call: bool = False
    ids: np.ndarray | None = None
    seeds: np.ndarray | None = None

    @property
    def rows(self) -> bool:
        return self.ids is not None

    @property
    def key(self) -> str:
        """The evaluation key: genome fingerprint(s) + evaluator version + seed.

        Equal keys mean the same evaluation (same genomes, same evaluator and version, same
        seed, hence the same individual within a run); executors use it to run a duplicate
        submission once and to drop a retried task's late result.
        """
        import hashlib

        h = hashlib.sha256()
        for part in (self.spec.ref, self.spec.version, str(self.ctx.seed), str(self.batched_call)):
            h.update(part.encode() + b"\0")
        if self.rows:
            h.update(np.ascontiguousarray(self.ids).tobytes())
            h.update(np.ascontiguousarray(self.seeds).tobytes())
        if isinstance(self.genomes, VectorRows):
            h.update(np.ascontiguousarray(self.genomes.values).tobytes())
            return h.hexdigest()
        for g in self.genomes:
            h.update(g.fingerprint().encode() + b"\0")
        return h.hexdigest()

    def overdue(self, started: float | None, now: float, grace: float) -> bool:
        """Whether the task, running since ``started``, is past its hard-kill deadline.

        The deadline is the fitness's time limit (times the rows of a batched or rows task,
        which run in one call) plus ``grace`` seconds; a task without a limit or not yet
        started is never overdue.
        """
        limit = self.spec.timeout
        if started is None or limit is None:
            return False
        if self.batched_call or self.rows:
            limit *= len(self.genomes)
        return now - started > limit + grace

    def killed(self) -> list[FitnessResult] | Results:
        """The result of a task killed at its hard deadline: every row a ``timeout``."""
        error = f"evaluation exceeded its {self.spec.timeout:g}s time limit and was killed"
        return self.failure(Status.TIMEOUT, error)

    def failure(self, status: Status, error: str) -> list[FitnessResult] | Results:
        """Every evaluation of the task failed the same way (in the task's result type)."""
        if self.rows:
            return Results.from_results([FitnessResult.failure(status, error)] * len(self.genomes))
        return [FitnessResult.failure(status, error)] * len(self.genomes)


class Executor(abc.ABC):
    """Runs evaluations.

    Args:
        workers: How many evaluations may run at once.
    """

    def __init__(self, workers: int = 1, **params: object):
        if params:
            raise TypeError(f"unknown executor parameters: {sorted(params)}")
        self.workers = workers

    @abc.abstractmethod
    def submit(self, task: Task) -> cf.Future:
        """Start a task; the future resolves to ``list[FitnessResult]`` (one per genome)."""

    def wait(
        self, futures: Sequence[cf.Future], timeout: float | None = None
    ) -> tuple[set[cf.Future], set[cf.Future]]:
        """Wait until at least one future is done (or ``timeout``); returns (done, not done)."""
        done, pending = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return set(done), set(pending)

    def evaluate(
        self, spec: FitnessSpec, genomes: Sequence[Genome], ctxs: Sequence[FitnessContext]
    ) -> list[FitnessResult]:
        """Evaluate a batch, keeping order.

        A batched fitness is split into at most ``workers`` chunks, each one call.
        """
        if not genomes:
            return []
        if spec.batched:
            chunks = _chunks(len(genomes), self.workers)
            futures = [
                self.submit(Task(spec, list(genomes[a:b]), ctxs[a], batched_call=True))
                for a, b in chunks
            ]
        else:
            futures = [self.submit(Task(spec, [g], c)) for g, c in zip(genomes, ctxs)]
        results: list[FitnessResult] = []
        for f in futures:
            results.extend(self.result(f))
        return results

    def evaluate_batch(
        self, spec: FitnessSpec, batch: Batch, ctx: FitnessContext, seeds: np.ndarray
    ) -> Results:
        """Evaluate a batch's rows (not the preset ones) into columns, in row order.

        The rows are split into at most ``workers`` chunks; each chunk is one task, in which
        a per-individual fitness runs in a loop and a batched one is called once.

        Args:
            spec: The fitness.
            batch: What to evaluate.
            ctx: The context shared by every row (seed and id are set per row).
            seeds: Per-row seeds (``row_seeds(run_seed, batch.ids)``).
        """
        rows = batch.todo()
        if rows.size == 0:
            return batch.preset_results()
        whole = rows.size == len(batch)
        if batch.is_vector:
            values = batch.genomes if whole else batch.genomes[rows]
            genomes: list | VectorRows = VectorRows(values, batch.low, batch.high)
        else:
            genomes = [batch.genomes[i] for i in rows.tolist()]
        ids = batch.ids if whole else batch.ids[rows]
        seeds = seeds if whole else seeds[rows]
        futures = [
            self.submit(Task(spec, genomes[a:b], ctx, spec.batched, ids[a:b], seeds[a:b]))
            for a, b in _chunks(rows.size, self.chunks(rows.size))
        ]
        done = Results.concat([self.result(f) for f in futures])
        if whole:
            return done
        out = batch.preset_results()
        out.put(rows, done)
        return out

    def chunks(self, n: int) -> int:
        """How many tasks a batch of ``n`` rows is split into (one per worker)."""
        return self.workers

    def result(self, future: cf.Future) -> list[FitnessResult]:
        return future.result()

    def close(self) -> None:  # noqa: B027  (optional hook; most executors hold nothing)
        """Release workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_task(task: Task) -> list[FitnessResult] | Results:
    """Execute a task in the current process (used by every executor's workers).

    A fitness declared with ``setup=`` gets its per-process resource in ``ctx.resource``;
    a setup that raises makes every evaluation of the task a ``failed`` result.
    """
    from evosearch.fitness.evaluate import evaluate_batch, evaluate_one, evaluate_rows
    from evosearch.fitness.resources import SetupFailed, with_resource

    try:
        task = dataclasses.replace(task, ctx=with_resource(task.spec, task.ctx))
    except SetupFailed as exc:
        return task.failure(Status.FAILED, str(exc))
    if task.rows:
        return evaluate_rows(task.spec, task.genomes, task.ctx, task.ids, task.seeds)
    if task.batched_call:
        return evaluate_batch(task.spec, task.genomes, task.ctx)
    return [evaluate_one(task.spec, g, task.ctx) for g in task.genomes]


def _chunks(n: int, k: int) -> list[tuple[int, int]]:
    k = max(1, min(k, n))
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k) if bounds[i] < bounds[i + 1]]
