"""How real is the evolved MiniLM merge's lead? Paired test-set statistics, and search variants.

    HF_HUB_OFFLINE=1 nice -n 5 .venv/bin/python benchmarks/minilm_margin.py --out /tmp/margin

Runs CMA-ES over the per-layer mergekit-evolve genome in three settings (each 6 × 8, picked
on val, like ``make demo``):

- ``ta n48``: the demo's (task arithmetic, one weight per layer group and expert, val n = 48
  sentences per task);
- ``ta n160 nll``: the same genome on the whole val split (160 per task) with the fitness's
  NLL tie-breaker (``nll_weight`` 0.02), so a search at the accuracy ceiling still has signal;
- ``ties n160``: a TIES genome (weight and density per layer group and expert), val n = 160,
  started at the hand-set TIES grid's best point (weight 1.0, density 0.3 everywhere);
- ``ties n48``: the same TIES genome and start on the demo's val n = 48.

Then on the test split (320 sentences per task) it scores every run's best, every expert and
each hand-set merge at its best grid point, sentence by sentence. For each evolved merge
against each other model it prints the difference in mean accuracy, a 95 % paired bootstrap
interval (sentences resampled within each task), and the exact two-sided McNemar p-value of
the discordant pairs. It also prints the ceiling: each expert's accuracy on its own task.
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import time

import numpy as np
import torch

from evosearch.engine import Engine
from evosearch.scenarios import minilm_merge
from evosearch.store import RunStore
from evosearch.tasks.minilm import EncoderRuntime, mean_pool
from evosearch.tasks.text_classification import TASKS

VARIANTS = {
    "ta n48": {"method": "task_arithmetic", "n": 48, "nll_weight": 0.0},
    "ta n160 nll": {"method": "task_arithmetic", "n": None, "nll_weight": 0.02},
    "ties n160": {"method": "ties", "n": None, "nll_weight": 0.0, "center": (1.0, 0.3)},
    "ties n48": {"method": "ties", "n": 48, "nll_weight": 0.0, "center": (1.0, 0.3)},
}


def correctness(rt: EncoderRuntime, genomes: list) -> list[dict[str, np.ndarray]]:
    """Per model, per task: a bool per test sentence (right or wrong)."""

    def score(model: torch.nn.Module) -> dict[str, np.ndarray]:
        heads = rt.heads(None)
        out = {}
        with torch.inference_mode():
            for task in TASKS:
                right = []
                for enc, y in rt.batches(task, "test", None, 512):
                    emb = mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])
                    right.append((heads[task](emb).argmax(1) == y).numpy())
                out[task] = np.concatenate(right)
        return out

    return rt.evaluate(genomes, score)


def mcnemar_p(a: np.ndarray, b: np.ndarray) -> float:
    """Exact two-sided McNemar p-value for paired right/wrong vectors."""
    n01, n10 = int((a & ~b).sum()), int((~a & b).sum())
    n, k = n01 + n10, min(n01, n10)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def bootstrap(a: dict, b: dict, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % interval of mean-accuracy(a) − mean-accuracy(b), resampling within each task."""
    rng = np.random.default_rng(seed)
    diffs = np.zeros(reps)
    for task in TASKS:
        d = a[task].astype(float) - b[task].astype(float)
        idx = rng.integers(0, len(d), size=(reps, len(d)))
        diffs += d[idx].mean(1) / len(TASKS)
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return float(lo), float(hi)


def mean_acc(c: dict) -> float:
    return float(np.mean([c[t].mean() for t in TASKS]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/minilm-margin")
    ap.add_argument("--generations", type=int, default=6)
    ap.add_argument("--popsize", type=int, default=8)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = pathlib.Path(args.out)
    models: dict[str, object] = {}
    val: dict[str, float] = {}
    for label in args.variants:
        v = VARIANTS[label]
        run_dir = out / label.replace(" ", "-")
        if not run_dir.exists():  # an existing run directory is reused as it is
            cfg = minilm_merge.merge_config(
                method=v["method"], n=v["n"], generations=args.generations, popsize=args.popsize
            )
            cfg["fitness"]["params"]["nll_weight"] = v["nll_weight"]
            if "center" in v:  # one (weight, density) pair per layer group and expert
                dims = len(cfg["strategy"]["params"]["center_init"])
                cfg["strategy"]["params"]["center_init"] = list(v["center"]) * (dims // 2)
            t0 = time.perf_counter()
            Engine.create(cfg, run_dir).run()
            print(f"{label}: searched in {time.perf_counter() - t0:.0f} s", flush=True)
        best = max(RunStore.open(run_dir).individuals(), key=lambda i: i.score)
        models[f"evolved {label}"] = best.genome
        val[f"evolved {label}"] = best.score
    cands = minilm_merge.baselines("best")
    for name in (*minilm_merge.EXPERTS, "uniform average"):
        models[name] = cands[name]
    for name, genome in cands.items():
        if " w=" in name:
            models[name] = genome
    rt = EncoderRuntime.get(minilm_merge.POOL, device="cpu", cache_bytes=2**30)
    right = dict(zip(models, correctness(rt, list(models.values()))))
    ceiling = np.mean([right[f"expert_{t}"][t].mean() for t in TASKS])
    print(f"\nceiling (each expert on its own task, averaged): {ceiling:.4f}")
    print(f"\n{'model':30s} {'val':>6s} {'test':>6s}")
    for name, c in right.items():
        print(f"{name:30s} {val.get(name, float('nan')):6.3f} {mean_acc(c):6.4f}")
    print(f"\n{'evolved':22s} {'vs':28s} {'diff':>7s} {'95% CI':>17s} {'McNemar p':>10s}")
    for ev in (n for n in right if n.startswith("evolved")):
        for other in (n for n in right if n != ev):
            d = mean_acc(right[ev]) - mean_acc(right[other])
            lo, hi = bootstrap(right[ev], right[other])
            a = np.concatenate([right[ev][t] for t in TASKS])
            b = np.concatenate([right[other][t] for t in TASKS])
            print(
                f"{ev[8:]:22s} {other:28s} {d:+7.4f} [{lo:+.4f}, {hi:+.4f}] "
                f"{mcnemar_p(a, b):10.2g}"
            )


if __name__ == "__main__":
    main()
