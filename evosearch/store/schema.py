"""The Parquet schema of stored individuals and conversion to and from ``Individual``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from evosearch.genomes.base import genome_from_json
from evosearch.individual import Cost, FitnessResult, Individual, Status

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("parent_ids", pa.list_(pa.int64())),
        pa.field("operator", pa.string()),
        pa.field("operator_params", pa.string()),  # JSON
        pa.field("generation", pa.int32()),
        pa.field("island", pa.int32()),
        pa.field("genome_kind", pa.string()),
        pa.field("genome", pa.string()),  # JSON, see the genome kind's to_json
        pa.field("fingerprint", pa.string()),
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
    ],
    metadata={"format": "evosearch-individuals/1"},
)

# Columns whose values depend on timing, excluded when comparing runs for determinism.
TIMING_COLUMNS = ("eval_seconds",)


_NEVER_EVALUATED = FitnessResult.failure(Status.INVALID, "never evaluated")
# Prebuilt encoders: json.dumps(..., sort_keys=True) builds a new encoder per call.
_encode_params = json.JSONEncoder(sort_keys=True, default=str).encode
_encode_genome = json.JSONEncoder(sort_keys=True).encode


def to_table(individuals: Sequence[Individual]) -> pa.Table:
    """Individuals (evaluated or failed) as a table with ``SCHEMA``.

    Built column by column: this runs for every committed individual, so it is kept lean.
    """
    inds = list(individuals)
    res = [i.result or _NEVER_EVALUATED for i in inds]
    cols: dict[str, list[Any]] = {
        "id": [i.id for i in inds],
        "parent_ids": [list(i.parent_ids) for i in inds],
        "operator": [i.operator for i in inds],
        "operator_params": [
            _encode_params(i.operator_params) if i.operator_params else "{}" for i in inds
        ],
        "generation": [i.generation for i in inds],
        "island": [i.island for i in inds],
        "genome_kind": [i.genome.kind for i in inds],
        "genome": [_encode_genome(i.genome.to_json()) for i in inds],
        "fingerprint": [i.genome.fingerprint() for i in inds],
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
    return pa.table(cols, schema=SCHEMA)


def from_row(row: dict[str, Any]) -> Individual:
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
    return Individual(
        id=row["id"],
        genome=genome_from_json(row["genome_kind"], row["genome"]),
        parent_ids=tuple(row["parent_ids"] or ()),
        operator=row["operator"],
        operator_params=json.loads(row["operator_params"] or "{}"),
        generation=row["generation"],
        island=row["island"],
        result=result,
        cost=Cost(row["tokens_in"] or 0, row["tokens_out"] or 0, row["cost_usd"] or 0.0),
    )


def from_table(table: pa.Table) -> list[Individual]:
    return [from_row(r) for r in table.to_pylist()]
