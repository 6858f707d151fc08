"""Parent-selection rules. Each is a named, tested callable ``(individuals, n, rng)``.

Individuals without a valid score (failed, timed out, invalid) are never selected: a rule
given no valid individual raises ``ValueError`` (``ArchiveStrategy`` initialises new
individuals instead of selecting from such a pool). All rules maximise the score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.individual import Individual
from evosearch.operators.base import PARAMS, Selector


class ValidPool(list):
    """A pool already passed through ``valid_only``.

    Strategies build it once per ask, so selectors called once per child do not rescan a
    large archive.
    """


def valid_only(individuals: Sequence[Individual]) -> list[Individual]:
    """Individuals with a valid (non-NaN) score; an empty list when none has one."""
    if isinstance(individuals, ValidPool):
        return individuals
    return [i for i in individuals if not math.isnan(i.score)]


def _pool(individuals: Sequence[Individual], rule: str) -> list[Individual]:
    """``valid_only``, raising when nothing is left to select from."""
    pool = valid_only(individuals)
    if not pool:
        raise ValueError(
            f"{rule} selection: no individual with a valid score among {len(individuals)} "
            f"candidates (failed, timed out or invalid ones are never selected)"
        )
    return pool


def _scores(individuals: Sequence[Individual]) -> np.ndarray:
    return np.array([i.score for i in individuals], dtype=np.float64)


@registry.selectors.register("tournament")
@dataclass(config=PARAMS)
class Tournament(Selector):
    """Best of ``k`` drawn uniformly with replacement, ``n`` times."""

    k: int = Field(default=3, ge=1)

    def __call__(self, individuals: Sequence[Individual], n: int, rng: np.random.Generator):
        pool = _pool(individuals, "tournament")
        scores = np.nan_to_num(_scores(pool), nan=-np.inf)
        picks = rng.integers(0, len(pool), size=(n, self.k))
        winners = picks[np.arange(n), np.argmax(scores[picks], axis=1)]
        return [pool[i] for i in winners]


@registry.selectors.register("truncation")
@dataclass(config=PARAMS)
class Truncation(Selector):
    """Uniform among the best ``fraction`` of the pool (at least one)."""

    fraction: float = Field(default=0.5, gt=0, le=1)

    def __call__(self, individuals: Sequence[Individual], n: int, rng: np.random.Generator):
        pool = sorted(_pool(individuals, "truncation"), key=lambda i: (-_key(i), i.id))
        top = pool[: max(1, int(round(len(pool) * self.fraction)))]
        return [top[i] for i in rng.integers(0, len(top), size=n)]


@registry.selectors.register("best")
@dataclass(config=PARAMS)
class Best(Selector):
    """The ``n`` best, best first (repeating from the top when ``n`` exceeds the pool)."""

    def __call__(self, individuals: Sequence[Individual], n: int, rng: np.random.Generator):
        pool = sorted(_pool(individuals, "best"), key=lambda i: (-_key(i), i.id))
        return [pool[i % len(pool)] for i in range(n)]


@registry.selectors.register("roulette")
@dataclass(config=PARAMS)
class Roulette(Selector):
    """Fitness-proportional on scores shifted so the worst valid one gets ``floor``."""

    floor: float = Field(default=1e-9, ge=0)

    def __call__(self, individuals: Sequence[Individual], n: int, rng: np.random.Generator):
        pool = _pool(individuals, "roulette")
        s = np.nan_to_num(_scores(pool), nan=-np.inf)
        finite = np.isfinite(s)
        w = np.where(finite, s - (s[finite].min() if finite.any() else 0.0) + self.floor, 0.0)
        if w.sum() <= 0:
            w = np.ones(len(pool))
        return [pool[i] for i in rng.choice(len(pool), size=n, p=w / w.sum())]


@registry.selectors.register("uniform")
@dataclass(config=PARAMS)
class Uniform(Selector):
    """Uniform over the valid pool (uniform-from-archive, as in MAP-Elites)."""

    def __call__(self, individuals: Sequence[Individual], n: int, rng: np.random.Generator):
        pool = _pool(individuals, "uniform")
        return [pool[i] for i in rng.integers(0, len(pool), size=n)]


def _key(ind: Individual) -> float:
    return -math.inf if math.isnan(ind.score) else ind.score
