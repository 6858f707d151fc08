"""Baselines for black-box benchmarks: random search and Gaussian hill climbing."""

from __future__ import annotations

import math

import numpy as np
import pydantic
from pydantic import Field

from evosearch import registry
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Individual
from evosearch.strategies.base import Offspring, Strategy


class BoxParams(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    dimension: int = Field(ge=1)
    low: float = -5.0
    high: float = 5.0
    popsize: int = Field(default=10, ge=1)


@registry.strategies.register("random_search")
class RandomSearch(Strategy):
    """Uniform samples in the box; keeps nothing but the best."""

    Params = BoxParams

    def __init__(self, params: BoxParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params

    @property
    def batch_size(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> list[Offspring]:
        p = self.params
        xs = self.rng.uniform(p.low, p.high, size=(n, p.dimension))
        return [Offspring(VectorGenome(x, p.low, p.high), operator="random") for x in xs]

    def _tell(self, individuals: list[Individual]) -> None:
        pass


class HillClimbParams(BoxParams):
    """(1+λ) Gaussian hill climbing: σ as a fraction of the box width, decayed per generation."""

    sigma_init: float = Field(default=0.1, gt=0, le=1)
    sigma_decay: float = Field(default=0.97, gt=0, le=1)
    sigma_min: float = Field(default=0.001, ge=0)


@registry.strategies.register("hill_climb")
class HillClimb(Strategy):
    """(1+λ) hill climbing: λ Gaussian samples around the incumbent; move if one is better."""

    Params = HillClimbParams

    def __init__(self, params: HillClimbParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        self.incumbent: Individual | None = None
        self.sigma = params.sigma_init

    @property
    def batch_size(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> list[Offspring]:
        p = self.params
        if self.incumbent is None:
            xs = self.rng.uniform(p.low, p.high, size=(n, p.dimension))
            return [Offspring(VectorGenome(x, p.low, p.high)) for x in xs]
        x0 = self.incumbent.genome.values
        width = p.high - p.low
        xs = np.clip(x0 + self.rng.normal(size=(n, p.dimension)) * self.sigma * width,
                     p.low, p.high)
        return [
            Offspring(VectorGenome(x, p.low, p.high), (self.incumbent.id,), "hill_climb.gaussian",
                      {"sigma": self.sigma})
            for x in xs
        ]

    def _tell(self, individuals: list[Individual]) -> None:
        for ind in individuals:
            if not math.isnan(ind.score) and (
                self.incumbent is None or ind.score > self.incumbent.score
            ):
                self.incumbent = ind
        if self.generation > 0:
            self.sigma = max(self.params.sigma_min, self.sigma * self.params.sigma_decay)
