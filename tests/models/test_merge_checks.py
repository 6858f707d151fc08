"""Bad merge recipes and pools fail when the config is loaded, before anything is written."""

from __future__ import annotations

import math

import pytest

from evosearch import Engine
from evosearch.genomes.weights import RecipeError
from evosearch.genomes.weights import WeightsGenome as W
from evosearch.models import merging
from evosearch.models.materialise import Materialiser
from evosearch.models.pool import ModelPool
from evosearch.registry import RegistryError


def _pool(pico_pool):
    return {"models": {k: str(v) for k, v in pico_pool.items()}}


def _archive_cfg(pool, init_models, op):
    return {
        "name": "bad",
        "budget": {"generations": 1},
        "fitness": {"ref": "test_weight_search:closeness", "params": {"pool": pool}},
        "strategy": {
            "name": "archive",
            "params": {
                "batch_size": 2,
                "init": {"name": "weights.pool", "params": {"pool": pool, "models": init_models}},
                "operators": [op],
            },
        },
    }


@pytest.mark.parametrize(
    "params, match",
    [
        ({"weight": 0.5, "density": 1.5}, r"params.density: 1.5 is outside \[0, 1\]"),
        ({"weight": 0.5, "density": -0.1}, r"params.density: -0.1 is outside \[0, 1\]"),
        ({"weight": math.nan, "density": 0.5}, r"params.weight: nan is not a finite number"),
        ({"weight": [0.5, math.inf], "density": 0.5}, r"params.weight\[1\]: inf is not a finite"),
        ({"weight": 0.5, "density": "half"}, r"params.density: 'half' is not a number"),
    ],
)
def test_bad_merge_operator_values_fail_at_config_load(pico_pool, tmp_path, params, match):
    op = {"name": "merge.ties", "params": {"params": params, "base_model": "m0"}}
    cfg = _archive_cfg(_pool(pico_pool), ["m1", "m2"], op)
    with pytest.raises(RegistryError, match=match):
        Engine.create(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_unknown_method_and_bad_sample_range_fail_at_config_load(pico_pool, tmp_path):
    pool = _pool(pico_pool)
    cfg = _archive_cfg(pool, ["m1"], {"name": "merge", "params": {"method": "frankenmerge"}})
    with pytest.raises(RegistryError, match="unknown merge method 'frankenmerge'; allowed"):
        Engine.create(cfg, tmp_path / "run")
    op = {"name": "merge.ties", "params": {"sample": {"density": [0.2, 1.2]}, "base_model": "m0"}}
    with pytest.raises(RegistryError, match=r"sample.density\[1\]: 1.2 is outside \[0, 1\]"):
        Engine.create(_archive_cfg(pool, ["m1"], op), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_archive_strategy_checks_its_model_pool_at_load(pico_pool, tmp_path):
    pool = _pool(pico_pool)
    op = {"name": "merge.linear", "params": {"params": {"weight": 0.5}}}
    with pytest.raises(RegistryError, match="unknown pool model 'ghost'"):
        Engine.create(_archive_cfg(pool, ["m1", "ghost"], op), tmp_path / "run")
    op = {"name": "merge.ties", "params": {"base_model": "gone", "pool": pool}}
    with pytest.raises(RegistryError, match="unknown pool model 'gone'"):
        Engine.create(_archive_cfg(pool, ["m1"], op), tmp_path / "run")
    missing = {"models": {"m0": str(pico_pool["m0"]), "m1": str(tmp_path / "nowhere")}}
    with pytest.raises(RegistryError, match="'m1': path does not exist"):
        Engine.create(_archive_cfg(missing, ["m0", "m1"], op), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_good_archive_merge_config_runs(pico_pool, tmp_path):
    pool = _pool(pico_pool)
    op = {
        "name": "merge.ties",
        "params": {"params": {"weight": 0.5, "density": 0.7}, "base_model": "m0", "pool": pool},
    }
    Engine.create(_archive_cfg(pool, ["m1", "m2"], op), tmp_path / "run").run()


def test_recipes_with_bad_values_are_rejected_before_building(pico_pool):
    mat = Materialiser(ModelPool(pico_pool))
    genome = W.merge("ties", [W.base("m0"), W.base("m1")], {"weight": 0.5, "density": 1.5}, base=0)
    with pytest.raises(merging.MergeParamError, match="outside"):
        mat.check(genome)
    with pytest.raises(RecipeError, match="weight: value inf is not plain JSON"):
        W.merge("ties", [W.base("m0"), W.base("m1")], {"weight": math.inf}, base=0)
    slices = [{"layers": [0, 2], "params": {"density": [None, -0.5]}}]
    genome = W.merge("ties", [W.base("m0"), W.base("m1")], {"weight": 1.0}, base=0, slices=slices)
    with pytest.raises(merging.MergeParamError, match=r"slices.0.params.density\[1\]"):
        mat.check(genome)
