"""EvoLLM vs random search, hill climbing, CMA-ES and SNES on BBOB (cocoex), side by side.

Every method gets the same budget (generations × popsize evaluations) on the same problems
(function × dimension × instance). The reported figure is the final best precision
``f_best - f_opt`` normalised by the median precision of 1,000 uniform random points in the
box (0 = optimum, 1 ≈ a random guess), so functions with different scales can be compared.
EvoLLM uses the LLM named by ``--llm`` (default ``evollm_tiny``: the model trained on
multi-teacher targets on BBOB instances 11–13, disjoint from the instances evaluated here);
``--llm-params '{"path": ...}'`` passes backend options (a ``transformers`` checkpoint, an
OpenAI-compatible server). The EvoLLM levers (``--top-k``, ``--order``, ``--temperature``,
``--sigma-init``, ``--sigma-decay``, ``--resolution``) default to the strategy's defaults.
``--teacher-row`` adds the teacher policy the offline model imitates (no LM) as a reference.

Run:  .venv/bin/python benchmarks/evollm_bbob.py [--functions 1 3 8 ...] [--dims 2 5 10]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from evosearch.individual import FitnessResult
from evosearch.llm.pool import backend_from_config
from evosearch.strategies.evollm import EvoLLM, EvoLLMParams
from evosearch.strategies.evotorch import CMAES, SNES
from evosearch.strategies.simple import HillClimb, RandomSearch
from evosearch.tasks.bbob import BBOB_FUNCTIONS, get_problem

METHODS = ("random", "hill_climb", "cmaes", "snes", "evollm")


def normaliser(problem, rng: np.random.Generator) -> float:
    xs = rng.uniform(-5, 5, size=(1000, problem.dimension))
    return float(np.median([problem(x) - problem.f_opt for x in xs])) or 1.0


def make(method: str, d: int, popsize: int, seed: int, llm: dict, levers: dict | None = None):
    rng = np.random.default_rng(seed)
    if method == "random":
        return RandomSearch(RandomSearch.Params(dimension=d, popsize=popsize), rng=rng)
    if method == "hill_climb":
        return HillClimb(HillClimb.Params(dimension=d, popsize=popsize), rng=rng)
    if method == "cmaes":
        return CMAES(CMAES.Params(dimension=d, popsize=popsize, stdev_init=2.5), rng=rng)
    if method == "snes":
        return SNES(SNES.Params(dimension=d, popsize=popsize, stdev_init=2.5), rng=rng)
    return EvoLLM(EvoLLMParams(dimension=d, popsize=popsize, llm=llm, **(levers or {})), rng=rng)


def teacher_final(problem, generations, popsize, seed, levers) -> float:
    """The offline model's teacher policy run as EvoLLM's loop (no LM), final precision."""
    from evosearch.scenarios.demo_models.evollm_lm import TrainRecipe, rollout
    from evosearch.scenarios.demo_models.evollm_targets import candidate_means

    recipe = TrainRecipe(generations=generations, popsize=popsize,
                         **{k: v for k, v in levers.items()
                            if k in ("top_k", "resolution", "sigma_init", "sigma_decay")})
    teacher = "snes"

    def choose(shown, loss, snap, *_):
        return teacher, snap(candidate_means(shown)[teacher])

    rng = np.random.default_rng(seed)
    _, normalised = rollout(recipe, problem.function, problem.dimension, problem.instance, rng,
                            choose)
    return normalised


def run_one(method, problem, generations, popsize, seed, llm, levers=None):
    s = make(method, problem.dimension, popsize, seed, llm, levers)
    best = np.inf
    for _ in range(generations):
        batch = s.ask()
        told = []
        for ind in batch:
            prec = problem(ind.genome.values) - problem.f_opt
            best = min(best, prec)
            told.append(ind.with_result(FitnessResult(score=-prec)))
        s.tell(told)
    extra = {}
    if method == "evollm":
        extra = {"llm_calls": s.llm_calls, "block_requests": s.block_requests,
                 "fallbacks": s.fallbacks}
    return best, extra


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", type=int, nargs="+", default=list(range(1, 25)))
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 5, 10])
    ap.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--generations", type=int, default=20)
    ap.add_argument("--popsize", type=int, default=10)
    ap.add_argument("--llm", default="evollm_tiny")
    ap.add_argument("--llm-params", type=json.loads, default={}, help="backend params (JSON)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--teacher-row", action="store_true")
    for flag, kind in (("--top-k", int), ("--order", str), ("--temperature", float),
                       ("--sigma-init", float), ("--sigma-decay", float),
                       ("--resolution", int)):
        ap.add_argument(flag, type=kind, default=None)
    ap.add_argument("--json", default=None, help="write all figures to this file")
    args = ap.parse_args()
    llm = {"name": args.llm, "params": args.llm_params}
    levers = {k: getattr(args, k) for k in ("top_k", "order", "temperature", "sigma_init",
                                             "sigma_decay", "resolution")
              if getattr(args, k) is not None}
    methods = list(args.methods) + (["teacher"] if args.teacher_row else [])
    tokens = {"in": 0, "out": 0}
    if "evollm" in methods:  # count the tokens of the (shared, cached) backend
        backend = backend_from_config(llm)
        inner = backend.generate

        def counting(requests):
            out = inner(requests)
            for c in out:
                tokens["in"] += c.tokens_in
                tokens["out"] += c.tokens_out
            return out

        backend.generate = counting
    rows = []
    start = time.monotonic()
    evollm_gens = 0
    calls = blocks = fallbacks = 0
    for fn in args.functions:
        for d in args.dims:
            per_method = {m: [] for m in methods}
            for inst in args.instances:
                problem = get_problem(fn, d, inst)
                norm = normaliser(problem, np.random.default_rng(inst))
                seed = 1000 * fn + 10 * d + inst
                for m in methods:
                    if m == "teacher":
                        per_method[m].append(teacher_final(problem, args.generations,
                                                           args.popsize, seed, levers))
                        continue
                    best, extra = run_one(m, problem, args.generations, args.popsize, seed,
                                          llm, levers)
                    per_method[m].append(best / norm)
                    if m == "evollm":
                        evollm_gens += args.generations - 1
                        calls += extra["llm_calls"]
                        blocks += extra["block_requests"]
                        fallbacks += extra["fallbacks"]
            row = {"function": fn, "name": BBOB_FUNCTIONS[fn], "dim": d}
            row.update({m: float(np.mean(v)) for m, v in per_method.items()})
            rows.append(row)
            print(f"f{fn:<2} {BBOB_FUNCTIONS[fn]:<20} d={d:<2} " + "  ".join(
                f"{m}={row[m]:.3g}" for m in methods), flush=True)
    elapsed = time.monotonic() - start
    print()
    print(f"problems (function x dim): {len(rows)}; instances each: {len(args.instances)}; "
          f"budget {args.generations} x {args.popsize} evaluations; levers {levers}")
    if "evollm" in methods:
        for base in [m for m in methods if m != "evollm"]:
            beats = sum(r["evollm"] < r[base] for r in rows)
            print(f"EvoLLM better than {base} on {beats}/{len(rows)} "
                  f"({100 * beats / len(rows):.0f}%)")
    for m in methods:
        wins = sum(min(methods, key=lambda k: r[k]) == m for r in rows)
        print(f"  {m:<10} mean normalised {np.mean([r[m] for r in rows]):.4f}  best on {wins}")
    per_gen = max(1, evollm_gens)
    print(f"EvoLLM per generation: {calls / per_gen:.2f} LLM calls, {blocks / per_gen:.2f} "
          f"block requests, {(tokens['in'] + tokens['out']) / per_gen:.0f} tokens "
          f"({tokens['in'] / per_gen:.0f} in, {tokens['out'] / per_gen:.0f} out); "
          f"fallback blocks {fallbacks}/{blocks}")
    print(f"elapsed {elapsed:.0f}s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "args": vars(args), "levers": levers, "tokens": tokens,
                       "calls": calls,
                       "blocks": blocks, "fallbacks": fallbacks}, fh, indent=1)


if __name__ == "__main__":
    main()
