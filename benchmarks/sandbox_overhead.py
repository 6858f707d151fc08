"""Sandbox overhead per evaluation vs an in-process call, measured side by side in one run.

The same candidate (the circle-packing initial program) and the same checks (validity and
sum of radii, the example's evaluator) are evaluated:

1. in process: import the program and call the evaluator's check directly (the baseline;
   unsafe for untrusted code);
2. in a plain subprocess (``sandbox: none``: rlimits, scrubbed env; no namespaces);
3. in the full sandbox (bubblewrap: user/pid/mount/net/ipc/uts namespaces, read-only
   binds, tmpfs work dir, uid 65534, cgroup) through the ``code.sandbox`` fitness, one stage;
4. the same with a trivial evaluator that imports nothing (pure process overhead);
5. for reference, the floor: starting this interpreter (``python -c pass``) once.

Usage: nice -n 10 .venv/bin/python benchmarks/sandbox_overhead.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evosearch.fitness.base import FitnessContext  # noqa: E402
from evosearch.genomes.code import CodeGenome  # noqa: E402
from evosearch.tasks.code_evaluator import code_sandbox  # noqa: E402

EXAMPLE = ROOT / "examples" / "circle-packing"
TRIVIAL = "import evosearch_eval\nevosearch_eval.report(1.0)\n"


def load(path: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_process() -> float:
    # A fresh import each time, like a new candidate, then the evaluator's checks.
    program = load(EXAMPLE / "initial_program" / "main.py", "candidate")
    sys.modules["evosearch_eval"] = load(ROOT / "evosearch/sandbox/evaluator_api.py", "api")
    evaluator = load(EXAMPLE / "evaluator.py", "evaluator")
    centers, radii = program.run()
    assert not evaluator.check(centers, radii)
    return float(radii.sum())


def start_python() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up (probe of the isolation, imports)
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    genome = CodeGenome.from_dir(EXAMPLE / "initial_program")
    ctx = FitnessContext(params={"evaluator": str(EXAMPLE / "evaluator.py"), "params": {}})
    trivial = pathlib.Path("/tmp/evosearch-bench-trivial-evaluator.py")
    trivial.write_text(TRIVIAL)
    trivial_ctx = FitnessContext(params={"evaluator": str(trivial)})

    def sandboxed():
        r = code_sandbox(genome, ctx)
        assert r.ok and r.score > 1.5, r
        return r

    plain_ctx = FitnessContext(params={**ctx.params, "sandbox": "none"})

    def plain():
        r = code_sandbox(genome, plain_ctx)
        assert r.ok and r.score > 1.5, r
        return r

    rows = [
        ("in-process call (baseline)", timed(in_process, args.repeats)),
        ("subprocess, no namespaces", timed(plain, args.repeats)),
        ("full sandbox (code.sandbox)", timed(sandboxed, args.repeats)),
        (
            "full sandbox, trivial evaluator",
            timed(lambda: code_sandbox(genome, trivial_ctx), args.repeats),
        ),
        ("python -c pass (floor)", timed(start_python, args.repeats)),
    ]
    isolation = sandboxed().feedback.splitlines()[-1][:160]
    base = statistics.median(rows[0][1])
    print(f"sandbox overhead per evaluation, {args.repeats} repeats each (median / p90, ms)")
    print(f"isolation here: {isolation}")
    print(f"{'mode':34} {'median':>9} {'p90':>9} {'overhead':>10} {'ratio':>8}")
    for name, times in rows:
        med = statistics.median(times)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        print(
            f"{name:34} {med * 1e3:9.1f} {p90 * 1e3:9.1f} {(med - base) * 1e3:+10.1f} "
            f"{med / base:8.1f}x"
        )


if __name__ == "__main__":
    main()
