"""The schema of stored individuals, and conversion from ``Individual``s or columns and back.

The ``genome`` column is ``fixed_size_list<float64>[D]`` when the run's facts say the genome
is a vector of dimension D (bounds are stored once, in the facts), else the JSON of the
genome's ``to_json()``. ``fingerprint`` is the first 16 bytes of ``genome.fingerprint()`` (for
vectors ``row_fingerprints``, computed for the whole column at once), in every write path.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evosearch.genomes.base import genome_from_json
from evosearch.genomes.vector import row_fingerprints
from evosearch.individual import Cost, FitnessResult, Individual, Status

FORMAT = "evosearch-individuals/2"

_FIELDS = [
    pa.field("id", pa.int64(), nullable=False),
    pa.field("parent_ids", pa.list_(pa.int64())),
    pa.field("operator", pa.string()),
    pa.field("operator_params", pa.string()),  # JSON
    pa.field("generation", pa.int32()),
    pa.field("island", pa.int32()),
    pa.field("genome_kind", pa.string()),
    pa.field("genome", pa.string()),  # JSON, or fixed_size_list<float64>[D] for vector runs
    pa.field("fingerprint", pa.binary(16)),
    pa.field("status", pa.string()),
    pa.field("score", pa.float64()),  # null unless status == ok
    pa.field("metrics", pa.map_(pa.string(), pa.float64())),
    pa.field("descriptors", pa.list_(pa.float64())),
    pa.field("error", pa.string()),
    pa.field("feedback", pa.string()),
    pa.field("eval_seconds", pa.float64()),
    pa.field("tokens_in", pa.int64()),
    pa.field("tokens_out", pa.int64()),
    pa.field("cost_usd", pa.float64()),
]

SCHEMA = pa.schema(_FIELDS, metadata={"format": FORMAT})
COLUMNS = tuple(f.name for f in _FIELDS)

# Columns whose values depend on timing, excluded when comparing runs for determinism.
TIMING_COLUMNS = ("eval_seconds",)


def vector_dimension(facts: Mapping[str, Any] | None) -> int | None:
    """D when the run's facts declare a vector genome of dimension D, else None."""
    genome = (facts or {}).get("genome") or {}
    if genome.get("kind") == "vector" and genome.get("dimension"):
        return int(genome["dimension"])
    return None


def row_schema(facts: Mapping[str, Any] | None = None) -> pa.Schema:
    """The row schema of a run with these facts."""
    dim = vector_dimension(facts)
    if dim is None:
        return SCHEMA
    i = SCHEMA.get_field_index("genome")
    return SCHEMA.set(i, pa.field("genome", pa.list_(pa.float64(), dim)))


def fingerprint16(hex_or_bytes: str | bytes) -> bytes:
    """A genome fingerprint as the 16 bytes stored (from its hex string or a digest)."""
    if isinstance(hex_or_bytes, str):
        return bytes.fromhex(hex_or_bytes[:32])
    return bytes(hex_or_bytes[:16])


def vector_fingerprints(values: np.ndarray) -> pa.FixedSizeBinaryArray:
    """The ``fingerprint`` column of an [N, D] float64 array (as ``VectorGenome.fingerprint``)."""
    fps = row_fingerprints(values)
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(fps), [None, pa.py_buffer(fps.tobytes())]
    )


_NEVER_EVALUATED = FitnessResult.failure(Status.INVALID, "never evaluated")
# Prebuilt encoders: json.dumps(..., sort_keys=True) builds a new encoder per call.
_encode_params = json.JSONEncoder(sort_keys=True, default=str).encode
_encode_genome = json.JSONEncoder(sort_keys=True).encode


def to_table(individuals: Sequence[Individual], schema: pa.Schema = SCHEMA) -> pa.Table:
    """Individuals (evaluated or failed) as a table with ``schema`` (``row_schema(facts)``).

    Built column by column: this runs for every committed individual, so it is kept lean.
    """
    inds = list(individuals)
    res = [i.result or _NEVER_EVALUATED for i in inds]
    vector = pa.types.is_fixed_size_list(schema.field("genome").type)
    if vector:
        dim = schema.field("genome").type.list_size
        flat = (
            np.concatenate([np.asarray(i.genome.values, np.float64) for i in inds]) if inds else []
        )
        genome: Any = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float64()), dim)
    else:
        genome = [_encode_genome(i.genome.to_json()) for i in inds]
    cols: dict[str, Any] = {
        "id": [i.id for i in inds],
        "parent_ids": [list(i.parent_ids) for i in inds],
        "operator": [i.operator for i in inds],
        "operator_params": [
            _encode_params(i.operator_params) if i.operator_params else "{}" for i in inds
        ],
        "generation": [i.generation for i in inds],
        "island": [i.island for i in inds],
        "genome_kind": [i.genome.kind for i in inds],
        "genome": genome,
        "fingerprint": [fingerprint16(i.genome.fingerprint()) for i in inds],
        "status": [r.status.value for r in res],
        "score": [
            r.score if r.status is Status.OK and math.isfinite(r.score) else None for r in res
        ],
        "metrics": [list(r.metrics.items()) for r in res],
        "descriptors": [list(r.descriptors) for r in res],
        "error": [r.error for r in res],
        "feedback": [r.feedback for r in res],
        "eval_seconds": [r.eval_seconds for r in res],
        "tokens_in": [i.cost.tokens_in + r.cost.tokens_in for i, r in zip(inds, res)],
        "tokens_out": [i.cost.tokens_out + r.cost.tokens_out for i, r in zip(inds, res)],
        "cost_usd": [i.cost.usd + r.cost.usd for i, r in zip(inds, res)],
    }
    return pa.table(cols, schema=schema)


def columns_to_table(
    columns: Mapping[str, Any],
    schema: pa.Schema,
    *,
    generation: int,
    facts: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Rows given as columns (``dict[str, array-like]``) as a table with ``schema``.

    Required: ``id`` and ``genome`` (an [N, D] float array for vector runs, else JSON strings
    with ``genome_kind``). Defaults: no parents, operator ``init``, the commit's generation,
    island 0, status ``ok`` where the score is finite (``invalid`` elsewhere), empty metrics
    and descriptors, null error/feedback, 0 seconds, tokens and cost, params ``"{}"``, and
    the fingerprint computed from the genome.

    Raises:
        ValueError: for an unknown column or a missing required one, naming it.
    """
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise ValueError(f"unknown row column(s) {unknown}; allowed: {', '.join(COLUMNS)}")
    for key in ("id", "genome"):
        if key not in columns:
            raise ValueError(f"rows need a {key!r} column")
    ids = np.asarray(columns["id"], dtype=np.int64)
    n = ids.size
    out: dict[str, Any] = {"id": ids}
    gtype = schema.field("genome").type
    genome = columns["genome"]
    if pa.types.is_fixed_size_list(gtype):
        if isinstance(genome, (pa.Array, pa.ChunkedArray)):
            out["genome"] = genome
            values = np.asarray(pc_flatten(genome)).reshape(n, gtype.list_size)
        else:
            values = np.ascontiguousarray(genome, dtype=np.float64)
            if values.shape != (n, gtype.list_size):
                raise ValueError(
                    f"rows: 'genome' must be a [{n}, {gtype.list_size}] array, got {values.shape}"
                )
            out["genome"] = pa.FixedSizeListArray.from_arrays(
                pa.array(values.reshape(-1)), gtype.list_size
            )
        kind = (facts or {}).get("genome", {}).get("kind", "vector")
        out["genome_kind"] = columns.get("genome_kind", pa.repeat(kind, n))
        if "fingerprint" not in columns:
            out["fingerprint"] = vector_fingerprints(values)
    else:
        if "genome_kind" not in columns:
            raise ValueError("rows need a 'genome_kind' column (the run's genome is not a vector)")
        out["genome"] = genome
        out["genome_kind"] = columns["genome_kind"]
        if "fingerprint" not in columns:
            kinds = _pylist(columns["genome_kind"])
            texts = _pylist(genome)
            out["fingerprint"] = pa.array(
                [
                    fingerprint16(genome_from_json(k, json.loads(t)).fingerprint())
                    for k, t in zip(kinds, texts)
                ],
                pa.binary(16),
            )
    for key, value in columns.items():
        out.setdefault(key, value)
    score = np.asarray(_numpy(out.get("score", np.full(n, np.nan))), dtype=np.float64)
    finite = np.isfinite(score)
    all_finite = bool(finite.all())
    out["score"] = pa.array(score) if all_finite else pa.array(score, mask=~finite)
    if "status" not in out:
        out["status"] = (
            pa.repeat("ok", n) if all_finite else pc.if_else(pa.array(finite), "ok", "invalid")
        )
    arrays = []
    for f in schema:
        value = out[f.name] if f.name in out else _default(f, n, generation)
        if f.name == "descriptors" and isinstance(value, np.ndarray) and value.ndim == 2:
            value = pa.ListArray.from_arrays(
                np.arange(0, value.size + 1, max(value.shape[1], 1))[: n + 1],
                pa.array(value.reshape(-1), pa.float64()),
            )
        try:
            if not _is_arrow(value):
                value = pa.array(value, f.type)
            elif value.type != f.type:
                value = value.cast(f.type)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise ValueError(
                f"rows: column {f.name!r} cannot be stored as {f.type}: {exc}"
            ) from None
        if isinstance(value, pa.ChunkedArray):
            value = value.combine_chunks()
        if len(value) != n:
            raise ValueError(f"rows: column {f.name!r} has {len(value)} values, 'id' has {n}")
        arrays.append(value)
    return pa.Table.from_arrays(arrays, schema=schema)


_CONSTANT_DEFAULTS = {
    "operator": "init",
    "operator_params": "{}",
    "island": 0,
    "eval_seconds": 0.0,
    "tokens_in": 0,
    "tokens_out": 0,
    "cost_usd": 0.0,
}


def _default(f: pa.Field, n: int, generation: int) -> pa.Array:
    """The default column ``f`` for ``n`` rows."""
    if f.name == "generation":
        return pa.repeat(pa.scalar(generation, f.type), n)
    return _constant_default(f.name, n)


@functools.lru_cache(maxsize=64)
def _constant_default(name: str, n: int) -> pa.Array:
    """A default column that does not depend on the commit (immutable, so cached per size)."""
    f = SCHEMA.field(name)
    if f.name in _CONSTANT_DEFAULTS:
        return pa.repeat(pa.scalar(_CONSTANT_DEFAULTS[f.name], f.type), n)
    if pa.types.is_map(f.type):
        zeros = pa.array(np.zeros(n + 1, np.int32))
        return pa.MapArray.from_arrays(
            zeros, pa.array([], f.type.key_type), pa.array([], f.type.item_type)
        )
    if pa.types.is_list(f.type):
        return pa.ListArray.from_arrays(
            pa.array(np.zeros(n + 1, np.int32)), pa.array([], f.type.value_type)
        )
    return pa.nulls(n, f.type)


def pc_flatten(arr: Any) -> Any:
    return pc.list_flatten(arr).to_numpy(zero_copy_only=False)


def _is_arrow(value: Any) -> bool:
    return isinstance(value, (pa.Array, pa.ChunkedArray))


def _numpy(value: Any) -> Any:
    if _is_arrow(value):
        return value.to_numpy(zero_copy_only=False)
    return value


def _pylist(value: Any) -> list[Any]:
    return value.to_pylist() if _is_arrow(value) else list(value)


def from_row(row: dict[str, Any], facts: Mapping[str, Any] | None = None) -> Individual:
    """Rebuild an ``Individual`` from one stored row (as given by ``Table.to_pylist``)."""
    metrics = row["metrics"] or []
    if isinstance(metrics, dict):
        metrics = list(metrics.items())
    status = Status(row["status"])
    result = FitnessResult(
        score=row["score"] if row["score"] is not None else math.nan,
        metrics=dict(metrics),
        descriptors=tuple(row["descriptors"] or ()),
        status=status,
        error=row["error"] or "",
        feedback=row["feedback"] or "",
        eval_seconds=row["eval_seconds"] or 0.0,
    )
    genome = row["genome"]
    if isinstance(genome, list):  # a vector run: values only, bounds in the facts
        data: dict[str, Any] = {"values": genome}
        bounds = ((facts or {}).get("genome") or {}).get("bounds")
        if bounds:
            data["low"] = [b[0] for b in bounds]
            data["high"] = [b[1] for b in bounds]
        genome = data
    return Individual(
        id=row["id"],
        genome=genome_from_json(row["genome_kind"], genome),
        parent_ids=tuple(row["parent_ids"] or ()),
        operator=row["operator"],
        operator_params=json.loads(row["operator_params"] or "{}"),
        generation=row["generation"],
        island=row["island"],
        result=result,
        cost=Cost(row["tokens_in"] or 0, row["tokens_out"] or 0, row["cost_usd"] or 0.0),
    )


def from_table(table: pa.Table, facts: Mapping[str, Any] | None = None) -> list[Individual]:
    return [from_row(r, facts) for r in table.to_pylist()]
