"""Baselines for black-box benchmarks: random search and Gaussian hill climbing."""

from __future__ import annotations

import math

import numpy as np
import pydantic
from pydantic import Field

from evosearch import registry
from evosearch.batch import Batch, Results
from evosearch.strategies.base import Strategy, box_bounds, box_facts


class BoxParams(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    dimension: int = Field(ge=1)
    low: float = -5.0
    high: float = 5.0
    popsize: int = Field(default=10, ge=1)


class BoxStrategy(Strategy):
    """A vector strategy over the box ``[low, high]^dimension`` (bounds are run facts)."""

    vectorized = True
    rebuilt_attrs = ("low", "high")

    def __init__(self, params: BoxParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        self.low, self.high = box_bounds(params.dimension, params.low, params.high)
        self.low.setflags(write=False)
        self.high.setflags(write=False)

    @property
    def batch_size(self) -> int:
        return self.params.popsize

    def facts(self) -> dict:
        return box_facts(self.low, self.high)

    def _batch(self, x: np.ndarray, parents=None, operator: str = "init", params=None) -> Batch:
        x.setflags(write=False)
        return Batch(np.empty(0, np.int64), 0, x, parents, operator, self.low, self.high, params)


@registry.strategies.register("random_search")
class RandomSearch(BoxStrategy):
    """Uniform samples in the box; keeps nothing but the best."""

    Params = BoxParams

    def _ask_batch(self, n: int) -> Batch:
        p = self.params
        return self._batch(self.rng.uniform(p.low, p.high, size=(n, p.dimension)), None, "random")

    def _tell_batch(self, batch: Batch, results: Results) -> None:
        pass


class HillClimbParams(BoxParams):
    """(1+λ) Gaussian hill climbing: σ as a fraction of the box width, decayed per generation."""

    sigma_init: float = Field(default=0.1, gt=0, le=1)
    sigma_decay: float = Field(default=0.97, gt=0, le=1)
    sigma_min: float = Field(default=0.001, ge=0)


@registry.strategies.register("hill_climb")
class HillClimb(BoxStrategy):
    """(1+λ) hill climbing: λ Gaussian samples around the incumbent; move if one is better."""

    Params = HillClimbParams

    def __init__(self, params: HillClimbParams, *, rng: np.random.Generator):
        super().__init__(params, rng=rng)
        self.incumbent_x: np.ndarray | None = None
        self.incumbent_id = -1
        self.incumbent_score = -math.inf
        self.sigma = params.sigma_init

    def _ask_batch(self, n: int) -> Batch:
        p = self.params
        if self.incumbent_x is None:
            return self._batch(self.rng.uniform(p.low, p.high, size=(n, p.dimension)))
        width = p.high - p.low
        noise = self.rng.normal(size=(n, p.dimension)) * self.sigma * width
        xs = np.clip(self.incumbent_x + noise, p.low, p.high)
        parents = np.full((n, 1), self.incumbent_id, dtype=np.int64)
        return self._batch(xs, parents, "hill_climb.gaussian", {"sigma": self.sigma})

    def _tell_batch(self, batch: Batch, results: Results) -> None:
        scores = results.score
        if not np.isnan(scores).all():
            k = int(np.nanargmax(scores))  # first of equal maxima
            if scores[k] > self.incumbent_score:
                self.incumbent_score = float(scores[k])
                self.incumbent_x = np.array(batch.genomes[k])
                self.incumbent_id = int(batch.ids[k])
        if self.generation > 0:
            self.sigma = max(self.params.sigma_min, self.sigma * self.params.sigma_decay)
