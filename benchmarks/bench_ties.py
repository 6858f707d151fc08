"""TIES merge speed: ``fast_ties`` (selection threshold, fused kernel) vs mergekit's kernel.

On three random-init Llama-shaped float32 checkpoints (base + 2, each about ``--size-gb``;
cached under ``.cache/bench-models/`` by ``bench_weights.make_models``), resident in memory:

1. mergekit's ``ties`` (``merge_tensors``, whole-tensor ``argsort``): once (it is slow).
2. ``fast_ties`` through the same ``Materialiser`` path: 3 runs, interleaved with
3. a memory copy of one model's tensors (``dst.copy_(src)``, read + write bytes per second).

Throughput counts 3 models read + 1 written per merge, as ``bench_weights.py`` does; the
figure is its ratio to the copy bandwidth measured side by side (min and median of 3).
Equality: every tensor is compared with mergekit's; a tensor that differs is checked to differ
only where ``|δ|`` equals the threshold (an exact tie at rank k, where mergekit's argsort
order is unspecified).

Usage: nice -n 5 .venv/bin/python benchmarks/bench_ties.py [--size-gb 0.5] [--density 0.5]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    import os

    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # as importing evosearch before torch does
    import torch
    from bench_weights import make_models

    from evosearch.genomes.weights import WeightsGenome as W
    from evosearch.models import merging
    from evosearch.models.pool import ModelPool

    ap = argparse.ArgumentParser()
    ap.add_argument("--size-gb", type=float, default=0.5)
    ap.add_argument("--density", type=float, default=0.5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-mergekit", action="store_true")
    args = ap.parse_args()
    dev = torch.device(args.device)
    pool = ModelPool({k: str(v) for k, v in make_models(3, args.size_gb).items()}, device=dev)
    parents = [pool.state_dict(n) for n in pool.names]
    for sd in parents:  # memory-mapped: touch every page so the pool is resident
        for t in sd.values():
            t.sum()
    names = pool.tensor_names
    model_bytes = sum(t.numel() * t.element_size() for t in parents[0].values())
    genome = W.merge(
        "ties",
        [W.base(n) for n in pool.names],
        {"weight": [0.6, 0.9], "density": args.density},
        base=0,
    )
    node = genome.recipe

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def fast() -> tuple[float, dict]:
        sync()
        t0 = time.perf_counter()
        out = merging.merge_node(node, parents, names, dev, fast=True)
        sync()
        return time.perf_counter() - t0, out

    dst = {k: torch.empty_like(v) for k, v in parents[0].items()}

    def copy() -> float:
        sync()
        t0 = time.perf_counter()
        for k, v in parents[0].items():
            dst[k].copy_(v)
        sync()
        return time.perf_counter() - t0

    fast()  # compile the kernels (numba caches them on disk)
    copy()  # fault in the copy's destination pages (a cold first copy ran ~10x slower)
    fast_s, copy_s = [], []
    for _ in range(3):
        s, ours = fast()
        fast_s.append(s)
        copy_s.append(copy())
    moved = 4 * model_bytes
    bw = [2 * model_bytes / s for s in copy_s]
    thr = [moved / s for s in fast_s]
    print(f"models: 3 x {model_bytes / 2**20:.0f} MiB float32, ties density {args.density}")
    print(f"device: {dev}, torch threads {torch.get_num_threads()}")
    print(
        f"copy bandwidth (read+write): min-time {max(bw) / 1e9:.2f} GB/s, "
        f"median {statistics.median(bw) / 1e9:.2f} GB/s"
    )
    print(
        f"fast TIES: min {min(fast_s):.2f} s, median {statistics.median(fast_s):.2f} s; "
        f"throughput {max(thr) / 1e9:.2f} GB/s (best), {statistics.median(thr) / 1e9:.2f} (median)"
    )
    ratios = sorted(t / b for t, b in zip(thr, bw))
    print(
        f"ratio to copy bandwidth (per interleaved pair): min {ratios[0]:.3f}, "
        f"median {ratios[1]:.3f}, max {ratios[2]:.3f}"
    )
    if args.skip_mergekit:
        return
    sync()
    t0 = time.perf_counter()
    ref = merging.merge_node(node, parents, names, dev, fast=False)
    sync()
    mk_s = time.perf_counter() - t0
    speedup = mk_s / statistics.median(fast_s)
    print(
        f"mergekit TIES: {mk_s:.2f} s  (fast TIES median is {speedup:.1f}x faster; "
        f"mergekit ratio to copy {moved / mk_s / statistics.median(bw):.4f})"
    )
    equal, tied, other = 0, 0, 0
    for k in names:
        if torch.equal(ours[k], ref[k]):
            equal += 1
            continue
        # differing elements must sit exactly at a model's threshold (a tie at rank k)
        diff = ours[k] != ref[k]
        base = parents[0][k]
        at_tie = torch.zeros_like(diff)
        for sd in parents[1:]:
            d = (sd[k] - base).abs().float().reshape(-1)
            kk = max(1, int(args.density * d.numel()))
            t = d.kthvalue(d.numel() - kk + 1).values
            at_tie |= (sd[k] - base).abs().float() == t
        if bool((diff & ~at_tie).any()):
            other += 1
        else:
            tied += 1
    print(
        f"tensors bit-identical to mergekit: {equal}/{len(names)}; differing only at exact "
        f"threshold ties: {tied}; differing elsewhere: {other}"
    )


if __name__ == "__main__":
    main()
