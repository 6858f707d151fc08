"""Run the quick benchmarks one after another (``make bench``); each prints its own ratio.

Every benchmark here measures against its baseline side by side in one process; this script
only runs them with small sizes, prints their output under a header and exits non-zero if any
failed. The full-size commands behind the figures in RESULTS.md are recorded there.

    python benchmarks/run_all.py            # all quick benchmarks
    python benchmarks/run_all.py executors  # only those whose name contains "executors"
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent

QUICK: list[tuple[str, list[str]]] = [
    ("engine_overhead.py", ["--pop", "50", "--gens", "20", "--repeats", "3"]),
    ("cmaes_vs_evotorch.py", ["--gens", "50", "--seeds", "1"]),
    ("executors.py", ["--evals", "40", "--noop", "200"]),
    ("llm_concurrency.py", ["--requests", "32", "--concurrency", "1", "8"]),
    ("store_scale.py", ["--gens", "50", "--per-gen", "200", "--raw-gens", "10"]),
    ("archives_arm.py", ["--evals", "5000", "--seeds", "1", "--insert-batches", "10"]),
    ("sandbox_overhead.py", ["--repeats", "5"]),
]


def main(argv: list[str]) -> int:
    chosen = [(s, a) for s, a in QUICK if not argv or any(k in s for k in argv)]
    if not chosen:
        print(f"no benchmark matches {argv}; known: {[s for s, _ in QUICK]}", file=sys.stderr)
        return 2
    failed = []
    for script, args in chosen:
        cmd = [sys.executable, str(HERE / script), *args]
        print(f"\n## {script} {' '.join(args)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=HERE.parent)
        print(f"-- {script}: exit {rc}, {time.perf_counter() - t0:.1f}s", flush=True)
        if rc != 0:
            failed.append(script)
    if failed:
        print(f"\n{len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nall {len(chosen)} quick benchmarks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
