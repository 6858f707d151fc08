"""Batched vs sequential population evaluation, side by side in one run.

1. CartPole-v1: a whole population of seed-chain MLP policies in one call (vmap over the
   stacked policies + gymnasium's ``CartPoleVectorEnv``) vs one individual at a time
   (gymnasium ``CartPoleEnv``, unbatched policy). Timed on a random initial population and
   on the population after a few Deep-GA generations (longer episodes).
2. LM tasks: each demo model's test split in one ``generate()`` + one forward per task vs
   one prompt at a time.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_population_eval.py``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _time(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def cartpole(pop: int, episodes: int, generations: int) -> None:
    from evosearch.genomes.seedchain import SeedChainGenome
    from evosearch.individual import FitnessResult
    from evosearch.strategies.deep_ga import DeepGA, DeepGAParams
    from evosearch.tasks import cartpole as cp

    spec = cp.policy_spec([16])
    ga = DeepGA(
        DeepGAParams(population_size=pop, truncation=10, sigma=0.1), rng=np.random.default_rng(0)
    )
    populations = {}
    for gen in range(generations + 1):
        batch = ga.ask()
        genomes: list[SeedChainGenome] = [i.genome for i in batch]
        if gen in (0, generations):
            populations[f"generation {gen}"] = genomes
        returns = cp.batched_returns(genomes, spec, episodes=episodes, seed=gen)
        ga.tell(
            [i.with_result(FitnessResult(score=float(r.mean()))) for i, r in zip(batch, returns)]
        )
    print(f"CartPole-v1: population {pop} x {episodes} episodes, policy 4-16-2")
    print(
        f"{'population':16s} {'mean return':>11s} {'batched s':>10s} {'sequential s':>13s}"
        f" {'ratio':>7s}"
    )
    for name, genomes in populations.items():
        tb, batched = _time(
            lambda g=genomes: cp.batched_returns(g, spec, episodes=episodes, seed=99), repeat=2
        )
        ts, seq = _time(
            lambda g=genomes: np.stack(
                [cp.sequential_returns(x, spec, episodes=episodes, seed=99) for x in g]
            )
        )
        same = "same returns" if np.array_equal(batched, seq) else "RETURNS DIFFER"
        print(f"{name:16s} {batched.mean():11.1f} {tb:10.3f} {ts:13.3f} {ts / tb:6.1f}x  ({same})")


def lm(n_models: int) -> None:
    from transformers import AutoModelForCausalLM

    from evosearch.scenarios.demo_models import tinylm
    from evosearch.tasks import lm_tasks

    paths = tinylm.build_models()
    print("\nLM tasks: test split (300 add + 300 rev) per model, greedy exact match")
    print(f"{'model':12s} {'one batch s':>12s} {'per prompt s':>13s} {'ratio':>7s}")
    for name in list(paths)[:n_models]:
        model = AutoModelForCausalLM.from_pretrained(paths[name]).eval()
        tb, rb = _time(lambda m=model: lm_tasks.score_model(m, split="test"), repeat=2)
        ts, rs = _time(lambda m=model: lm_tasks.score_model(m, split="test", batch_size=1))
        same = "same acc" if rb.metrics["acc_mean"] == rs.metrics["acc_mean"] else "ACC DIFFERS"
        print(f"{name:12s} {tb:12.3f} {ts:13.3f} {ts / tb:6.1f}x  ({same})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pop", type=int, default=50)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--generations", type=int, default=5)
    ap.add_argument("--lm-models", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cartpole(args.pop, args.episodes, args.generations)
    if args.lm_models:
        lm(args.lm_models)


if __name__ == "__main__":
    main()
