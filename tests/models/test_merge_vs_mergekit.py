"""In-memory merges equal ``mergekit-yaml``'s output, tensor for tensor, for every method."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml
from conftest import subprocess_env
from safetensors.torch import load_file

from evosearch.genomes.weights import WeightsGenome as W
from evosearch.models import merging
from evosearch.models.export import mergekit_config
from evosearch.models.materialise import Materialiser
from evosearch.models.pool import ModelPool

M0, M1, M2 = W.base("m0"), W.base("m1"), W.base("m2")

RECIPES = {
    "linear": W.merge("linear", [M1, M2], {"weight": [0.3, 0.7]}),
    "slerp": W.merge("slerp", [M1, M2], {"t": 0.3}, base=0),
    "task_arithmetic": W.merge(
        "task_arithmetic", [M0, M1, M2], {"weight": [0.6, 0.4], "lambda": 0.9}, base=0
    ),
    "ties": W.merge("ties", [M0, M1, M2], {"weight": [0.5, 0.8], "density": 0.6}, base=0),
    "dare_ties": W.merge(
        "dare_ties", [M0, M1, M2], {"weight": 0.5, "density": 0.5}, base=0, seed=11
    ),
    "dare_linear": W.merge(
        "dare_linear", [M0, M1, M2], {"weight": [0.7, 0.3], "density": 0.6}, base=0, seed=12
    ),
    "breadcrumbs": W.merge(
        "breadcrumbs", [M0, M1, M2], {"weight": 0.5, "density": 0.8, "gamma": 0.05}, base=0
    ),
    "della": W.merge(
        "della", [M0, M1, M2], {"weight": 0.5, "density": 0.5, "epsilon": 0.1}, base=0, seed=13
    ),
    "model_stock": W.merge("model_stock", [M0, M1, M2], {}, base=0),
    # per-layer-group, per-tensor-filter parameters (the mergekit-evolve genome's shape)
    "ties_slices": W.merge(
        "ties",
        [M0, M1, M2],
        {"normalize": True},
        base=0,
        slices=[
            {
                "layers": [0, 1],
                "params": {
                    "weight": [None, [{"filter": "mlp", "value": 0.9}, {"value": 0.2}], 0.4],
                    "density": [None, 0.7, 1.0],
                },
            },
            {"layers": [1, 2], "params": {"weight": [None, 0.1, 0.6], "density": 0.5}},
        ],
    ),
}


def test_every_method_is_covered():
    assert {k for k in RECIPES if k in merging.METHODS} == set(merging.METHODS)


@pytest.fixture(scope="module")
def cli_outputs(pico_pool, tmp_path_factory):
    """Run mergekit-yaml's CLI once per recipe (one subprocess for all of them)."""
    pool = ModelPool(pico_pool)
    root = tmp_path_factory.mktemp("mk")
    jobs = []
    for name, genome in RECIPES.items():
        cfg_path = root / f"{name}.yml"
        cfg_path.write_text(yaml.safe_dump(mergekit_config(genome, pool)))
        args = [str(cfg_path), str(root / name), "--quiet"]
        if genome.recipe.get("seed") is not None:
            args += ["--random-seed", str(genome.recipe["seed"])]
        jobs.append(args)
    script = (
        "import sys, json\n"
        "from mergekit.scripts.run_yaml import main\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    main(args, standalone_mode=False)\n"
    )
    import json

    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(jobs)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pool, {name: load_file(str(root / name / "model.safetensors")) for name in RECIPES}


@pytest.mark.parametrize("name", list(RECIPES))
def test_in_memory_merge_equals_mergekit_yaml(cli_outputs, name):
    pool, outputs = cli_outputs
    ours = Materialiser(pool).state_dict(RECIPES[name])
    theirs = outputs[name]
    assert set(ours) == set(theirs)
    for key in theirs:
        assert torch.equal(ours[key], theirs[key]), f"{name}: tensor {key} differs"


def test_merges_differ_from_their_parents(cli_outputs):
    pool, _ = cli_outputs
    mat = Materialiser(pool)
    a = mat.state_dict(RECIPES["ties"])["model.layers.0.mlp.up_proj.weight"]
    b = mat.state_dict(RECIPES["ties_slices"])["model.layers.0.mlp.up_proj.weight"]
    assert not torch.equal(a, pool.state_dict("m0")["model.layers.0.mlp.up_proj.weight"])
    assert not torch.equal(a, b)
