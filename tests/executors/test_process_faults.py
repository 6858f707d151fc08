"""Worker deaths and hangs in the local processes executor (joblib/loky)."""

from evosearch.config import FitnessConfig
from evosearch.executors.base import Task
from evosearch.executors.processes import ProcessExecutor
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Status


def spec(ref, timeout=30.0, **params):
    return FitnessSpec.from_config(FitnessConfig(ref=ref, timeout=timeout, params=params))


def evaluate(ex, s, n):
    genomes = [VectorGenome([float(i), 1.0]) for i in range(n)]
    ctxs = [FitnessContext(s.params, seed=7 + i, individual_id=i) for i in range(n)]
    return ex.evaluate(s, genomes, ctxs)


def test_a_worker_killed_mid_evaluation_is_retried_in_a_new_worker(tmp_path):
    ex = ProcessExecutor(workers=2, retries=1)
    (result,) = evaluate(ex, spec("fault_fitness:crash_once", marker_dir=str(tmp_path)), 1)
    assert result.status is Status.OK and result.score == -1.0
    assert (tmp_path / "0-7").exists()  # the first attempt did run, and died


def test_a_worker_that_always_dies_is_a_failed_result_after_its_retries():
    ex = ProcessExecutor(workers=2, retries=1)
    (result,) = evaluate(ex, spec("fault_fitness:crash_always"), 1)
    assert result.status is Status.FAILED and "worker process died" in result.error


def test_a_hang_that_ignores_the_soft_limit_is_killed_and_its_neighbours_rerun():
    ex = ProcessExecutor(workers=2, grace=1.0)
    hang = spec("fault_fitness:hang_hard", timeout=1.0)
    ok = spec("fault_fitness:score")
    f_hang = ex.submit(Task(hang, [VectorGenome([0.0])], FitnessContext(seed=1)))
    f_ok = [
        ex.submit(Task(ok, [VectorGenome([float(i)])], FitnessContext(seed=2 + i)))
        for i in range(3)
    ]
    assert ex.result(f_hang)[0].status is Status.TIMEOUT
    assert [ex.result(f)[0].score for f in f_ok] == [-0.0, -1.0, -4.0]
