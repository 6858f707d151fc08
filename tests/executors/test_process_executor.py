"""The loky process executor: soft and hard timeouts, dead workers, steady-state runs."""

from __future__ import annotations

import pytest

from evosearch.config import FitnessConfig
from evosearch.executors import ProcessExecutor, SerialExecutor
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.genomes import VectorGenome
from evosearch.individual import Status


def spec(ref: str, timeout: float = 30.0, **params) -> FitnessSpec:
    return FitnessSpec.from_config(FitnessConfig(ref=ref, timeout=timeout, params=params))


def genomes(n: int) -> list[VectorGenome]:
    return [VectorGenome([float(i), 1.0]) for i in range(n)]


def ctxs(n: int) -> list[FitnessContext]:
    return [FitnessContext(individual_id=i) for i in range(n)]


@pytest.fixture(scope="module")
def pool():
    ex = ProcessExecutor(workers=2, grace=1.0, retries=1)
    ex.evaluate(spec("sphere"), genomes(2), ctxs(2))  # start the workers before timing anything
    yield ex
    ex.close()


def test_results_come_back_in_order(pool):
    results = pool.evaluate(spec("sphere"), genomes(5), ctxs(5))
    assert [r.score for r in results] == [-(i * i + 1.0) for i in range(5)]


def test_a_batched_fitness_is_split_across_workers(pool):
    results = pool.evaluate(spec("helper_fitness:batched_sphere"), genomes(5), ctxs(5))
    assert [r.score for r in results] == [-(i * i + 1.0) for i in range(5)]


def test_a_hang_in_python_code_hits_the_soft_limit(pool):
    # The hard kill waits 30 s past the limit here: the soft limit (0.5 s) never races it,
    # however loaded the machine, and the test still takes about half a second.
    patient = ProcessExecutor(workers=2, grace=30.0, retries=1)  # the same shared workers
    results = patient.evaluate(spec("helper_fitness:hangs", timeout=0.5), genomes(2), ctxs(2))
    assert [r.status for r in results] == [Status.TIMEOUT] * 2
    assert all("exceeded its 0.5s time limit" in r.error for r in results)
    assert not any("killed" in r.error for r in results)


def test_a_hang_that_ignores_the_alarm_is_killed_and_bystanders_rerun(pool):
    hang = spec("helper_fitness:hangs_ignoring_alarm", timeout=1.0)
    results = pool.evaluate(hang, genomes(1), ctxs(1))
    assert results[0].status is Status.TIMEOUT
    assert "time limit and was killed" in results[0].error
    after = pool.evaluate(spec("sphere"), genomes(3), ctxs(3))  # the pool works again
    assert all(r.ok for r in after)


def test_bystanders_of_a_kill_are_evaluated_again(pool):
    futures = [pool.submit(_task("sphere", i)) for i in range(2)]
    hang = pool.submit(_task("helper_fitness:hangs_ignoring_alarm", 9, timeout=1.0))
    more = [pool.submit(_task("sphere", i)) for i in range(2, 5)]
    assert pool.result(hang)[0].status is Status.TIMEOUT
    assert [pool.result(f)[0].score for f in futures + more] == [-(i * i) for i in range(5)]


def test_a_dying_worker_is_a_failed_result_after_retries(pool):
    results = pool.evaluate(spec("helper_fitness:dies"), genomes(1), ctxs(1))
    assert results[0].status is Status.FAILED
    assert "worker process died" in results[0].error
    assert pool.evaluate(spec("sphere"), genomes(1), ctxs(1))[0].ok


def test_the_serial_executor_turns_a_hang_into_a_timeout():
    ex = SerialExecutor()
    results = ex.evaluate(spec("helper_fitness:hangs", timeout=0.2), genomes(2), ctxs(2))
    assert [r.status for r in results] == [Status.TIMEOUT] * 2


def _task(ref: str, x: int, timeout: float = 30.0):
    from evosearch.executors import Task

    return Task(spec(ref, timeout=timeout), [VectorGenome([float(x)])], FitnessContext())
