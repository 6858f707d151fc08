"""Training targets for the offline EvoLLM model: the best next step among several teachers.

Imitating one teacher (CMA-ES) cannot beat hill climbing when the teacher itself loses to hill
climbing at the budget that matters (150–200 evaluations). So each training state — the
buffer EvoLLM shows the model — gets one candidate next mean per teacher, computed from the
shown solutions alone (what the model can see):

- ``best``:  the best-so-far solution (hill climbing's incumbent);
- ``cmaes``: CMA-ES's mean update, the log-rank weighted recombination of the shown solutions;
- ``snes``:  SNES's mean update, the utility-weighted (top half) recombination;
- ``step``:  the best solution moved half-way further along the CMA-ES step (extrapolation).

Each candidate is then scored on the training function the way EvoLLM would use it — the
candidate plus ``popsize - 1`` Gaussian samples around it at the current σ, the same random
draws for every candidate, averaged over ``draws`` draws — and the winner is the target. The
states come from on-policy rollouts: the next population is sampled around the winner, with
the σ schedule EvoLLM runs with, so the model is trained on the buffers it will meet.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TEACHERS = ("best", "cmaes", "snes", "step")


def candidate_means(shown_best_first: np.ndarray) -> dict[str, np.ndarray]:
    """One candidate next mean per teacher from the shown solutions (rows best → worst)."""
    xs = np.atleast_2d(np.asarray(shown_best_first, dtype=np.float64))
    k = xs.shape[0]
    ranks = np.arange(1, k + 1)
    w = np.log(k + 0.5) - np.log(ranks)
    w /= w.sum()
    cmaes = w @ xs
    u = np.maximum(0.0, np.log(k / 2 + 1) - np.log(ranks))
    u /= u.sum()
    return {"best": xs[0].copy(), "cmaes": cmaes, "snes": u @ xs,
            "step": xs[0] + 0.5 * (xs[0] - cmaes)}


def score_candidates(
    candidates: dict[str, np.ndarray],
    loss: Callable[[np.ndarray], float],
    *,
    sigma: float,
    popsize: int,
    low: np.ndarray,
    high: np.ndarray,
    rng: np.random.Generator,
    draws: int = 4,
) -> dict[str, float]:
    """Mean over ``draws`` of the best loss of a generation sampled around each candidate.

    ``sigma`` is a fraction of the box width. Common random numbers: every candidate is
    scored with the same normal draws, so the comparison measures the means, not the luck.
    """
    d = len(low)
    z = rng.normal(size=(draws, popsize - 1, d)) * sigma * (high - low)
    scores = {}
    for name, mean in candidates.items():
        m = np.clip(mean, low, high)
        f_mean = loss(m)
        bests = [min(f_mean, *(loss(np.clip(m + dz, low, high)) for dz in zk)) for zk in z]
        scores[name] = float(np.mean(bests))
    return scores


def best_next_mean(
    shown_best_first: np.ndarray,
    loss: Callable[[np.ndarray], float],
    *,
    snap: Callable[[np.ndarray], np.ndarray] = lambda m: m,
    **score_kw,
) -> tuple[str, np.ndarray, dict[str, float]]:
    """The teacher whose candidate scores best, its candidate (after ``snap``), all scores.

    ``snap`` maps a candidate onto what EvoLLM can say (the integer grid); candidates are
    scored after snapping. Ties go to the earlier teacher in ``TEACHERS``.
    """
    cands = {k: snap(v) for k, v in candidate_means(shown_best_first).items()}
    scores = score_candidates(cands, loss, **score_kw)
    name = min(TEACHERS, key=lambda t: (scores[t], TEACHERS.index(t)))
    return name, cands[name], scores
