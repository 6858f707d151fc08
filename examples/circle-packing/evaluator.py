"""Evaluator for the circle-packing example (runs inside the evosearch sandbox).

Stage 1 of 2 (cheap): the program runs and returns arrays of the right shape.
Last stage (full): validity (inside the unit square, no overlaps, tolerance 1e-9) and the sum
of radii. An invalid packing scores 0 with feedback saying what is wrong.
"""

import math
import time
import traceback

import evosearch_eval
import numpy as np

N = 26
TOL = 1e-9
BEST_KNOWN = 2.635  # AlphaEvolve's reported sum for n = 26


def check(centers, radii):
    """Problems of a packing (empty when valid)."""
    problems = []
    for i, ((x, y), r) in enumerate(zip(centers, radii)):
        if r < 0:
            problems.append(f"circle {i} has negative radius {r:.4g}")
        if x - r < -TOL or x + r > 1 + TOL or y - r < -TOL or y + r > 1 + TOL:
            problems.append(f"circle {i} at ({x:.4f}, {y:.4f}) r={r:.4f} leaves the square")
    for i in range(N):
        for j in range(i + 1, N):
            gap = math.dist(centers[i], centers[j]) - radii[i] - radii[j]
            if gap < -TOL:
                problems.append(f"circles {i} and {j} overlap by {-gap:.3g}")
    return problems


def main():
    job = evosearch_eval.job()
    start = time.perf_counter()
    try:
        centers, radii = evosearch_eval.load_entry()()
        centers = np.asarray(centers, dtype=float)
        radii = np.asarray(radii, dtype=float)
    except Exception:
        evosearch_eval.report(0.0, {"valid": 0.0}, "run() raised:\n" + traceback.format_exc(-3))
        return
    seconds = time.perf_counter() - start
    if centers.shape != (N, 2) or radii.shape != (N,):
        msg = f"run() must return centers (26, 2) and radii (26,), got {centers.shape}, "
        msg += str(radii.shape)
        evosearch_eval.report(0.0, {"valid": 0.0}, msg)
        return
    if not (np.isfinite(centers).all() and np.isfinite(radii).all()):
        evosearch_eval.report(0.0, {"valid": 0.0}, "non-finite centers or radii")
        return
    if job["stage"] < job["stages"]:  # the cheap stage of a staged run
        evosearch_eval.report(1.0, {"run_seconds": seconds}, "stage 1: shapes ok")
        return
    problems = check(centers, radii)
    total = float(radii.sum())
    metrics = {"valid": float(not problems), "sum_radii": total, "run_seconds": seconds}
    metrics["ratio_to_best_known"] = total / BEST_KNOWN
    if problems:
        shown = "; ".join(problems[:5])
        if len(problems) > 5:
            shown += f"; ... {len(problems) - 5} more"
        evosearch_eval.report(0.0, metrics, f"invalid packing: {shown}")
        return
    evosearch_eval.report(total, metrics, f"valid packing, sum of radii {total:.4f}")


if __name__ == "__main__":
    main()
