"""Full records of individuals, read by id from the one part that holds each."""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow.parquet as pq

from evosearch.store.runstore import RunStore


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
    row["metrics"] = {k: finite(v) for k, v in row["metrics"].items()}
    row["descriptors"] = [finite(v) for v in row.get("descriptors") or []]
    row["score"] = finite(row.get("score"))
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


def finite(v: Any) -> Any:
    return v if not isinstance(v, float) or math.isfinite(v) else None
