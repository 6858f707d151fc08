"""The Deep-Neuroevolution genetic algorithm (Such et al., 2017) over seed-chain genomes.

Each generation of ``population_size`` individuals: the ``elites`` best of the previous
generation are carried over unchanged (and re-evaluated on the new generation's episodes,
which filters out lucky evaluations), and every other individual is a mutation
θ' = θ + σ·ε(seed) of a parent drawn uniformly from the top ``truncation`` of the previous
generation. No crossover, as in the paper. Generation 0 draws ``population_size`` random
initial seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pydantic
from pydantic import Field

from evosearch import registry
from evosearch.genomes.seedchain import MAX_SEED, SeedChainGenome
from evosearch.individual import Individual
from evosearch.strategies.base import Offspring, Strategy


class DeepGAParams(pydantic.BaseModel):
    """Parameters of the Deep GA.

    Attributes:
        population_size: Individuals per generation (N).
        truncation: Parents per generation: the top T.
        elites: Best individuals copied unchanged into the next generation.
        sigma: Mutation strength σ.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    population_size: int = Field(default=50, ge=2)
    truncation: int = Field(default=10, ge=1)
    elites: int = Field(default=1, ge=0)
    sigma: float = Field(default=0.05, gt=0)

    @pydantic.model_validator(mode="after")
    def _fits(self) -> DeepGAParams:
        if self.truncation > self.population_size:
            raise ValueError(
                f"truncation ({self.truncation}) must be <= population_size "
                f"({self.population_size})"
            )
        if self.elites >= self.population_size:
            raise ValueError(
                f"elites ({self.elites}) must be < population_size ({self.population_size})"
            )
        return self


@registry.strategies.register("deep_ga")
class DeepGA(Strategy):
    """Truncation selection + Gaussian seed mutation + elitism, generational."""

    steady_state = False
    Params = DeepGAParams

    def __init__(self, params: DeepGAParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        self._last: list[Individual] = []

    @property
    def batch_size(self) -> int:
        return self.params.population_size

    def members(self) -> list[Individual]:
        return list(self._last)

    def _seed(self) -> int:
        return int(self.rng.integers(0, MAX_SEED))

    def _ask(self, n: int) -> list[Offspring]:
        p = self.params
        if not self._last:
            return [Offspring(SeedChainGenome((self._seed(),), p.sigma)) for _ in range(n)]
        ranked = [i for i in self._last if not math.isnan(i.score)] or self._last
        out = [Offspring(e.genome, (e.id,), "elite", {}) for e in ranked[: min(p.elites, n)]]
        parents = ranked[: p.truncation]
        for k in self.rng.integers(0, len(parents), size=n - len(out)):
            parent = parents[int(k)]
            seed = self._seed()
            genome = parent.genome.mutated(seed)
            out.append(Offspring(genome, (parent.id,), "seedchain.mutate", {"seed": seed}))
        return out

    def _tell(self, individuals: list[Individual]) -> None:
        self._last = sorted(individuals, key=lambda i: (math.isnan(i.score), -_score(i), i.id))


def _score(ind: Individual) -> float:
    return -math.inf if math.isnan(ind.score) else ind.score
