"""Data-flow-space merging on the MiniLM pool: DFS alone and PS+DFS against PS alone.

DFS: CMA-ES over ``DFSGenotype`` vectors (indicator + per-step scale, one pass over the
experts' layers), embeddings from the base. PS+DFS (Sakana's combination): the same search
with the evolved parameter-space merge as the first source (its embeddings too), started at
the PS merge's own path, so the search begins where PS ended. Fitness ``weights.minilm_dfs``.

``python -m evosearch.scenarios.minilm_dfs --ps-run RUN_DIR`` (RUN_DIR: a finished
``minilm_merge`` run whose best recipe is the PS merge) prints val/test for PS, DFS, PS+DFS.
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import time
from typing import Any

from evosearch.models.dfs import DFSGenotype
from evosearch.scenarios.minilm_merge import EXPERTS, POOL


def dfs_config(
    sources: dict[str, Any],
    *,
    embed_from: str,
    center: list[float] | None,
    repeats: int = 1,
    generations: int = 6,
    popsize: int = 10,
    n: int | None = 96,
    seed: int = 0,
    name: str = "minilm-dfs",
) -> dict[str, Any]:
    geno = {"sources": list(sources), "num_layers": 6, "repeats": repeats}
    dim = DFSGenotype(tuple(sources), 6, repeats).dimension
    return {
        "name": name,
        "seed": seed,
        "budget": {"generations": generations},
        "fitness": {
            "ref": "weights.minilm_dfs",
            "params": {
                "pool": copy.deepcopy(POOL),
                "split": "val",
                "n": n,
                "dfs": geno,
                "sources": sources,
                "embed_from": embed_from,
            },
            "timeout": 900,
        },
        "strategy": {
            "ref": "cmaes",
            "params": {
                "dimension": dim,
                "population_size": popsize,
                "stdev_init": 0.3,
                "center_init": center,
                "low": -1.0,
                "high": 1.0,
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    from evosearch.engine import Engine
    from evosearch.fitness.base import FitnessContext
    from evosearch.genomes.vector import VectorGenome
    from evosearch.store import RunStore
    from evosearch.tasks.minilm import minilm_dfs, minilm_tasks

    ap = argparse.ArgumentParser(prog="python -m evosearch.scenarios.minilm_dfs")
    ap.add_argument("--ps-run", required=True, help="a finished minilm_merge run directory")
    ap.add_argument("--generations", type=int, default=6)
    ap.add_argument("--popsize", type=int, default=10)
    ap.add_argument("--n", type=int, default=96)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    ps_run = pathlib.Path(args.ps_run)
    ps = max(RunStore.open(ps_run).individuals(), key=lambda i: i.score)
    rows: dict[str, tuple[float, Any]] = {}
    ctx = FitnessContext(params={"pool": copy.deepcopy(POOL), "split": "test"}, device="cpu")
    rows["PS (evolved merge)"] = (ps.score, minilm_tasks([ps.genome], ctx)[0])
    runs = {
        "DFS (experts' layers)": (
            {e: {"base": e} for e in EXPERTS} | {"base": {"base": "base"}},
            "base",
            None,
        ),
        "PS+DFS": ({"ps": ps.genome.recipe} | {e: {"base": e} for e in EXPERTS}, "ps", 0),
    }
    for label, (sources, embed, start) in runs.items():
        geno = DFSGenotype(tuple(sources), 6, 1)
        center = None if start is None else [float(v) for v in geno.initial(start)]
        if center is None:  # DFS alone: start from the base's own path
            center = [float(v) for v in geno.initial(list(sources).index("base"))]
        cfg = dfs_config(
            sources,
            embed_from=embed,
            center=center,
            generations=args.generations,
            popsize=args.popsize,
            n=args.n,
        )
        run_dir = ps_run.with_name(ps_run.name + ("-psdfs" if start == 0 else "-dfs"))
        Engine.create(cfg, run_dir).run()
        best = max(RunStore.open(run_dir).individuals(), key=lambda i: i.score)
        tctx = FitnessContext(
            params={**cfg["fitness"]["params"], "split": "test", "n": None}, device="cpu"
        )
        res = minilm_dfs([VectorGenome(best.genome.values)], tctx)[0]
        rows[label] = (best.score, res)
        print(f"{label}: best path {geno.decode(best.genome.values)}", flush=True)
    print(f"\n{'model':24s} {'val':>6s} {'test mean':>9s} {'layers':>6s}")
    for label, (val, res) in rows.items():
        layers = res.metrics.get("layers", 6.0)
        print(f"{label:24s} {val:6.3f} {res.metrics['acc_mean']:9.3f} {layers:6.0f}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
