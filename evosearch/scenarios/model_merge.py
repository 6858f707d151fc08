"""Scenario wiring: evolutionary model merge (mergekit-evolve / Sakana) and GENOME.

Nothing here is an algorithm: the search is ``merge_cmaes`` (``evosearch.strategies``) or
``genome``; the fitness is ``weights.lm_tasks``; the models come from the pool config. This
module builds the run configs (the same as ``examples/model-merge.yaml`` and
``examples/genome.yaml``) and the hand-set baseline recipes the evolved merge is compared to.

``python -m evosearch.scenarios.model_merge [--generations N]`` scores the baselines and runs
the evolution on the tiny demo models (built and cached on first use), then prints the table.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import pathlib
from typing import Any

from evosearch.genomes.weights import WeightsGenome

#: The offline demo pool: base + two experts made by ``evosearch.scenarios.demo_models.tinylm``.
TINY_POOL: dict[str, Any] = {
    "build": "evosearch.scenarios.demo_models.tinylm:build_models",
    "reference": "base",
}
EXPERTS = ("expert_add", "expert_rev")


def merge_config(
    pool: dict[str, Any] | None = None,
    *,
    base: str = "base",
    experts: tuple[str, ...] = EXPERTS,
    method: str = "ties",
    layer_groups: int = 2,
    normalize: bool = False,
    generations: int = 8,
    popsize: int = 8,
    n: int = 100,
    loglik_weight: float = 0.0,
    seed: int = 0,
) -> dict[str, Any]:
    """The run config of the evolutionary merge (CMA-ES over the mergekit-evolve genome).

    ``normalize`` is off by default: with mergekit's normalisation the weights are only
    relative (a TIES merge of two experts can at most average their task vectors), so the
    search could not add both skills at full strength.
    """
    pool = copy.deepcopy(pool or TINY_POOL)
    return {
        "name": "model-merge",
        "seed": seed,
        "budget": {"generations": generations},
        "fitness": {
            "ref": "weights.lm_tasks",
            "params": {"pool": pool, "split": "val", "n": n, "loglik_weight": loglik_weight},
            "timeout": 900,
        },
        "strategy": {
            "ref": "merge_cmaes",
            "params": {
                "pool": pool,
                "population_size": popsize,
                "stdev_init": 1 / 6,
                "genotype": {
                    "models": list(experts),
                    "base_model": base,
                    "method": method,
                    "layer_groups": layer_groups,
                    "normalize": normalize,
                },
            },
        },
    }


def genome_config(
    pool: dict[str, Any] | None = None,
    *,
    models: tuple[str, ...] = ("base", *EXPERTS),
    population_size: int = 10,
    generations: int = 8,
    n: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """The run config of GENOME population evolution over the pool's models."""
    pool = copy.deepcopy(pool or TINY_POOL)
    return {
        "name": "genome",
        "seed": seed,
        "budget": {"generations": generations},
        "fitness": {
            "ref": "weights.lm_tasks",
            "params": {"pool": pool, "split": "val", "n": n},
            "timeout": 900,
        },
        "strategy": {
            "ref": "genome_merge",
            "params": {"pool": pool, "models": list(models), "population_size": population_size},
        },
    }


def baselines(base: str = "base", experts: tuple[str, ...] = EXPERTS) -> dict[str, WeightsGenome]:
    """Hand-set comparisons: the parents, uniform linear, task arithmetic, TIES, a TIES grid."""
    b = WeightsGenome.base(base)
    ex = [WeightsGenome.base(e) for e in experts]
    out: dict[str, WeightsGenome] = {base: b, **{e: g for e, g in zip(experts, ex)}}
    out["linear (uniform)"] = WeightsGenome.merge("linear", ex, {"weight": 1.0})
    out["task_arithmetic (w=1)"] = WeightsGenome.merge(
        "task_arithmetic", [b, *ex], {"weight": 1.0}, base=0
    )
    out["ties (w=1, d=0.5)"] = WeightsGenome.merge(
        "ties", [b, *ex], {"weight": 1.0, "density": 0.5}, base=0
    )
    # normalize off: with mergekit's normalisation the weight would not matter
    for w, d in itertools.product((0.5, 1.0, 1.5), (0.3, 0.6, 0.9)):
        out[f"ties grid w={w} d={d}"] = WeightsGenome.merge(
            "ties", [b, *ex], {"weight": w, "density": d, "normalize": False}, base=0
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Score the baselines, run the evolutionary merge, print the comparison."""
    from evosearch.engine import Engine
    from evosearch.fitness.base import FitnessContext
    from evosearch.store import RunStore
    from evosearch.tasks.weights import lm_tasks

    ap = argparse.ArgumentParser(prog="python -m evosearch.scenarios.model_merge")
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--popsize", type=int, default=8)
    ap.add_argument("--n", type=int, default=100, help="validation examples per task")
    ap.add_argument("--out", default="runs/model-merge")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--layer-groups", type=int, default=2)
    ap.add_argument(
        "--loglik-weight",
        type=float,
        default=0.0,
        help="dense tie-breaker: weight of the answers' per-token log-likelihood in the score",
    )
    args = ap.parse_args(argv)
    cfg = merge_config(
        generations=args.generations,
        popsize=args.popsize,
        n=args.n,
        layer_groups=args.layer_groups,
        loglik_weight=args.loglik_weight,
    )
    cfg["fitness"]["params"]["device"] = args.device
    run_dir = pathlib.Path(args.out)
    engine = Engine.create(cfg, run_dir)  # validates everything before any scoring
    ctx = FitnessContext(params=cfg["fitness"]["params"], device=args.device)
    names = list(baselines())
    results = lm_tasks(list(baselines().values()), ctx)
    rows = [(name, r.score, dict(r.metrics)) for name, r in zip(names, results)]
    for name, score, _ in rows:
        print(f"baseline {name:28s} val {score:.3f}", flush=True)
    engine.run()
    best = max(RunStore.open(run_dir).individuals(), key=lambda i: i.score)
    test_ctx = FitnessContext(params={**ctx.params, "split": "test", "n": None}, device=args.device)
    grid = max((r for r in rows if r[0].startswith("ties grid")), key=lambda r: r[1])
    finalists = {
        **{r[0]: baselines()[r[0]] for r in rows if not r[0].startswith("ties grid")},
        f"best grid: {grid[0]}": baselines()[grid[0]],
        f"evolved #{best.id}": best.genome,
    }
    final = lm_tasks(list(finalists.values()), test_ctx)
    print(f"{'model':32s} {'val acc':>8s} {'test add':>9s} {'test rev':>9s} {'test mean':>9s}")
    val = {r[0]: r[1] for r in rows}
    val[f"best grid: {grid[0]}"] = grid[1]
    val[f"evolved #{best.id}"] = best.score
    for (name, _), r in zip(finalists.items(), final):
        m = r.metrics
        print(
            f"{name:32s} {val[name]:8.3f} {m.get('acc_add', 0):9.3f} {m.get('acc_rev', 0):9.3f}"
            f" {m.get('acc_mean', r.score):9.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
