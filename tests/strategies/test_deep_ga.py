"""The Deep GA: elitism, truncation selection, seed mutation, a real run on CartPole."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evosearch import registry
from evosearch.genomes.seedchain import SeedChainGenome
from evosearch.individual import FitnessResult
from evosearch.strategies.deep_ga import DeepGA, DeepGAParams


def _tell_scores(strategy, batch, scores):
    strategy.tell([i.with_result(FitnessResult(score=s)) for i, s in zip(batch, scores)])


def test_next_generation_is_the_elite_plus_mutants_of_the_top_t():
    ga = DeepGA(
        DeepGAParams(population_size=8, truncation=3, elites=1, sigma=0.2),
        rng=np.random.default_rng(0),
    )
    first = ga.ask()
    assert len(first) == 8 and all(len(i.genome.seeds) == 1 for i in first)
    assert all(i.genome.sigma == 0.2 for i in first)
    scores = [float(k) for k in range(8)]  # ids 5, 6, 7 are the top three
    _tell_scores(ga, first, scores)
    second = ga.ask()
    elite = second[0]
    assert elite.operator == "elite" and elite.parent_ids == (7,)
    assert elite.genome == first[7].genome
    for child in second[1:]:
        assert child.operator == "seedchain.mutate"
        (parent,) = child.parent_ids
        assert parent in (5, 6, 7)
        assert child.genome.seeds[:-1] == first[parent].genome.seeds
        assert child.operator_params["seed"] == child.genome.seeds[-1]


def test_failed_individuals_are_never_parents():
    ga = DeepGA(DeepGAParams(population_size=4, truncation=2), rng=np.random.default_rng(1))
    batch = ga.ask()
    _tell_scores(ga, batch, [math.nan, 1.0, math.nan, 0.5])
    parents = {p for i in ga.ask() for p in i.parent_ids}
    assert parents <= {batch[1].id, batch[3].id}


def test_same_seed_same_genomes():
    runs = []
    for _ in range(2):
        ga = DeepGA(DeepGAParams(population_size=5, truncation=2), rng=np.random.default_rng(3))
        b = ga.ask()
        _tell_scores(ga, b, [1, 2, 3, 4, 5])
        runs.append([i.genome for i in ga.ask()])
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "params, key",
    [
        ({"population_size": 4, "truncation": 5}, "truncation"),
        ({"population_size": 4, "elites": 4}, "elites"),
        ({"sigma": 0}, "sigma"),
    ],
)
def test_bad_params_name_the_key(params, key):
    from evosearch.config import load_config
    from evosearch.engine import build_strategy
    from evosearch.scenarios.neuroevolution import cartpole_config

    cfg = cartpole_config()
    cfg["strategy"]["params"].update(params)
    with pytest.raises(registry.RegistryError, match=f"strategy.params.*{key}"):
        build_strategy(load_config(cfg), np.random.default_rng(0))


def test_registered_initializer_and_mutation_build_seed_chains():
    init = registry.initializers.get("seedchain.random").create({"sigma": 0.3})
    rng = np.random.default_rng(0)
    (g,) = init(1, rng)
    assert isinstance(g, SeedChainGenome) and g.sigma == 0.3
    mutate = registry.operators.get("seedchain.mutate").create({})
    (child,) = mutate([g], rng)
    assert child.genome.seeds[:1] == g.seeds
    assert child.operator_params["seed"] == child.genome.seeds[1]
