"""Benchmark 2: evosearch's CMA-ES vs raw evotorch CMA-ES on 5 BBOB functions at d=10.

Both use evotorch's ``CMAES`` with the same popsize, σ₀ and number of evaluations on the
same COCO problems (``cocoex``) and the same torch seed; evosearch adds its ask/tell
hand-off (evotorch's own step(), replayed in tell), the evaluation and a durable commit per
generation. Reported: best precision ``f(x_best) - f_opt`` of both (they must be equal) and
the wall-time ratio.

    nice -n 5 .venv/bin/python -m benchmarks.cmaes_vs_evotorch [--gens 200 --seeds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

import numpy as np
import torch
from evotorch import Problem
from evotorch.algorithms import CMAES

from evosearch import Engine
from evosearch.tasks.bbob import BBOB_FUNCTIONS, get_problem

FUNCTIONS = (1, 2, 8, 12, 15)
DIM = 10
POPSIZE = 10
SIGMA0 = 2.0


def torch_seed(seed: int) -> int:
    """The torch seed evosearch's CMA-ES derives from a run seed (``EvotorchStrategy``)."""
    return int(np.random.default_rng(seed).integers(0, 2**31 - 1))


def raw_evotorch(fid: int, gens: int, seed: int) -> tuple[float, float]:
    p = get_problem(fid, DIM, 1)

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.tensor(p(x.numpy()) - p.f_opt, dtype=torch.float64)

    seed = torch_seed(seed)
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


def with_evosearch(fid: int, gens: int, seed: int, per_commit: int = 1) -> tuple[float, float]:
    cfg = {
        "name": f"bbob-f{fid}",
        "seed": seed,
        "budget": {"generations": gens},
        "fitness": {"ref": "bbob", "params": {"function": fid, "dimension": DIM}, "timeout": None},
        "strategy": {
            "ref": "cmaes",
            "params": {
                "dimension": DIM,
                "low": -4.0,
                "high": 4.0,
                "population_size": POPSIZE,
                "stdev_init": SIGMA0,
            },
        },
        "store": {"generations_per_commit": per_commit},
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
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for fid in FUNCTIONS:
        get_problem(fid, DIM, 1)  # build the cocoex problems outside the timings
    raw_evotorch(1, 5, 0), with_evosearch(1, 5, 0)  # warm-up
    print(
        f"BBOB d={DIM}, instance 1, CMA-ES popsize {POPSIZE}, sigma0 {SIGMA0}, "
        f"{args.gens * POPSIZE} evaluations per run, {args.seeds} seeds, the same torch seed "
        f"on both sides; wall = sum over functions and seeds, min/median of {args.repeats}"
    )
    names = ["evotorch (no persistence)", "evosearch, durable commit every generation",
             "evosearch, generations_per_commit: 10"]
    walls: dict[str, list[float]] = {n: [] for n in names}
    same = True
    for _ in range(args.repeats):  # interleaved: machine load hits all alike
        total = [0.0, 0.0, 0.0]
        for fid in FUNCTIONS:
            for s in range(args.seeds):
                raw = raw_evotorch(fid, args.gens, s)
                ours = with_evosearch(fid, args.gens, s)
                ours10 = with_evosearch(fid, args.gens, s, per_commit=10)
                same &= raw[0] == ours[0] == ours10[0]
                for i, r in enumerate((raw, ours, ours10)):
                    total[i] += r[1]
                if _ == 0:
                    print(f"f{fid:<2} {BBOB_FUNCTIONS[fid]:22s} seed {s}: best precision "
                          f"evotorch {raw[0]:.6e}  evosearch {ours[0]:.6e}")
        for name, t in zip(names, total):
            walls[name].append(t)
    base_min, base_med = min(walls[names[0]]), statistics.median(walls[names[0]])
    for name in names:
        w = walls[name]
        print(f"{name:45s} wall min {min(w):7.2f}s median {statistics.median(w):7.2f}s  "
              f"ratio min {min(w) / base_min:5.2f} median {statistics.median(w) / base_med:5.2f}")
    print(f"same best values on every function and seed: {same}")


if __name__ == "__main__":
    main()
