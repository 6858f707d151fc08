"""`evosearch run` on a GA sphere config until generation 1: this tree vs a baseline tree.

Whole processes, started in turn (A B A B ...), so the ratio is taken pair by pair on the
same machine state. Wall and CPU (user + sys of the child) per run; min and median.

    git worktree add /tmp/evosearch-0.1 <baseline commit>
    python benchmarks/cli_startup.py --baseline /tmp/evosearch-0.1 --runs 3
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
CONFIG = HERE / "ga-sphere-1gen.yaml"


def one_run(pythonpath: str, workdir: pathlib.Path) -> tuple[float, float]:
    out = workdir / "run"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": pythonpath}
    cmd = [sys.executable, "-m", "evosearch", "run", str(CONFIG), "--out", str(out), "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=workdir, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="root of the baseline source tree")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    this = str(HERE.parent)
    base = str(pathlib.Path(args.baseline).resolve())
    rows: dict[str, list[tuple[float, float]]] = {"this": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        one_run(this, work), one_run(base, work)  # warm the file cache
        for _ in range(args.runs):
            rows["this"].append(one_run(this, work))
            rows["baseline"].append(one_run(base, work))
    for name, runs in rows.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"{name:9s} wall min {min(walls):6.2f} s median {statistics.median(walls):6.2f} s"
            f" | cpu min {min(cpus):6.2f} s median {statistics.median(cpus):6.2f} s"
        )
    ratios = [a[0] / b[0] for a, b in zip(rows["this"], rows["baseline"])]
    cpu_ratios = [a[1] / b[1] for a, b in zip(rows["this"], rows["baseline"])]
    print(
        f"ratio this/baseline: wall min {min(ratios):.3f} median {statistics.median(ratios):.3f}"
        f" | cpu min {min(cpu_ratios):.3f} median {statistics.median(cpu_ratios):.3f}"
    )


if __name__ == "__main__":
    main()
