"""The tiny-model builder on its pico recipe (seconds; the demo recipe trains minutes)."""

from __future__ import annotations

import json

import pytest
import torch

from evosearch.scenarios.demo_models import tinylm


@pytest.fixture(scope="module")
def pico_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinylm")
    return root, tinylm.build_models(tinylm.PICO, cache_dir=root)


def _state(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_builds_three_loadable_checkpoints_with_the_byte_tokenizer(pico_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, paths = pico_dir
    assert set(paths) == {"base", "expert_add", "expert_rev"}
    for path in paths.values():
        model = AutoModelForCausalLM.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        assert model.config.vocab_size == len(tok) == 260
        assert model.config.hidden_size == tinylm.PICO.hidden_size


def test_experts_start_from_the_base_and_differ_from_it_and_each_other(pico_dir):
    _, paths = pico_dir
    base, add, rev = (_state(paths[n]) for n in ("base", "expert_add", "expert_rev"))
    assert base.keys() == add.keys() == rev.keys()
    assert any(not torch.equal(base[k], add[k]) for k in base)
    assert any(not torch.equal(add[k], rev[k]) for k in base)


def test_second_build_is_served_from_the_cache(pico_dir):
    root, paths = pico_dir
    stamp = (paths["base"] / "model.safetensors").stat().st_mtime_ns
    logs: list[str] = []
    again = tinylm.build_models(tinylm.PICO, cache_dir=root, log=logs.append)
    assert again == paths and logs[0].startswith("cached")
    assert (paths["base"] / "model.safetensors").stat().st_mtime_ns == stamp
    meta = json.loads((root / tinylm.PICO.key() / "recipe.json").read_text())
    assert meta["recipe"]["hidden_size"] == tinylm.PICO.hidden_size


def test_the_build_is_deterministic_and_keyed_by_the_recipe(pico_dir, tmp_path):
    _, paths = pico_dir
    again = tinylm.build_models(tinylm.PICO, cache_dir=tmp_path)
    for name in paths:
        a, b = _state(paths[name]), _state(again[name])
        assert all(torch.equal(a[k], b[k]) for k in a)
    other = tinylm.TinyLMRecipe(**{**tinylm.PICO.__dict__, "seed": 1})
    assert other.key() != tinylm.PICO.key()


def test_cli_build_prints_the_paths(tmp_path, capsys):
    assert tinylm.main(["build", "--pico", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "expert_rev: " in out and str(tmp_path) in out


def test_low_rank_experts_have_low_rank_task_vectors(tmp_path):
    import dataclasses

    recipe = dataclasses.replace(tinylm.PICO, expert_rank=2)
    assert recipe.key() != tinylm.PICO.key()
    full = dataclasses.replace(tinylm.PICO, expert_rank=0)
    assert full.key() == tinylm.PICO.key()  # the knob at 0 keeps the keys made before it
    paths = tinylm.build_models(recipe, cache_dir=tmp_path)
    base = _state(paths["base"])
    for expert in ("expert_add", "expert_rev"):
        sd = _state(paths[expert])
        moved = 0
        for name, w in base.items():
            delta = sd[name] - w
            if ".layers." in name and name.endswith("proj.weight"):
                s = torch.linalg.svdvals(delta.double())
                assert s[2] < 1e-4 * s[0], (name, s[:4])  # rank 2 up to float32 rounding
                moved += bool(delta.abs().max() > 0)
            else:  # embeddings, norms and the head stay the base's
                assert torch.equal(sd[name], w), name
        assert moved  # the experts did train
