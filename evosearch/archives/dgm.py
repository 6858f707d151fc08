"""The Darwin Gödel Machine archive and its parent-selection rule (Zhang et al., 2025).

The DGM keeps an open-ended archive of agents and picks parents with probability
proportional to ``sigmoid(10 · (α_i − 0.5)) · 1 / (1 + n_i)``: α_i is the agent's score (an
accuracy in [0, 1]) and n_i its number of children, so good agents that have not been
explored much are favoured, and no agent's probability ever reaches zero.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.archives.base import Archive, EventLog, ListMembers
from evosearch.archives.population import AddEach, AddStatus
from evosearch.archives.tables import Event
from evosearch.individual import Individual
from evosearch.operators.base import Selector
from evosearch.plugin_params import PARAMS, STATEFUL


@registry.archives.register("dgm")
@dataclass(config=STATEFUL)
class DGMArchive(AddEach, ListMembers, EventLog, Archive):
    """The DGM's open-ended archive: nothing is ever evicted.

    Every valid agent is kept (``keep_all``), or only those scoring at least the first root
    agent's score minus ``leeway`` (``keep_better``, the DGM repo's ``update_archive``).
    Individuals with a NaN score (failed to build, invalid, timed
    out) never enter.

    Attributes:
        mode: ``keep_all`` or ``keep_better``.
        leeway: Noise allowance below the root score in ``keep_better`` mode (DGM: 0.1).
    """

    mode: Literal["keep_all", "keep_better"] = "keep_all"
    leeway: float = Field(default=0.1, ge=0)

    def __post_init__(self) -> None:
        self._members: list[Individual] = []
        self._root_score: float | None = None
        self._events = []

    def _add_one(self, ind: Individual) -> AddStatus:
        if self._root_score is None and not ind.parent_ids:
            self._root_score = ind.score
        threshold = -math.inf if self._root_score is None else self._root_score - self.leeway
        if self.mode == "keep_better" and ind.score < threshold:
            return AddStatus.NOT_ADDED
        self._members.append(ind)
        self._log(ind, Event.NEW)
        return AddStatus.NEW


def dgm_probabilities(scores: Sequence[float], children: Sequence[int]) -> np.ndarray:
    """The DGM parent distribution: ``p_i ∝ sigmoid(10·(α_i − 0.5)) / (1 + n_i)``.

    Args:
        scores: α_i per node (NaN: not selectable, probability 0).
        children: n_i, the number of children per node.

    Returns:
        Probabilities summing to 1 (uniform over all nodes if none has a valid score).
    """
    a = np.asarray(scores, dtype=np.float64)
    n = np.asarray(children, dtype=np.float64)
    valid = ~np.isnan(a)
    if not valid.any():
        return np.full(len(a), 1.0 / len(a))
    w = np.zeros(len(a))
    w[valid] = 1.0 / (1.0 + np.exp(-10.0 * (a[valid] - 0.5))) / (1.0 + n[valid])
    return w / w.sum()


@registry.selectors.register("dgm.score_child_prop")
@dataclass(config=PARAMS)
class DGMSelector(Selector):
    """Parents drawn with replacement by the DGM rule (``dgm_probabilities``).

    Child counts are those of every told individual when the strategy passes
    ``child_counts`` (``ArchiveStrategy`` does, for selectors with ``uses_child_counts``);
    with ``children: archive`` (or when called without counts) they are counted among the
    candidates' own parent ids, which is what the DGM repository's ``choose_selfimproves``
    does.
    """

    children: Literal["told", "archive"] = "told"
    uses_child_counts: ClassVar[bool] = True

    def __call__(
        self,
        individuals: Sequence[Individual],
        n: int,
        rng: np.random.Generator,
        *,
        child_counts: Mapping[int, int] | None = None,
    ) -> list[Individual]:
        pool = list(individuals)
        if self.children == "archive" or child_counts is None:
            child_counts = Counter(p for ind in pool for p in set(ind.parent_ids))
        counts = [child_counts.get(ind.id, 0) for ind in pool]
        p = dgm_probabilities([ind.score for ind in pool], counts)
        return [pool[i] for i in rng.choice(len(pool), size=n, p=p)]
