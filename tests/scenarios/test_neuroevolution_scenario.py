"""The CartPole Deep-GA scenario end to end on a tiny budget, and its example config."""

from __future__ import annotations

import pathlib

import numpy as np

from evosearch.config import load_config
from evosearch.engine import Engine
from evosearch.scenarios import neuroevolution as ne
from evosearch.store import RunStore
from evosearch.tasks import cartpole as cp

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "cartpole-ga.yaml"


def test_example_config_is_the_scenario_config():
    assert load_config(EXAMPLE) == load_config(ne.cartpole_config())


def test_tiny_run_stores_seed_chains_that_rebuild_their_scores(tmp_path):
    cfg = ne.cartpole_config(generations=2, population_size=4, truncation=2, episodes=2)
    cfg["fitness"]["params"]["seed"] = 5  # fixed episodes: stored scores can be recomputed
    summary = Engine.create(cfg, tmp_path / "run").run()
    assert summary.evaluations == 8
    inds = RunStore.open(tmp_path / "run").individuals()
    assert {i.generation for i in inds} == {0, 1}
    best = max(inds, key=lambda i: i.score)
    again = cp.batched_returns([best.genome], cp.policy_spec([16]), episodes=2, seed=5)
    assert float(again.mean()) == best.score
    # the elite of each generation is the best of the previous one
    for gen in (1,):
        prev = max((i for i in inds if i.generation == gen - 1), key=lambda i: (i.score, -i.id))
        elite = next(i for i in inds if i.generation == gen and i.operator == "elite")
        assert elite.parent_ids == (prev.id,) and elite.genome == prev.genome
    rows = ne.solve_table(tmp_path / "run", episodes=3)
    assert [r["generation"] for r in rows] == [0, 1]
    assert all(np.isfinite(r["test"]) for r in rows)
    solved = ne.generations_to_solve(rows)
    assert solved is None or 1 <= solved <= 2
