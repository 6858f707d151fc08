"""Whole-population variation and selection on ``[N, D]`` arrays (numpy, one explicit RNG).

The same operators as deap's (``selTournament``, ``cxBlend``, ``cxSimulatedBinaryBounded``,
``cxUniform``, ``cxTwoPoint``, ``mutGaussian``, ``mutPolynomialBounded``) and the same
``varAnd`` scheme, applied to every row at once. The arithmetic follows deap's; the random
stream does not (numpy draws in bulk instead of Python's ``random`` per gene), so a run is
not the same run as deap's with the same seed — only the same algorithm.
"""

from __future__ import annotations

import numpy as np


def tournament(fit: np.ndarray, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` winners of ``size``-way tournaments drawn with replacement (first max wins)."""
    idx = rng.integers(0, fit.shape[0], size=(n, size))
    return idx[np.arange(n), np.argmax(fit[idx], axis=1)]


def blend(a: np.ndarray, b: np.ndarray, alpha: float, rng: np.random.Generator):
    """Deap ``cxBlend`` on row pairs."""
    gamma = (1.0 + 2.0 * alpha) * rng.random(a.shape) - alpha
    return (1.0 - gamma) * a + gamma * b, gamma * a + (1.0 - gamma) * b


def uniform(a: np.ndarray, b: np.ndarray, indpb: float, rng: np.random.Generator):
    """Deap ``cxUniform``: swap each gene with probability ``indpb``."""
    swap = rng.random(a.shape) < indpb
    return np.where(swap, b, a), np.where(swap, a, b)


def two_point(a: np.ndarray, b: np.ndarray, rng: np.random.Generator):
    """Deap ``cxTwoPoint``: swap the genes between two cut points."""
    n, d = a.shape
    if d < 2:
        return a.copy(), b.copy()
    p1 = rng.integers(1, d + 1, size=n)
    p2 = rng.integers(1, d, size=n)
    p2 = np.where(p2 >= p1, p2 + 1, p2)
    lo, hi = np.minimum(p1, p2), np.maximum(p1, p2)
    cols = np.arange(d)
    swap = (cols >= lo[:, None]) & (cols < hi[:, None])
    return np.where(swap, b, a), np.where(swap, a, b)


def sbx(a, b, eta: float, low: np.ndarray, high: np.ndarray, rng: np.random.Generator):
    """Deap ``cxSimulatedBinaryBounded`` (each gene crosses with probability 0.5)."""
    c1, c2 = a.copy(), b.copy()
    active = (rng.random(a.shape) <= 0.5) & (np.abs(a - b) > 1e-14)
    x1, x2 = np.minimum(a, b), np.maximum(a, b)
    rand = rng.random(a.shape)
    lo = np.broadcast_to(low, a.shape)
    hi = np.broadcast_to(high, a.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        span = np.where(active, x2 - x1, 1.0)

        def child(beta_edge: np.ndarray, sign: float) -> np.ndarray:
            alpha = 2.0 - beta_edge ** -(eta + 1)
            q = np.where(
                rand <= 1.0 / alpha,
                (rand * alpha) ** (1.0 / (eta + 1)),
                (1.0 / (2.0 - rand * alpha)) ** (1.0 / (eta + 1)),
            )
            return 0.5 * (x1 + x2 + sign * q * (x2 - x1))

        k1 = np.clip(child(1.0 + 2.0 * (x1 - lo) / span, -1.0), lo, hi)
        k2 = np.clip(child(1.0 + 2.0 * (hi - x2) / span, 1.0), lo, hi)
    swap = rng.random(a.shape) <= 0.5
    first, second = np.where(swap, k2, k1), np.where(swap, k1, k2)
    c1 = np.where(active, first, c1)
    c2 = np.where(active, second, c2)
    return c1, c2


def gaussian(x: np.ndarray, sigma: float, indpb: float, rng: np.random.Generator) -> np.ndarray:
    """Deap ``mutGaussian(mu=0)`` on every row."""
    mask = rng.random(x.shape) < indpb
    return x + mask * rng.normal(0.0, sigma, x.shape)


def polynomial(x, eta: float, low, high, indpb: float, rng: np.random.Generator) -> np.ndarray:
    """Deap ``mutPolynomialBounded`` on every row."""
    mask = rng.random(x.shape) < indpb
    lo = np.broadcast_to(low, x.shape)
    hi = np.broadcast_to(high, x.shape)
    width = hi - lo
    d1, d2 = (x - lo) / width, (hi - x) / width
    rand = rng.random(x.shape)
    power = 1.0 / (eta + 1.0)
    with np.errstate(invalid="ignore"):
        left = 2.0 * rand + (1.0 - 2.0 * rand) * (1.0 - d1) ** (eta + 1)
        right = 2.0 * (1.0 - rand) + 2.0 * (rand - 0.5) * (1.0 - d2) ** (eta + 1)
        dq = np.where(rand < 0.5, left**power - 1.0, 1.0 - right**power)
    return np.where(mask, np.clip(x + dq * width, lo, hi), x)


def var_and(
    parents: np.ndarray,
    crossover,
    mutate,
    cxpb: float,
    mutpb: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The ``varAnd`` of deap on an ``[N, D]`` array.

    Pairs (0,1), (2,3)... cross with probability ``cxpb``, then every row mutates with
    probability ``mutpb``.
    """
    kids = parents.copy()
    half = kids.shape[0] // 2
    pairs = np.flatnonzero(rng.random(half) < cxpb)
    if pairs.size:
        a, b = kids[2 * pairs], kids[2 * pairs + 1]
        kids[2 * pairs], kids[2 * pairs + 1] = crossover(a, b)
    rows = np.flatnonzero(rng.random(kids.shape[0]) < mutpb)
    if rows.size:
        kids[rows] = mutate(kids[rows])
    return kids
