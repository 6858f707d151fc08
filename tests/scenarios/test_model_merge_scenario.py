"""The model-merge and GENOME scenario wiring: configs load, baselines build, pico run works."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from evosearch import Engine
from evosearch.config import load_config
from evosearch.engine import build_strategy
from evosearch.models.materialise import Materialiser
from evosearch.models.pool import ModelPool
from evosearch.scenarios import model_merge

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def demo_named_pool(pico_pool):
    """The pico models under the demo pool's names."""
    names = dict(zip(("base", "expert_add", "expert_rev"), ("m0", "m1", "m2")))
    return {"models": {k: str(pico_pool[v]) for k, v in names.items()}, "reference": "base"}


@pytest.mark.parametrize(
    "example, builder",
    [("model-merge.yaml", model_merge.merge_config), ("genome.yaml", model_merge.genome_config)],
)
def test_example_configs_match_the_scenario_builders(example, builder):
    cfg = load_config(EXAMPLES / example)
    built = load_config(builder())
    assert cfg.strategy.name == built.strategy.name
    assert cfg.fitness.ref == built.fitness.ref == "weights.lm_tasks"
    assert cfg.fitness.params["pool"] == built.fitness.params["pool"] == model_merge.TINY_POOL
    raw = yaml.safe_load((EXAMPLES / example).read_text())
    assert raw["strategy"]["params"]["pool"] == raw["fitness"]["params"]["pool"]


@pytest.mark.parametrize("builder", [model_merge.merge_config, model_merge.genome_config])
def test_scenario_strategies_build_on_a_pool(builder, demo_named_pool):
    cfg = load_config(builder(demo_named_pool))
    import numpy as np

    strategy = build_strategy(cfg, np.random.default_rng(0))
    batch = strategy.ask()
    assert batch and all(i.genome.kind == "weights" for i in batch)


def test_baseline_recipes_are_valid_merges(demo_named_pool):
    mat = Materialiser(ModelPool.from_config(demo_named_pool))
    recipes = model_merge.baselines()
    assert {"base", "expert_add", "expert_rev", "linear (uniform)"} <= set(recipes)
    assert sum(k.startswith("ties grid") for k in recipes) == 9
    for genome in recipes.values():
        mat.check(genome)
    mat.state_dict(recipes["ties (w=1, d=0.5)"])


def test_genome_scenario_runs_on_pico_models(demo_named_pool, tmp_path):
    """Two generations of GENOME with the real LM-task fitness on untrained pico models."""
    cfg = model_merge.genome_config(demo_named_pool, population_size=4, generations=2, n=4)
    Engine.create(cfg, tmp_path / "run").run()
    from evosearch.store import RunStore

    inds = RunStore.open(tmp_path / "run").individuals()
    assert len(inds) == 8 and all(i.result.ok for i in inds), [i.result.error for i in inds]
    assert all(0 <= i.score <= 1 for i in inds)
