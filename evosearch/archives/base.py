"""The archive contract, and shared pieces of archives: the event log and QD statistics.

An archive (``registry.archives``) derives from ``Archive``: ``add(individuals) ->
list[AddStatus]`` and ``members()``. Archives that derive from ``EventLog`` also record
membership events (the ``archive`` table, see ``tables.py``); ``stats()`` gives the ``qd``
table.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from evosearch.archives.tables import Event, MembershipEvent, QDStats
from evosearch.individual import Individual


class Archive(abc.ABC):
    """What an archive provides; the defaults are what the engine uses when a plugin does not.

    Attributes:
        islands: How many islands the archive keeps (strategies spread offspring over them).
    """

    islands: ClassVar[int] = 1

    @abc.abstractmethod
    def add(self, individuals: Sequence[Individual]) -> list[Any]:
        """Insert evaluated individuals; one ``AddStatus`` per individual, in order."""

    @abc.abstractmethod
    def members(self) -> list[Individual]:
        """The current members."""

    def drain_events(self) -> list[MembershipEvent]:
        """The membership events since the last drain (none unless the archive logs them)."""
        return []

    def stats(self) -> QDStats:
        """QD metrics of the current members."""
        return qd_stats_of(self.members())


class ListMembers:
    """Mixin for archives that keep their members in ``self._members`` (never evicting)."""

    _members: list[Individual]

    def members(self) -> list[Individual]:
        return list(self._members)

    def stats(self) -> QDStats:
        return qd_stats_of(self._members)

    def __len__(self) -> int:
        return len(self._members)


class EventLog:
    """Mixin: collects ``MembershipEvent``s until the engine drains them at a commit."""

    def _log(
        self,
        ind: Individual,
        event: Event,
        *,
        cell: int | None = None,
        other: int | None = None,
    ) -> None:
        if not hasattr(self, "_events"):
            self._events: list[MembershipEvent] = []
        self._events.append(MembershipEvent(ind.id, event, cell, 0, other, ind.score))

    def drain_events(self) -> list[MembershipEvent]:
        """The events since the last drain, in order (and forget them)."""
        events = list(getattr(self, "_events", []))
        self._events = []
        return events


def qd_stats_of(
    members: Sequence[Individual], *, num_cells: int | None = None, offset: float = 0.0
) -> QDStats:
    """QD metrics of a set of members (pyribs' definitions of QD-score and coverage).

    Args:
        members: Current archive members (NaN scores are ignored).
        num_cells: Cells of a cell archive, or None.
        offset: Subtracted from each score in the QD-score (``qd_score_offset`` in ribs).
    """
    valid = [m for m in members if not math.isnan(m.score)]
    qd = float(sum(m.score - offset for m in valid))
    best = max(valid, key=lambda m: (m.score, -m.id), default=None)
    return QDStats(
        archive_size=len(valid),
        num_cells=num_cells,
        coverage=None if not num_cells else len(valid) / num_cells,
        qd_score=qd,
        norm_qd_score=None if not num_cells else qd / num_cells,
        best=None if best is None else best.score,
        best_id=None if best is None else best.id,
        mean=sum(m.score for m in valid) / len(valid) if valid else None,
    )
