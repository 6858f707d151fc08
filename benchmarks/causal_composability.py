"""Issue 13: what makes the tiny causal experts composable under weight merging?

For each variant of the demo recipe (``TinyLMRecipe``) this builds base + expert_add +
expert_rev into a separate cache root (never the repo's ``.cache``), then scores on the test
split (``--n`` examples per task, exact match of greedy answers) the base, each expert and a
small grid of merges made the way the model-merge scenario makes them (``WeightsGenome``
recipes scored by the ``weights.lm_tasks`` fitness): task arithmetic w in {0.5, 1.0}, TIES
w=1 with density in {0.3, 0.7} (no normalisation, as in ``model_merge.baselines``' grid)
and the uniform linear average of the two experts.

A merge "keeps both skills" when its mean accuracy beats either expert's mean.

Run: ``nice -n 5 .venv/bin/python benchmarks/causal_composability.py --cache /tmp/causal-cache``
(``--variants demo,short`` to pick; variants of one call run one after the other). ``ll/tok``
is the mean log-probability per reference-answer token (EOS included): a dense view of how
much of a skill a merge keeps when exact match says 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

VARIANTS: dict[str, dict[str, object]] = {
    "demo": {},  # the demo recipe as is (reference)
    "short": {"add_steps": 200, "rev_steps": 100},  # smaller task vectors
    "mid": {"add_steps": 500, "rev_steps": 250},  # half the fine-tuning
    "lowlr": {"expert_lr": 5e-4},  # low learning-rate fine-tunes
    "replay": {"replay": 0.75},  # fine-tunes that keep rehearsing the pre-training mix
    "longpre": {"pretrain_steps": 1000},  # a better pre-trained base
    "longpre3k": {"pretrain_steps": 3000},  # a much better pre-trained base
    "longpre3k_mid": {"pretrain_steps": 3000, "add_steps": 500, "rev_steps": 250},
    "longpre_short": {"pretrain_steps": 1000, "add_steps": 200, "rev_steps": 100},
    "longpre_lowlr": {"pretrain_steps": 1000, "expert_lr": 5e-4},
    "wide": {"hidden_size": 192, "intermediate_size": 576},
    "wide_lr1e-3": {"hidden_size": 192, "intermediate_size": 576, "expert_lr": 1e-3},
    "lora8": {"expert_rank": 8},  # low-rank (LoRA-style) experts, folded in (PSEC)
    "longpre3k_lora8": {"pretrain_steps": 3000, "expert_rank": 8},
}


def merges() -> dict[str, object]:
    """Base, the experts and the merge grid, as ``WeightsGenome`` recipes over the pool."""
    from evosearch.genomes.weights import WeightsGenome

    b = WeightsGenome.base("base")
    a, r = WeightsGenome.base("expert_add"), WeightsGenome.base("expert_rev")
    out: dict[str, object] = {"base": b, "expert_add": a, "expert_rev": r}
    for w in (0.5, 1.0):
        out[f"TA w={w}"] = WeightsGenome.merge("task_arithmetic", [b, a, r], {"weight": w}, base=0)
    for d in (0.3, 0.7):
        out[f"TIES w=1 d={d}"] = WeightsGenome.merge(
            "ties", [b, a, r], {"weight": 1.0, "density": d, "normalize": False}, base=0
        )
    out["linear (avg)"] = WeightsGenome.merge("linear", [a, r], {"weight": 1.0})
    return out


def run_variant(name: str, cache: str, n: int) -> list[dict[str, object]]:
    """Build ``name``'s pool (cached) and score every model/merge; returns table rows."""
    from evosearch.fitness.base import FitnessContext
    from evosearch.scenarios.demo_models import tinylm
    from evosearch.tasks.weights import lm_tasks

    recipe = dataclasses.replace(tinylm.DEMO, **VARIANTS[name])  # type: ignore[arg-type]
    start = time.perf_counter()
    paths = tinylm.build_models(recipe, cache_dir=cache, log=lambda m: None)
    built = time.perf_counter() - start
    meta = json.loads((paths["base"].parent / "recipe.json").read_text())
    cpu = sum(meta["seconds"][f"{m}_cpu"] for m in tinylm.MODEL_NAMES)
    print(f"\n== {name} {VARIANTS[name]} key {recipe.key()}: build call {built:.0f}s wall, "
          f"training {cpu:.0f} CPU-s (when first built)", flush=True)
    pool = {"models": {k: str(v) for k, v in paths.items()}, "reference": "base"}
    ctx = FitnessContext(params={"pool": pool, "split": "test", "n": n}, device="cpu")
    recipes = merges()
    start = time.perf_counter()
    results = lm_tasks(list(recipes.values()), ctx)
    print(f"scored {len(recipes)} models in {time.perf_counter() - start:.0f}s")
    rows = []
    print(f"{'model/merge':18s} {'add':>6s} {'rev':>6s} {'mean':>6s} {'ll/tok add':>10s}"
          f" {'ll/tok rev':>10s}")
    for label, res in zip(recipes, results):
        m = res.metrics
        row = {"variant": name, "model": label, "add": m.get("acc_add", 0.0),
               "rev": m.get("acc_rev", 0.0), "mean": m.get("acc_mean", res.score),
               "ll_add": m.get("token_loglik_add"), "ll_rev": m.get("token_loglik_rev")}
        rows.append(row)
        print(f"{label:18s} {row['add']:6.3f} {row['rev']:6.3f} {row['mean']:6.3f}"
              f" {row['ll_add']:10.3f} {row['ll_rev']:10.3f}", flush=True)
    best_expert = max(r["mean"] for r in rows if str(r["model"]).startswith("expert"))
    keep = [r["model"] for r in rows[3:] if r["mean"] > best_expert]  # type: ignore[operator]
    print(f"merges beating both experts' mean ({best_expert:.3f}): {keep or 'none'}")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/tmp/causal-cache", help="cache root for the built pools")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"of {sorted(VARIANTS)}")
    ap.add_argument("--n", type=int, default=100, help="test examples per task")
    ap.add_argument("--json", default=None, help="also write all rows to this file")
    args = ap.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    bad = [v for v in names if v not in VARIANTS]
    if bad:
        raise SystemExit(f"--variants: unknown {bad}; allowed: {sorted(VARIANTS)}")
    torch.set_num_threads(1)
    rows = []
    for name in names:
        rows += run_variant(name, args.cache, args.n)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
