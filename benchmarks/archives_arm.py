"""MAP-Elites on pyribs' 12-joint planar arm: evosearch vs pyribs, side by side in one run.

1. QD at the same evaluation budget: evosearch's engine (``examples/map-elites-arm.yaml``:
   ArchiveStrategy + uniform parent selection + Gaussian mutation σ=0.1 + ``grid`` archive
   100×100) vs pyribs' own MAP-Elites (``GridArchive`` + ``GaussianEmitter`` σ=0.1 +
   ``Scheduler``), same batch size, same start (x0 = 0 plus N(0, σ²)), same bounds [-π, π]¹².
   Reports coverage and QD-score (offset -π², so every elite counts ≥ 0) and their ratios.
2. Insertion throughput: ``grid`` archive ``add`` (batches of evaluated individuals) vs
   ``ribs.archives.GridArchive.add`` on the same arrays, 100×100 cells.

Run: ``nice -n 10 .venv/bin/python benchmarks/archives_arm.py`` (100,000 evaluations, 3 seeds)
"""

from __future__ import annotations

import argparse
import math
import pathlib
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
from evosearch.fitness.arm import arm_simulate  # noqa: E402
from evosearch.genomes.vector import VectorGenome  # noqa: E402
from evosearch.individual import FitnessResult, Individual  # noqa: E402

DOF, CELLS, BOUND = 12, [100, 100], 12.0
OFFSET = -(math.pi**2)
CONFIG = pathlib.Path(__file__).resolve().parents[1] / "examples" / "map-elites-arm.yaml"


def run_evosearch(evals: int, batch: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.create(
            CONFIG,
            pathlib.Path(tmp) / "run",
            overrides=[
                f"budget.evaluations={evals}",
                f"seed={seed}",
                f"strategy.params.batch_size={batch}",
            ],
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
    ours, theirs = [], []
    for _ in range(repeats):
        a = GridArchive(dims=CELLS, ranges=[(-BOUND, BOUND)] * 2, qd_offset=OFFSET)
        a.add(inds[0][:10])  # warm up pyribs' numba kernels outside the timing
        a = GridArchive(dims=CELLS, ranges=[(-BOUND, BOUND)] * 2, qd_offset=OFFSET)
        t = time.perf_counter()
        for chunk in inds:
            a.add(chunk)
        ours.append(time.perf_counter() - t)
        r = RibsGrid(solution_dim=DOF, dims=CELLS, ranges=[(-BOUND, BOUND)] * 2)
        t = time.perf_counter()
        for x, (obj, meas) in zip(angles, data):
            r.add(x, obj, meas)
        theirs.append(time.perf_counter() - t)
        assert a.stats().archive_size == r.stats.num_elites
    n = batches * batch
    return {"ours": n / min(ours), "ribs": n / min(theirs), "elites": a.stats().archive_size}


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
        f"{args.evals} evaluations, batch {args.batch}"
    )
    print(f"{'seed':>4} {'':10} {'coverage':>9} {'QD-score':>10} {'best':>9} {'seconds':>8}")
    ratios = []
    for seed in range(args.seeds):
        ev = run_evosearch(args.evals, args.batch, seed)
        rb = run_ribs(args.evals, args.batch, seed)
        for name, r in (("evosearch", ev), ("ribs", rb)):
            print(
                f"{seed:>4} {name:10} {r['coverage']:9.4f} {r['qd_score']:10.1f} "
                f"{r['best']:9.5f} {r['seconds']:8.1f}"
            )
        ratios.append((ev["coverage"] / rb["coverage"], ev["qd_score"] / rb["qd_score"]))
    cov, qd = np.mean(ratios, axis=0)
    print(f"ratio evosearch/ribs (mean over seeds): coverage {cov:.3f}, QD-score {qd:.3f}")

    print(f"\n== Insertion throughput, {args.insert_batches} batches of {args.insert_batch}")
    tp = throughput(args.insert_batches, args.insert_batch, repeats=3)
    print(f"evosearch grid.add(individuals): {tp['ours']:12,.0f} insertions/s")
    print(f"ribs GridArchive.add(arrays):    {tp['ribs']:12,.0f} insertions/s")
    print(f"ratio evosearch/ribs: {tp['ours'] / tp['ribs']:.3f} ({tp['elites']} elites)")


if __name__ == "__main__":
    main()
