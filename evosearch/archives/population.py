"""The μ+λ population archive with a hall of fame."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.archives.base import Archive, EventLog, qd_stats_of
from evosearch.archives.tables import Event, QDStats
from evosearch.individual import Individual
from evosearch.plugin_params import STATEFUL


class AddStatus(enum.StrEnum):
    """What happened to an individual offered to an archive."""

    NEW = "new"  # entered an empty slot / new cell
    IMPROVED = "improved"  # replaced a worse member
    NOT_ADDED = "not_added"  # worse than what is there, or invalid


class AddEach:
    """Mixin: ``add`` offers individuals one by one, in order, to ``_add_one``.

    Individuals with a NaN score (failed, invalid, timed out) never enter and are not offered.
    """

    def add(self, individuals: Sequence[Individual]) -> list[AddStatus]:
        return [
            AddStatus.NOT_ADDED if math.isnan(ind.score) else self._add_one(ind)
            for ind in individuals
        ]

    def _add_one(self, ind: Individual) -> AddStatus:
        """Insert one individual with a score; what happened to it."""
        raise NotImplementedError


@registry.archives.register("population")
@dataclass(config=STATEFUL)
class Population(AddEach, EventLog, Archive):
    """Keep the ``size`` best (μ+λ truncation); individuals without a score never enter.

    Ties keep the older individual (lower id). A separate hall of fame keeps the best
    ``hall_of_fame`` individuals ever seen, never evicted by diversity concerns.
    """

    size: int = Field(default=32, ge=1)
    hall_of_fame: int = Field(default=10, ge=0)

    def __post_init__(self) -> None:
        self._members: list[Individual] = []
        self._hof: list[Individual] = []
        self._events = []

    def _add_one(self, ind: Individual) -> AddStatus:
        status = AddStatus.NOT_ADDED
        if len(self._members) < self.size:
            self._members.append(ind)
            self._log(ind, Event.NEW)
            status = AddStatus.NEW
        else:
            worst = min(self._members, key=_rank)
            if _rank(ind) > _rank(worst):
                self._members.remove(worst)
                self._members.append(ind)
                self._log(ind, Event.IMPROVED, other=worst.id)
                self._log(worst, Event.EVICTED, other=ind.id)
                status = AddStatus.IMPROVED
        self._hof = sorted([*self._hof, ind], key=_rank, reverse=True)[: self.hall_of_fame]
        return status

    def members(self) -> list[Individual]:
        return sorted(self._members, key=_rank, reverse=True)

    def stats(self) -> QDStats:
        return qd_stats_of(self._members)

    def hall(self) -> list[Individual]:
        return list(self._hof)

    def __len__(self) -> int:
        return len(self._members)


def _rank(ind: Individual) -> tuple[float, int]:
    return (ind.score, -ind.id)
