"""Initializer and mutation for ``SeedChainGenome`` (for ``ArchiveStrategy`` pipelines).

The Deep GA strategy (``deep_ga``) uses the same genome directly; these plugins let any
archive-based run (MAP-Elites, μ+λ population) evolve seed-chain networks too.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.genomes.seedchain import MAX_SEED, SeedChainGenome
from evosearch.operators.base import PARAMS, Initializer, Offspring, Operator


@registry.initializers.register("seedchain.random")
@dataclass(config=PARAMS)
class RandomSeedChains(Initializer):
    """``n`` genomes, each a fresh random initial seed."""

    sigma: float = Field(default=0.05, gt=0)

    def __call__(self, n: int, rng: np.random.Generator) -> list[SeedChainGenome]:
        return [SeedChainGenome((int(s),), self.sigma) for s in rng.integers(0, MAX_SEED, n)]


@registry.operators.register("seedchain.mutate")
@dataclass(config=PARAMS)
class SeedChainMutation(Operator):
    """θ' = θ + σ·ε(seed): append one fresh seed to the chain."""

    arity = 1

    def __call__(self, parents: list[SeedChainGenome], rng: np.random.Generator) -> list[Offspring]:
        seed = int(rng.integers(0, MAX_SEED))
        return [Offspring(parents[0].mutated(seed), operator_params={"seed": seed})]
