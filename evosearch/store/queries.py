"""Queries over a run: top-k, ancestry, descendants and the lineage graph.

Ancestry uses a compact parent index (CSR arrays) cached beside the manifest in
``index/lineage.npz`` and extended part by part, so a query on a run of a million
individuals reads only the parts committed since the last query.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evosearch.store.files import atomic_write
from evosearch.store.runstore import RunStore


def top_k(store: RunStore, k: int = 10) -> pa.Table:
    """The ``k`` best individuals with status ok, best first (ties: lower id first)."""
    table = store.table()
    ok = table.filter(pc.equal(table["status"], "ok"))
    if ok.num_rows == 0:
        return ok
    idx = pc.sort_indices(ok, sort_keys=[("score", "descending"), ("id", "ascending")])
    return ok.take(idx[:k])


def best_id(store: RunStore) -> int | None:
    t = top_k(store, 1)
    return int(t["id"][0].as_py()) if t.num_rows else None


class LineageIndex:
    """Parent and child links of every committed individual as CSR arrays.

    Attributes:
        ids: Sorted individual ids.
        offsets: ``parents[offsets[i]:offsets[i+1]]`` are the parents of ``ids[i]``.
        parents: Flat parent ids.
        parts: Number of manifest parts covered.
    """

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, parents: np.ndarray, parts: int):
        if ids.size > 1 and bool(np.any(ids[1:] < ids[:-1])):  # O(n) check; sort only if needed
            order = np.argsort(ids, kind="stable")
            counts = np.diff(offsets)[order]
            starts = offsets[:-1][order]
            parents = (
                np.concatenate([parents[s : s + c] for s, c in zip(starts, counts)])
                if ids.size
                else parents
            )
            ids = ids[order]
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.ids, self.offsets, self.parents, self.parts = ids, offsets, parents, parts
        self._children: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def load(cls, store: RunStore) -> LineageIndex:
        """Build the index, reusing and extending the on-disk cache."""
        cache = store.path / "index" / "lineage.npz"
        ids = np.empty(0, np.int64)
        offsets = np.zeros(1, np.int64)
        parents = np.empty(0, np.int64)
        covered = 0
        parts = store.parts
        if cache.exists():
            try:
                with np.load(cache) as z:
                    if int(z["parts"]) <= len(parts) and str(z["first"]) == _first(parts):
                        ids, offsets, parents = z["ids"], z["offsets"], z["parents"]
                        covered = int(z["parts"])
            except (OSError, ValueError, KeyError):
                covered = 0
        if covered < len(parts):
            new_ids, new_lens, new_parents = [ids], [np.diff(offsets)], [parents]
            for p in parts[covered:]:
                t = pq.read_table(store.path / p["file"], columns=["id", "parent_ids"])
                new_ids.append(t["id"].to_numpy())
                col = t["parent_ids"].combine_chunks()
                new_lens.append(pc.list_value_length(col).to_numpy(zero_copy_only=False))
                new_parents.append(pc.list_flatten(col).to_numpy())
            ids = np.concatenate(new_ids).astype(np.int64)
            lens = np.concatenate(new_lens).astype(np.int64)
            parents = np.concatenate(new_parents).astype(np.int64)
            offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
            index = cls(ids, offsets, parents, len(parts))
            if store.writable or _can_write(store.path):
                index._save(cache, _first(parts))
            return index
        return cls(ids, offsets, parents, covered)

    def _save(self, cache: pathlib.Path, first: str) -> None:
        try:
            cache.parent.mkdir(exist_ok=True)
            atomic_write(
                cache,
                lambda tmp: np.savez(
                    open(tmp, "wb"),  # noqa: SIM115  (np.savez appends .npz to plain paths)
                    ids=self.ids,
                    offsets=self.offsets,
                    parents=self.parents,
                    parts=np.int64(self.parts),
                    first=np.str_(first),
                ),
            )
        except OSError:
            pass  # a read-only run directory: the index simply is not cached

    def __contains__(self, individual_id: int) -> bool:
        i = np.searchsorted(self.ids, individual_id)
        return bool(i < self.ids.size and self.ids[i] == individual_id)

    def parents_of(self, individual_id: int) -> np.ndarray:
        i = int(np.searchsorted(self.ids, individual_id))
        if i >= self.ids.size or self.ids[i] != individual_id:
            raise KeyError(f"no individual with id {individual_id}")
        return self.parents[self.offsets[i] : self.offsets[i + 1]]

    def children_of(self, individual_id: int) -> np.ndarray:
        if self._children is None:
            child_rows = np.repeat(np.arange(self.ids.size), np.diff(self.offsets))
            order = np.argsort(self.parents, kind="stable")
            self._children = (self.parents[order], self.ids[child_rows[order]], order)
        keys, kids, _ = self._children
        lo, hi = np.searchsorted(keys, individual_id), np.searchsorted(keys, individual_id, "right")
        return kids[lo:hi]

    def ancestors(self, individual_id: int, depth: int | None = None) -> dict[int, int]:
        """Ancestors of an individual mapped to their distance (1 = parent).

        Raises:
            KeyError: if the id is not in the run.
        """
        return self._walk(individual_id, depth, self.parents_of)

    def descendants(self, individual_id: int, depth: int | None = None) -> dict[int, int]:
        """Descendants mapped to their distance (1 = child)."""
        return self._walk(individual_id, depth, self.children_of)

    def _walk(self, start: int, depth: int | None, step) -> dict[int, int]:
        if start not in self:
            raise KeyError(f"no individual with id {start}")
        seen: dict[int, int] = {}
        frontier = [start]
        d = 0
        while frontier and (depth is None or d < depth):
            d += 1
            nxt = []
            for node in frontier:
                for other in step(node).tolist():
                    if other not in seen and other != start:
                        seen[other] = d
                        nxt.append(other)
            frontier = nxt
        return seen


def lineage_graph(store: RunStore, ids: Iterable[int] | None = None):
    """A ``networkx.DiGraph`` with an edge parent → child, nodes carrying score and operator.

    Args:
        store: The run.
        ids: Restrict to these individuals (edges among them only); all when None.
    """
    import networkx as nx

    table = store.table(["id", "parent_ids", "score", "status", "operator", "generation"])
    if ids is not None:
        wanted = pa.array(sorted(set(ids)), pa.int64())
        table = table.filter(pc.is_in(table["id"], wanted))
    graph = nx.DiGraph()
    rows = table.to_pylist()
    present = {r["id"] for r in rows}
    for r in rows:
        graph.add_node(
            r["id"],
            score=r["score"],
            status=r["status"],
            operator=r["operator"],
            generation=r["generation"],
        )
    for r in rows:
        for p in r["parent_ids"] or ():
            if p in present:
                graph.add_edge(p, r["id"])
    return graph


def _first(parts: list[dict]) -> str:
    return parts[0]["sha256"] if parts else ""


def _can_write(path: pathlib.Path) -> bool:
    import os

    return os.access(path, os.W_OK)
