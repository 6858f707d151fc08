"""Same config + seed + serial executor ⇒ the same stored individuals, bit for bit."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from conftest import archive_config, sphere_config

from evosearch import Engine
from evosearch.store import TIMING_COLUMNS, RunStore

CONFIGS = {
    "cmaes": sphere_config(budget={"generations": 4}),
    "snes": sphere_config(
        budget={"generations": 4},
        strategy={"ref": "snes", "params": {"dimension": 4, "population_size": 6}},
    ),
    "pgpe": sphere_config(
        budget={"generations": 4},
        strategy={"ref": "pgpe", "params": {"dimension": 4, "population_size": 6}},
    ),
    "ga": sphere_config(
        budget={"generations": 4},
        strategy={"ref": "ga", "params": {"dimension": 4, "population_size": 8}},
    ),
    "ga-nsga2": sphere_config(
        budget={"generations": 4},
        fitness="zdt1",
        strategy={
            "ref": "ga",
            "params": {
                "dimension": 5,
                "low": 0.0,
                "high": 1.0,
                "population_size": 8,
                "selection": "nsga2",
                "objectives": ["obj0", "obj1"],
            },
        },
    ),
    "archive-generational": archive_config(),
    "archive-steady-state": archive_config(mode="steady_state", budget={"evaluations": 30}),
}


def stored(run_dir) -> list[dict]:
    table = RunStore.open(run_dir).table()
    return table.drop_columns(list(TIMING_COLUMNS)).to_pylist()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_two_runs_with_the_same_seed_store_identical_individuals(tmp_path, name):
    a = Engine.create(CONFIGS[name], tmp_path / "a").run()
    b = Engine.create(CONFIGS[name], tmp_path / "b").run()
    assert a.evaluations == b.evaluations > 0
    rows_a, rows_b = stored(tmp_path / "a"), stored(tmp_path / "b")
    assert len(rows_a) == a.evaluations
    assert rows_a == rows_b
    files_a = sorted(p.name for p in (tmp_path / "a" / "individuals").glob("*.parquet"))
    files_b = sorted(p.name for p in (tmp_path / "b" / "individuals").glob("*.parquet"))
    assert files_a == files_b


@pytest.mark.parametrize("name", ["cmaes", "archive-generational"])
def test_a_different_seed_gives_a_different_run(tmp_path, name):
    Engine.create(CONFIGS[name], tmp_path / "a").run()
    Engine.create({**CONFIGS[name], "seed": 99}, tmp_path / "b").run()
    assert stored(tmp_path / "a") != stored(tmp_path / "b")


def test_timing_is_the_only_column_excluded(tmp_path):
    Engine.create(CONFIGS["cmaes"], tmp_path / "a").run()
    part = next((tmp_path / "a" / "individuals").glob("*.parquet"))
    assert set(TIMING_COLUMNS) == {"eval_seconds"}
    assert set(TIMING_COLUMNS) < set(pq.read_schema(part).names)
