"""Scenario wiring: the Deep-Neuroevolution GA (Such et al., 2017) on CartPole-v1.

Nothing here is an algorithm: the search is the ``deep_ga`` strategy over ``seedchain``
genomes, the fitness is ``cartpole`` (whole population in one batched call). This module
builds the run config (the same as ``examples/cartpole-ga.yaml``) and measures when a run
solved the task: the first generation whose best individual reaches a mean return of at
least 475 over 100 fresh test episodes (the CartPole-v1 threshold of gymnasium's registry).

``python -m evosearch.scenarios.neuroevolution [--generations N] [--out DIR]`` runs it and
prints the generation-by-generation table.
"""

from __future__ import annotations

import argparse
import math
import pathlib
from typing import Any

SOLVED_RETURN = 475.0
TEST_EPISODES = 100
TEST_SEED = 2**31 - 1  # test episodes differ from every training call's start states


def cartpole_config(
    *,
    generations: int = 30,
    population_size: int = 50,
    truncation: int = 10,
    sigma: float = 0.1,
    episodes: int = 5,
    hidden: tuple[int, ...] = (16,),
    seed: int = 0,
) -> dict[str, Any]:
    """The run config of the Deep GA on CartPole-v1."""
    return {
        "name": "cartpole-ga",
        "seed": seed,
        "budget": {"generations": generations},
        "fitness": {
            "ref": "cartpole",
            "params": {"hidden": list(hidden), "episodes": episodes, "device": "cpu"},
            "timeout": 300,
        },
        "strategy": {
            "ref": "deep_ga",
            "params": {
                "population_size": population_size,
                "truncation": truncation,
                "elites": 1,
                "sigma": sigma,
            },
        },
        "executor": {"ref": "serial", "workers": 1},
    }


def test_return(
    genome: Any, hidden: tuple[int, ...] = (16,), episodes: int = TEST_EPISODES
) -> float:
    """Mean return of one seed-chain policy over the test episodes (100 by default)."""
    from evosearch.tasks.cartpole import batched_returns, policy_spec

    returns = batched_returns([genome], policy_spec(hidden), episodes=episodes, seed=TEST_SEED)
    return float(returns.mean())


def solve_table(
    run_dir: str | pathlib.Path, *, episodes: int = TEST_EPISODES
) -> list[dict[str, Any]]:
    """Per generation: best training score and the test return of that best individual.

    Args:
        run_dir: A finished (or interrupted) run of this scenario.
        episodes: Test episodes per generation's best (the criterion uses 100).

    Returns:
        One row per generation: ``generation``, ``best_id``, ``train``, ``test``, ``solved``.
    """
    import yaml

    from evosearch.store import RunStore

    store = RunStore.open(run_dir)
    raw = yaml.safe_load(store.run_yaml) or {}
    hidden = tuple(raw.get("fitness", {}).get("params", {}).get("hidden", [16]))
    by_gen: dict[int, Any] = {}
    for ind in store.individuals():
        if math.isnan(ind.score):
            continue
        cur = by_gen.get(ind.generation)
        if cur is None or (ind.score, -ind.id) > (cur.score, -cur.id):
            by_gen[ind.generation] = ind
    rows = []
    for gen in sorted(by_gen):
        best = by_gen[gen]
        test = test_return(best.genome, hidden, episodes)
        rows.append(
            {
                "generation": gen,
                "best_id": best.id,
                "train": best.score,
                "test": test,
                "solved": test >= SOLVED_RETURN,
            }
        )
    return rows


def generations_to_solve(rows: list[dict[str, Any]]) -> int | None:
    """Generations run until the first solving one (1-based count), or None."""
    for row in rows:
        if row["solved"]:
            return int(row["generation"]) + 1
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the scenario and print the per-generation table."""
    from evosearch.engine import Engine

    ap = argparse.ArgumentParser(prog="python -m evosearch.scenarios.neuroevolution")
    ap.add_argument("--generations", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--population", type=int, default=50, help="N")
    ap.add_argument("--truncation", type=int, default=10, help="T")
    ap.add_argument("--out", default="runs/cartpole-ga")
    args = ap.parse_args(argv)
    cfg = cartpole_config(
        generations=args.generations,
        seed=args.seed,
        population_size=args.population,
        truncation=args.truncation,
    )
    summary = Engine.create(cfg, pathlib.Path(args.out)).run()
    rows = solve_table(args.out)
    print(f"{'gen':>4s} {'best id':>8s} {'train':>8s} {'test(100)':>10s}")
    for r in rows:
        mark = "  solved" if r["solved"] else ""
        print(f"{r['generation']:4d} {r['best_id']:8d} {r['train']:8.1f} {r['test']:10.1f}{mark}")
    solved = generations_to_solve(rows)
    print(f"evaluations: {summary.evaluations}, wall: {summary.elapsed:.1f}s")
    print(
        "generations to solve (mean return >= 475 over 100 test episodes): "
        + (str(solved) if solved is not None else f"not solved in {len(rows)}")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
