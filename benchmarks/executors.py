"""Evaluations per second of serial, joblib processes and Ray for a 50 ms fitness.

Usage:
    nice -n 10 .venv/bin/python benchmarks/executors.py [--evals 80] [--noop 400]

Each executor evaluates the same genomes, two workers each (ideal: 2x serial), measured
after a warm-up batch so process and actor start-up is excluded (reported separately).
Then a no-op fitness measures what Ray adds per evaluation (scheduling + transfer).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from evosearch.config import FitnessConfig  # noqa: E402
from evosearch.fitness.base import FitnessContext, FitnessSpec  # noqa: E402
from evosearch.genomes.vector import VectorGenome  # noqa: E402


def spec(ref: str) -> FitnessSpec:
    return FitnessSpec.from_config(FitnessConfig(ref=f"bench_fitness:{ref}", timeout=60))


def batch(n: int, offset: int = 0):
    genomes = [VectorGenome([float(i), 1.0]) for i in range(offset, offset + n)]
    ctxs = [FitnessContext(seed=offset + i, individual_id=offset + i) for i in range(n)]
    return genomes, ctxs


def measure(ex, s: FitnessSpec, n: int) -> tuple[float, float]:
    """(start-up seconds of the first 2-evaluation batch, evaluations/s of ``n`` more)."""
    t0 = time.perf_counter()
    ex.evaluate(s, *batch(2, 10_000))
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = ex.evaluate(s, *batch(n))
    elapsed = time.perf_counter() - t0
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:1]
    return startup, n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=80)
    parser.add_argument("--noop", type=int, default=400)
    args = parser.parse_args()

    from evosearch.executors.processes import ProcessExecutor
    from evosearch.executors.ray import RayExecutor, init_local
    from evosearch.executors.serial import SerialExecutor

    t0 = time.perf_counter()
    init_local(num_cpus=2)
    ray_init = time.perf_counter() - t0
    make = {
        "serial": lambda: SerialExecutor(),
        "processes (joblib/loky, 2)": lambda: ProcessExecutor(workers=2),
        "ray actors (2)": lambda: RayExecutor(workers=2),
        "ray tasks (2)": lambda: RayExecutor(workers=2, actors=False),
    }
    rows = []
    for fitness in ("sleep_50ms", "busy_50ms"):
        s = spec(fitness)
        base = None
        for name, factory in make.items():
            ex = factory()
            n = args.evals // 2 if name == "serial" else args.evals
            startup, rate = measure(ex, s, n)
            ex.close()
            base = base or rate
            rows.append((fitness, name, rate, rate / base, startup))
    print(f"\nRay local start-up (ray.init, num_cpus=2): {ray_init:.1f}s\n")
    print(
        f"{'fitness':<11} {'executor':<27} {'evals/s':>8} {'vs serial':>9} "
        f"{'(ideal 2x)':>10} {'first batch s':>13}"
    )
    for fitness, name, rate, ratio, startup in rows:
        print(
            f"{fitness:<11} {name:<27} {rate:8.2f} {ratio:8.2f}x {ratio / 2:9.0%} {startup:13.2f}"
        )

    s = spec("noop")
    print(f"\nno-op fitness, {args.noop} evaluations (overhead per evaluation):")
    serial = SerialExecutor()
    t0 = time.perf_counter()
    serial.evaluate(s, *batch(args.noop))
    base_ms = 1000 * (time.perf_counter() - t0) / args.noop
    print(f"  {'serial (in-process)':<27} {base_ms:8.3f} ms/eval")
    for name in ("processes (joblib/loky, 2)", "ray actors (2)", "ray tasks (2)"):
        ex = make[name]()
        ex.evaluate(s, *batch(2, 10_000))
        t0 = time.perf_counter()
        ex.evaluate(s, *batch(args.noop))
        per = 1000 * (time.perf_counter() - t0) / args.noop
        # one at a time: the latency of a round trip through the executor
        t0 = time.perf_counter()
        for i in range(20):
            ex.evaluate(s, *batch(1, 20_000 + i))
        latency = 1000 * (time.perf_counter() - t0) / 20
        ex.close()
        print(f"  {name:<27} {per:8.3f} ms/eval with 2 in flight, {latency:7.2f} ms round trip")


if __name__ == "__main__":
    main()
