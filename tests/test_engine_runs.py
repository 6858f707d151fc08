"""Engine runs: budgets, steady-state mode on worker processes, plugins, resume semantics."""

from __future__ import annotations

import math

import pytest
from conftest import archive_config, sphere_config

from evosearch import Engine
from evosearch.registry import fitnesses
from evosearch.store import RunStore


def ids(run) -> list[int]:
    return RunStore.open(run).table(["id"])["id"].to_pylist()


def test_an_entry_point_fitness_plugin_runs_by_name(tmp_path):
    entry = fitnesses.get("rastrigin-shifted")
    assert entry.origin == "entry-point"
    assert entry.obj.__module__ == "evosearch_example_fitness.scores"
    cfg = sphere_config(fitness={"ref": "rastrigin-shifted", "params": {"shift": 0.5}})
    summary = Engine.create(cfg, tmp_path / "run").run()
    assert summary.evaluations == 30
    rows = RunStore.open(tmp_path / "run").table(["status", "score", "metrics"]).to_pylist()
    assert all(r["status"] == "ok" for r in rows)
    assert all(math.isclose(-r["score"], dict(r["metrics"])["rastrigin"]) for r in rows)


def test_a_module_function_reference_runs(tmp_path):
    cfg = sphere_config(fitness="helper_fitness:returns_result", budget={"generations": 2})
    summary = Engine.create(cfg, tmp_path / "run").run()
    assert summary.evaluations == 12 and summary.best.result.metrics == {"norm": 4.0}


def test_the_evaluations_budget_stops_a_generational_run_after_the_batch_that_reaches_it(
    tmp_path,
):
    summary = Engine.create(sphere_config(budget={"evaluations": 15}), tmp_path / "r").run()
    assert summary.stopped_by == "evaluations"
    assert summary.evaluations == 18  # whole generations of 6
    assert ids(tmp_path / "r") == list(range(18))


def test_the_evaluations_budget_is_exact_in_steady_state(tmp_path):
    cfg = archive_config(mode="steady_state", budget={"evaluations": 13})
    summary = Engine.create(cfg, tmp_path / "r").run()
    assert summary.stopped_by == "evaluations" and summary.evaluations == 13
    assert ids(tmp_path / "r") == list(range(13))


def test_the_wall_clock_budget_stops_cleanly(tmp_path):
    cfg = sphere_config(
        budget={"wall_seconds": 0.5},
        fitness={"ref": "helper_fitness:slow_sphere", "params": {"sleep": 0.02}},
    )
    summary = Engine.create(cfg, tmp_path / "r").run()
    assert summary.stopped_by == "wall_seconds"
    assert summary.elapsed >= 0.5
    stored = ids(tmp_path / "r")
    assert stored == list(range(summary.evaluations)) and len(stored) % 6 == 0


def test_the_first_budget_reached_wins(tmp_path):
    cfg = sphere_config(budget={"generations": 2, "evaluations": 1000})
    assert Engine.create(cfg, tmp_path / "r").run().stopped_by == "generations"


def test_steady_state_on_worker_processes_stores_every_result(tmp_path):
    cfg = archive_config(
        mode="steady_state",
        budget={"evaluations": 24},
        executor={"ref": "processes", "workers": 2},
        fitness={"ref": "helper_fitness:every_third_fails"},
        store={"commit_every": 5},
    )
    summary = Engine.create(cfg, tmp_path / "r").run()
    assert summary.evaluations == 24
    store = RunStore.open(tmp_path / "r")
    rows = store.table(["id", "status"]).to_pylist()
    assert sorted(r["id"] for r in rows) == list(range(24))
    assert {r["id"] % 3: r["status"] for r in rows} == {0: "failed", 1: "invalid", 2: "ok"}
    assert [t.num_rows for t in store.iter_commits()] == [5, 5, 5, 5, 4]
    assert store.uncommitted() == []


def test_steady_state_mode_needs_a_steady_state_strategy(tmp_path):
    engine = Engine.create(sphere_config(mode="steady_state"), tmp_path / "r")
    with pytest.raises(RuntimeError, match="mode: steady_state needs a steady-state strategy"):
        engine.run()


def test_a_finished_run_resumed_without_more_budget_does_nothing(tmp_path):
    Engine.create(sphere_config(budget={"generations": 2}), tmp_path / "r").run()
    summary = Engine.resume(tmp_path / "r").run()
    assert summary.generations == 2 and ids(tmp_path / "r") == list(range(12))


def test_a_run_directory_is_never_overwritten(tmp_path):
    from evosearch.store import StoreError

    Engine.create(sphere_config(budget={"generations": 1}), tmp_path / "r").run()
    with pytest.raises(StoreError, match="already holds a run; use 'evosearch resume"):
        Engine.create(sphere_config(), tmp_path / "r")


def test_a_run_being_written_cannot_be_resumed_twice(tmp_path):
    from evosearch.store import StoreError

    engine = Engine.create(sphere_config(budget={"generations": 1}), tmp_path / "r")
    try:
        with pytest.raises(StoreError, match="being written by another process"):
            Engine.resume(tmp_path / "r")
    finally:
        engine.close()


def test_step_is_one_generation(tmp_path):
    engine = Engine.create(sphere_config(), tmp_path / "r")
    try:
        batch = engine.step()
        assert [i.id for i in batch] == list(range(6)) and all(i.evaluated for i in batch)
        assert engine.generation == 1 and len(list(engine.store.iter_commits())) == 1
    finally:
        engine.close()


def test_several_generations_per_commit_store_the_same_individuals(tmp_path):
    one = sphere_config(budget={"generations": 7})
    four = sphere_config(budget={"generations": 7}, store={"generations_per_commit": 4})
    Engine.create(one, tmp_path / "one").run()
    Engine.create(four, tmp_path / "four").run()
    a, b = RunStore.open(tmp_path / "one"), RunStore.open(tmp_path / "four")
    commits_a, commits_b = list(a.iter_commits()), list(b.iter_commits())
    assert len(commits_a) == 7 and len(commits_b) == 2  # 4 generations, then the last 3
    assert a.table().drop_columns(["eval_seconds"]).equals(
        b.table().drop_columns(["eval_seconds"])
    )
    resumed = Engine.resume(tmp_path / "four", budget_overrides=["budget.generations=9"])
    resumed.run()
    assert RunStore.open(tmp_path / "four").num_individuals == 9 * 6
