"""``CellArchive``: MAP-Elites insertion over a pyribs archive (grid or CVT cells).

pyribs does the binning (``index_of``), stores the elites (objective, descriptors and the
individual id as an extra field) and computes the QD statistics. This class adds what pyribs
does not: individuals, order-exact insertion semantics and the membership event log.

Insertion rules (the same for every cell archive):

- an individual with a NaN score (failed, invalid, timed out) is rejected;
- an individual whose descriptors are missing, of the wrong length or not finite is rejected;
- descriptors outside ``ranges`` are clipped to the nearest edge cell (pyribs' behaviour);
- a better score replaces the elite, a worse one is rejected, a tie keeps the incumbent.

A batch is inserted as if its individuals were added one by one in order, so the archive is a
pure function of the ordered individuals, whatever the batching.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from evosearch.archives.base import Archive, EventLog
from evosearch.archives.descriptors import DescriptorSpec, descriptors_of
from evosearch.archives.population import AddStatus
from evosearch.archives.tables import Event, MembershipEvent, QDStats
from evosearch.individual import Individual, Status

OK = Status.OK


class CellArchive(EventLog, Archive):
    """Base of ``GridArchive``/``CVTArchive``: subclasses build ``self._ribs`` in ``_setup``."""

    qd_offset: float
    descriptors: DescriptorSpec

    def _setup(self, ribs_archive, num_cells: int, dims: int) -> None:
        self._ribs = ribs_archive
        self._num_cells = num_cells
        self._dims = dims
        self._score = np.full(num_cells, -np.inf)
        self._holder = np.full(num_cells, -1, dtype=np.int64)
        self._members: dict[int, Individual] = {}
        self._events = []

    @property
    def num_cells(self) -> int:
        return self._num_cells

    def add(self, individuals: Sequence[Individual]) -> list[AddStatus]:
        """Insert in order; returns NEW / IMPROVED / NOT_ADDED per individual."""
        n = len(individuals)
        if n == 0:
            return []
        results = [i.result for i in individuals]
        scores = np.array(
            [r.score if r is not None and r.status is OK else math.nan for r in results],
            dtype=np.float64,
        )
        desc = descriptors_of(individuals, self.descriptors, self._dims, results=results)
        ok = ~np.isnan(scores) & np.isfinite(desc).all(axis=1)
        statuses = [AddStatus.NOT_ADDED] * n
        if not ok.any():
            return statuses
        idx = np.flatnonzero(ok)
        cells = np.asarray(self._ribs.index_of(desc[idx]), dtype=np.int64)
        accepted = _accepted(cells, scores[idx], self._score)
        winners: dict[int, int] = {}  # cell -> position in individuals of its new elite
        log, holder = self._events.append, self._holder
        acc = np.flatnonzero(accepted)
        for pos, cell, score in zip(idx[acc].tolist(), cells[acc].tolist(), scores[idx[acc]]):
            ind = individuals[pos]
            prev = winners.get(cell)
            prev_id = individuals[prev].id if prev is not None else int(holder[cell])
            if prev_id < 0:
                log(MembershipEvent(ind.id, Event.NEW, cell, 0, None, score))
                statuses[pos] = AddStatus.NEW
            else:
                log(MembershipEvent(ind.id, Event.IMPROVED, cell, 0, prev_id, score))
                old = individuals[prev] if prev is not None else self._members[prev_id]
                log(MembershipEvent(prev_id, Event.EVICTED, cell, 0, ind.id, old.score))
                statuses[pos] = AddStatus.IMPROVED
            winners[cell] = pos
        if winners:
            wc = np.fromiter(winners.keys(), dtype=np.int64, count=len(winners))
            wp = np.fromiter(winners.values(), dtype=np.int64, count=len(winners))
            for cell in wc:
                self._members.pop(int(self._holder[cell]), None)
            self._score[wc] = scores[wp]
            self._holder[wc] = [individuals[p].id for p in wp]
            for p in wp:
                self._members[individuals[p].id] = individuals[p]
            self._ribs.add(
                np.zeros((len(wp), 0)), scores[wp], desc[wp], individual_id=self._holder[wc]
            )
        return statuses

    def members(self) -> list[Individual]:
        """The elites, in cell order."""
        occupied = np.flatnonzero(self._holder >= 0)
        return [self._members[int(i)] for i in self._holder[occupied]]

    def elite_of(self, cell: int) -> Individual | None:
        """The elite of a cell, or None when it is empty."""
        iid = int(self._holder[cell])
        return None if iid < 0 else self._members[iid]

    def stats(self) -> QDStats:
        """QD statistics from pyribs (``archive.stats``), plus the id of the best elite."""
        s = self._ribs.stats
        if s.num_elites == 0:
            return QDStats(0, self._num_cells, 0.0, 0.0, 0.0, None, None, None)
        best_cell = int(np.argmax(self._score))
        return QDStats(
            archive_size=int(s.num_elites),
            num_cells=self._num_cells,
            coverage=float(s.coverage),
            qd_score=float(s.qd_score),
            norm_qd_score=float(s.norm_qd_score),
            best=float(s.obj_max),
            best_id=int(self._holder[best_cell]),
            mean=float(s.obj_mean),
        )

    def __len__(self) -> int:
        return len(self._members)


def _accepted(cells: np.ndarray, scores: np.ndarray, incumbent: np.ndarray) -> np.ndarray:
    """Which of a batch enter their cell when inserted one by one in order.

    Item j enters iff its score beats the incumbent of its cell and every earlier batch item
    in the same cell (ties keep the earlier one). Vectorised: a grouped running maximum over
    dense ranks, offset by group so one ``maximum.accumulate`` serves all groups.
    """
    order = np.argsort(cells, kind="stable")
    c, s = cells[order], scores[order]
    inc = incumbent[c]
    _, ranks = np.unique(np.concatenate([s, inc]), return_inverse=True)
    r, r_inc = ranks[: len(s)], ranks[len(s) :]
    width = int(ranks.max()) + 2
    starts = np.r_[True, c[1:] != c[:-1]]
    group = np.cumsum(starts) - 1
    key = group * width + r + 1
    running = np.maximum.accumulate(key)
    before = np.r_[0, running[:-1]]
    before = np.where(starts, 0, before - group * width - 1)  # rank of best earlier, or 0
    before = np.where(starts, -1, before)
    best_prev = np.maximum(before, r_inc)
    out = np.zeros(len(cells), dtype=bool)
    out[order] = r > best_prev
    return out


def check_ranges(ranges: Sequence[Sequence[float]], dims: int, key: str) -> None:
    """Raise ``ValueError`` naming ``key`` unless ``ranges`` is ``dims`` pairs low < high."""
    if len(ranges) != dims:
        raise ValueError(f"{key}: expected {dims} (low, high) pairs, got {len(ranges)}")
    for i, pair in enumerate(ranges):
        if len(pair) != 2 or not all(math.isfinite(v) for v in pair) or pair[0] >= pair[1]:
            raise ValueError(f"{key}.{i}: expected finite (low, high) with low < high: {pair}")
