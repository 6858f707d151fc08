"""Queries over a run: top-k, ancestry, descendants and the lineage graph.

Each compacted part has its lineage as arrays indexed by ``id - min_id`` in
``index/part-N.lineage`` (``row``: row in the part or -1; ``off`` / ``par``: parent CSR, see
``_LINEAGE``), written at compaction and memory-mapped by queries, so an ancestry walk opens
one file per part it enters and touches a few pages per step. ``part-N.top.arrow`` holds the
part's ``TOP_ROWS`` best rows (status ok, best first) as an Arrow IPC file, so ``top_k`` with
``k <= TOP_ROWS`` reads no Parquet at all. All of ``index/`` is derived data: a missing or
unreadable file is rebuilt from its part. The log tail (not yet compacted) is small and read
directly.
"""

from __future__ import annotations

import bisect
import mmap
import os
import pathlib
import struct
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evosearch.store.runstore import RunStore

_SPARSE = 8  # index a part by id only when its id span is at most this many times its rows
TOP_ROWS = 64  # best rows of each part kept beside it for top_k
_ORDER = [("score", "descending"), ("id", "ascending")]


# index/part-N.lineage: this header, then row int32[n_row] (padded to 8 bytes), off
# int64[n_off], par int64[n_par]; little-endian.
_LINEAGE = struct.Struct("<8sqqqq")  # magic, lo, n_row, n_off, n_par
_MAGIC = b"ESLIN1\0\0"


def _write_lineage(fh: Any, arrays: dict[str, np.ndarray]) -> None:
    row, off, par = arrays["row"], arrays["off"], arrays["par"]
    fh.write(_LINEAGE.pack(_MAGIC, int(arrays["lo"][0]), row.size, off.size, par.size))
    fh.write(row.astype("<i4").tobytes() + b"\0" * (-4 * row.size % 8))
    fh.write(off.astype("<i8").tobytes())
    fh.write(par.astype("<i8").tobytes())


def _read_lineage(path: pathlib.Path) -> _Part:
    """Memory-map a lineage file (raises OSError/ValueError when missing or malformed)."""
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    magic, lo, n_row, n_off, n_par = _LINEAGE.unpack_from(mm)
    at = _LINEAGE.size + 4 * n_row + (-4 * n_row % 8)
    if magic != _MAGIC or len(mm) != at + 8 * (n_off + n_par):
        raise ValueError(f"{path}: not a lineage index")
    row = np.frombuffer(mm, "<i4", n_row, _LINEAGE.size)
    off = np.frombuffer(mm, "<i8", n_off, at)
    par = np.frombuffer(mm, "<i8", n_par, at + 8 * n_off)
    return _Part(lo, row, off, par)


def write_part_index(root: pathlib.Path, stem: str, table: pa.Table) -> None:
    """Write the lineage arrays and best rows of one part (derived data: no fsync)."""
    arrays = _part_arrays(table)
    index = root / "index"
    try:
        index.mkdir(exist_ok=True)
        if arrays is not None:
            _replace(index, f"{stem}.lineage", lambda fh: _write_lineage(fh, arrays))
        top = _top_rows(table, TOP_ROWS)
        _replace(index, f"{stem}.top.arrow", lambda fh: _write_ipc(fh, top))
    except OSError:
        pass  # a read-only run directory: queries rebuild what they need in memory


def _replace(index: pathlib.Path, name: str, write: Any) -> None:
    tmp = index / f".{name}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        write(fh)
    os.replace(tmp, index / name)


def _write_ipc(fh: Any, table: pa.Table) -> None:
    with pa.ipc.new_file(fh, table.schema) as w:
        w.write_table(table)


def _part_top(store: RunStore, part: dict[str, Any]) -> pa.Table:
    """The part's ``TOP_ROWS`` best ok rows, from ``index/`` (rebuilt there when missing)."""
    stem = pathlib.Path(part["file"]).name.split(".")[0]
    path = store.path / "index" / f"{stem}.top.arrow"
    try:
        with pa.memory_map(str(path)) as src:
            top = pa.ipc.open_file(src).read_all()
        if top.schema.equals(store.schema):
            return top
    except (OSError, pa.ArrowException):
        pass
    table = store.read_part(part)
    if store.writable or os.access(store.path, os.W_OK):
        write_part_index(store.path, stem, table)
    return _top_rows(table, TOP_ROWS).cast(store.schema)


def _top_rows(table: pa.Table, k: int) -> pa.Table:
    """The ``k`` best ok rows of ``table``, best first.

    A partition finds the k-th best score; the rows that reach it (ties included, so the id
    order stays exact) are then sorted.
    """
    score = table["score"].to_numpy(zero_copy_only=False)
    valid = np.flatnonzero(~np.isnan(score))
    if valid.size > 4 * k:
        kth = np.partition(score[valid], valid.size - k)[valid.size - k]
        valid = valid[score[valid] >= kth]
    return _best([table.take(pa.array(valid))], k)


def _part_arrays(table: pa.Table) -> dict[str, np.ndarray] | None:
    ids = table["id"].to_numpy()
    if ids.size == 0:
        return None
    lo, hi = int(ids.min()), int(ids.max())
    span = hi - lo + 1
    if span > _SPARSE * ids.size + 4096:
        return None
    col = table["parent_ids"].combine_chunks()
    lens = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(col).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    row = np.full(span, -1, np.int32)
    row[ids - lo] = np.arange(ids.size, dtype=np.int32)
    counts = np.zeros(span, np.int64)
    counts[ids - lo] = lens
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    order = row[row >= 0]  # rows in id order
    if bool(np.all(order[1:] > order[:-1])):
        par = flat
    else:
        lens_o, starts_o = lens[order], starts[:-1][order]
        offs = np.concatenate([[0], np.cumsum(lens_o)]).astype(np.int64)
        par = flat[np.repeat(starts_o - offs[:-1], lens_o) + np.arange(offs[-1])]
    return {"row": row, "off": off, "par": par, "lo": np.array([lo], np.int64)}


class _Part:
    __slots__ = ("lo", "n", "row", "off", "par")

    def __init__(self, lo: int, row: np.ndarray, off: np.ndarray, par: np.ndarray):
        self.lo, self.n, self.row, self.off, self.par = lo, int(row.size), row, off, par

    def parents(self, i: int) -> list[int] | None:
        k = i - self.lo
        if k < 0 or k >= self.n or self.row[k] < 0:
            return None
        start, end = self.off[k : k + 2].tolist()
        return self.par[start:end].tolist()


class LineageIndex:
    """Parent and child links of every committed individual, per part, indexed by id.

    Attributes:
        parts: Number of manifest parts covered.
        rows: Number of committed individuals covered.
    """

    def __init__(self, store: RunStore):
        self.store = store
        self._meta = store.parts
        self.parts = len(self._meta)
        self.rows = store.num_individuals
        self._lo = np.array([p["min_id"] for p in self._meta], np.int64)
        self._hi = np.array([p["max_id"] for p in self._meta], np.int64)
        # parts in id order with disjoint ranges (every run the engine writes): bisect
        self._sorted = bool(np.all(self._lo[1:] > self._hi[:-1]))
        self._lo_list, self._hi_list = self._lo.tolist(), self._hi.tolist()
        self._loaded: dict[int, _Part | dict[int, np.ndarray]] = {}
        tail = store.tail_table(["id", "parent_ids"])
        self._tail = dict(zip(tail["id"].to_pylist(), tail["parent_ids"].to_pylist()))
        self._children: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def load(cls, store: RunStore) -> LineageIndex:
        return cls(store)

    def _part(self, k: int) -> _Part | dict[int, np.ndarray]:
        got = self._loaded.get(k)
        if got is not None:
            return got
        stem = pathlib.Path(self._meta[k]["file"]).name.split(".")[0]
        try:
            got = _read_lineage(self.store.path / "index" / f"{stem}.lineage")
        except (OSError, ValueError, struct.error):
            table = self.store.read_part(self._meta[k], ["id", "parent_ids"])
            built = _part_arrays(table)
            if built is not None:
                if self.store.writable or os.access(self.store.path, os.W_OK):
                    write_part_index(self.store.path, stem, table)
                got = _Part(int(built["lo"][0]), built["row"], built["off"], built["par"])
            else:  # sparse ids: a plain dict
                got = {
                    i: np.asarray(p or (), np.int64)
                    for i, p in zip(table["id"].to_pylist(), table["parent_ids"].to_pylist())
                }
        self._loaded[k] = got
        return got

    def _lookup(self, individual_id: int) -> list[int] | None:
        if individual_id in self._tail:
            return list(self._tail[individual_id] or ())
        if self._sorted:
            k = bisect.bisect_right(self._lo_list, individual_id) - 1
            candidates: Any = [k] if k >= 0 and individual_id <= self._hi_list[k] else []
        else:
            candidates = np.flatnonzero((self._lo <= individual_id) & (self._hi >= individual_id))
        for k in candidates:
            part = self._loaded.get(k) or self._part(int(k))
            if isinstance(part, dict):
                got = part.get(individual_id)
                if got is not None:
                    return got.tolist()
            else:
                listed = part.parents(individual_id)
                if listed is not None:
                    return listed
        return None

    def __contains__(self, individual_id: int) -> bool:
        return self._lookup(int(individual_id)) is not None

    def parents_of(self, individual_id: int) -> np.ndarray:
        return np.asarray(self._parent_list(individual_id), np.int64)

    def _parent_list(self, individual_id: int) -> list[int]:
        got = self._lookup(int(individual_id))
        if got is None:
            raise KeyError(f"no individual with id {individual_id}")
        return got

    def part_ids(self) -> set[int]:
        """Ids of every individual in the compacted parts."""
        out: set[int] = set()
        for k in range(self.parts):
            part = self._part(k)
            if isinstance(part, dict):
                out.update(part)
            else:
                out.update((np.flatnonzero(np.asarray(part.row) >= 0) + part.lo).tolist())
        return out

    def children_of(self, individual_id: int) -> np.ndarray:
        if self._children is None:
            kids, pars = [], []
            for k in range(self.parts):
                part = self._part(k)
                if isinstance(part, dict):
                    for i, ps in part.items():
                        kids.append(np.full(len(ps), i, np.int64))
                        pars.append(ps)
                    continue
                counts = np.diff(np.asarray(part.off))
                kids.append(np.repeat(np.arange(counts.size, dtype=np.int64) + part.lo, counts))
                pars.append(np.asarray(part.par))
            for i, ps in self._tail.items():
                kids.append(np.full(len(ps or ()), i, np.int64))
                pars.append(np.asarray(ps or (), np.int64))
            p = np.concatenate(pars) if pars else np.empty(0, np.int64)
            c = np.concatenate(kids) if kids else np.empty(0, np.int64)
            order = np.argsort(p, kind="stable")
            self._children = (p[order], c[order])
        keys, kids_sorted = self._children
        lo, hi = np.searchsorted(keys, individual_id), np.searchsorted(keys, individual_id, "right")
        return kids_sorted[lo:hi]

    def ancestors(
        self, individual_id: int, depth: int | None = None, limit: int | None = None
    ) -> dict[int, int]:
        """Ancestors of an individual mapped to their distance (1 = parent), nearest first.

        ``limit`` stops the breadth-first walk after that many ancestors.

        Raises:
            KeyError: if the id is not in the run.
        """
        return self._walk(individual_id, depth, self._parent_list, limit)

    def descendants(
        self, individual_id: int, depth: int | None = None, limit: int | None = None
    ) -> dict[int, int]:
        """Descendants mapped to their distance (1 = child), nearest first; see ``ancestors``."""
        return self._walk(individual_id, depth, lambda i: self.children_of(i).tolist(), limit)

    def _walk(self, start: int, depth: int | None, step: Any, limit: int | None) -> dict[int, int]:
        if start not in self:
            raise KeyError(f"no individual with id {start}")
        seen: dict[int, int] = {}
        frontier = [start]
        d = 0
        while frontier and (depth is None or d < depth):
            d += 1
            nxt = []
            for node in frontier:
                try:
                    others = step(node)
                except KeyError:  # a parent that was never committed (e.g. quarantined)
                    continue
                for other in others:
                    if other in seen or other == start:
                        continue
                    if limit is not None and len(seen) >= limit:
                        return seen
                    seen[other] = d
                    nxt.append(other)
            frontier = nxt
        return seen


def top_k(store: RunStore, k: int = 10) -> pa.Table:
    """The ``k`` best individuals with status ok, best first (ties: lower id first).

    With ``k <= TOP_ROWS`` it reads each part's best rows from ``index/`` and the log tail,
    no Parquet; else the log tail, then parts in order of their max score while one can
    still win.
    """
    parts = [p for p in store.parts if p.get("max_score") is not None]
    if k <= TOP_ROWS:
        tables = [_ok(store.tail_table()), *(_part_top(store, p) for p in parts)]
        return _best([t.cast(store.schema) for t in tables], k)
    cols = ["id", "score"]
    cands = [_ok(store.tail_table(cols))]
    parts.sort(key=lambda p: -p["max_score"])
    best = _best(cands, k)
    for p in parts:
        if best.num_rows >= k and p["max_score"] < best["score"][k - 1].as_py():
            break
        cands.append(_ok(store.read_part(p, cols)))
        best = _best(cands, k)
    if best.num_rows == 0:
        return store.schema.empty_table()
    wanted = best["id"].to_pylist()
    found = [_rows(store.tail_table(), wanted)]
    for p in store.parts:
        if any(p["min_id"] <= i <= p["max_id"] for i in wanted):
            found.append(store.read_part(p, filters=[("id", "in", wanted)]))
    rows = pa.concat_tables([t.cast(store.schema) for t in found])
    return _best([_rows(rows, wanted)], k)


def _ok(t: pa.Table) -> pa.Table:
    return t.filter(pc.is_valid(t["score"]))


def _best(tables: list[pa.Table], k: int) -> pa.Table:
    t = pa.concat_tables(tables)
    return t.take(pc.sort_indices(t, sort_keys=_ORDER)[:k])


def _rows(t: pa.Table, ids: list[int]) -> pa.Table:
    return t.filter(pc.is_in(t["id"], pa.array(ids, pa.int64())))


def best_id(store: RunStore) -> int | None:
    t = top_k(store, 1)
    return int(t["id"][0].as_py()) if t.num_rows else None


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
