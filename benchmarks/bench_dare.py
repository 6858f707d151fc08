"""Fast DARE-TIES vs mergekit's, beside TIES and task arithmetic, on random tensors (issue 13).

    nice -n 5 .venv/bin/python benchmarks/bench_dare.py

8 tensors of 2048 x 2048 float32, base + 2 parents, merged by ``merging.merge_node`` on CPU;
min and median of 3 (mergekit's own TIES kernel once: it is slow). The fast and mergekit
DARE-TIES outputs are checked equal (same seed, same masks).
"""

from __future__ import annotations

import statistics
import time

import torch

from evosearch.models import merging

NAMES = [f"t{i}" for i in range(8)]
DEVICE = torch.device("cpu")


def node(method: str, **params: float) -> dict:
    return {"merge": method, "base": 0, "seed": 0, "params": params, "parents": [0, 1, 2]}


def timed(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    torch.manual_seed(0)
    parents = [{n: torch.randn(2048, 2048) for n in NAMES} for _ in range(3)]  # 3 x 128 MiB
    cases = [
        ("task_arithmetic", node("task_arithmetic", weight=1.0), True),
        ("ties fast", node("ties", weight=1.0, density=0.5), True),
        ("dare_ties fast", node("dare_ties", weight=1.0, density=0.5), True),
        ("dare_ties mergekit", node("dare_ties", weight=1.0, density=0.5), False),
        ("ties mergekit", node("ties", weight=1.0, density=0.5), False),
    ]
    res: dict[str, list[float]] = {}
    for rep in range(3):
        res.setdefault("copy", []).append(timed(lambda: [parents[1][n].clone() for n in NAMES]))
        for label, spec, fast in cases:
            if label == "ties mergekit" and rep:
                continue
            res.setdefault(label, []).append(
                timed(lambda s=spec, f=fast: merging.merge_node(s, parents, NAMES, DEVICE, fast=f))
            )
    fast = merging.merge_node(cases[2][1], parents, NAMES, DEVICE, fast=True)
    slow = merging.merge_node(cases[2][1], parents, NAMES, DEVICE, fast=False)
    print("dare_ties fast == mergekit:", all(torch.equal(fast[n], slow[n]) for n in NAMES))
    for label, times in res.items():
        print(f"{label:30s} min {min(times):.2f}s median {statistics.median(times):.2f}s")
    for stat in (min, statistics.median):
        f, s = stat(res["dare_ties fast"]), stat(res["dare_ties mergekit"])
        c = stat(res["copy"])
        print(f"dare_ties speed-up ({stat.__name__}): {s / f:.1f}x; fast/memcpy {c / f:.2f}")


if __name__ == "__main__":
    main()
