"""Full records of individuals, read by id from the one part that holds each."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evosearch.store.runstore import RunStore


def records(store: RunStore, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Full JSON-able records of the given individuals (absent ids are left out).

    Reads only the parts whose id range holds a wanted id, with a row filter, several parts
    concurrently.
    """
    import pyarrow.compute as pc

    wanted = sorted(set(ids))
    tail = store.tail_table()
    tail = tail.filter(pc.is_in(tail["id"], pa.array(wanted, pa.int64())))
    jobs = []
    for p in store.parts:
        inside = [i for i in wanted if p["min_id"] <= i <= p["max_id"]]
        if inside:
            jobs.append((store.path / p["file"], inside))

    def read(job):
        path, inside = job
        return pq.read_table(path, filters=[("id", "in", inside)]).to_pylist()

    if len(jobs) > 1:
        with ThreadPoolExecutor(min(4, len(jobs))) as pool:
            results = list(pool.map(read, jobs))
    else:
        results = [read(j) for j in jobs]
    out: dict[int, dict[str, Any]] = {}
    for rows in [tail.to_pylist(), *results]:
        for row in rows:
            out.setdefault(row["id"], _record_json(row))
    return out


def _record_json(row: dict[str, Any]) -> dict[str, Any]:
    genome = _loads(row.get("genome"))
    if isinstance(genome, list):  # a vector run stores the values only (bounds: run facts)
        genome = {"values": genome}
    row["genome"] = genome
    if isinstance(row.get("fingerprint"), bytes):
        row["fingerprint"] = row["fingerprint"].hex()
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
