"""``RunView``: the read-only queries behind the web page, aggregated on the server.

Every answer is small: per-generation aggregates, a heat-map of at most ``bins²`` cells, a
page of rows, the ancestry of one individual to a bounded depth and node count, or one
individual's full record. Genomes are read one at a time, from the one part that holds them.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np

from evosearch.store.queries import LineageIndex
from evosearch.store.runstore import RunStore
from evosearch.ui.archive_view import Membership, bin_index, binned_qd_curves, grid_spec, qd_metrics
from evosearch.ui.columns import STATUSES, Columns
from evosearch.ui.diff import genome_diff
from evosearch.ui.records import finite as _finite
from evosearch.ui.records import records

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
        self._members = Membership.empty()
        self._cfg: dict[str, Any] | None = None
        self._heatmaps: dict[tuple, dict[str, Any]] = {}

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

    def membership(self) -> Membership:
        with self._lock:
            self._members = self._members.extend(self.store)
            return self._members

    def config(self) -> dict[str, Any]:
        """The run's resolved config (``run.yaml``), empty when unreadable."""
        import yaml

        if self._cfg is None:
            try:
                self._cfg = yaml.safe_load(self.store.run_yaml) or {}
            except (OSError, yaml.YAMLError):
                self._cfg = {}
        return self._cfg

    def lineage_index(self) -> LineageIndex:
        with self._lock:
            if self._index is None or self._index.rows < self.store.num_individuals:
                self._index = LineageIndex.load(self.store)
            return self._index

    # ----------------------------------------------------------------------- queries

    def summary(self) -> dict[str, Any]:
        """Progress of the run; ``seq`` changes on every commit."""
        self.refresh()
        cols = self.columns()
        m = self.store.manifest
        cfg = self.config()
        ok = cols.status == 0
        best_row = int(np.nanargmax(np.where(ok, cols.score, np.nan))) if ok.any() else None
        return {
            "run": str(self.store.path),
            "name": cfg.get("name"),
            "strategy": _plugin_ref(cfg.get("strategy")),
            "fitness": (cfg.get("fitness") or {}).get("ref"),
            "seq": m.get("seq", 0),
            "updated_at": m.get("updated_at"),
            "individuals": len(cols),
            "generations": int(cols.generation.max()) + 1 if len(cols) else 0,
            "status_counts": {s: int((cols.status == i).sum()) for i, s in enumerate(STATUSES)},
            "best": cols.light(best_row) if best_row is not None else None,
            "descriptor_dims": int(cols.descriptors.shape[1]),
            "operators": cols.operators,
            "has_membership": len(self.membership()) > 0,
            "has_qd_table": qd_metrics(self.store) is not None,
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
        out["qd"] = qd_metrics(self.store) or binned_qd_curves(cols)
        with self._lock:
            self._curves = (cols.parts, out)
        return out

    def heatmap(
        self, x: int = 0, y: int = 1, bins: int = 20, generation: int | None = None
    ) -> dict[str, Any]:
        """The map of elites: the best score per cell, cells listed only when filled.

        From the archive's membership table when the run has one (a 2-D grid archive maps
        its cells exactly; other archives bin their members' descriptors), else from every
        ok individual's descriptors over a ``bins × bins`` grid with bounds from the data.
        Each cell is ``[ix, iy, score, id]``; ``shape`` is the grid size.
        """
        cols = self.columns()
        members = self.membership()
        dims = cols.descriptors.shape[1]
        if dims and not (0 <= x < dims and 0 <= y < max(dims, 2)):  # 1-d runs: a strip
            raise ValueError(
                f"x and y must be descriptor indices 0..{dims - 1} (the run has {dims}), "
                f"got x={x}, y={y}"
            )
        key = (cols.parts, members.parts, x, y, bins, generation)
        with self._lock:
            if key in self._heatmaps:
                return self._heatmaps[key]
        out = self._heatmap(cols, members, x, y, bins, generation)
        with self._lock:
            if len(self._heatmaps) > 64:
                self._heatmaps.clear()
            self._heatmaps[key] = out
        return out

    def _heatmap(self, cols, members, x, y, bins, generation) -> dict[str, Any]:
        if not len(members):
            return self._binned(cols, None, x, y, bins, generation, "descriptors")
        rows = members.members_at(generation)
        spec = grid_spec(self.config())
        if spec is None or (members.cell[rows] < 0).any():
            ind_rows = cols.rows_of(members.individual_id[rows])
            return self._binned(
                cols, ind_rows[ind_rows >= 0], x, y, bins, generation, "archive members"
            )
        (bx, by), ranges = spec
        cell, score = members.cell[rows], members.score[rows]
        ids = members.individual_id[rows]
        order = np.lexsort((ids, -np.nan_to_num(score, nan=-np.inf), cell))
        first = np.ones(order.size, bool)
        first[1:] = cell[order][1:] != cell[order][:-1]
        win = order[first]
        cells = [
            [int(c // by), int(c % by), _finite(float(s)), int(i)]
            for c, s, i in zip(cell[win], score[win], ids[win])
        ]
        return {
            "source": "archive (grid membership)",
            "shape": [bx, by],
            "dims": 2,
            "x": 0,
            "y": 1,
            "bounds": ranges,
            "cells": cells,
            "filled": len(cells),
        }

    def _binned(self, cols, subset, x, y, bins, generation, source) -> dict[str, Any]:
        bins = max(1, min(int(bins), MAX_BINS))
        d = cols.descriptors.shape[1]
        base = {"source": source, "shape": [bins, bins], "dims": d, "x": x, "y": y, "cells": []}
        if d == 0:
            return {**base, "reason": "no individual has descriptors"}
        x, y = min(max(x, 0), d - 1), min(max(y, 0), d - 1)
        sel = (cols.status == 0) & ~np.isnan(cols.score)
        if subset is not None:
            keep = np.zeros(len(cols), bool)
            keep[subset] = True
            sel &= keep
        if generation is not None:
            sel &= cols.generation <= generation
        dx, dy = cols.descriptors[:, x], cols.descriptors[:, y]
        sel &= np.isfinite(dx) & np.isfinite(dy)
        if not sel.any():
            return {**base, "x": x, "y": y, "reason": "no ok individual with descriptors yet"}
        bounds = [[float(v.min()), float(v.max())] for v in (dx[sel], dy[sel])]
        ix, iy = bin_index(dx, bounds[0], bins), bin_index(dy, bounds[1], bins)
        rows = np.flatnonzero(sel)
        cell = ix[rows] * bins + iy[rows]
        order = np.lexsort((cols.id[rows], -cols.score[rows], cell))  # best first, then low id
        first = np.ones(order.size, bool)
        first[1:] = cell[order][1:] != cell[order][:-1]
        winners = rows[order[first]]
        cells = [[int(ix[r]), int(iy[r]), float(cols.score[r]), int(cols.id[r])] for r in winners]
        return {**base, "x": x, "y": y, "bounds": bounds, "cells": cells, "filled": len(cells)}

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
        walk = index.ancestors if direction == "ancestors" else index.descendants
        dist = {individual_id: 0, **walk(individual_id, depth, limit=limit - 1)}
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
        # a node short of the depth bound with a relative left out: the limit cut the walk
        truncated = any(n["more"] and (depth is None or n["distance"] < depth) for n in nodes)
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
        index = self.lineage_index()
        if against is None and individual_id in index:
            parents = index.parents_of(individual_id).tolist()
            against = parents[0] if parents else None
        # both records in one pass (their parts are read concurrently)
        found = records(self.store, [individual_id] + ([against] if against is not None else []))
        for wanted in (individual_id, against):
            if wanted is not None and wanted not in found:
                raise KeyError(f"no individual with id {wanted}")
        rec = found[individual_id]
        other_id = against if against is not None else (rec["parent_ids"] or [None])[0]
        rec["diff_against"] = other_id
        if other_id is not None:
            other = found.get(other_id) or self._record(other_id)
            rec["diff_kind_changed"] = other["genome_kind"] != rec["genome_kind"]
            rec["diff"] = genome_diff(other["genome"], rec["genome"])
        else:
            rec["diff"] = None
        rec["children"] = index.children_of(individual_id).tolist()[:200]
        return rec

    def _record(self, individual_id: int) -> dict[str, Any]:
        rec = records(self.store, [individual_id]).get(individual_id)
        if rec is None:
            raise KeyError(f"no individual with id {individual_id}")
        return rec


def _nan_list(a: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in a.tolist()]


__all__ = ["RunView"]


def _plugin_ref(plugin: Any) -> Any:
    """A stored plugin config's reference (``name`` in configs written before ``ref``)."""
    if isinstance(plugin, str):
        return plugin
    plugin = plugin or {}
    return plugin.get("ref") or plugin.get("name")
