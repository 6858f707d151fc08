"""Benchmark 3: the run store at scale (issue 11 targets).

1. **Durable appends**: 1,000,000 individuals of a 10-d vector run committed through
   ``RunStore.commit`` in 1,000-row commits (dict of numpy columns + a small numeric state,
   one fdatasync each, compaction to Parquet every 64 commits and at close), side by side with
   plain pyarrow appending the same record batches to an fdatasync'ed Arrow IPC file (no
   state, checksum, dedup or compaction). Target >= 250k rows/s.
2. **top-k(10) on a freshly opened run**: ``RunStore.open`` + ``top_k`` (reads only the parts
   whose max score can win), against reading every part's ``id``/``score`` and sorting.
   Target < 50 ms.
3. **Ancestry 1,000 generations deep, cold**: ``RunStore.open`` + ``LineageIndex`` +
   ``ancestors`` of the last individual (parent = the id 1,000 earlier), against building
   the parent links from every part (the format-1 way). Target < 10 ms.

Runs interleave (store, baseline, store, ...); min and median of 3.

    nice -n 5 .venv/bin/python -m benchmarks.store_scale [--gens 1000 --per-gen 1000]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evosearch.store import RunStore
from evosearch.store.queries import LineageIndex, top_k

D = 10


def commits(gens: int, n: int):
    rng = np.random.default_rng(0)
    for g in range(gens):
        ids = np.arange(g * n, (g + 1) * n, dtype=np.int64)
        genome = rng.normal(size=(n, D))
        parents = pa.ListArray.from_arrays(
            pa.array(np.arange(n + 1, dtype=np.int32) if g else np.zeros(n + 1, np.int32)),
            pa.array(ids - n if g else np.empty(0, np.int64)),
        )
        yield g, {
            "id": ids,
            "genome": genome,
            "score": -np.einsum("ij,ij->i", genome, genome),
            "parent_ids": parents,
            "operator": pa.repeat("ga" if g else "init", n),
            "generation": np.full(n, g, np.int32),
        }


def write_store(root: pathlib.Path, gens: int, n: int) -> float:
    facts = {"genome": {"kind": "vector", "dimension": D, "bounds": [[-5.0, 5.0]] * D}}
    data = list(commits(gens, n))
    t = time.perf_counter()
    store = RunStore.create(root, "name: scale\n", facts=facts)
    mean = np.zeros(D)
    for g, cols in data:
        state = {"generation": g, "mean": mean, "rng": {"state": 2**64 + g}}
        store.commit(cols, state, generation=g, counters={"generation": g})
    store.close()
    return time.perf_counter() - t


def write_raw(root: pathlib.Path, gens: int, n: int) -> float:
    """Plain pyarrow: the same batches appended to one IPC stream, fdatasync'ed per batch."""
    facts = {"genome": {"kind": "vector", "dimension": D}}
    from evosearch.store.schema import columns_to_table, row_schema

    schema = row_schema(facts)
    batches = [
        columns_to_table(c, schema, generation=g, facts=facts).to_batches()[0]
        for g, c in commits(gens, n)
    ]
    root.mkdir(parents=True)
    t = time.perf_counter()
    with open(root / "raw.arrows", "wb") as fh, pa.ipc.new_stream(fh, schema) as w:
        for b in batches:
            w.write_batch(b)
            fh.flush()
            os.fdatasync(fh.fileno())
    return time.perf_counter() - t


def top_k_fresh(run: pathlib.Path) -> tuple[float, list[int]]:
    t = time.perf_counter()
    best = top_k(RunStore.open(run), 10)["id"].to_pylist()
    return time.perf_counter() - t, best


def top_k_scan(run: pathlib.Path) -> tuple[float, list[int]]:
    t = time.perf_counter()
    table = pq.read_table(run / "individuals", columns=["id", "score"])
    idx = pc.sort_indices(table, sort_keys=[("score", "descending"), ("id", "ascending")])
    best = table.take(idx[:10])["id"].to_pylist()
    return time.perf_counter() - t, best


def ancestors_cold(run: pathlib.Path, node: int) -> tuple[float, dict[int, int]]:
    t = time.perf_counter()
    anc = LineageIndex(RunStore.open(run)).ancestors(node)
    return time.perf_counter() - t, anc


def ancestors_scan(run: pathlib.Path, node: int) -> tuple[float, int]:
    t = time.perf_counter()
    table = pq.read_table(run / "individuals", columns=["id", "parent_ids"])
    ids = table["id"].to_numpy()
    col = table["parent_ids"].combine_chunks()
    offsets = col.offsets.to_numpy()
    flat = col.values.to_numpy()
    row = {int(i): k for k, i in enumerate(ids)}
    seen, frontier = 0, [node]
    while frontier:
        k = row[frontier.pop()]
        parents = flat[offsets[k] : offsets[k + 1]].tolist()
        seen += len(parents)
        frontier.extend(parents)
    return time.perf_counter() - t, seen


def fmt(xs: list[float], unit: float = 1e3) -> str:
    return f"min {min(xs) * unit:.1f} median {statistics.median(xs) * unit:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gens", type=int, default=1000)
    ap.add_argument("--per-gen", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    args = ap.parse_args()
    base = pathlib.Path(args.dir or tempfile.mkdtemp(prefix="evosearch-scale-"))
    rows = args.gens * args.per_gen
    t_store, t_raw = [], []
    run = base / "run-0"
    for r in range(args.repeats):
        t_store.append(write_store(base / f"run-{r}", args.gens, args.per_gen))
        t_raw.append(write_raw(base / f"raw-{r}", args.gens, args.per_gen))
        shutil.rmtree(base / f"raw-{r}")
        if r:
            shutil.rmtree(base / f"run-{r}")
    rate = [rows / t for t in t_store]
    raw_rate = [rows / t for t in t_raw]
    print(f"1. {rows:,} rows in {args.gens} durable commits of {args.per_gen} (D={D}):")
    print(
        f"   RunStore.commit: min {min(t_store):.2f}s median {statistics.median(t_store):.2f}s"
        f" = best {max(rate):,.0f} rows/s, median {statistics.median(rate):,.0f} rows/s"
        f" (target >= 250,000)"
    )
    print(
        f"   plain pyarrow IPC + fdatasync: min {min(t_raw):.2f}s = best {max(raw_rate):,.0f}"
        f" rows/s | time ratio store/raw: min {min(a / b for a, b in zip(t_store, t_raw)):.2f}"
        f" median {statistics.median(a / b for a, b in zip(t_store, t_raw)):.2f}"
    )
    store = RunStore.open(run)
    print(f"   parts: {len(store.parts)}, run directory "
          f"{sum(f.stat().st_size for f in run.rglob('*') if f.is_file()) / 1e6:.0f} MB")

    tk, tk_scan, ref = [], [], None
    for _ in range(args.repeats):
        dt, best = top_k_fresh(run)
        tk.append(dt)
        dt, ref = top_k_scan(run)
        tk_scan.append(dt)
        assert best == ref, (best, ref)
    print(f"2. top-k(10) on a freshly opened {rows:,}-row run: {fmt(tk)} ms (target < 50 ms)")
    print(
        f"   every part's id/score read and sorted: {fmt(tk_scan)} ms | ratio "
        f"{min(tk) / min(tk_scan):.2f} (min) "
        f"{statistics.median(tk) / statistics.median(tk_scan):.2f}"
        " (median)"
    )

    last = rows - 1
    an, an_scan = [], []
    for _ in range(args.repeats):
        dt, anc = ancestors_cold(run, last)
        an.append(dt)
        assert len(anc) == args.gens - 1 and max(anc.values()) == args.gens - 1
        dt, seen = ancestors_scan(run, last)
        an_scan.append(dt)
        assert seen == args.gens - 1
    print(
        f"3. ancestors of #{last} ({args.gens - 1} generations deep), cold (open + index + walk):"
        f" {fmt(an)} ms (target < 10 ms)"
    )
    print(
        f"   parent links built from every part: {fmt(an_scan)} ms | ratio "
        f"{min(an) / min(an_scan):.3f} (min)"
    )
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
