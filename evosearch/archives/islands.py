"""Islands: one sub-archive per island, with ring migration of each island's best.

Every ``migrate_every`` generations, island ``i`` sends copies of its best ``fraction`` of
members (at least one; ``ceil(fraction · size)``) to island ``(i + 1) mod n``; a migrant whose
genome fingerprint the destination already holds is skipped. All islands pick their migrants
before any is inserted. Migration happens when the first individual of generation
``k · migrate_every`` (k ≥ 1) is added, so it depends only on the ordered individuals.

Individuals go to the sub-archive of their ``island`` (``ArchiveStrategy`` assigns initial
individuals round-robin and children the island of their parents). Between two migrations,
each island's individuals are inserted in one ``add`` (order kept within the island; islands
are independent, so the state is the same as one by one; membership events come grouped by
island).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.archives.base import Archive, qd_stats_of
from evosearch.archives.population import AddStatus
from evosearch.archives.tables import MembershipEvent, QDStats
from evosearch.config import PluginConfig
from evosearch.individual import Individual
from evosearch.plugin_params import STATEFUL


@registry.archives.register("islands")
@dataclass(config=STATEFUL)
class Islands(Archive):
    """``islands`` sub-archives of type ``archive`` with ring migration.

    Attributes:
        islands: Number of islands.
        migrate_every: Generations between migrations.
        fraction: Share of an island's members (best first) that migrate.
        archive: The sub-archive of each island (any registered archive).
    """

    islands: int = Field(default=4, ge=1)
    migrate_every: int = Field(default=5, ge=1)
    fraction: float = Field(default=0.1, gt=0, le=1)
    archive: PluginConfig = PluginConfig(ref="population")

    def __post_init__(self) -> None:
        if self.archive.name == "islands":
            raise ValueError("archive: islands cannot nest islands")
        entry = registry.archives.get(self.archive.name)
        self._subs = [
            entry.create(self.archive.params, key="archive.params") for _ in range(self.islands)
        ]
        self._next_migration = self.migrate_every
        self._events: list[MembershipEvent] = []
        self.migrations = 0

    def add(self, individuals: Sequence[Individual]) -> list[AddStatus]:
        """Insert each individual into its island's sub-archive (migrating first when due)."""
        statuses: list[AddStatus] = [AddStatus.NOT_ADDED] * len(individuals)
        start = 0
        for j, ind in enumerate(individuals):
            if ind.generation >= self._next_migration:
                self._add_segment(individuals, range(start, j), statuses)
                start = j
                self.migrate()
                self._next_migration = (ind.generation // self.migrate_every + 1) * (
                    self.migrate_every
                )
        self._add_segment(individuals, range(start, len(individuals)), statuses)
        return statuses

    def _add_segment(self, individuals, positions: range, statuses: list[AddStatus]) -> None:
        """Insert individuals between two migrations: one ``add`` per island, in order."""
        groups: dict[int, list[int]] = {}
        for p in positions:
            groups.setdefault(individuals[p].island % self.islands, []).append(p)
        for k in sorted(groups):
            group = groups[k]
            for p, st in zip(group, self._subs[k].add([individuals[p] for p in group])):
                statuses[p] = st
            self._collect(k)

    def migrate(self) -> int:
        """Ring migration now; returns the number of migrants inserted."""
        outgoing = []
        for sub in self._subs:
            ranked = sorted(sub.members(), key=lambda m: (-_key(m), m.id))
            outgoing.append(ranked[: math.ceil(self.fraction * len(ranked))] if ranked else [])
        moved = 0
        for i, migrants in enumerate(outgoing):
            dest = (i + 1) % self.islands
            if dest == i:
                continue
            held = {m.genome.fingerprint() for m in self._subs[dest].members()}
            fresh = [m for m in migrants if m.genome.fingerprint() not in held]
            if fresh:
                statuses = self._subs[dest].add(fresh)
                moved += sum(s is not AddStatus.NOT_ADDED for s in statuses)
                self._collect(dest)
        self.migrations += 1
        return moved

    def members(self, island: int | None = None) -> list[Individual]:
        """Members of one island, or of all (each individual once, in island order)."""
        if island is not None:
            return list(self._subs[island % self.islands].members())
        seen: set[int] = set()
        out = []
        for sub in self._subs:
            for m in sub.members():
                if m.id not in seen:
                    seen.add(m.id)
                    out.append(m)
        return out

    def island(self, k: int):
        """The sub-archive of island ``k``."""
        return self._subs[k]

    def drain_events(self) -> list[MembershipEvent]:
        events, self._events = self._events, []
        return events

    def stats(self) -> QDStats:
        """Totals over islands: sizes and QD-scores add up; best and mean over all members."""
        subs = [s.stats() for s in self._subs]
        best = qd_stats_of(self.members())
        cells = [s.num_cells for s in subs]
        num_cells = None if None in cells else sum(cells)
        size = sum(s.archive_size for s in subs)
        qd = sum(s.qd_score for s in subs)
        return QDStats(
            archive_size=size,
            num_cells=num_cells,
            coverage=None if not num_cells else size / num_cells,
            qd_score=qd,
            norm_qd_score=None if not num_cells else qd / num_cells,
            best=best.best,
            best_id=best.best_id,
            mean=best.mean,
        )

    def _collect(self, k: int) -> None:
        self._events.extend(e._replace(island=k) for e in self._subs[k].drain_events())


def _key(ind: Individual) -> float:
    return -math.inf if math.isnan(ind.score) else ind.score
