import os
import shutil

import pytest
from conftest import archive_config

from evosearch.config import FitnessConfig
from evosearch.engine import Engine
from evosearch.executors.base import Task
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Status
from evosearch.store import RunStore

ray = pytest.importorskip("ray", reason="ray is the optional 'dist' extra")
from evosearch.executors.ray import RayExecutor, init_local  # noqa: E402


@pytest.fixture(scope="module")
def ray_session():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    temp_dir = init_local(num_cpus=2)
    yield
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


def spec(ref, timeout=30.0, **params):
    return FitnessSpec.from_config(FitnessConfig(ref=ref, timeout=timeout, params=params))


def tasks(s, n):
    return [
        Task(
            s,
            [VectorGenome([float(i), 1.0])],
            FitnessContext(s.params, seed=100 + i, individual_id=i),
        )
        for i in range(n)
    ]


def drain(ex, futures):
    pending = set(futures)
    while pending:
        _, pending = ex.wait(pending)
    return [ex.result(f)[0] for f in futures]


@pytest.fixture(scope="module")
def actor_pool(ray_session):
    ex = RayExecutor(workers=2, grace=1.0, cpus_per_worker=0.5)
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def task_pool(ray_session):
    ex = RayExecutor(workers=2, actors=False, retries=1, grace=1.0, cpus_per_worker=0.5)
    yield ex
    ex.close()


def delta(ex, run):
    before = dict(ex.stats)
    out = run()
    return out, {k: v - before.get(k, 0) for k, v in ex.stats.items() if v != before.get(k, 0)}


def test_actors_build_the_setup_resource_once_each_and_bound_in_flight_work(actor_pool):
    ex = actor_pool
    futures = [ex.submit(t) for t in tasks(spec("fault_fitness:resident_probe"), 8)]
    assert ex.in_flight <= 2  # back-pressure: the rest waits in the local queue
    results = drain(ex, futures)
    assert [r.score for r in results] == [-(i * i + 1.0) for i in range(8)]
    assert {r.metrics["setups"] for r in results} == {1.0}  # resident: set up once per actor
    assert 1 <= len({r.metrics["pid"] for r in results}) <= 2


def test_a_worker_killed_mid_evaluation_is_retried_on_a_restarted_actor(actor_pool, tmp_path):
    s = spec("fault_fitness:crash_once", marker_dir=str(tmp_path))
    results, stats = delta(
        actor_pool, lambda: drain(actor_pool, [actor_pool.submit(t) for t in tasks(s, 2)])
    )
    assert [r.status for r in results] == [Status.OK, Status.OK]
    assert stats["retries"] == 2


def test_an_actor_stuck_past_the_soft_limit_is_killed_and_restarted(actor_pool):
    hang = tasks(spec("fault_fitness:hang_hard", timeout=1.0), 1)[0]
    ok = tasks(spec("fault_fitness:score"), 2)[1]
    results, stats = delta(
        actor_pool, lambda: drain(actor_pool, [actor_pool.submit(hang), actor_pool.submit(ok)])
    )
    assert [r.status for r in results] == [Status.TIMEOUT, Status.OK]
    assert "killed" in results[0].error
    assert stats["hard_kills"] == 1
    # the restarted actor evaluates again
    assert drain(actor_pool, [actor_pool.submit(tasks(spec("fault_fitness:score"), 4)[3])])[0].ok


def test_a_worker_that_always_dies_becomes_a_failed_result_after_retries(task_pool):
    t = tasks(spec("fault_fitness:crash_always"), 1)[0]
    (result,), stats = delta(task_pool, lambda: drain(task_pool, [task_pool.submit(t)]))
    assert result.status is Status.FAILED
    assert "worker lost 2 times" in result.error
    assert stats["retries"] == 1


def test_an_evaluation_that_raises_is_a_result_and_is_not_retried(task_pool):
    t = tasks(spec("fault_fitness:raises"), 1)[0]
    (result,), stats = delta(task_pool, lambda: drain(task_pool, [task_pool.submit(t)]))
    assert result.status is Status.FAILED
    assert "ValueError: cannot score genome" in result.error
    assert "retries" not in stats


def test_hangs_become_timeouts_by_the_soft_limit_or_a_forced_cancel(ray_session):
    # A long grace: the soft limit's result has 15 s to come back before a hard cancel could
    # race it, however loaded the machine (the hard-hanging task simply waits them out).
    pool = RayExecutor(workers=2, actors=False, retries=1, grace=15.0, cpus_per_worker=0.5)
    soft = tasks(spec("fault_fitness:hang_soft", timeout=1.0), 1)[0]
    hard = tasks(spec("fault_fitness:hang_hard", timeout=1.0), 2)[1]
    try:
        results, stats = delta(pool, lambda: drain(pool, [pool.submit(soft), pool.submit(hard)]))
    finally:
        pool.close()
    assert [r.status for r in results] == [Status.TIMEOUT, Status.TIMEOUT]
    assert "exceeded its 1s time limit" in results[0].error
    assert "killed" in results[1].error
    assert stats["hard_kills"] == 1  # only the task that ignored SIGALRM needed ray.cancel


def test_a_duplicate_submission_of_one_evaluation_key_runs_once(task_pool):
    t = tasks(spec("fault_fitness:score", tag="dup"), 1)[0]
    first, second = task_pool.submit(t), task_pool.submit(Task(t.spec, list(t.genomes), t.ctx))
    assert first is second
    assert task_pool.result(first)[0].score == -1.0
    assert task_pool.stats["duplicates_merged"] == 1


def test_a_steady_state_run_streams_through_ray_without_duplicate_rows(task_pool, tmp_path):
    cfg = archive_config(
        mode="steady_state",
        budget={"evaluations": 20},
        fitness={"ref": "fault_fitness:score", "params": {"device": "cpu"}},
        executor={
            "ref": "ray",
            "workers": 2,
            "params": {"actors": False, "cpus_per_worker": 0.5},
        },
        store={"commit_every": 4},
    )
    summary = Engine.create(cfg, tmp_path / "run").run()
    assert summary.evaluations == 20
    ids = RunStore.open(tmp_path / "run").table(["id"])["id"].to_pylist()
    assert sorted(ids) == list(range(20))
