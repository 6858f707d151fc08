"""Scenario: evolutionary merge of MiniLM-L6 experts fine-tuned from pretrained weights.

The pool (``evosearch.scenarios.demo_models.minilm``): the pretrained all-MiniLM-L6-v2 encoder
and one expert per generated task (agent, compare, temporal, count: see
``tasks.text_classification``), each fine-tuned from it with its own frozen linear head. A
merge combines the encoders; each task keeps its head (fitness ``weights.minilm_tasks``: mean
accuracy over the four tasks).

Compared on the held-out ``test`` split, each picked on ``val``:

- every expert alone, and the uniform weight average of the experts;
- task arithmetic, TIES and DARE-TIES, each at the best point of a hand-set grid;
- the evolved merge: CMA-ES (σ₀ = 1/6) over the mergekit-evolve genome with one weight and
  one density per layer group and expert (TIES, ``normalize`` off), started at the point the
  hand-set TIES grid picks on val. Evolution refines the best hand-set merge layer by layer,
  and reaches the experts' own accuracy on test (``benchmarks/RESULTS.md``, issue 13).
  ``--method task_arithmetic``: one weight per layer group and expert, from 0.5 (AdaMerging's
  layer-wise coefficients; the default before session 19).

``python -m evosearch.scenarios.minilm_merge [--generations N] [--genome]`` prints the table
(``--genome`` also runs GENOME on the same pool against its best initial model).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import pathlib
import time
from typing import Any

import torch

from evosearch.genomes.weights import WeightsGenome
from evosearch.tasks.text_classification import TASKS

POOL: dict[str, Any] = {
    "build": "evosearch.scenarios.demo_models.minilm:build_models",
    "reference": "base",
}
EXPERTS = tuple(f"expert_{t}" for t in TASKS)
FITNESS = "weights.minilm_tasks"


def _fitness(pool: dict[str, Any], n: int | None, split: str = "val") -> dict[str, Any]:
    return {"ref": FITNESS, "params": {"pool": pool, "split": split, "n": n}, "timeout": 900}


# The grid points the full grid picks on val (benchmarks/RESULTS.md, issue 13): the demo
# scores only these, the full run (``--grid full``) searches the whole grid again.
BEST_GRID = {"task_arithmetic": [1.0], "ties": [(1.0, 0.3)], "dare_ties": [(1.0, 0.3)]}


def start_point(method: str) -> tuple[float, ...]:
    """Where CMA-ES starts, per layer group and expert.

    TIES and DARE-TIES start at their grid's best point (weight, density); task arithmetic
    and linear start at weight 0.5.
    """
    if method in ("ties", "dare_ties"):
        return tuple(BEST_GRID[method][0])
    return (0.5,)


def merge_config(
    *,
    method: str = "ties",
    layer_groups: int = 6,
    generations: int = 4,
    popsize: int = 8,
    n: int | None = 48,
    seed: int = 0,
    pool: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """CMA-ES over the per-layer mergekit-evolve genome of the MiniLM experts."""
    pool = copy.deepcopy(pool or POOL)
    start = start_point(method)
    return {
        "name": "minilm-merge",
        "seed": seed,
        "budget": {"generations": generations},
        "fitness": _fitness(pool, n),
        "strategy": {
            "ref": "merge_cmaes",
            "params": {
                "pool": pool,
                "population_size": popsize,
                "stdev_init": 1 / 6,
                "center_init": list(start) * (layer_groups * len(EXPERTS)),
                "genotype": {
                    "models": list(EXPERTS),
                    "base_model": "base",
                    "method": method,
                    "layer_groups": layer_groups,
                    "normalize": False,
                },
            },
        },
    }


def genome_config(
    *, generations: int = 6, population_size: int = 8, n: int | None = 48, seed: int = 0
) -> dict[str, Any]:
    """GENOME population evolution over the same pool (base and experts)."""
    pool = copy.deepcopy(POOL)
    return {
        "name": "minilm-genome",
        "seed": seed,
        "budget": {"generations": generations},
        "fitness": _fitness(pool, n),
        "strategy": {
            "ref": "genome_merge",
            "params": {
                "pool": pool,
                "models": list(EXPERTS),
                "population_size": population_size,
            },
        },
    }


def baselines(grid: str = "full") -> dict[str, WeightsGenome]:
    """Every expert, the uniform average, and grids of task arithmetic, TIES and DARE-TIES.

    Args:
        grid: ``full`` (3 task-arithmetic weights, 2 × 2 TIES and DARE-TIES points) or
            ``best`` (only the points the full grid picks on val, ``BEST_GRID``).
    """
    b = WeightsGenome.base("base")
    ex = [WeightsGenome.base(e) for e in EXPERTS]
    out: dict[str, WeightsGenome] = {"base": b, **{e: g for e, g in zip(EXPERTS, ex)}}
    out["uniform average"] = WeightsGenome.merge("linear", ex, {"weight": 1.0})
    full = grid == "full"
    for lam in (0.3, 0.5, 1.0) if full else BEST_GRID["task_arithmetic"]:
        out[f"task_arithmetic w={lam}"] = WeightsGenome.merge(
            "task_arithmetic", [b, *ex], {"weight": lam}, base=0
        )
    points = itertools.product((0.5, 1.0), (0.3, 0.7)) if full else BEST_GRID["ties"]
    for w, d in points:
        params = {"weight": w, "density": d, "normalize": False}
        out[f"ties w={w} d={d}"] = WeightsGenome.merge("ties", [b, *ex], params, base=0)
        out[f"dare_ties w={w} d={d}"] = WeightsGenome.merge(
            "dare_ties", [b, *ex], params, base=0, seed=0
        )
    return out


def family(name: str) -> str:
    return name.split(" ")[0] if " w=" in name else name


def _show_build_progress() -> None:
    """Print the experts' fine-tuning progress (first run only: ~2.5 min on 2 cores)."""
    import logging
    import sys

    log = logging.getLogger("evosearch.scenarios.demo_models")
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Score the baselines on val, evolve, then report the finalists on test."""
    from evosearch.engine import Engine
    from evosearch.fitness.base import FitnessContext
    from evosearch.store import RunStore
    from evosearch.tasks.minilm import minilm_tasks

    ap = argparse.ArgumentParser(prog="python -m evosearch.scenarios.minilm_merge")
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--popsize", type=int, default=8)
    ap.add_argument("--n", type=int, default=48, help="validation sentences per task")
    ap.add_argument(
        "--method",
        default="ties",
        choices=("ties", "dare_ties", "task_arithmetic", "linear"),
        help="merge method of the evolved per-layer genome (start: start_point(method))",
    )
    ap.add_argument("--layer-groups", type=int, default=6)
    ap.add_argument("--out", default=None, help="run directory (default runs/minilm-merge-TIME)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--genome", action="store_true", help="also run GENOME on the same pool")
    ap.add_argument(
        "--grid",
        choices=("full", "best"),
        default="full",
        help="hand-set merges: the whole grid, or only the points it picks on val (faster)",
    )
    args = ap.parse_args(argv)
    _show_build_progress()
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        torch.set_num_threads(1)  # an oversubscribed machine: threads stall at every barrier
    t_start = time.perf_counter()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = pathlib.Path(args.out or f"runs/minilm-merge-{stamp}")
    cfg = merge_config(
        method=args.method,
        layer_groups=args.layer_groups,
        generations=args.generations,
        popsize=args.popsize,
        n=args.n,
    )
    cfg["fitness"]["params"]["device"] = args.device
    engine = Engine.create(cfg, run_dir)  # builds (or finds cached) experts; checks everything
    val_ctx = FitnessContext(params=cfg["fitness"]["params"], device=args.device)
    test_ctx = FitnessContext(
        params={**val_ctx.params, "split": "test", "n": None}, device=args.device
    )
    cands = baselines(args.grid)
    val = dict(zip(cands, (r.score for r in minilm_tasks(list(cands.values()), val_ctx))))
    print(f"baselines scored on val ({len(cands)} recipes, {time.perf_counter() - t_start:.0f} s)")
    engine.run()
    best = max(RunStore.open(run_dir).individuals(), key=lambda i: i.score)
    finalists: dict[str, WeightsGenome] = {
        n: cands[n] for n in ("base", *EXPERTS, "uniform average")
    }
    for fam in ("task_arithmetic", "ties", "dare_ties"):
        pick = max((n for n in cands if family(n) == fam), key=lambda n: val[n])
        finalists[f"best {pick}"] = cands[pick]
        val[f"best {pick}"] = val[pick]
    name = f"evolved (CMA-ES, {args.generations}x{args.popsize})"
    finalists[name], val[name] = best.genome, best.score
    if args.genome:
        gdir = run_dir.with_name(run_dir.name + "-genome")
        gcfg = genome_config(n=args.n)
        gcfg["fitness"]["params"]["device"] = args.device
        Engine.create(gcfg, gdir).run()
        inds = RunStore.open(gdir).individuals()
        init = max((i for i in inds if i.generation == 0), key=lambda i: i.score)
        gbest = max(inds, key=lambda i: i.score)
        finalists["GENOME best initial"], val["GENOME best initial"] = init.genome, init.score
        finalists["GENOME final best"], val["GENOME final best"] = gbest.genome, gbest.score
    final = minilm_tasks(list(finalists.values()), test_ctx)
    tasks = list(TASKS)
    head = " ".join(f"{t[:8]:>8s}" for t in tasks)
    print(f"\n{'model (picked on val)':34s} {'val':>6s} | test: {head} {'mean':>7s}")
    for (n, _), r in zip(finalists.items(), final):
        cols = " ".join(f"{r.metrics[f'acc_{t}']:8.3f}" for t in tasks)
        print(f"{n:34s} {val[n]:6.3f} |       {cols} {r.metrics['acc_mean']:7.3f}")
    print(f"\nrun: {run_dir}  ({time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
