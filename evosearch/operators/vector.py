"""Variation operators and initializers for ``VectorGenome``.

Crossover and bounded mutation use deap's implementations (seeded from the run's generator
around each call); Gaussian noise is a one-liner on the explicit numpy generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
from deap import tools
from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.genomes.vector import VectorGenome
from evosearch.operators.base import PARAMS, Initializer, Operator, seeded_python_random


def _bounds(g: VectorGenome) -> tuple[list[float], list[float]]:
    if g.low is None or g.high is None:
        raise ValueError("this operator needs a bounded VectorGenome (low and high)")
    return g.low.tolist(), g.high.tolist()


def _deap_crossover(
    parents: Sequence[VectorGenome], rng: np.random.Generator, cross: Callable[..., object]
) -> list[VectorGenome]:
    """Two children of deap's in-place ``cross(x, y)`` on copies of both parents.

    deap's ``random`` is seeded from ``rng`` around the call; each child is clipped to its
    parent's bounds.
    """
    a, b = parents
    x, y = a.values.tolist(), b.values.tolist()
    with seeded_python_random(rng):
        cross(x, y)
    return [a.clipped(np.asarray(x)), b.clipped(np.asarray(y))]


@registry.initializers.register("vector.uniform")
@dataclass(config=PARAMS)
class UniformVectors(Initializer):
    """Vectors drawn uniformly in ``[low, high]^dimension``."""

    dimension: int = Field(ge=1)
    low: float = -5.0
    high: float = 5.0

    def __call__(self, n: int, rng: np.random.Generator) -> list[VectorGenome]:
        values = rng.uniform(self.low, self.high, size=(n, self.dimension))
        return [VectorGenome(v, self.low, self.high) for v in values]


@registry.initializers.register("vector.normal")
@dataclass(config=PARAMS)
class NormalVectors(Initializer):
    """Vectors drawn from ``N(mean, std^2)`` per coordinate, optionally clipped to bounds."""

    dimension: int = Field(ge=1)
    mean: float = 0.0
    std: float = Field(default=1.0, gt=0)
    low: float | None = None
    high: float | None = None

    def __call__(self, n: int, rng: np.random.Generator) -> list[VectorGenome]:
        values = rng.normal(self.mean, self.std, size=(n, self.dimension))
        return [VectorGenome(v, self.low, self.high).clipped(v) for v in values]


@registry.operators.register("vector.gaussian")
@dataclass(config=PARAMS)
class GaussianMutation(Operator):
    """Add ``N(0, sigma^2)`` to each coordinate with probability ``indpb``; clip to bounds."""

    arity = 1
    sigma: float = Field(default=0.1, gt=0)
    indpb: float = Field(default=1.0, ge=0, le=1)

    def __call__(self, parents: Sequence[VectorGenome], rng: np.random.Generator):
        (p,) = parents
        mask = rng.random(len(p)) < self.indpb
        return [p.clipped(p.values + mask * rng.normal(0.0, self.sigma, len(p)))]


@registry.operators.register("vector.polynomial")
@dataclass(config=PARAMS)
class PolynomialMutation(Operator):
    """deap's bounded polynomial mutation (``mutPolynomialBounded``)."""

    arity = 1
    eta: float = Field(default=20.0, gt=0)
    indpb: float | None = Field(default=None, ge=0, le=1)

    def __call__(self, parents: Sequence[VectorGenome], rng: np.random.Generator):
        (p,) = parents
        low, up = _bounds(p)
        child = p.values.tolist()
        indpb = self.indpb if self.indpb is not None else 1.0 / len(child)
        with seeded_python_random(rng):
            tools.mutPolynomialBounded(child, eta=self.eta, low=low, up=up, indpb=indpb)
        return [p.clipped(np.asarray(child))]


@registry.operators.register("vector.sbx")
@dataclass(config=PARAMS)
class SimulatedBinaryCrossover(Operator):
    """deap's bounded simulated binary crossover (``cxSimulatedBinaryBounded``): 2 → 2."""

    arity = 2
    eta: float = Field(default=15.0, gt=0)

    def __call__(self, parents: Sequence[VectorGenome], rng: np.random.Generator):
        low, up = _bounds(parents[0])
        cross = partial(tools.cxSimulatedBinaryBounded, eta=self.eta, low=low, up=up)
        return _deap_crossover(parents, rng, cross)


@registry.operators.register("vector.blend")
@dataclass(config=PARAMS)
class BlendCrossover(Operator):
    """deap's blend crossover (``cxBlend``, BLX-alpha): 2 → 2."""

    arity = 2
    alpha: float = Field(default=0.5, ge=0)

    def __call__(self, parents: Sequence[VectorGenome], rng: np.random.Generator):
        return _deap_crossover(parents, rng, partial(tools.cxBlend, alpha=self.alpha))


@registry.operators.register("vector.uniform_crossover")
@dataclass(config=PARAMS)
class UniformCrossover(Operator):
    """deap's uniform crossover (``cxUniform``): swap each coordinate with ``indpb``."""

    arity = 2
    indpb: float = Field(default=0.5, ge=0, le=1)

    def __call__(self, parents: Sequence[VectorGenome], rng: np.random.Generator):
        return _deap_crossover(parents, rng, partial(tools.cxUniform, indpb=self.indpb))
