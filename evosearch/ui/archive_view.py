"""Reading the archive tables (membership events and QD metrics) for the web page.

The format is the stable one of ``evosearch/archives/tables.py`` (docs/archives.md): parts
listed in ``manifest["tables"]["archive" | "qd"]``. Runs without these tables (written before
they existed, or by strategies without an archive) simply have none: callers fall back to
binning the individuals' descriptors.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow.compute as pc

from evosearch.store.runstore import RunStore
from evosearch.ui.columns import Columns

EVENTS = ("new", "improved", "evicted")


@dataclasses.dataclass
class Membership:
    """The membership event log as numpy arrays, extended part by part.

    Attributes:
        generation, individual_id, event, cell, island, score: One entry per event, in order;
            ``event`` indexes ``EVENTS``, ``cell`` is -1 where null, ``score`` NaN where null.
        parts: Number of archive-table rows covered (a cursor).
    """

    generation: np.ndarray
    individual_id: np.ndarray
    event: np.ndarray
    cell: np.ndarray
    island: np.ndarray
    score: np.ndarray
    parts: int = 0

    @classmethod
    def empty(cls) -> Membership:
        e = np.empty(0, np.int64)
        return cls(e, e, np.empty(0, np.int8), e, e, np.empty(0))

    def __len__(self) -> int:
        return int(self.individual_id.size)

    def extend(self, store: RunStore) -> Membership:
        t = store.extra_table("archive", start=self.parts)
        if t.num_rows == 0:
            return self
        ev = t["event"].to_pylist()
        new = [
            self,
            Membership(
                generation=pc.fill_null(t["generation"], 0).to_numpy().astype(np.int64),
                individual_id=t["individual_id"].to_numpy().astype(np.int64),
                event=np.array([EVENTS.index(e) if e in EVENTS else 2 for e in ev], np.int8),
                cell=pc.fill_null(t["cell"], -1).to_numpy().astype(np.int64),
                island=pc.fill_null(t["island"], 0).to_numpy().astype(np.int64),
                score=t["score"].to_numpy(zero_copy_only=False).astype(np.float64),
            ),
        ]
        fields = ("generation", "individual_id", "event", "cell", "island", "score")
        return Membership(
            **{f: np.concatenate([getattr(m, f) for m in new]) for f in fields},
            parts=self.parts + t.num_rows,
        )

    def members_at(self, generation: int | None = None) -> np.ndarray:
        """Row positions of the events that made the current members (at ``generation``).

        A member is an (island, individual) whose latest event up to that generation is
        ``new`` or ``improved``.
        """
        rows = np.arange(len(self))
        if generation is not None:
            rows = rows[self.generation <= generation]
        if rows.size == 0:
            return rows
        key = self.individual_id[rows] * 65536 + self.island[rows]
        # the last event per key: unique over the reversed order gives the first = latest
        _, first = np.unique(key[::-1], return_index=True)
        last = rows[::-1][first]
        return np.sort(last[self.event[last] != 2])


def qd_metrics(store: RunStore) -> dict[str, Any] | None:
    """The QD metrics table as columns (one entry per commit), or None when there is none."""
    table = store.extra_table("qd")
    if table.num_rows == 0:
        return None
    rows = table.to_pylist()
    cols = ("generation", "coverage", "qd_score", "archive_size", "best", "num_cells")
    return {"source": "archive QD table", **{c: [r.get(c) for r in rows] for c in cols}}


def grid_spec(cfg: dict[str, Any]) -> tuple[list[int], list[list[float]]] | None:
    """``(dims, ranges)`` of the run's MAP-Elites grid archive, if it has a 2-D one."""
    archive = ((cfg.get("strategy") or {}).get("params") or {}).get("archive") or {}
    if _ref(archive) == "islands":
        archive = (archive.get("params") or {}).get("archive") or {}
    params = archive.get("params") or {}
    dims, ranges = params.get("dims"), params.get("ranges")
    if _ref(archive) != "grid" or not dims or len(dims) != 2 or not ranges:
        return None
    return [int(d) for d in dims], [[float(a), float(b)] for a, b in ranges]


def _ref(plugin: dict[str, Any]) -> Any:
    """A stored plugin config's reference (``name`` in configs written before ``ref``)."""
    return plugin.get("ref") or plugin.get("name")


def binned_qd_curves(cols: Columns, bins: int = 20) -> dict[str, Any] | None:
    """Coverage and QD-score per generation of a grid binned from descriptors 0 and 1."""
    if cols.descriptors.shape[1] < 1 or not len(cols):
        return None
    d = cols.descriptors
    sel = (cols.status == 0) & np.isfinite(d[:, 0]) & ~np.isnan(cols.score)
    if d.shape[1] > 1:
        sel &= np.isfinite(d[:, 1])
    if not sel.any():
        return None
    rows = np.flatnonzero(sel)
    ix = bin_index(d[rows, 0], [d[rows, 0].min(), d[rows, 0].max()], bins)
    iy = bin_index(d[rows, 1], [d[rows, 1].min(), d[rows, 1].max()], bins) if d.shape[1] > 1 else 0
    cells = bins * bins if d.shape[1] > 1 else bins
    cell = ix * bins + iy if d.shape[1] > 1 else ix
    score = cols.score[rows]
    offset = float(score.min())
    gens, inv = np.unique(cols.generation[rows], return_inverse=True)
    best = np.full(cells, np.nan)
    coverage, qd, size = [], [], []
    for g in range(gens.size):
        m = inv == g
        cur = np.full(cells, -np.inf)
        np.maximum.at(cur, cell[m], score[m])
        best = np.fmax(best, np.where(np.isneginf(cur), np.nan, cur))
        filled = ~np.isnan(best)
        coverage.append(float(filled.mean()))
        size.append(int(filled.sum()))
        qd.append(float((best[filled] - offset).sum()))
    return {
        "source": f"descriptors binned {bins}x{bins if d.shape[1] > 1 else 1}",
        "generation": gens.tolist(),
        "coverage": coverage,
        "qd_score": qd,
        "archive_size": size,
        "offset": offset,
    }


def bin_index(v: np.ndarray, bounds: list[float], bins: int) -> np.ndarray:
    """Bin index of each value in ``bins`` equal bins over ``bounds`` (clipped into range)."""
    lo, hi = bounds
    width = (hi - lo) or 1.0
    with np.errstate(invalid="ignore"):
        idx = np.floor((np.nan_to_num(v, nan=lo) - lo) / width * bins)
    return np.clip(idx, 0, bins - 1).astype(np.int64)
