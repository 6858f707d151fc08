"""Data-flow-space merging: layer paths, HF export that loads, and the mergekit passthrough."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import subprocess_env
from safetensors.torch import load_file

from evosearch.models.dfs import (
    DFSGenotype,
    Step,
    export_stack,
    passthrough_config,
    stack_state_dict,
)
from evosearch.models.pool import ModelPool


def test_genotype_decodes_the_paper_layout():
    g = DFSGenotype(("a", "b"), num_layers=3, repeats=2)
    assert g.dimension == 24 and g.step(0) == ("a", 0) and g.step(4) == ("b", 1)
    assert g.step(7) == ("a", 1)
    x = g.initial(1)
    assert [(s.source, s.layer, s.scale) for s in g.decode(x)] == [("b", i, 1.0) for i in range(3)]
    x = np.concatenate([-np.ones(12), np.ones(12)])
    x[[0, 5, 9]] = 1.0
    x[12 + 5] = 0.5
    assert g.decode(x) == [Step("a", 0), Step("b", 2, 0.5), Step("b", 0)]
    assert g.decode(-np.ones(24))[0] == Step("a", 0)  # never empty
    with pytest.raises(ValueError, match="expected 24"):
        g.decode(np.zeros(3))


@pytest.fixture(scope="module")
def bert_pair(tmp_path_factory):
    from transformers import BertConfig, BertModel

    root = tmp_path_factory.mktemp("dfsbert")
    cfg = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )
    out = {}
    for i, name in enumerate(("a", "b")):
        torch.manual_seed(i)
        BertModel(cfg, add_pooling_layer=False).save_pretrained(root / name)
        out[name] = root / name
    return out


def test_bert_path_exports_a_checkpoint_that_transformers_loads(bert_pair, tmp_path):
    from transformers import AutoModel

    pool = ModelPool(bert_pair)
    sources = {n: pool.state_dict(n) for n in pool.names}
    steps = [Step("a", 0), Step("b", 1, 0.7), Step("a", 1), Step("b", 0, 1.3)]
    state = stack_state_dict(sources, steps, "a")
    out = export_stack(state, len(steps), bert_pair["a"], tmp_path / "x", steps)
    model = AutoModel.from_pretrained(out, add_pooling_layer=False).eval()
    assert model.config.num_hidden_layers == 4
    srcs = {
        n: AutoModel.from_pretrained(p, add_pooling_layer=False).eval()
        for n, p in bert_pair.items()
    }
    ids = torch.tensor([[1, 5, 7, 9, 2]])
    with torch.no_grad():
        got = model(input_ids=ids).last_hidden_state
        h = srcs["a"].embeddings(input_ids=ids)
        for s in steps:  # the path by hand: each layer's output times its scale
            out_l = srcs[s.source].encoder.layer[s.layer](h)
            h = (out_l[0] if isinstance(out_l, tuple) else out_l) * s.scale
    torch.testing.assert_close(got, h, rtol=1e-5, atol=1e-5)
    assert json.loads((out / "dfs_path.json").read_text())[1] == {
        "source": "b",
        "layer": 1,
        "scale": 0.7,
    }


def test_passthrough_yaml_rebuilds_the_same_llama_tensors(pico_pool, tmp_path):
    pool = ModelPool(pico_pool)
    sources = {n: pool.state_dict(n) for n in pool.names}
    steps = [Step("m0", 0), Step("m2", 1, 0.5), Step("m1", 1), Step("m0", 1, 2.0)]
    ours = stack_state_dict(sources, steps, "m0")
    cfg = passthrough_config(steps, {n: pico_pool[n] for n in pool.names}, "m0")
    (tmp_path / "c.yml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mergekit.scripts.run_yaml",
            str(tmp_path / "c.yml"),
            str(tmp_path / "out"),
            "--quiet",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert set(theirs) == set(ours)
    for k in theirs:
        assert torch.equal(theirs[k], ours[k]), k
    with pytest.raises(ValueError, match="export it first"):
        passthrough_config([Step("merged", 0)], {}, "merged")
    with pytest.raises(ValueError, match="start and end with a layer of 'm0'"):
        passthrough_config([Step("m1", 0)], {n: pico_pool[n] for n in pool.names}, "m0")
