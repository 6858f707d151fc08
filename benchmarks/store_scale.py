"""Benchmark 3: the run store at scale.

1,000,000 individuals appended through ``RunStore.commit`` in generations of 1,000 (each
with a small state, so every commit writes a part, a checkpoint and the manifest, fsynced),
against plain ``pyarrow.parquet.write_table`` of the same tables (no manifest, checkpoint or
fsync). Each individual's parent is the one 1,000 ids earlier, so the last individual has an
ancestry 999 generations deep. Then: ancestry query cold (first ``LineageIndex.load``) and
warm (cached index file), and the time to reopen the run for a resume.

    nice -n 10 .venv/bin/python -m benchmarks.store_scale [--gens 1000 --per-gen 1000]
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import tempfile
import time

import numpy as np
import pyarrow.parquet as pq

from evosearch.genomes import VectorGenome
from evosearch.individual import FitnessResult, Individual
from evosearch.store import LineageIndex, RunStore, to_table


def generation(g: int, n: int, rng: np.random.Generator) -> list[Individual]:
    values = rng.normal(size=(n, 2))
    out = []
    for k in range(n):
        i = g * n + k
        out.append(
            Individual(
                id=i,
                genome=VectorGenome(values[k]),
                parent_ids=(i - n,) if g else (),
                operator="vector.gaussian" if g else "init",
                generation=g,
                result=FitnessResult(score=-float(values[k] @ values[k]), eval_seconds=0.001),
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gens", type=int, default=1000)
    ap.add_argument("--per-gen", type=int, default=1000)
    ap.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    ap.add_argument("--raw-gens", type=int, default=100, help="baseline on the first N gens")
    args = ap.parse_args()
    root = pathlib.Path(args.dir or tempfile.mkdtemp(prefix="evosearch-scale-"))
    rng = np.random.default_rng(0)
    store = RunStore.create(root / "run", "name: scale\n")
    raw_dir = root / "raw"
    raw_dir.mkdir()
    t_store = t_raw = t_build = t_store_head = 0.0
    for g in range(args.gens):
        t = time.perf_counter()
        batch = generation(g, args.per_gen, rng)
        t_build += time.perf_counter() - t
        t = time.perf_counter()
        store.commit(batch, {"generation": g, "rng": rng.bit_generator.state}, generation=g)
        dt = time.perf_counter() - t
        t_store += dt
        if g < args.raw_gens:
            t_store_head += dt
            t = time.perf_counter()
            pq.write_table(to_table(batch), raw_dir / f"part-{g:06d}.parquet", compression="zstd")
            t_raw += time.perf_counter() - t
    store.close()
    rows = args.gens * args.per_gen
    print(f"appended {rows:,} individuals in {args.gens} commits of {args.per_gen}")
    print(f"  building Individual objects (not timed below): {t_build:.1f}s")
    head = min(args.gens, args.raw_gens) * args.per_gen
    print(f"  RunStore.commit: {t_store:.1f}s = {rows / t_store:,.0f} rows/s")
    print(
        f"  first {head:,} rows: RunStore.commit {head / t_store_head:,.0f} rows/s vs plain "
        f"to_table + pq.write_table (no manifest/checkpoint/fsync) {head / t_raw:,.0f} rows/s"
        f" | time ratio {t_store_head / t_raw:.2f}"
    )

    last = rows - 1
    reader = RunStore.open(root / "run")
    t = time.perf_counter()
    index = LineageIndex.load(reader)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    anc = index.ancestors(last)
    t_cold_query = time.perf_counter() - t
    assert len(anc) == args.gens - 1 and max(anc.values()) == args.gens - 1
    reader = RunStore.open(root / "run")
    t = time.perf_counter()
    anc_warm = LineageIndex.load(reader).ancestors(last)
    t_warm = time.perf_counter() - t
    assert anc_warm == anc
    print(f"ancestry of #{last} ({len(anc)} ancestors, {args.gens - 1} generations deep):")
    print(
        f"  cold: index build {t_load * 1e3:.0f} ms + query {t_cold_query * 1e3:.1f} ms = "
        f"{(t_load + t_cold_query) * 1e3:.0f} ms"
    )
    print(
        f"  warm (cached index/lineage.npz, fresh process state): {t_warm * 1e3:.1f} ms "
        f"(target < 100 ms: ratio to target {t_warm / 0.1:.2f})"
    )

    t = time.perf_counter()
    resumed = RunStore.open(root / "run", writable=True)
    state = resumed.load_checkpoint()
    LineageIndex.load(resumed)
    t_resume = time.perf_counter() - t
    resumed.close()
    assert state["generation"] == args.gens - 1
    print(
        f"resume (open writable + lock + orphan scan, load checkpoint, lineage index): "
        f"{t_resume * 1e3:.0f} ms"
    )
    size = sum(f.stat().st_size for f in (root / "run").rglob("*") if f.is_file())
    print(f"run directory: {size / 1e6:.0f} MB ({size / rows:.0f} bytes per individual)")
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
