"""``CellArchive``: MAP-Elites insertion over a pyribs archive (grid or CVT cells).

pyribs does the binning (``index_of``); the elites are columns here (score, id,
descriptors and, for vector runs, the genome per cell), inserted a batch at a time, with
pyribs' definitions of the QD statistics. This class adds what pyribs does not: individuals,
order-exact insertion semantics and the membership event log (as columns).

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
_STATUS = (AddStatus.NOT_ADDED, AddStatus.NEW, AddStatus.IMPROVED)


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
        self._desc = np.full((num_cells, dims), np.nan)
        self._members: dict[int, Individual] = {}
        self._genomes: np.ndarray | None = None  # [cells, D] elites' vectors (columnar adds)
        self._bounds: tuple = (None, None)
        self._events = []
        self._event_cols: list[tuple[np.ndarray, ...]] = []

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
        ids = np.fromiter((i.id for i in individuals), dtype=np.int64, count=n)
        codes = self.add_columns(ids, scores, desc, members=individuals)
        return [_STATUS[c] for c in codes.tolist()]

    def add_columns(
        self,
        ids: np.ndarray,
        scores: np.ndarray,
        descriptors: np.ndarray,
        *,
        members: Sequence[Individual] | None = None,
        genomes: np.ndarray | None = None,
        bounds: tuple = (None, None),
    ) -> np.ndarray:
        """Insert a batch given as columns, in order (the rules above).

        Args:
            ids: int64 ids.
            scores: float64 scores (NaN: rejected).
            descriptors: ``[N, dims]`` float64 (rows with a non-finite value: rejected).
            members: The individuals themselves, kept for ``members()`` (object path).
            genomes: Or their vectors ``[N, D]``: elites are kept as an array and
                ``members()`` builds individuals on demand (columnar path).
            bounds: ``(low, high)`` of those vectors (run facts), for ``members()``.

        Returns:
            int8 codes per row: 0 not added, 1 new, 2 improved.
        """
        n = ids.shape[0]
        codes = np.zeros(n, dtype=np.int8)
        ok = ~np.isnan(scores) & np.isfinite(descriptors).all(axis=1)
        if not ok.any():
            return codes
        idx = np.flatnonzero(ok)
        cells = np.asarray(self._ribs.index_of(descriptors[idx]), dtype=np.int64)
        acc = np.flatnonzero(_accepted(cells, scores[idx], self._score))
        if acc.size == 0:
            return codes
        pos, cell, score = idx[acc], cells[acc], scores[idx[acc]]
        # who each accepted row displaces: the previous accepted row of its cell in this
        # batch, else the cell's elite before the batch
        order = np.lexsort((pos, cell))
        first = np.r_[True, cell[order][1:] != cell[order][:-1]]
        prev = np.full(acc.size, -1, dtype=np.int64)
        prev[order[~first]] = order[np.flatnonzero(~first) - 1]
        other = np.where(prev >= 0, ids[pos[np.maximum(prev, 0)]], self._holder[cell])
        other_score = np.where(prev >= 0, score[np.maximum(prev, 0)], self._score[cell])
        improved = other >= 0
        codes[pos] = np.where(improved, 2, 1)
        self._log_columns(ids[pos], cell, other, score, improved, other_score)
        last = order[np.r_[cell[order][1:] != cell[order][:-1], True]]  # final winner per cell
        wc, wp = cell[last], pos[last]
        if members is not None:
            for c in wc.tolist():
                self._members.pop(int(self._holder[c]), None)
            for p in wp.tolist():
                self._members[int(ids[p])] = members[p]
        if genomes is not None:
            if self._genomes is None:
                self._genomes = np.full((self._num_cells, genomes.shape[1]), np.nan)
                self._bounds = bounds
            self._genomes[wc] = genomes[wp]
        self._score[wc] = scores[wp]
        self._holder[wc] = ids[wp]
        self._desc[wc] = descriptors[wp]
        return codes

    def _log_columns(self, ids, cell, other, score, improved, other_score) -> None:
        """Membership events in insertion order: new, or improved then the evicted one."""
        k = ids.shape[0]
        ev = np.empty((k, 2), dtype=np.int8)
        ev[:, 0] = np.where(improved, 1, 0)  # 0 new, 1 improved, 2 evicted
        ev[:, 1] = 2
        rows = np.stack([ids, other], axis=1)
        others = np.stack([np.where(improved, other, -1), ids], axis=1)
        scores = np.stack([score, other_score], axis=1)
        keep = np.stack([np.ones(k, bool), improved], axis=1).reshape(-1)
        cells = np.repeat(cell, 2)
        self._event_cols.append(
            (rows.reshape(-1)[keep], ev.reshape(-1)[keep], cells[keep],
             others.reshape(-1)[keep], scores.reshape(-1)[keep])
        )

    def drain_events(self) -> list[MembershipEvent]:
        """The events since the last drain, in order (and forget them)."""
        events = list(self._events)
        names = (Event.NEW, Event.IMPROVED, Event.EVICTED)
        for ids, ev, cells, others, scores in self._event_cols:
            for i, e, c, o, sc in zip(ids.tolist(), ev.tolist(), cells.tolist(),
                                      others.tolist(), scores.tolist()):
                events.append(MembershipEvent(i, names[e], c, 0, None if o < 0 else o, sc))
        self._events, self._event_cols = [], []
        return events

    def drain_events_table(self, generation: int):
        """``drain_events`` as an archive-table (columns, no per-event objects)."""
        import pyarrow as pa

        from evosearch.archives.tables import ARCHIVE_SCHEMA, events_table

        if self._events:
            return events_table(self.drain_events(), generation)
        cols, self._event_cols = self._event_cols, []
        if not cols:
            return events_table([], generation)
        ids, ev, cells, others, scores = (np.concatenate(c) for c in zip(*cols))
        names = np.array([e.value for e in (Event.NEW, Event.IMPROVED, Event.EVICTED)])
        return pa.table({
            "generation": np.full(ids.size, generation, dtype=np.int32),
            "individual_id": ids,
            "event": names[ev],
            "cell": cells,
            "island": np.zeros(ids.size, dtype=np.int32),
            "other_id": pa.array(others, mask=others < 0),
            "score": pa.array(scores, mask=np.isnan(scores)),
        }, schema=ARCHIVE_SCHEMA)

    def members(self) -> list[Individual]:
        """The elites, in cell order."""
        occupied = np.flatnonzero(self._holder >= 0)
        return [self._member(int(c)) for c in occupied]

    def _member(self, cell: int) -> Individual:
        iid = int(self._holder[cell])
        ind = self._members.get(iid)
        if ind is None:  # columnar adds keep arrays: build the view
            from evosearch.genomes.vector import VectorGenome
            from evosearch.individual import FitnessResult

            low, high = self._bounds
            genome = VectorGenome.view(self._genomes[cell], low, high)
            desc = tuple(self._desc[cell].tolist())
            ind = Individual(iid, genome, result=FitnessResult(float(self._score[cell]),
                                                               descriptors=desc))
        return ind

    def elite_of(self, cell: int) -> Individual | None:
        """The elite of a cell, or None when it is empty."""
        return None if self._holder[cell] < 0 else self._member(cell)

    def stats(self) -> QDStats:
        """QD statistics with pyribs' definitions (``archive.stats``), plus the best's id.

        Computed from the elite arrays: pyribs does the binning (``index_of``), the
        elites live in ``_score``/``_holder``/``_desc`` (one write per batch, no copy into
        a second store).
        """
        occupied = self._holder >= 0
        n = int(np.count_nonzero(occupied))
        if n == 0:
            return QDStats(0, self._num_cells, 0.0, 0.0, 0.0, None, None, None)
        scores = self._score[occupied]
        qd = float(np.sum(scores - self.qd_offset))
        best_cell = int(np.argmax(self._score))
        return QDStats(
            archive_size=n,
            num_cells=self._num_cells,
            coverage=n / self._num_cells,
            qd_score=qd,
            norm_qd_score=qd / self._num_cells,
            best=float(self._score[best_cell]),
            best_id=int(self._holder[best_cell]),
            mean=float(np.mean(scores)),
        )

    def __len__(self) -> int:
        return int(np.count_nonzero(self._holder >= 0))


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
