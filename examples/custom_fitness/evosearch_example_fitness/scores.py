"""Fitness functions that evosearch loads through the ``evosearch.fitness`` entry point."""

from __future__ import annotations

import numpy as np


def rastrigin_shifted(genome, ctx) -> dict:
    """Negated Rastrigin around a shift given in the run's ``fitness.params.shift``.

    evosearch maximises scores, so the optimum (0 at ``x == shift``) scores highest.
    Returning a dict lets the plugin report metrics beside the score.
    """
    x = np.asarray(genome.values, dtype=float) - float(ctx.params.get("shift", 1.0))
    value = 10.0 * x.size + float(np.sum(x * x - 10.0 * np.cos(2 * np.pi * x)))
    return {"score": -value, "metrics": {"rastrigin": value, "norm": float(np.linalg.norm(x))}}
