"""An in-memory cache of the light columns of a run, extended part by part.

The web page never loads genomes in bulk: it reads only ``id``, ``generation``, ``island``,
``score``, ``status``, ``operator`` and ``descriptors`` (Parquet column projection), once per
immutable part, and keeps them as numpy arrays. A run of 100,000 individuals costs a few MB.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evosearch.store.runstore import RunStore

LIGHT_COLUMNS = ["id", "generation", "island", "score", "status", "operator", "descriptors"]
STATUSES = ("ok", "failed", "timeout", "invalid")
MAX_DESCRIPTOR_DIMS = 8


@dataclasses.dataclass
class Columns:
    """Light columns of every committed individual, in commit order.

    Attributes:
        id: Individual ids (int64).
        generation: Generation of each individual (int64).
        island: Island of each individual (int64).
        score: Score, NaN unless status is ok (float64).
        status: Index into ``STATUSES`` (int8).
        operator: Index into ``operators`` (int32).
        operators: Operator names.
        descriptors: ``(n, d)`` float64, NaN where an individual has fewer than ``d``.
        parts: Number of committed rows covered (a cursor into the run's commit order).
    """

    id: np.ndarray
    generation: np.ndarray
    island: np.ndarray
    score: np.ndarray
    status: np.ndarray
    operator: np.ndarray
    operators: list[str]
    descriptors: np.ndarray
    parts: int = 0
    _order: np.ndarray | None = None

    @classmethod
    def empty(cls) -> Columns:
        i64 = np.empty(0, np.int64)
        return cls(
            i64,
            i64,
            i64,
            np.empty(0),
            np.empty(0, np.int8),
            np.empty(0, np.int32),
            [],
            np.empty((0, 0)),
        )

    def __len__(self) -> int:
        return int(self.id.size)

    def rows_of(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """Row positions of the given ids (-1 where absent)."""
        if self._order is None:
            self._order = np.argsort(self.id, kind="stable")
        ids = np.asarray(ids, dtype=np.int64)
        sorted_ids = self.id[self._order]
        pos = np.searchsorted(sorted_ids, ids)
        pos = np.clip(pos, 0, max(sorted_ids.size - 1, 0))
        found = sorted_ids.size > 0
        rows = self._order[pos] if found else np.full(ids.shape, -1)
        if found:
            rows = np.where(sorted_ids[pos] == ids, rows, -1)
        return rows

    def light(self, row: int) -> dict[str, Any]:
        """One row as a small JSON-able dict."""
        s = float(self.score[row])
        return {
            "id": int(self.id[row]),
            "generation": int(self.generation[row]),
            "island": int(self.island[row]),
            "score": None if np.isnan(s) else s,
            "status": STATUSES[int(self.status[row])],
            "operator": self.operators[int(self.operator[row])],
        }

    def extend(self, store: RunStore) -> Columns:
        """A copy covering every committed row (reads only the rows after ``parts``)."""
        total = store.num_individuals
        if total <= self.parts:
            return self
        ops = list(self.operators)
        op_index = {name: i for i, name in enumerate(ops)}
        chunks = [_part_arrays(store.table(LIGHT_COLUMNS, start=self.parts), ops, op_index)]
        if not chunks:
            return self
        dims = max([self.descriptors.shape[1]] + [c["descriptors"].shape[1] for c in chunks])
        desc = [_pad(self.descriptors, dims)] + [_pad(c["descriptors"], dims) for c in chunks]
        return Columns(
            id=np.concatenate([self.id] + [c["id"] for c in chunks]),
            generation=np.concatenate([self.generation] + [c["generation"] for c in chunks]),
            island=np.concatenate([self.island] + [c["island"] for c in chunks]),
            score=np.concatenate([self.score] + [c["score"] for c in chunks]),
            status=np.concatenate([self.status] + [c["status"] for c in chunks]),
            operator=np.concatenate([self.operator] + [c["operator"] for c in chunks]),
            operators=ops,
            descriptors=np.concatenate(desc, axis=0),
            parts=total,
        )


def _part_arrays(t: pa.Table, ops: list[str], op_index: dict[str, int]) -> dict[str, Any]:
    n = t.num_rows
    score = t["score"].to_numpy(zero_copy_only=False).astype(np.float64)
    status_names = t["status"].to_pylist()
    status = np.array(
        [STATUSES.index(s) if s in STATUSES else 3 for s in status_names], dtype=np.int8
    ).reshape(n)
    op_codes = np.empty(n, np.int32)
    for i, name in enumerate(t["operator"].to_pylist()):
        name = name or "?"
        if name not in op_index:
            op_index[name] = len(ops)
            ops.append(name)
        op_codes[i] = op_index[name]
    return {
        "id": t["id"].to_numpy().astype(np.int64),
        "generation": _int_col(t, "generation"),
        "island": _int_col(t, "island"),
        "score": score,
        "status": status,
        "operator": op_codes,
        "descriptors": _descriptor_matrix(t["descriptors"].combine_chunks(), n),
    }


def _int_col(t: pa.Table, name: str) -> np.ndarray:
    return pc.fill_null(t[name], 0).to_numpy().astype(np.int64)


def _descriptor_matrix(col: pa.Array, n: int) -> np.ndarray:
    lens = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False)
    if n == 0 or lens.max(initial=0) == 0:
        return np.full((n, 0), np.nan)
    d = min(int(lens.max()), MAX_DESCRIPTOR_DIMS)
    flat = pc.list_flatten(col).to_numpy(zero_copy_only=False).astype(np.float64)
    if np.all(lens == lens[0]) and lens[0] <= MAX_DESCRIPTOR_DIMS:
        return flat.reshape(n, int(lens[0]))
    out = np.full((n, d), np.nan)
    start = 0
    for i, k in enumerate(lens.tolist()):
        m = min(k, d)
        out[i, :m] = flat[start : start + m]
        start += k
    return out


def _pad(a: np.ndarray, dims: int) -> np.ndarray:
    if a.shape[1] == dims:
        return a
    out = np.full((a.shape[0], dims), np.nan)
    out[:, : a.shape[1]] = a
    return out
