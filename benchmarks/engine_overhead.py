"""Benchmark 1: evosearch's engine overhead per individual vs deap's ``eaSimple``.

Both run the same GA (tournament 3, blend crossover, Gaussian mutation, cxpb 0.5,
mutpb 0.2) on a 10-d sphere with the same population size and number of evaluations.
evosearch persists every individual to Parquet (one part per generation, fsynced, plus a
checkpoint and the manifest); deap keeps nothing. Overhead per individual = (wall time -
time spent inside the fitness function) / evaluations, so the comparison is about the
loop, not the fitness.

    nice -n 10 .venv/bin/python -m benchmarks.engine_overhead [--pop 100 --gens 100 --repeats 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time

import numpy as np
from deap import algorithms, base, creator, tools

DIM = 10


def sphere_list(ind) -> tuple[float]:
    x = np.asarray(ind, dtype=np.float64)
    return (-float(np.dot(x, x)),)


def run_deap(pop_size: int, gens: int, seed: int) -> tuple[float, float, int]:
    if not hasattr(creator, "FitMax"):
        creator.create("FitMax", base.Fitness, weights=(1.0,))
        creator.create("Ind", list, fitness=creator.FitMax)
    fit_time = [0.0]

    def evaluate(ind):
        t = time.perf_counter()
        out = sphere_list(ind)
        fit_time[0] += time.perf_counter() - t
        return out

    random.seed(seed)
    tb = base.Toolbox()
    tb.register("attr", random.uniform, -5.0, 5.0)
    tb.register("individual", tools.initRepeat, creator.Ind, tb.attr, DIM)
    tb.register("population", tools.initRepeat, list, tb.individual)
    tb.register("evaluate", evaluate)
    tb.register("mate", tools.cxBlend, alpha=0.5)
    tb.register("mutate", tools.mutGaussian, mu=0.0, sigma=0.3, indpb=1.0 / DIM)
    tb.register("select", tools.selTournament, tournsize=3)
    pop = tb.population(n=pop_size)
    start = time.perf_counter()
    _, log = algorithms.eaSimple(pop, tb, cxpb=0.5, mutpb=0.2, ngen=gens - 1, verbose=False)
    wall = time.perf_counter() - start
    evals = sum(rec["nevals"] for rec in log)
    return wall, fit_time[0], evals


def evosearch_config(
    pop_size: int, gens: int, seed: int, fsync: bool = True, per_commit: int = 1
) -> dict:
    return {
        "name": "overhead",
        "seed": seed,
        "budget": {"generations": gens},
        "fitness": {"ref": "sphere", "timeout": None},
        "strategy": {
            "name": "ga",
            "params": {
                "population_size": pop_size,
                "dimension": DIM,
                "low": -5.0,
                "high": 5.0,
                "crossover": "blend",
                "mutation": "gaussian",
                "sigma": 0.3,
                "cxpb": 0.5,
                "mutpb": 0.2,
                "tournament_size": 3,
                "elitism": 0,
            },
        },
        "executor": "serial",
        "store": {"fsync": fsync, "generations_per_commit": per_commit},
    }


def run_evosearch(
    pop_size: int, gens: int, seed: int, fsync: bool = True, per_commit: int = 1
) -> tuple[float, float, int]:
    from evosearch import Engine
    from evosearch.store import RunStore

    tmp = tempfile.mkdtemp(prefix="evosearch-bench-")
    try:
        cfg = evosearch_config(pop_size, gens, seed, fsync, per_commit)
        engine = Engine.create(cfg, f"{tmp}/run")
        start = time.perf_counter()
        summary = engine.run()
        wall = time.perf_counter() - start
        table = RunStore.open(f"{tmp}/run").table(["eval_seconds"])
        fit = float(np.sum(table["eval_seconds"].to_numpy()))
        assert table.num_rows == summary.evaluations
        return wall, fit, summary.evaluations
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pop", type=int, default=100)
    ap.add_argument("--gens", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    run_evosearch(args.pop, 3, 0)  # warm imports and caches
    # eaSimple evaluates only the offspring that varAnd changed (~62%): give it more
    # generations so both evaluate the same number of individuals.
    _, _, probe = run_deap(args.pop, args.gens, 99)
    deap_gens = max(2, round(args.gens * args.pop * args.gens / probe))
    names = [
        "deap eaSimple (no persistence)",
        "evosearch, store.fsync: true (default)",
        "evosearch, store.fsync: false",
        "evosearch, generations_per_commit: 10",
    ]
    rows: dict[str, list] = {n: [] for n in names}
    for r in range(args.repeats):  # interleaved so machine load hits all alike
        rows[names[0]].append(run_deap(args.pop, deap_gens, r))
        rows[names[1]].append(run_evosearch(args.pop, args.gens, r, fsync=True))
        rows[names[2]].append(run_evosearch(args.pop, args.gens, r, fsync=False))
        rows[names[3]].append(run_evosearch(args.pop, args.gens, r, per_commit=10))
    print(f"10-d sphere, population {args.pop}, best of {args.repeats} interleaved repeats")
    print(f"{'':40s} {'evals':>7s} {'wall s':>8s} {'fitness s':>9s} {'overhead us/ind':>16s}")
    per = {}
    for name, results in rows.items():
        wall, fit, evals = min(results, key=lambda x: (x[0] - x[1]) / x[2])
        per[name] = (wall - fit) / evals * 1e6
        print(f"{name:40s} {evals:7d} {wall:8.3f} {fit:9.3f} {per[name]:16.1f}")
    for name in names[1:]:
        print(f"ratio [{name}] / deap: {per[name] / per[names[0]]:.2f} (target <= 1.00)")


if __name__ == "__main__":
    main()
