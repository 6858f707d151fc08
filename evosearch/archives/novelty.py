"""Novelty: k-nearest-neighbour distance in descriptor space (Lehman & Stanley).

The novelty of a point is its mean Euclidean distance to its ``k`` nearest neighbours in a
reference set (all of them when there are fewer than ``k``; infinite when there are none).
The ``novelty`` archive keeps every individual whose novelty against the archive at insertion
time is at least ``threshold``; the ``novelty`` selector ranks a pool by novelty within it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass
from scipy.spatial import cKDTree

from evosearch import registry
from evosearch.archives.base import Archive, EventLog, ListMembers
from evosearch.archives.descriptors import DescriptorSpec, descriptors_of
from evosearch.archives.population import AddStatus
from evosearch.archives.tables import Event
from evosearch.individual import Individual
from evosearch.operators.base import Selector
from evosearch.plugin_params import PARAMS, STATEFUL


def knn_novelty(points: np.ndarray, reference: np.ndarray, k: int, *, exclude_self=False):
    """Mean distance from each of ``points`` to its ``k`` nearest ``reference`` points.

    Args:
        points: ``(n, d)`` query points.
        reference: ``(m, d)`` reference points.
        k: Neighbours.
        exclude_self: ``points`` is ``reference``: skip each point's zero distance to itself.

    Returns:
        ``(n,)`` novelty scores (``inf`` where the reference set is empty).
    """
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, points.shape[1])
    m = len(reference) - (1 if exclude_self else 0)
    if m <= 0:
        return np.full(len(points), np.inf)
    kk = min(k, m) + (1 if exclude_self else 0)
    dist, _ = cKDTree(reference).query(points, k=kk)
    dist = dist.reshape(len(points), kk)
    if exclude_self:
        dist = dist[:, 1:]
    return dist.mean(axis=1)


@registry.archives.register("novelty")
@dataclass(config=STATEFUL)
class NoveltyArchive(ListMembers, EventLog, Archive):
    """Keeps individuals whose k-NN novelty against the archive is ≥ ``threshold``.

    Insertion is one by one in order; NaN scores and missing descriptors are rejected.
    The first individual (empty archive, infinite novelty) always enters. Nothing is evicted.

    Attributes:
        k: Neighbours in the novelty score.
        threshold: Minimum novelty to enter.
        dims: Descriptor dimensions.
        descriptors: Where descriptors come from.
    """

    k: int = Field(default=15, ge=1)
    threshold: float = Field(default=0.1, ge=0)
    dims: int = Field(default=2, ge=1)
    descriptors: DescriptorSpec = DescriptorSpec()

    def __post_init__(self) -> None:
        self._members: list[Individual] = []
        self._points = np.empty((0, self.dims))
        self.novelty: dict[int, float] = {}
        self._events = []

    def add(self, individuals: Sequence[Individual]) -> list[AddStatus]:
        desc = descriptors_of(individuals, self.descriptors, self.dims)
        statuses = []
        for ind, d in zip(individuals, desc):
            if math.isnan(ind.score) or not np.isfinite(d).all():
                statuses.append(AddStatus.NOT_ADDED)
                continue
            nov = float(knn_novelty(d[None], self._points, self.k)[0])
            if nov < self.threshold:
                statuses.append(AddStatus.NOT_ADDED)
                continue
            self._members.append(ind)
            self._points = np.vstack([self._points, d])
            self.novelty[ind.id] = nov
            self._log(ind, Event.NEW)
            statuses.append(AddStatus.NEW)
        return statuses


@registry.selectors.register("novelty_tournament")
@dataclass(config=PARAMS)
class NoveltySelector(Selector):
    """Tournament of size ``tournament`` on k-NN novelty within the pool.

    Novelty uses the evaluator's descriptors; individuals without them have novelty 0.
    """

    k: int = Field(default=15, ge=1)
    tournament: int = Field(default=3, ge=1)

    def __call__(self, individuals: Sequence[Individual], n: int, rng: np.random.Generator):
        pool = list(individuals)
        dims = max((len(i.result.descriptors) for i in pool if i.result), default=0)
        nov = np.zeros(len(pool))
        if dims:
            d = descriptors_of(pool, DescriptorSpec(), dims)
            ok = np.isfinite(d).all(axis=1)
            if ok.sum() > 1:
                nov[ok] = knn_novelty(d[ok], d[ok], self.k, exclude_self=True)
        picks = rng.integers(0, len(pool), size=(n, self.tournament))
        winners = picks[np.arange(n), np.argmax(nov[picks], axis=1)]
        return [pool[i] for i in winners]
