"""The columnar core: batches and results as columns, row evaluation, numeric checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evosearch import Engine
from evosearch.archives.grid import GridArchive
from evosearch.batch import Batch, Results
from evosearch.config import FitnessConfig, load_config
from evosearch.engine import build_strategy
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.fitness.evaluate import VectorRows, row_seeds
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import FitnessResult, Individual, Status
from evosearch.store import RunStore
from evosearch.strategies import vector_ops as ops
from evosearch.strategies.state import decode, encode


def spec(ref: str, timeout: float | None = 5.0) -> FitnessSpec:
    return FitnessSpec.from_config(FitnessConfig(ref=ref, timeout=timeout))


def rows(n: int, d: int = 3) -> Batch:
    x = np.arange(n * d, dtype=np.float64).reshape(n, d) / 10
    return Batch(np.arange(n, dtype=np.int64), 0, x)


def evaluate(ref: str, batch: Batch, timeout: float | None = 5.0) -> Results:
    from evosearch.executors.serial import SerialExecutor

    seeds = row_seeds(7, batch.ids)
    return SerialExecutor().evaluate_batch(spec(ref, timeout), batch, FitnessContext(), seeds)


def test_a_vector_batch_is_evaluated_in_one_task_into_columns():
    batch = rows(5)
    res = evaluate("sphere", batch)
    assert res.status.tolist() == [0] * 5
    np.testing.assert_allclose(res.score, -(batch.genomes**2).sum(axis=1))
    assert res.metrics is None and res.error is None  # nothing per row when nothing to say


@pytest.mark.parametrize(
    ("ref", "status"),
    [
        ("helper_fitness:raises", Status.FAILED),
        ("helper_fitness:returns_nan", Status.INVALID),
        ("helper_fitness:returns_string", Status.INVALID),
        ("helper_fitness:hangs", Status.TIMEOUT),
    ],
)
def test_each_row_keeps_its_own_failure_status(ref, status):
    res = evaluate(ref, rows(2), timeout=0.3)
    assert [res.result(i).status for i in range(2)] == [status, status]
    assert np.isnan(res.score).all() and all(res.error)


def test_a_batched_fitness_gets_the_array_and_may_return_columns():
    batch = rows(4, d=12)
    res = evaluate("arm", batch)
    assert isinstance(res.descriptors, np.ndarray) and res.descriptors.shape == (4, 2)
    assert res.result(0).descriptors == tuple(res.descriptors[0].tolist())


def test_row_seeds_are_distinct_per_id_and_run_seed():
    ids = np.arange(10_000, dtype=np.int64)
    a, b = row_seeds(1, ids), row_seeds(2, ids)
    assert len(set(a.tolist())) == ids.size and not np.array_equal(a, b)
    assert np.array_equal(a, row_seeds(1, ids)) and (a >= 0).all() and (a < 2**32).all()


def test_vector_rows_read_as_genomes_without_copies():
    x = np.ones((3, 2))
    g = VectorRows(x, None, None)[1]
    assert isinstance(g, VectorGenome) and np.shares_memory(g.values, x)


def test_results_round_trip_fitness_results():
    rs = [FitnessResult(1.5, {"m": 2.0}, (0.1,), feedback="hi"),
          FitnessResult.failure(Status.TIMEOUT, "slow")]
    out = Results.from_results(rs)
    assert out.result(0) == rs[0]
    back = out.result(1)  # NaN != NaN: compare the rest
    assert (back.status, back.error, math.isnan(back.score)) == (Status.TIMEOUT, "slow", True)


def test_blend_and_tournament_follow_deaps_arithmetic():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    c1, c2 = ops.blend(a, b, 0.5, np.random.default_rng(1))
    gamma = 2.0 * np.random.default_rng(1).random(a.shape) - 0.5
    np.testing.assert_allclose(c1, (1 - gamma) * a + gamma * b)
    np.testing.assert_allclose(c2, gamma * a + (1 - gamma) * b)
    fit = np.array([1.0, 5.0, 3.0])
    winners = ops.tournament(fit, 1000, 3, rng)
    assert (fit[winners] >= 1.0).all() and np.mean(winners == 1) > 0.6  # the best wins most


def test_bounded_operators_stay_in_the_box():
    rng = np.random.default_rng(3)
    lo, hi = np.full(5, -1.0), np.full(5, 1.0)
    a, b = rng.uniform(-1, 1, (50, 5)), rng.uniform(-1, 1, (50, 5))
    for x in (*ops.sbx(a, b, 15.0, lo, hi, rng), ops.polynomial(a, 20.0, lo, hi, 1.0, rng)):
        assert (x >= -1).all() and (x <= 1).all()


def test_cmaes_matches_evotorchs_own_loop_with_the_same_seed():
    from evotorch import Problem
    from evotorch.algorithms import CMAES

    seed, gens = 4, 8
    torch_seed = int(np.random.default_rng(seed).integers(0, 2**31 - 1))
    torch.manual_seed(torch_seed)
    problem = Problem("max", lambda x: -(x**2).sum(), solution_length=4,
                      initial_bounds=(-5.0, 5.0), dtype=torch.float64, seed=torch_seed)
    searcher = CMAES(problem, stdev_init=1.0, popsize=6)
    for _ in range(gens):
        searcher.step()
    cfg = load_config({
        "name": "c", "seed": seed, "budget": {"generations": gens},
        "fitness": {"ref": "sphere"},
        "strategy": {"name": "cmaes", "params": {"dimension": 4, "popsize": 6}},
    })
    strategy = build_strategy(cfg, np.random.default_rng(seed))
    for _ in range(gens):
        batch = strategy.ask_batch()
        res = Results.empty(len(batch))
        res.score[:] = -(np.asarray(batch.genomes) ** 2).sum(axis=1)
        strategy.tell_batch(batch, res)
    assert strategy.best.score == pytest.approx(float(searcher.status["best_eval"]), abs=0)
    np.testing.assert_array_equal(strategy.center, searcher.m.numpy())


STRATEGIES = {
    "ga": {"population_size": 8, "dimension": 3},
    "cmaes": {"dimension": 3, "popsize": 6},
    "snes": {"dimension": 3, "popsize": 6},
    "pgpe": {"dimension": 3, "popsize": 6},
    "hill_climb": {"dimension": 3, "popsize": 5},
    "map_elites": {"dimension": 6, "low": -3.14, "high": 3.14, "batch_size": 10,
                   "archive": {"name": "grid", "params": {"dims": [6, 6],
                                                          "ranges": [[-6, 6], [-6, 6]]}}},
}


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, bytes, np.ndarray))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_state_dict_is_plain_data_and_resumes_bit_identically(tmp_path, name):
    fitness = "arm" if name == "map_elites" else "sphere"
    cfg = {"name": name, "seed": 2, "budget": {"generations": 6},
           "fitness": {"ref": fitness}, "strategy": {"name": name, "params": STRATEGIES[name]}}
    straight = Engine.create(cfg, tmp_path / "straight")
    straight.run()
    assert _plain(straight.strategy.state_dict())
    Engine.create({**cfg, "budget": {"generations": 3}}, tmp_path / "resumed").run()
    Engine.resume(tmp_path / "resumed", budget_overrides=["budget.generations=6"]).run()
    cols = ["id", "genome", "score", "parent_ids"]
    with RunStore.open(tmp_path / "straight") as a, RunStore.open(tmp_path / "resumed") as b:
        assert a.table(cols).to_pylist() == b.table(cols).to_pylist()


def test_state_codec_round_trips_generators_individuals_and_tensors():
    rng = np.random.default_rng(9)
    rng.spawn(2)
    ind = Individual(3, VectorGenome([1.0, 2.0]), (1, 2), result=FitnessResult(0.5))
    back = decode(encode({"r": rng, "i": ind, "t": torch.arange(3.0), "k": (1, {2: 3})}))
    assert back["r"].random() == rng.random() and back["r"].spawn(1)[0].random() == (
        rng.spawn(1)[0].random()
    )
    assert back["i"] == ind and back["k"] == (1, {2: 3})
    assert torch.equal(back["t"], torch.arange(3.0))
    with pytest.raises(TypeError, match=r"state\.x"):
        encode(object(), "state.x")


def test_columnar_insert_equals_inserting_individuals():
    rng = np.random.default_rng(5)
    n = 400
    scores = rng.normal(size=n)
    scores[::17] = math.nan
    desc = rng.uniform(-1, 1, (n, 2))
    ids = np.arange(n, dtype=np.int64)
    a = GridArchive(dims=[5, 5], ranges=[(-1, 1), (-1, 1)])
    b = GridArchive(dims=[5, 5], ranges=[(-1, 1), (-1, 1)])
    inds = [Individual(int(i), VectorGenome([0.0]), result=FitnessResult(float(s),
            descriptors=tuple(d)) if not math.isnan(s) else FitnessResult.failure(
            Status.FAILED, "x")) for i, s, d in zip(ids, scores, desc)]
    for k in range(0, n, 50):
        a.add(inds[k:k + 50])
        b.add_columns(ids[k:k + 50], scores[k:k + 50], desc[k:k + 50],
                      genomes=np.zeros((50, 1)))
    assert [m.id for m in a.members()] == [m.id for m in b.members()]
    assert a.stats() == b.stats()
    assert a.drain_events() == b.drain_events()
