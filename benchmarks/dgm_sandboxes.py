"""DGM task throughput: tasks evaluated per minute with N parallel sandboxes vs 1.

Each task is a real agent run (the shipped initial agent, in the sandbox, talking to the LLM
through the proxy) followed by the hidden check in a second sandbox. The LLM is the
``transformers`` backend on a tiny randomly initialised model built here from a config (no
download): its answers are garbage, so the figures measure the machinery — sandbox start-up,
proxy round trips, checks — which is what parallel sandboxes speed up. Also reports the
sandbox overhead per task (a sandboxed no-op run vs an in-process call).

Run:  .venv/bin/python benchmarks/dgm_sandboxes.py [--tasks 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import pathlib
import sys
import tempfile
import time

import numpy as np

from evosearch.operators.dgm import InitialAgent
from evosearch.sandbox.runner import SandboxLimits, run_sandboxed
from evosearch.scenarios.demo_models.tinylm import save_random_llama
from evosearch.tasks.coding import check_task, run_agent, task_list


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    limits, check_limits = SandboxLimits(timeout=120), SandboxLimits(timeout=20)
    agent = InitialAgent()(1, np.random.default_rng(0))[0]
    tasks = task_list("mixed", args.tasks, 0)
    with tempfile.TemporaryDirectory() as tmp:
        llm = {
            "ref": "transformers",
            "params": {
                "path": save_random_llama(
                    pathlib.Path(tmp) / "tiny", hidden=32, intermediate=64, layers=1, heads=2,
                    max_positions=8192,
                ),
                "device": "cpu",
            },
        }

        def one(task):
            run = run_agent(agent, task.files, task.collect, llm=llm, limits=limits, max_tokens=32)
            return check_task(task, run.files, check_limits)[0]

        one(tasks[0])  # warm-up: loads the model once
        rates = {}
        for workers in (1, args.workers):
            start = time.perf_counter()
            with cf.ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, tasks))
            rates[workers] = len(tasks) / (time.perf_counter() - start) * 60
            print(
                f"{workers} sandbox(es) in parallel: {rates[workers]:.1f} tasks/minute", flush=True
            )
        print(
            f"ratio {args.workers} vs 1: {rates[args.workers] / rates[1]:.2f}x "
            f"(ideal {args.workers}x on {args.workers} free cores)"
        )

    reps = 10
    start = time.perf_counter()
    for _ in range(reps):
        run_sandboxed({"a.py": "pass\n"}, [sys.executable, "a.py"], SandboxLimits(timeout=30))
    sandboxed = (time.perf_counter() - start) / reps
    start = time.perf_counter()
    for _ in range(reps):
        exec(compile("pass\n", "a.py", "exec"), {})
    inproc = (time.perf_counter() - start) / reps
    print(
        f"sandbox overhead per run: {1000 * sandboxed:.0f} ms (in-process: "
        f"{1000 * inproc:.3f} ms); a task costs 3 sandboxed runs (smoke test amortised: "
        "1 per agent), agent + check = 2 per task"
    )


if __name__ == "__main__":
    main()
