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


def to_table(individuals: Sequence[Individual]) -> pa.Table:
    """Individuals (evaluated or failed) as a table with ``SCHEMA``."""
    cols: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
    for ind in individuals:
        res = ind.result or FitnessResult.failure(Status.INVALID, "never evaluated")
        cost = ind.cost + res.cost
        cols["id"].append(ind.id)
        cols["parent_ids"].append(list(ind.parent_ids))
        cols["operator"].append(ind.operator)
        cols["operator_params"].append(json.dumps(ind.operator_params, sort_keys=True, default=str))
        cols["generation"].append(ind.generation)
        cols["island"].append(ind.island)
        cols["genome_kind"].append(ind.genome.kind)
        cols["genome"].append(json.dumps(ind.genome.to_json(), sort_keys=True))
        cols["fingerprint"].append(ind.genome.fingerprint())
        cols["status"].append(res.status.value)
        ok = res.status is Status.OK and math.isfinite(res.score)
        cols["score"].append(res.score if ok else None)
        cols["metrics"].append(list(res.metrics.items()))
        cols["descriptors"].append(list(res.descriptors))
        cols["error"].append(res.error)
        cols["feedback"].append(res.feedback)
        cols["eval_seconds"].append(res.eval_seconds)
        cols["tokens_in"].append(cost.tokens_in)
        cols["tokens_out"].append(cost.tokens_out)
        cols["cost_usd"].append(cost.usd)
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
