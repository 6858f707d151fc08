"""Weight-space benchmarks, side by side in one run (each figure a ratio to its baseline).

1. In-memory merge (Materialiser → mergekit ``merge_tensors``) vs the ``mergekit-yaml`` CLI on
   the same models and the same config.
2. Merge throughput (bytes read + written per second) as a ratio to this machine's memory
   copy bandwidth (``dst.copy_(src)`` of a 1 GB tensor, bytes read + written per second).
3. Peak RSS of a k-model merge above the resident pool, in units of one model (target ≤ 1).
4. Seeded noise regeneration (per-tensor generator from (seed, name)) vs ``torch.randn`` + add.

The ~1 GB random-init Llama-shaped checkpoints are generated from a config (no training, no
download) and cached under ``.cache/bench-models/`` (not committed).

Usage: nice -n 10 .venv/bin/python benchmarks/bench_weights.py [--size-gb 1.0] [--k 3]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's evosearch, also in the child process
CACHE = ROOT / ".cache" / "bench-models"


def model_config(size_gb: float) -> dict:
    """A Llama config of about ``size_gb`` GB in float32 (16 layers, width scaled)."""
    hidden = 1024 if size_gb >= 0.5 else 512
    layers = max(2, round(16 * size_gb / 1.08)) if hidden == 1024 else max(2, round(size_gb / 0.02))
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": 32000,
        "hidden_size": hidden,
        "intermediate_size": hidden * 11 // 4,
        "num_hidden_layers": layers,
        "num_attention_heads": 16,
        "num_key_value_heads": 16,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
    }


def make_models(k: int, size_gb: float) -> dict[str, pathlib.Path]:
    """``k`` random-init checkpoints (config.json + model.safetensors), cached."""
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = model_config(size_gb)
    out = {}
    for i in range(k):
        path = CACHE / f"llama-{size_gb:g}gb" / f"m{i}"
        out[f"m{i}"] = path
        if (path / "model.safetensors").exists():
            continue
        path.mkdir(parents=True, exist_ok=True)
        with torch.device("meta"):
            shapes = {
                n: p.shape for n, p in LlamaForCausalLM(LlamaConfig(**cfg)).state_dict().items()
            }
        gen = torch.Generator().manual_seed(i)
        tensors = {n: torch.randn(s, generator=gen) * 0.02 for n, s in shapes.items()}
        save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
        (path / "config.json").write_text(json.dumps(cfg))
        del tensors
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def child_merge(paths: dict[str, str], method: str, params: dict) -> dict:
    """Run in a fresh process: resident pool, then one merge; report times and RSS."""
    import torch

    from evosearch.genomes.weights import WeightsGenome as W
    from evosearch.models.materialise import Materialiser, state_bytes
    from evosearch.models.pool import ModelPool

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    pool = ModelPool(paths)
    for name in pool.names:  # memory-mapped: touch every page so the pool is resident
        for t in pool.state_dict(name).values():
            t.sum()
    load_s = time.perf_counter() - t0
    resident_rss = _current_rss_mb()
    model_bytes = state_bytes(pool.state_dict(pool.names[0]))
    parents = [W.base(n) for n in pool.names]
    base = 0 if method != "linear" else None
    genome = W.merge(method, parents, params, base=base)
    mat = Materialiser(pool, cache_bytes=0)
    t0 = time.perf_counter()
    sd = mat.state_dict(genome)
    merge_s = time.perf_counter() - t0
    peak_rss = _rss_mb()
    t0 = time.perf_counter()
    from safetensors.torch import save_file

    with tempfile.TemporaryDirectory() as tmp:
        save_file(sd, f"{tmp}/model.safetensors")
    write_s = time.perf_counter() - t0
    return {
        "load_s": load_s,
        "merge_s": merge_s,
        "write_s": write_s,
        "resident_rss_mb": resident_rss,
        "peak_rss_mb": peak_rss,
        "model_mb": model_bytes / 2**20,
        "k": len(parents),
    }


def copy_bandwidth(nbytes: int) -> float:
    """Memory copy bandwidth in bytes/s (read + write), best of 3."""
    import torch

    src = torch.empty(nbytes // 4, dtype=torch.float32).uniform_()
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def noise_bench(paths: dict[str, str]) -> dict:
    import torch

    from evosearch.models.noise import add_noise
    from evosearch.models.pool import ModelPool

    sd = ModelPool({"m0": paths["m0"]}).state_dict("m0")
    t0 = time.perf_counter()
    for name, t in sd.items():
        add_noise(t, 1234, name, 0.01)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in sd.values():
        torch.add(t, torch.randn(t.shape), alpha=0.01)
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name, t in sd.items():
        add_noise(t, 1234, name, 0.05, mask_p=0.1)
    masked = time.perf_counter() - t0
    return {"seeded_s": ours, "randn_add_s": plain, "seeded_masked_s": masked}


def run_cli(paths: dict[str, str], method: str, params: dict) -> float:
    import yaml

    from evosearch.genomes.weights import WeightsGenome as W
    from evosearch.models.export import mergekit_config
    from evosearch.models.pool import ModelPool

    pool = ModelPool(paths)
    base = 0 if method != "linear" else None
    genome = W.merge(method, [W.base(n) for n in pool.names], params, base=base)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = pathlib.Path(tmp) / "c.yml"
        cfg.write_text(yaml.safe_dump(mergekit_config(genome, pool)))
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mergekit.scripts.run_yaml", str(cfg), f"{tmp}/out", "--quiet"],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--k", type=int, default=3, help="models in the merge (base included)")
    ap.add_argument("--method", default="linear")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    params = {"weight": 0.5, "density": 0.5} if args.method != "linear" else {"weight": 1.0}
    if args.child:
        print(json.dumps(child_merge(json.loads(args.child), args.method, params)))
        return
    paths = {k: str(v) for k, v in make_models(args.k, args.size_gb).items()}
    env_cmd = [sys.executable, __file__, "--method", args.method, "--child", json.dumps(paths)]
    t0 = time.perf_counter()
    res = json.loads(
        subprocess.run(
            env_cmd, check=True, capture_output=True, text=True, cwd=ROOT
        ).stdout.splitlines()[-1]
    )
    inproc_total = time.perf_counter() - t0
    cli_s = run_cli(paths, args.method, params)
    model_bytes = res["model_mb"] * 2**20
    bw = copy_bandwidth(int(model_bytes))
    moved = (res["k"] + 1) * model_bytes
    thr = moved / res["merge_s"]
    extra = (res["peak_rss_mb"] - res["resident_rss_mb"]) / res["model_mb"]
    nz = noise_bench(paths)
    print(f"models: {args.k} x {res['model_mb']:.0f} MiB float32 (Llama-shaped, random init)")
    print(f"method: {args.method} {params}")
    print("\n1. in-memory vs mergekit-yaml CLI (same models, same config)")
    print(f"   mergekit-yaml CLI (process, load, merge, write): {cli_s:8.2f} s")
    print(
        f"   evosearch, fresh process (load+merge+write):     {inproc_total:8.2f} s"
        f"  ratio CLI/ours {cli_s / inproc_total:5.2f}x"
    )
    print(
        f"   evosearch, pool resident (merge only):           {res['merge_s']:8.2f} s"
        f"  ratio CLI/ours {cli_s / res['merge_s']:5.2f}x"
    )
    print("\n2. merge throughput vs memory copy bandwidth")
    print(f"   copy bandwidth (read+write): {bw / 1e9:6.2f} GB/s")
    print(
        f"   merge throughput ({args.k} in + 1 out): {thr / 1e9:6.2f} GB/s  ratio {thr / bw:5.3f}"
    )
    print("\n3. peak RSS of the merge above the resident pool")
    print(
        f"   resident pool: {res['resident_rss_mb']:.0f} MiB, peak: {res['peak_rss_mb']:.0f} MiB,"
        f" extra = {extra:.2f} models (target <= 1)"
    )
    print("\n4. noise regeneration (all tensors of one model)")
    print(f"   torch.randn + add:            {nz['randn_add_s']:6.2f} s")
    print(
        f"   seeded per tensor (evosearch): {nz['seeded_s']:6.2f} s"
        f"  ratio {nz['seeded_s'] / nz['randn_add_s']:5.2f}x"
    )
    print(
        f"   seeded + Bernoulli mask p=0.1: {nz['seeded_masked_s']:6.2f} s"
        f"  ratio {nz['seeded_masked_s'] / nz['randn_add_s']:5.2f}x"
    )


if __name__ == "__main__":
    main()
