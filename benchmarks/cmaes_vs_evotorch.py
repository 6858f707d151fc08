"""Benchmark 2: evosearch's CMA-ES vs raw evotorch CMA-ES on 5 BBOB functions at d=10.

Both use evotorch's ``CMAES`` with the same popsize, σ₀ and number of evaluations on the
same COCO problems (``cocoex``); evosearch adds its ask/tell hand-off, the Individual
records and a durable Parquet commit per generation. Reported: final precision
``f(x_best) - f_opt`` of both (median over seeds) and the wall-time ratio.

    nice -n 10 .venv/bin/python -m benchmarks.cmaes_vs_evotorch [--gens 200 --seeds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

import torch
from evotorch import Problem
from evotorch.algorithms import CMAES

from evosearch import Engine
from evosearch.fitness.bbob import BBOB_FUNCTIONS, get_problem

FUNCTIONS = (1, 2, 8, 12, 15)
DIM = 10
POPSIZE = 10
SIGMA0 = 2.0


def raw_evotorch(fid: int, gens: int, seed: int) -> tuple[float, float]:
    p = get_problem(fid, DIM, 1)

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.tensor(p(x.numpy()) - p.f_opt, dtype=torch.float64)

    torch.manual_seed(seed)
    start = time.perf_counter()
    problem = Problem(
        "min", f, solution_length=DIM, initial_bounds=(-4.0, 4.0), dtype=torch.float64, seed=seed
    )
    searcher = CMAES(problem, stdev_init=SIGMA0, popsize=POPSIZE)
    for _ in range(gens):
        searcher.step()
    wall = time.perf_counter() - start
    return float(searcher.status["best_eval"]), wall


def with_evosearch(fid: int, gens: int, seed: int, fsync: bool) -> tuple[float, float]:
    cfg = {
        "name": f"bbob-f{fid}",
        "seed": seed,
        "budget": {"generations": gens},
        "fitness": {"ref": "bbob", "params": {"function": fid, "dimension": DIM}, "timeout": None},
        "strategy": {
            "name": "cmaes",
            "params": {
                "dimension": DIM,
                "low": -4.0,
                "high": 4.0,
                "popsize": POPSIZE,
                "stdev_init": SIGMA0,
            },
        },
        "store": {"fsync": fsync},
    }
    tmp = tempfile.mkdtemp(prefix="evosearch-bench-")
    try:
        start = time.perf_counter()
        summary = Engine.create(cfg, f"{tmp}/run").run()
        wall = time.perf_counter() - start
        assert summary.evaluations == gens * POPSIZE
        return -summary.best.score, wall
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gens", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    for fid in FUNCTIONS:
        get_problem(fid, DIM, 1)  # build the cocoex problems outside the timings
    raw_evotorch(1, 5, 0), with_evosearch(1, 5, 0, True)  # warm-up
    print(
        f"BBOB d={DIM}, instance 1, CMA-ES popsize {POPSIZE}, sigma0 {SIGMA0}, "
        f"{args.gens * POPSIZE} evaluations per run, median over {args.seeds} seeds"
    )
    head = f"{'function':24s} {'prec evotorch':>13s} {'prec evosearch':>14s}"
    head += f" {'t evotorch':>10s} {'t evos':>8s} {'ratio':>6s}"
    print(f"{head} {'t nofsync':>9s} {'ratio':>6s}")
    totals = [0.0, 0.0, 0.0]
    for fid in FUNCTIONS:
        runs = [
            (
                raw_evotorch(fid, args.gens, s),
                with_evosearch(fid, args.gens, s, True),
                with_evosearch(fid, args.gens, s, False),
            )
            for s in range(args.seeds)
        ]
        prec_raw = statistics.median(r[0][0] for r in runs)
        prec_evo = statistics.median(r[1][0] for r in runs)
        t = [sum(r[i][1] for r in runs) for i in range(3)]
        totals = [a + b for a, b in zip(totals, t)]
        name = f"f{fid} {BBOB_FUNCTIONS[fid]}"
        print(
            f"{name:24s} {prec_raw:13.3e} {prec_evo:14.3e} {t[0]:10.2f} {t[1]:8.2f} "
            f"{t[1] / t[0]:6.2f} {t[2]:9.2f} {t[2] / t[0]:6.2f}"
        )
    print(
        f"total wall: evotorch {totals[0]:.2f}s, evosearch {totals[1]:.2f}s "
        f"(ratio {totals[1] / totals[0]:.2f}, target <= 1.2), evosearch with store.fsync false "
        f"{totals[2]:.2f}s (ratio {totals[2] / totals[0]:.2f})"
    )


if __name__ == "__main__":
    main()
