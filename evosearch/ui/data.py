"""``RunView``: the read-only queries behind the web page, aggregated on the server.

Every answer is small: per-generation aggregates, a heat-map of at most ``bins²`` cells, a
page of rows, the ancestry of one individual to a bounded depth and node count, or one
individual's full record. Genomes are read one at a time, from the one part that holds them.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from evosearch.store.queries import LineageIndex
from evosearch.store.runstore import RunStore
from evosearch.ui.columns import STATUSES, Columns
from evosearch.ui.diff import genome_diff

MAX_BINS = 200
MAX_PAGE = 500
MAX_LINEAGE_NODES = 2000


class RunView:
    """Cached, thread-safe read-only access to one run directory.

    Args:
        path: The run directory.
        refresh_interval: Re-read the manifest at most this often (seconds).
    """

    def __init__(self, path: str, refresh_interval: float = 0.5):
        self.store = RunStore.open(path)
        self.refresh_interval = refresh_interval
        self._lock = threading.RLock()
        self._last_refresh = time.monotonic()
        self._cols = Columns.empty()
        self._index: LineageIndex | None = None
        self._curves: tuple[int, dict[str, Any]] | None = None

    # ----------------------------------------------------------------------- caches

    def refresh(self, force: bool = False) -> None:
        """Re-read the manifest (rate limited) so a run that is still writing is followed."""
        with self._lock:
            now = time.monotonic()
            if force or now - self._last_refresh >= self.refresh_interval:
                self.store.refresh()
                self._last_refresh = now

    def columns(self) -> Columns:
        with self._lock:
            self._cols = self._cols.extend(self.store)
            return self._cols

    def lineage_index(self) -> LineageIndex:
        with self._lock:
            if self._index is None or self._index.parts < len(self.store.parts):
                self._index = LineageIndex.load(self.store)
            return self._index

    # ----------------------------------------------------------------------- queries

    def summary(self) -> dict[str, Any]:
        """Progress of the run; ``seq`` changes on every commit."""
        import yaml

        self.refresh()
        cols = self.columns()
        m = self.store.manifest
        try:
            cfg = yaml.safe_load(self.store.run_yaml) or {}
        except (OSError, yaml.YAMLError):
            cfg = {}
        ok = cols.status == 0
        best_row = int(np.nanargmax(np.where(ok, cols.score, np.nan))) if ok.any() else None
        return {
            "run": str(self.store.path),
            "name": cfg.get("name"),
            "strategy": (cfg.get("strategy") or {}).get("name"),
            "fitness": (cfg.get("fitness") or {}).get("ref"),
            "seq": m.get("seq", 0),
            "updated_at": m.get("updated_at"),
            "individuals": len(cols),
            "generations": int(cols.generation.max()) + 1 if len(cols) else 0,
            "status_counts": {s: int((cols.status == i).sum()) for i, s in enumerate(STATUSES)},
            "best": cols.light(best_row) if best_row is not None else None,
            "descriptor_dims": int(cols.descriptors.shape[1]),
            "operators": cols.operators,
            "has_membership": False,
        }

    def curves(self) -> dict[str, Any]:
        """Per-generation count, failures, best, mean and best-so-far of ok scores."""
        cols = self.columns()
        with self._lock:
            if self._curves and self._curves[0] == cols.parts:
                return self._curves[1]
        out: dict[str, Any] = {"generation": [], "count": [], "failed": [], "best": []}
        out.update(mean=[], best_so_far=[])
        if len(cols):
            gens, inv = np.unique(cols.generation, return_inverse=True)
            ok = cols.status == 0
            count = np.bincount(inv, minlength=gens.size)
            n_ok = np.bincount(inv, weights=ok, minlength=gens.size)
            total = np.bincount(inv, weights=np.where(ok, cols.score, 0.0), minlength=gens.size)
            best = np.full(gens.size, -np.inf)
            np.maximum.at(best, inv[ok], cols.score[ok])
            best[np.isneginf(best)] = np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = total / n_ok
            so_far = np.fmax.accumulate(best)
            out = {
                "generation": gens.tolist(),
                "count": count.tolist(),
                "failed": (count - n_ok).astype(int).tolist(),
                "best": _nan_list(best),
                "mean": _nan_list(mean),
                "best_so_far": _nan_list(so_far),
            }
        out["qd"] = self.qd_curves(cols)
        with self._lock:
            self._curves = (cols.parts, out)
        return out

    def heatmap(
        self, x: int = 0, y: int = 1, bins: int = 20, generation: int | None = None
    ) -> dict[str, Any]:
        """The best ok score per cell of a ``bins × bins`` grid over two descriptor dims.

        Bounds come from the data (min and max of the ok individuals shown). Cells are listed
        only when filled: ``[ix, iy, score, id]``.
        """
        cols = self.columns()
        bins = max(1, min(int(bins), MAX_BINS))
        d = cols.descriptors.shape[1]
        base = {"source": "descriptors", "bins": bins, "dims": d, "x": x, "y": y, "cells": []}
        if d == 0:
            return {**base, "reason": "no individual has descriptors"}
        x, y = min(max(x, 0), d - 1), min(max(y, 0), d - 1)
        sel = (cols.status == 0) & ~np.isnan(cols.score)
        if generation is not None:
            sel &= cols.generation <= generation
        dx, dy = cols.descriptors[:, x], cols.descriptors[:, y]
        sel &= np.isfinite(dx) & np.isfinite(dy)
        if not sel.any():
            return {**base, "x": x, "y": y, "reason": "no ok individual with descriptors yet"}
        bounds = [[float(v.min()), float(v.max())] for v in (dx[sel], dy[sel])]
        ix, iy = _bin(dx, bounds[0], bins), _bin(dy, bounds[1], bins)
        rows = np.flatnonzero(sel)
        cell = ix[rows] * bins + iy[rows]
        order = np.lexsort((cols.id[rows], -cols.score[rows], cell))  # best first, then low id
        first = np.ones(order.size, bool)
        first[1:] = cell[order][1:] != cell[order][:-1]
        winners = rows[order[first]]
        cells = [[int(ix[r]), int(iy[r]), float(cols.score[r]), int(cols.id[r])] for r in winners]
        return {**base, "x": x, "y": y, "bounds": bounds, "cells": cells, "filled": len(cells)}

    def qd_curves(self, cols: Columns, bins: int = 20) -> dict[str, Any] | None:
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
        ix = _bin(d[rows, 0], [d[rows, 0].min(), d[rows, 0].max()], bins)
        iy = _bin(d[rows, 1], [d[rows, 1].min(), d[rows, 1].max()], bins) if d.shape[1] > 1 else 0
        cells = bins * bins if d.shape[1] > 1 else bins
        cell = ix * bins + iy
        score = cols.score[rows]
        offset = float(score.min())
        gens, inv = np.unique(cols.generation[rows], return_inverse=True)
        best = np.full(cells, np.nan)
        coverage, qd = [], []
        for g in range(gens.size):
            m = inv == g
            cur = np.full(cells, -np.inf)
            np.maximum.at(cur, cell[m], score[m])
            best = np.fmax(best, np.where(np.isneginf(cur), np.nan, cur))
            filled = ~np.isnan(best)
            coverage.append(float(filled.mean()))
            qd.append(float((best[filled] - offset).sum()))
        return {
            "source": f"descriptors binned {bins}x{bins if d.shape[1] > 1 else 1}",
            "generation": gens.tolist(),
            "coverage": coverage,
            "qd_score": qd,
            "offset": offset,
        }

    def page(
        self,
        offset: int = 0,
        limit: int = 50,
        sort: str = "score",
        generation: int | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """One page of light rows, sorted by score (best first) or id."""
        cols = self.columns()
        limit = max(1, min(int(limit), MAX_PAGE))
        sel = np.ones(len(cols), bool)
        if generation is not None:
            sel &= cols.generation == generation
        if status:
            sel &= cols.status == (STATUSES.index(status) if status in STATUSES else -1)
        rows = np.flatnonzero(sel)
        if sort == "score":
            key = np.where(np.isnan(cols.score[rows]), np.inf, -cols.score[rows])
            rows = rows[np.lexsort((cols.id[rows], key))]
        else:
            rows = rows[np.argsort(cols.id[rows], kind="stable")]
        chosen = rows[offset : offset + limit]
        return {
            "total": int(rows.size),
            "offset": offset,
            "rows": [cols.light(int(r)) for r in chosen],
        }

    def lineage(
        self,
        individual_id: int,
        direction: str = "ancestors",
        depth: int | None = 6,
        limit: int = 300,
    ) -> dict[str, Any]:
        """The ancestry (or descendants) of one individual, bounded in depth and node count.

        Nodes whose relatives were not all included carry ``more: true``; the page fetches
        them on demand by asking for that node's lineage.

        Raises:
            KeyError: if the id is not in the run.
        """
        index = self.lineage_index()
        cols = self.columns()
        limit = max(1, min(int(limit), MAX_LINEAGE_NODES))
        step = index.parents_of if direction == "ancestors" else index.children_of
        if individual_id not in index:
            raise KeyError(f"no individual with id {individual_id}")
        dist = {individual_id: 0}
        frontier = [individual_id]
        truncated = False
        d = 0
        while frontier and (depth is None or d < depth) and not truncated:
            d += 1
            nxt = []
            for node in frontier:
                for other in step(node).tolist():
                    if other in dist:
                        continue
                    if len(dist) >= limit:
                        truncated = True
                        break
                    dist[other] = d
                    nxt.append(other)
            frontier = nxt
        ids = sorted(dist)
        rows = cols.rows_of(ids)
        nodes = []
        for nid, row in zip(ids, rows.tolist()):
            node = cols.light(row) if row >= 0 else {"id": nid}
            parents = index.parents_of(nid).tolist() if nid in index else []
            relatives = parents if direction == "ancestors" else index.children_of(nid).tolist()
            node.update(
                parents=parents,
                distance=dist[nid],
                more=any(r not in dist for r in relatives),
            )
            nodes.append(node)
        return {
            "root": individual_id,
            "direction": direction,
            "depth": depth,
            "truncated": truncated,
            "nodes": nodes,
        }

    def individual(self, individual_id: int, against: int | None = None) -> dict[str, Any]:
        """The full record of one individual and the diff of its genome to a parent.

        Args:
            individual_id: The individual.
            against: Diff against this individual (default: the first parent).

        Raises:
            KeyError: if the id (or ``against``) is not in the run.
        """
        rec = self._record(individual_id)
        other_id = against if against is not None else (rec["parent_ids"] or [None])[0]
        rec["diff_against"] = other_id
        if other_id is not None:
            other = self._record(other_id)
            rec["diff_kind_changed"] = other["genome_kind"] != rec["genome_kind"]
            rec["diff"] = genome_diff(other["genome"], rec["genome"])
        else:
            rec["diff"] = None
        index = self.lineage_index()
        rec["children"] = index.children_of(individual_id).tolist()[:200]
        return rec

    def _record(self, individual_id: int) -> dict[str, Any]:
        rec = records(self.store, [individual_id]).get(individual_id)
        if rec is None:
            raise KeyError(f"no individual with id {individual_id}")
        return rec


def records(store: RunStore, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Full JSON-able records of the given individuals (absent ids are left out).

    Reads only the parts whose id range holds a wanted id, with a row filter.
    """
    wanted = sorted(set(ids))
    out: dict[int, dict[str, Any]] = {}
    for p in store.parts:
        lo, hi = p["min_id"], p["max_id"]
        inside = [i for i in wanted if lo <= i <= hi and i not in out]
        if not inside:
            continue
        t = pq.read_table(store.path / p["file"], filters=[("id", "in", inside)])
        for row in t.to_pylist():
            out.setdefault(row["id"], _record_json(row))
    return out


def _record_json(row: dict[str, Any]) -> dict[str, Any]:
    genome = _loads(row.get("genome"))
    row["genome"] = genome
    row["operator_params"] = _loads(row.get("operator_params")) or {}
    metrics = row.get("metrics") or []
    row["metrics"] = dict(metrics) if not isinstance(metrics, dict) else metrics
    row["metrics"] = {k: _finite(v) for k, v in row["metrics"].items()}
    row["descriptors"] = [_finite(v) for v in row.get("descriptors") or []]
    row["score"] = _finite(row.get("score"))
    row["parent_ids"] = list(row.get("parent_ids") or [])
    row["summary"] = _summary(row.get("genome_kind"), genome)
    return row


def _summary(kind: str | None, genome: Any) -> str:
    from evosearch.genomes.base import genome_from_json

    try:
        return genome_from_json(kind or "", genome).summary()
    except Exception:  # an unknown or broken genome kind still shows as JSON
        text = json.dumps(genome)
        return f"{kind}: {text[:80]}{'...' if len(text) > 80 else ''}"


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _finite(v: Any) -> Any:
    return v if not isinstance(v, float) or math.isfinite(v) else None


def _nan_list(a: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in a.tolist()]


def _bin(v: np.ndarray, bounds: list[float], bins: int) -> np.ndarray:
    lo, hi = bounds
    width = (hi - lo) or 1.0
    with np.errstate(invalid="ignore"):
        idx = np.floor((np.nan_to_num(v, nan=lo) - lo) / width * bins)
    return np.clip(idx, 0, bins - 1).astype(np.int64)


__all__ = ["RunView"]
