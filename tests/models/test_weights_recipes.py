"""Weight recipes: JSON round trip, pool checks, bit-identical rebuilds, seeded noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evosearch import registry
from evosearch.genomes.base import genome_from_json
from evosearch.genomes.weights import RecipeError
from evosearch.genomes.weights import WeightsGenome as W
from evosearch.models.materialise import Materialiser
from evosearch.models.merging import MergeParamError
from evosearch.models.noise import add_noise, noise_like
from evosearch.models.pool import ModelPool, PoolError

M0, M1, M2 = W.base("m0"), W.base("m1"), W.base("m2")
KEY = "model.layers.1.mlp.down_proj.weight"


def _equal(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_recipe_round_trips_through_json_and_fingerprint():
    g = W.merge("ties", [M0, M1, M2], {"weight": [None, 0.4, 0.6]}, base=0).noised(5, 0.05, 0.1)
    back = genome_from_json("weights", g.to_json())
    assert back == g and back.fingerprint() == g.fingerprint()
    assert back.leaves() == ["m0", "m1", "m2"] and back.depth() == 2
    assert g.summary() == "noise[σ=0.05](ties(m0, m1, m2))"
    assert g.fingerprint() != g.parents[0].fingerprint()
    assert not g.is_pure_merge() and g.parents[0].is_pure_merge()


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"merge": "ties", "parents": []}, "recipe.parents"),
        ({"base": "m0", "sigma": 1}, "unknown key"),
        ({"noise": -1, "sigma": 0.1, "parent": {"base": "m0"}}, "recipe.noise"),
        ({"merge": "ties", "parents": [{"base": "m0"}], "base": 3}, "recipe.base"),
        ({"merge": "linear", "parents": [{"bas": "m0"}]}, "recipe.parents.0"),
    ],
)
def test_malformed_recipes_name_the_path(bad, where):
    with pytest.raises(RecipeError, match=where.replace(".", r"\.")):
        W(bad)


def test_recipes_rebuild_bit_identical_weights(pico_pool, tmp_path):
    pool = ModelPool(pico_pool)
    g = W.merge("dare_ties", [M0, M1, M2], {"weight": 0.5, "density": 0.4}, base=0, seed=3)
    g = W.merge("slerp", [g.noised(9, 0.02, 0.1), M2], {"t": 0.4}, base=0)
    first = Materialiser(pool).state_dict(g)
    fresh = Materialiser(ModelPool(pico_pool)).state_dict(W.from_json(g.to_json()))
    assert _equal(first, fresh)
    other_seed = W.merge("dare_ties", [M0, M1, M2], {"weight": 0.5, "density": 0.4}, base=0, seed=4)
    assert not torch.equal(Materialiser(pool).state_dict(other_seed)[KEY], first[KEY])


def test_cache_is_bounded_and_snapshots_cut_chains(pico_pool, tmp_path):
    pool = ModelPool(pico_pool)
    one_model = sum(t.numel() * t.element_size() for t in pool.state_dict("m0").values())
    mat = Materialiser(pool, cache_bytes=int(2.5 * one_model), snapshot_dir=tmp_path)
    chain = M1
    for seed in range(4):
        chain = chain.noised(seed, 0.01)
    built = mat.state_dict(chain)
    assert mat.cached_bytes <= 2.5 * one_model and mat.stats["builds"] == 4
    mat.state_dict(chain)
    assert mat.stats["hits"] == 1
    path = mat.snapshot(chain)
    assert path.name == f"{chain.fingerprint()}.safetensors"
    again = Materialiser(pool, snapshot_dir=tmp_path)
    child = chain.noised(99, 0.01)
    again.state_dict(child)
    assert again.stats == {"hits": 0, "builds": 1, "snapshot_loads": 1}
    assert _equal(again.state_dict(chain), built)


def test_pool_models_are_shared_not_copied(pico_pool):
    pool = ModelPool(pico_pool)
    mat = Materialiser(pool)
    assert mat.state_dict(M1)[KEY].data_ptr() == pool.state_dict("m1")[KEY].data_ptr()


def test_noise_is_regenerated_from_the_seed_per_tensor():
    t = torch.zeros(64, 32)
    a = noise_like(t, 7, "w")
    assert torch.equal(a, noise_like(t, 7, "w"))
    assert not torch.equal(a, noise_like(t, 7, "v")) and not torch.equal(a, noise_like(t, 8, "w"))
    assert abs(float(a.std()) - 1.0) < 0.1
    masked = add_noise(t, 7, "w", sigma=0.05, mask_p=0.1)
    frac = float((masked != 0).float().mean())
    assert 0.05 < frac < 0.15 and float(masked.abs().max()) < 0.05 * 6


def test_noise_operator_draws_a_fresh_seed_from_the_rng():
    op = registry.operators.get("noise.gaussian").create({"sigma": 0.05, "mask_p": 0.1})
    rng = np.random.default_rng(0)
    (a,) = op([M1], rng)
    (b,) = op([M1], rng)
    assert a.genome.recipe["sigma"] == 0.05 and a.genome.recipe["mask_p"] == 0.1
    assert a.genome != b.genome
    (c,) = op([M1], np.random.default_rng(0))
    assert c.genome == a.genome


def test_merge_operator_writes_a_checked_recipe(pico_pool):
    op = registry.operators.get("merge.ties").create(
        {"params": {"density": 0.5}, "sample": {"weight": [0.2, 0.8]}, "base_model": "m0"}
    )
    (child,) = op([M1, M2], np.random.default_rng(1))
    r = child.genome.recipe
    assert r["merge"] == "ties" and r["base"] == 0 and r["parents"][0] == {"base": "m0"}
    assert len(r["params"]["weight"]) == 3 and all(0.2 <= w <= 0.8 for w in r["params"]["weight"])
    Materialiser(ModelPool(pico_pool)).state_dict(child.genome)


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("merge.ties", {"params": {"wieght": 1.0}}, "unknown parameter of ties"),
        ("merge.slerp", {"params": {"t": [0.1, 0.2]}}, "one shared value"),
        ("merge.linear", {"params": {}}, "missing required parameter"),
        ("merge", {"method": "frankenmerge"}, "unknown merge method"),
        ("merge.model_stock", {"parents": 1}, "takes 3"),
    ],
)
def test_bad_merge_operator_parameters_fail_at_build_time(name, params, match):
    with pytest.raises(registry.RegistryError, match=match):
        registry.operators.get(name).create(params)


def test_unknown_merge_operator_lists_the_methods():
    with pytest.raises(registry.RegistryError, match="merge.ties"):
        registry.operators.get("merge.frankenmerge")


def test_pool_rejects_missing_and_mismatched_models(pico_pool, pico_odd, tmp_path):
    with pytest.raises(PoolError, match="'ghost': path does not exist"):
        ModelPool({**pico_pool, "ghost": tmp_path / "nope"})
    with pytest.raises(PoolError, match="'wide' differ in tensor"):
        ModelPool({"m0": pico_pool["m0"], "wide": pico_odd["wide"]})
    with pytest.raises(PoolError, match="different architectures"):
        ModelPool({"m0": pico_pool["m0"], "gpt2": pico_odd["gpt2"]})
    (tmp_path / "empty").mkdir()
    with pytest.raises(PoolError, match="no \\*.safetensors"):
        ModelPool({"e": tmp_path / "empty"})
    with pytest.raises(PoolError, match="empty"):
        ModelPool({})


def test_recipe_checks_catch_unknown_models_and_parameters(pico_pool):
    mat = Materialiser(ModelPool(pico_pool))
    with pytest.raises(PoolError, match="unknown pool model 'm9'"):
        mat.check(W.merge("linear", [M0, W.base("m9")], {"weight": 1.0}))
    with pytest.raises(MergeParamError, match="unknown merge method 'bogus'"):
        mat.check(W.merge("bogus", [M0, M1], {}))
    with pytest.raises(MergeParamError, match="needs a base model"):
        mat.check(W.merge("ties", [M0, M1], {"weight": 1.0}))
    with pytest.raises(MergeParamError, match="recipe.params.gamma"):
        mat.check(W.merge("ties", [M0, M1], {"weight": 1.0, "gamma": 0.1}, base=0))


def test_load_into_copies_weights_into_a_model_in_place(pico_pool):
    from transformers import AutoModelForCausalLM

    pool = ModelPool(pico_pool)
    model = AutoModelForCausalLM.from_pretrained(pico_pool["m0"])
    g = W.merge("linear", [M1, M2], {"weight": [0.5, 0.5]})
    ptr = model.state_dict()[KEY].data_ptr()
    Materialiser(pool).load_into(model, g)
    assert model.state_dict()[KEY].data_ptr() == ptr
    assert torch.equal(model.state_dict()[KEY], Materialiser(pool).state_dict(g)[KEY])


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_materialiser_builds_on_the_requested_device(pico_pool, device):
    pool = ModelPool(pico_pool, device=device)
    g = W.merge("ties", [M0, M1, M2], {"weight": 0.5, "density": 0.5}, base=0).noised(1, 0.01)
    sd = Materialiser(pool).state_dict(g)
    assert all(t.device.type == device for t in sd.values())
    again = Materialiser(ModelPool(pico_pool, device=device)).state_dict(g)
    assert _equal(sd, again)
