"""Every way a fitness can misbehave becomes a stored individual with a readable error."""

from __future__ import annotations

import math

import pytest
from conftest import sphere_config

from evosearch import Engine
from evosearch.config import load_config
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.fitness.evaluate import evaluate_batch, evaluate_one
from evosearch.genomes import VectorGenome
from evosearch.individual import FitnessResult, Status, coerce_result
from evosearch.store import RunStore

GENOME = VectorGenome([1.0, 2.0])


def spec(ref: str, timeout: float | None = 5.0, **params) -> FitnessSpec:
    cfg = load_config(
        {
            "budget": {"generations": 1},
            "fitness": {"ref": f"helper_fitness:{ref}", "timeout": timeout, "params": params},
            "strategy": {"ref": "cmaes", "params": {"dimension": 2}},
        }
    ).fitness
    return FitnessSpec.from_config(cfg)


@pytest.mark.parametrize(
    ("ref", "status", "error"),
    [
        ("raises", Status.FAILED, "ValueError: deliberate failure for individual 7"),
        ("returns_nan", Status.INVALID, "non-finite score (nan)"),
        ("returns_inf", Status.INVALID, "non-finite score (-inf)"),
        ("returns_string", Status.INVALID, "fitness returned str ('very good')"),
        ("returns_none", Status.INVALID, "fitness returned NoneType"),
        ("returns_unknown_keys", Status.INVALID, "unknown keys ['accuracy']"),
    ],
)
def test_a_misbehaving_fitness_becomes_a_result(ref, status, error):
    result = evaluate_one(spec(ref), GENOME, FitnessContext(individual_id=7))
    assert result.status is status
    assert error in result.error
    assert math.isnan(result.score)


def test_a_hang_past_the_timeout_is_a_timeout_result():
    result = evaluate_one(spec("hangs", timeout=0.2), GENOME, FitnessContext())
    assert result.status is Status.TIMEOUT
    assert "exceeded its 0.2s time limit" in result.error
    assert result.eval_seconds < 30


def test_a_batched_fitness_with_the_wrong_length_marks_the_batch_invalid():
    results = evaluate_batch(spec("batched_wrong_length"), [GENOME] * 3, FitnessContext())
    assert [r.status for r in results] == [Status.INVALID] * 3
    assert "must return a list of 3 results, got list of length 4" in results[0].error


def test_a_batched_fitness_is_called_once_per_batch():
    s = spec("batched_sphere")
    assert s.batched
    results = evaluate_batch(s, [GENOME, VectorGenome([0.0, 0.0])], FitnessContext())
    assert [r.score for r in results] == [-5.0, 0.0]


def test_fitness_result_and_dict_returns_are_accepted():
    r = evaluate_one(spec("returns_result"), GENOME, FitnessContext())
    assert r.ok and r.score == -5.0 and r.metrics == {"norm": 2.0}
    d = coerce_result({"score": 1, "metrics": {"a": 2}, "descriptors": [0.5], "feedback": "hi"})
    assert d == FitnessResult(score=1.0, metrics={"a": 2.0}, descriptors=(0.5,), feedback="hi")


def test_metrics_that_are_not_numbers_are_invalid():
    r = coerce_result({"score": 1.0, "metrics": {"name": "x"}})
    assert r.status is Status.INVALID and "metrics ['name']" in r.error


def test_a_run_goes_on_through_failures_and_stores_them(tmp_path):
    cfg = sphere_config(fitness="helper_fitness:every_third_fails", budget={"generations": 3})
    summary = Engine.create(cfg, tmp_path / "run").run()
    assert summary.evaluations == 18
    rows = RunStore.open(tmp_path / "run").table().to_pylist()
    assert [r["id"] for r in rows] == list(range(18))
    for r in rows:
        expected = ["failed", "invalid", "ok"][r["id"] % 3]
        assert r["status"] == expected
        assert (r["score"] is None) == (expected != "ok")
        if expected == "failed":
            assert r["error"].startswith("RuntimeError: boom")
    assert summary.best is not None and summary.best.id % 3 == 2


@pytest.mark.parametrize("ref", ["raises", "returns_nan"])
def test_a_run_where_every_evaluation_fails_still_completes(tmp_path, ref):
    cfg = sphere_config(fitness=f"helper_fitness:{ref}", budget={"generations": 2})
    summary = Engine.create(cfg, tmp_path / "run").run()
    assert summary.evaluations == 12 and summary.best is None
    statuses = set(RunStore.open(tmp_path / "run").table(["status"])["status"].to_pylist())
    assert statuses == {"failed" if ref == "raises" else "invalid"}


def test_a_batched_fitness_of_the_wrong_length_does_not_stop_the_run(tmp_path):
    cfg = sphere_config(fitness="helper_fitness:batched_wrong_length", budget={"generations": 2})
    summary = Engine.create(cfg, tmp_path / "run").run()
    assert summary.evaluations == 12
    errors = set(RunStore.open(tmp_path / "run").table(["error"])["error"].to_pylist())
    assert len(errors) == 1 and "batched fitness must return a list" in errors.pop()
