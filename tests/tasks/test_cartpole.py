"""CartPole: the whole population in one batched call returns what one-by-one returns."""

from __future__ import annotations

import numpy as np
import pytest

from evosearch.fitness.base import FitnessContext
from evosearch.genomes.seedchain import SeedChainGenome
from evosearch.tasks import cartpole as cp

# Seeds chosen so the population spans quick failures and 100+ step episodes.
SEEDS = [0, 1, 2, 3, 9]


@pytest.fixture(scope="module")
def population():
    return [SeedChainGenome((s,), 0.1).mutated(100 + s) for s in SEEDS]


def test_batched_population_returns_equal_sequential_gymnasium_episodes(population):
    spec = cp.policy_spec([16])
    batched = cp.batched_returns(population, spec, episodes=3, seed=7)
    sequential = np.stack([cp.sequential_returns(g, spec, episodes=3, seed=7) for g in population])
    assert batched.shape == (len(population), 3)
    np.testing.assert_array_equal(batched, sequential)
    assert batched.min() < 30 and batched.max() >= 100  # short and long episodes alike


def test_an_individual_scores_the_same_alone_and_in_a_population(population):
    spec = cp.policy_spec([16])
    trio = population[:3]
    together = cp.batched_returns(trio, spec, episodes=2, seed=1)
    alone = [cp.batched_returns([g], spec, episodes=2, seed=1)[0] for g in trio]
    assert together.max() >= 100
    np.testing.assert_array_equal(together, np.stack(alone))


def test_fitness_reports_mean_and_min_return(population):
    ctx = FitnessContext(params={"episodes": 2, "seed": 4})
    results = cp.cartpole(population, ctx)
    returns = cp.batched_returns(population, cp.policy_spec([16]), episodes=2, seed=4)
    assert [r["score"] for r in results] == pytest.approx(returns.mean(1).tolist())
    assert [r["metrics"]["return_min"] for r in results] == returns.min(1).tolist()


def test_fitness_refuses_other_genomes():
    from evosearch.genomes.vector import VectorGenome

    with pytest.raises(TypeError, match="SeedChainGenome"):
        cp.cartpole([VectorGenome([0.0])], FitnessContext())
