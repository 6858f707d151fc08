"""Weight-space search end to end on pico models: merge CMA-ES, GENOME, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from conftest import run_cli
from safetensors.torch import load_file

from evosearch import Engine
from evosearch.genomes.weights import WeightsGenome
from evosearch.models.export import mergekit_config
from evosearch.models.genotype import MergeGenotype
from evosearch.models.pool import ModelPool
from evosearch.registry import RegistryError
from evosearch.store import RunStore
from evosearch.tasks.weights import runtime_from_ctx

TARGET = "model.layers.1.mlp.up_proj.weight"


def closeness(genomes, ctx):
    """Test fitness: minus the distance of one tensor to 0.3·m1 + 0.7·m2 (cheap, real)."""
    rt = runtime_from_ctx(ctx)
    goal = 0.3 * rt.pool.state_dict("m1")[TARGET] + 0.7 * rt.pool.state_dict("m2")[TARGET]
    return [-float((rt.materialiser.state_dict(g)[TARGET] - goal).norm()) for g in genomes]


closeness.__evosearch_meta__ = {"batched": True}


def _pool(pico_pool):
    return {"models": {k: str(v) for k, v in pico_pool.items()}}


def test_genotype_decodes_like_mergekit_evolve():
    geno = MergeGenotype(
        models=["m1", "m2"],
        base_model="m0",
        method="ties",
        num_layers=2,
        layer_groups=2,
        filters=["mlp"],
    )
    assert geno.shape == (2, 2, 2, 2) and geno.dimension == 16
    x = np.arange(16, dtype=float).reshape(geno.shape) / 10 - 0.8
    r = geno.decode(x.reshape(-1)).recipe
    assert [p["base"] for p in r["parents"]] == ["m0", "m1", "m2"] and r["base"] == 0
    assert [s["layers"] for s in r["slices"]] == [[0, 1], [1, 2]]
    w = r["slices"][1]["params"]["weight"][2]  # group 1, model m2: per-filter conditions
    assert w == [
        {"filter": "mlp", "value": abs(x[1, 1, 0, 0])},
        {"filter": None, "value": abs(x[1, 1, 1, 0])},
    ]
    d = r["slices"][0]["params"]["density"][1]
    assert d[0]["value"] == min(abs(x[0, 0, 0, 1]), 1.0)
    assert r["params"] == {"normalize": True}
    init = geno.initial().reshape(geno.shape)
    assert np.all(init[..., 0] == 0.5) and np.all(init[..., 1] == 1.0)


def test_merge_cmaes_run_stores_recipes_and_exports(pico_pool, tmp_path):
    cfg = {
        "name": "merge",
        "seed": 1,
        "budget": {"generations": 3},
        "fitness": {"ref": "test_weight_search:closeness", "params": {"pool": _pool(pico_pool)}},
        "strategy": {
            "ref": "merge_cmaes",
            "params": {
                "pool": _pool(pico_pool),
                "population_size": 6,
                "genotype": {"models": ["m1", "m2"], "method": "linear", "layer_groups": 2},
            },
        },
    }
    Engine.create(cfg, tmp_path / "run").run()
    store = RunStore.open(tmp_path / "run")
    inds = store.individuals()
    assert len(inds) == 18 and all(isinstance(i.genome, WeightsGenome) for i in inds)
    assert all(len(i.operator_params["x"]) == 4 for i in inds)
    first = max(i.score for i in inds if i.generation == 0)
    assert max(i.score for i in inds) > first  # CMA-ES moves toward the 0.3/0.7 mix

    best = max(inds, key=lambda i: i.score)
    out = tmp_path / "export"
    proc = run_cli("export", tmp_path / "run", str(best.id), "--to", out)
    assert proc.returncode == 0, proc.stderr
    assert {"model.safetensors", "config.json", "tokenizer.json", "mergekit.yml"} <= {
        p.name for p in out.iterdir()
    }
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)
    exported = load_file(str(out / "model.safetensors"))
    assert torch.equal(model.state_dict()[TARGET], exported[TARGET])
    # the YAML is the one test_merge_vs_mergekit runs through mergekit-yaml (slices form)
    written = yaml.safe_load((out / "mergekit.yml").read_text())
    pool = ModelPool.from_config(_pool(pico_pool))
    assert written == yaml.safe_load(yaml.safe_dump(mergekit_config(best.genome, pool)))
    assert len(written["slices"]) == 2
    recipe = json.loads((out / "recipe.json").read_text())
    assert WeightsGenome.from_json(recipe) == best.genome


def test_genome_strategy_keeps_elites_and_offers_the_ensemble(pico_pool, tmp_path):
    cfg = {
        "name": "genome",
        "seed": 2,
        "budget": {"generations": 4},
        "fitness": {"ref": "test_weight_search:closeness", "params": {"pool": _pool(pico_pool)}},
        "strategy": {
            "ref": "genome_merge",
            "params": {
                "pool": _pool(pico_pool),
                "models": ["m0", "m1", "m2"],
                "population_size": 6,
                "sigma": 0.01,
                "ensemble_k": 3,
            },
        },
    }
    Engine.create(cfg, tmp_path / "run").run()
    inds = RunStore.open(tmp_path / "run").individuals()
    gens = {g: [i for i in inds if i.generation == g] for g in range(4)}
    assert len(gens[0]) == 6 and all(len(gens[g]) == 6 for g in (1, 2, 3))  # 6 - 1 elite + 1
    ops = {i.operator for i in inds}
    assert "ensemble.top_k" in ops and any("merge.linear" in o for o in ops)
    assert any("succession" in o for o in ops)
    best_per_gen = [max(i.score for i in inds if i.generation <= g) for g in range(4)]
    assert best_per_gen[-1] > best_per_gen[0]


def test_export_without_a_pool_is_a_one_line_error(tmp_path, pico_pool):
    cfg = {
        "name": "merge",
        "budget": {"generations": 1},
        "fitness": {"ref": "sphere"},
        "strategy": {"ref": "cmaes", "params": {"dimension": 2, "population_size": 4}},
    }
    Engine.create(cfg, tmp_path / "run").run()
    proc = run_cli("export", tmp_path / "run", "0", "--to", tmp_path / "x")
    assert proc.returncode == 2 and "vector" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "change, match",
    [
        ({"models": ["m1", "ghost"]}, "unknown pool model 'ghost'"),
        ({"method": "frankenmerge"}, "genotype.method"),
    ],
)
def test_bad_merge_search_config_fails_before_the_run(pico_pool, tmp_path, change, match):
    geno = {"models": ["m1", "m2"], "base_model": "m0", "method": "ties", **change}
    cfg = {
        "name": "bad",
        "budget": {"generations": 1},
        "fitness": {"ref": "test_weight_search:closeness", "params": {"pool": _pool(pico_pool)}},
        "strategy": {"ref": "merge_cmaes", "params": {"pool": _pool(pico_pool), "genotype": geno}},
    }
    with pytest.raises(RegistryError, match=match):
        Engine.create(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_pool_path_fails_before_the_run(pico_pool, tmp_path):
    pool = {"models": {"m0": str(pico_pool["m0"]), "m1": str(tmp_path / "missing")}}
    cfg = {
        "name": "bad",
        "budget": {"generations": 1},
        "fitness": {"ref": "test_weight_search:closeness", "params": {"pool": pool}},
        "strategy": {"ref": "genome_merge", "params": {"pool": pool, "models": ["m0", "m1"]}},
    }
    with pytest.raises(RegistryError, match="'m1': path does not exist"):
        Engine.create(cfg, tmp_path / "run")


def test_genome_run_resumes_from_its_checkpoint(pico_pool, tmp_path):
    cfg = {
        "name": "genome",
        "seed": 4,
        "budget": {"generations": 2},
        "fitness": {"ref": "test_weight_search:closeness", "params": {"pool": _pool(pico_pool)}},
        "strategy": {
            "ref": "genome_merge",
            "params": {"models": ["m0", "m1", "m2"], "population_size": 4, "sigma": 0.01},
        },
    }
    Engine.create(cfg, tmp_path / "run").run()
    Engine.resume(tmp_path / "run", budget_overrides=["budget.generations=3"]).run()
    inds = RunStore.open(tmp_path / "run").individuals()
    assert max(i.generation for i in inds) == 2
    assert len({i.id for i in inds}) == len(inds)


def test_export_best_in_process_and_nested_recipes_skip_the_yaml(pico_pool, tmp_path):
    from evosearch.cli import main
    from evosearch.models.export import export_weights

    cfg = {
        "name": "genome",
        "seed": 5,
        "budget": {"generations": 2},
        "fitness": {"ref": "test_weight_search:closeness", "params": {"pool": _pool(pico_pool)}},
        "strategy": {
            "ref": "genome_merge",
            "params": {"models": ["m0", "m1"], "population_size": 3},
        },
    }
    Engine.create(cfg, tmp_path / "run").run()
    assert main(["export", str(tmp_path / "run"), "best", "--to", str(tmp_path / "best")]) == 0
    assert (tmp_path / "best" / "model.safetensors").exists()

    pool = ModelPool.from_config(_pool(pico_pool))
    nested = WeightsGenome.merge(
        "linear",
        [WeightsGenome.base("m1").noised(3, 0.01), WeightsGenome.base("m2")],
        {"weight": [0.5, 0.5]},
    )
    names = {p.name for p in export_weights(nested, tmp_path / "nested", pool)}
    assert "mergekit.yml" not in names and {"model.safetensors", "recipe.json"} <= names


_BUILT: dict[str, str] = {}


def pico_build() -> dict[str, str]:
    """A pool builder (``pool.build``) returning the pico models."""
    return dict(_BUILT)


def test_export_uses_a_pool_given_by_a_builder(pico_pool, tmp_path):
    import argparse
    import types

    from evosearch.cli.export import export_weights_individual

    _BUILT.update({k: str(v) for k, v in pico_pool.items()})
    run_cfg = {"fitness": {"params": {"pool": {"build": "test_weight_search:pico_build"}}}}
    ind = types.SimpleNamespace(
        genome=WeightsGenome.merge(
            "linear", [WeightsGenome.base("m1"), WeightsGenome.base("m2")], {"weight": 1.0}
        )
    )
    args = argparse.Namespace(pool=[], device="cpu")
    names = {p.name for p in export_weights_individual(ind, run_cfg, tmp_path / "x", args)}
    assert {"model.safetensors", "mergekit.yml"} <= names
