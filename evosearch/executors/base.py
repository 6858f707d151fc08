"""The executor protocol: where and how evaluations run.

An executor never raises for a failing evaluation: every outcome, including a crash or a
timeout, comes back as a ``FitnessResult``. Only infrastructure problems are retried.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import dataclasses
from collections.abc import Sequence

from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.genomes.base import Genome
from evosearch.individual import FitnessResult, Status


@dataclasses.dataclass
class Task:
    """One unit of work: a genome (or a batch for batched fitnesses) and its context."""

    spec: FitnessSpec
    genomes: list[Genome]
    ctx: FitnessContext
    batched_call: bool = False

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
        for g in self.genomes:
            h.update(g.fingerprint().encode() + b"\0")
        return h.hexdigest()


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

    def result(self, future: cf.Future) -> list[FitnessResult]:
        return future.result()

    def close(self) -> None:  # noqa: B027  (optional hook; most executors hold nothing)
        """Release workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_task(task: Task) -> list[FitnessResult]:
    """Execute a task in the current process (used by every executor's workers).

    A fitness declared with ``setup=`` gets its per-process resource in ``ctx.resource``;
    a setup that raises makes every evaluation of the task a ``failed`` result.
    """
    from evosearch.fitness.base import evaluate_batch, evaluate_one
    from evosearch.fitness.resources import SetupFailed, with_resource

    try:
        task = dataclasses.replace(task, ctx=with_resource(task.spec, task.ctx))
    except SetupFailed as exc:
        return [FitnessResult.failure(Status.FAILED, str(exc))] * len(task.genomes)
    if task.batched_call:
        return evaluate_batch(task.spec, task.genomes, task.ctx)
    return [evaluate_one(task.spec, g, task.ctx) for g in task.genomes]


def _chunks(n: int, k: int) -> list[tuple[int, int]]:
    k = max(1, min(k, n))
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k) if bounds[i] < bounds[i + 1]]
