"""MAP-Elites on pyribs' 12-joint planar arm: evosearch vs pyribs, side by side in one run.

1. End to end at the same evaluation budget: evosearch's engine with the vectorised
   ``map_elites`` strategy (uniform parents from the elites + Gaussian mutation σ=0.1 +
   ``grid`` archive 100×100, a durable commit per generation) vs pyribs' own MAP-Elites
   (``GridArchive`` + ``GaussianEmitter`` σ=0.1 + ``Scheduler``), same batch size, same start
   (x0 = 0 plus N(0, σ²)), same bounds [-π, π]¹². Reports wall time, coverage and QD-score
   (offset -π², so every elite counts ≥ 0) and their ratios.
2. Insertion throughput: ``grid`` archive ``add_columns`` (arrays) and ``add``
   (individuals) vs ``ribs.archives.GridArchive.add`` on the same arrays, 100×100 cells.

Run: ``nice -n 10 .venv/bin/python benchmarks/archives_arm.py`` (100,000 evaluations, 3 seeds)
"""

from __future__ import annotations

import argparse
import math
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np
from ribs.archives import GridArchive as RibsGrid
from ribs.emitters import GaussianEmitter
from ribs.schedulers import Scheduler

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from evosearch.archives.grid import GridArchive  # noqa: E402
from evosearch.engine import Engine  # noqa: E402
from evosearch.genomes.vector import VectorGenome  # noqa: E402
from evosearch.individual import FitnessResult, Individual  # noqa: E402
from evosearch.tasks.arm import arm_simulate  # noqa: E402

DOF, CELLS, BOUND = 12, [100, 100], 12.0
OFFSET = -(math.pi**2)


def map_elites_config(evals: int, batch: int, seed: int, per_commit: int = 1) -> dict:
    """The same MAP-Elites as ribs' loop below, as evosearch's vectorised ``map_elites``."""
    return {
        "name": "map-elites-arm",
        "seed": seed,
        "budget": {"evaluations": evals},
        "fitness": {"ref": "arm", "params": {"link_length": 1.0}, "timeout": None},
        "strategy": {
            "ref": "map_elites",
            "params": {
                "dimension": DOF,
                "low": -math.pi,
                "high": math.pi,
                "population_size": batch,
                "sigma": 0.1,
                "x0": 0.0,
                "archive": {
                    "ref": "grid",
                    "params": {"dims": CELLS, "ranges": [[-BOUND, BOUND]] * 2,
                               "qd_offset": OFFSET},
                },
            },
        },
        "store": {"generations_per_commit": per_commit},
    }


def run_evosearch(evals: int, batch: int, seed: int, per_commit: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.create(
            map_elites_config(evals, batch, seed, per_commit), pathlib.Path(tmp) / "run"
        )
        t = time.perf_counter()
        engine.run()
        elapsed = time.perf_counter() - t
        stats = engine.strategy.archive.stats()
    return {
        "coverage": stats.coverage,
        "qd_score": stats.qd_score,
        "best": stats.best,
        "seconds": elapsed,
    }


def run_ribs(evals: int, batch: int, seed: int) -> dict:
    archive = RibsGrid(  # the archive's seed drives its uniform sampling of parents
        solution_dim=DOF,
        dims=CELLS,
        ranges=[(-BOUND, BOUND)] * 2,
        qd_score_offset=OFFSET,
        seed=seed,
    )
    emitter = GaussianEmitter(
        archive,
        sigma=0.1,
        x0=np.zeros(DOF),
        bounds=[(-math.pi, math.pi)] * DOF,
        batch_size=batch,
        seed=seed,
    )
    scheduler = Scheduler(archive, [emitter])
    lengths = np.ones(DOF)
    t = time.perf_counter()
    for _ in range(evals // batch):
        sols = scheduler.ask()
        obj, meas = arm_simulate(sols, lengths)
        scheduler.tell(obj, meas)
    elapsed = time.perf_counter() - t
    s = archive.stats
    return {
        "coverage": float(s.coverage),
        "qd_score": float(s.qd_score),
        "best": float(s.obj_max),
        "seconds": elapsed,
    }


def throughput(batches: int, batch: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    angles = rng.uniform(-math.pi, math.pi, size=(batches, batch, DOF)) * rng.uniform(
        0, 1, size=(batches, batch, 1)
    )
    data = [arm_simulate(a, np.ones(DOF)) for a in angles]
    inds = []
    next_id = 0
    for a, (obj, meas) in zip(angles, data):
        chunk = []
        for x, o, m in zip(a, obj, meas):
            res = FitnessResult(score=float(o), descriptors=(float(m[0]), float(m[1])))
            chunk.append(Individual(id=next_id, genome=VectorGenome(x), result=res))
            next_id += 1
        inds.append(chunk)
    ours, theirs, objects = [], [], []
    ids = np.arange(batches * batch, dtype=np.int64).reshape(batches, batch)
    for _ in range(repeats):
        a = GridArchive(dims=CELLS, ranges=[(-BOUND, BOUND)] * 2, qd_offset=OFFSET)
        a.add(inds[0][:10])  # warm up pyribs' numba kernels outside the timing
        a = GridArchive(dims=CELLS, ranges=[(-BOUND, BOUND)] * 2, qd_offset=OFFSET)
        t = time.perf_counter()
        for chunk in inds:
            a.add(chunk)
        objects.append(time.perf_counter() - t)
        a = GridArchive(dims=CELLS, ranges=[(-BOUND, BOUND)] * 2, qd_offset=OFFSET)
        t = time.perf_counter()
        for i, (x, (obj, meas)) in enumerate(zip(angles, data)):
            a.add_columns(ids[i], obj, meas, genomes=x)
        ours.append(time.perf_counter() - t)
        r = RibsGrid(solution_dim=DOF, dims=CELLS, ranges=[(-BOUND, BOUND)] * 2)
        t = time.perf_counter()
        for x, (obj, meas) in zip(angles, data):
            r.add(x, obj, meas)
        theirs.append(time.perf_counter() - t)
        assert a.stats().archive_size == r.stats.num_elites
    n = batches * batch
    return {
        "ours": (n / min(ours), n / statistics.median(ours)),
        "objects": (n / min(objects), n / statistics.median(objects)),
        "ribs": (n / min(theirs), n / statistics.median(theirs)),
        "elites": a.stats().archive_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evals", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--insert-batches", type=int, default=100)
    ap.add_argument("--insert-batch", type=int, default=1000)
    args = ap.parse_args()

    print(
        f"== MAP-Elites, planar arm ({DOF} joints), grid {CELLS[0]}x{CELLS[1]}, "
        f"{args.evals} evaluations, batch {args.batch}; evosearch map_elites with a durable "
        "commit per generation (and every 10) vs ribs' Scheduler loop (keeps nothing)"
    )
    print(f"{'seed':>4} {'':22} {'coverage':>9} {'QD-score':>10} {'best':>9} {'seconds':>8}")
    rows: dict[str, list[dict]] = {"evosearch": [], "evosearch (10 gen/commit)": [], "ribs": []}
    run_evosearch(2 * args.batch, args.batch, 0)  # warm imports and numba kernels
    run_ribs(2 * args.batch, args.batch, 0)
    for seed in range(args.seeds):  # interleaved
        results = {
            "evosearch": run_evosearch(args.evals, args.batch, seed),
            "evosearch (10 gen/commit)": run_evosearch(args.evals, args.batch, seed, 10),
            "ribs": run_ribs(args.evals, args.batch, seed),
        }
        for name, r in results.items():
            rows[name].append(r)
            print(
                f"{seed:>4} {name:22} {r['coverage']:9.4f} {r['qd_score']:10.1f} "
                f"{r['best']:9.5f} {r['seconds']:8.2f}"
            )
    rb = rows["ribs"]
    for name in ("evosearch", "evosearch (10 gen/commit)"):
        ev = rows[name]
        t_min = min(r["seconds"] for r in ev) / min(r["seconds"] for r in rb)
        t_med = statistics.median(r["seconds"] for r in ev) / statistics.median(
            r["seconds"] for r in rb
        )
        qd = np.mean([e["qd_score"] / r["qd_score"] for e, r in zip(ev, rb)])
        cov = np.mean([e["coverage"] / r["coverage"] for e, r in zip(ev, rb)])
        print(f"{name}/ribs: wall min {t_min:.2f} median {t_med:.2f}; QD-score {qd:.3f}, "
              f"coverage {cov:.3f} (mean over seeds)")

    print(f"\n== Insertion throughput, {args.insert_batches} batches of {args.insert_batch}")
    tp = throughput(args.insert_batches, args.insert_batch, repeats=3)
    for key, label in (("ours", "evosearch grid.add_columns(arrays)"),
                       ("objects", "evosearch grid.add(individuals)"),
                       ("ribs", "ribs GridArchive.add(arrays)")):
        best, med = tp[key]
        print(f"{label:36s} {best:12,.0f} insertions/s (min time) {med:12,.0f} (median)")
    for key in ("ours", "objects"):
        print(f"ratio {key}/ribs: {tp[key][0] / tp['ribs'][0]:.3f} (min) "
              f"{tp[key][1] / tp['ribs'][1]:.3f} (median), {tp['elites']} elites")


if __name__ == "__main__":
    main()
