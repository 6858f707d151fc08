"""Small built-in fitness functions for vectors (useful for tests, demos and benchmarks)."""

from __future__ import annotations

import numpy as np

from evosearch.fitness.base import FitnessContext, fitness
from evosearch.genomes.vector import VectorGenome


@fitness("sphere")
def sphere(genome: VectorGenome, ctx: FitnessContext) -> float:
    """Negated sphere ``-sum((x - shift)^2)``; optimum 0 at ``x == shift``."""
    x = genome.values - float(ctx.params.get("shift", 0.0))
    return -float(np.dot(x, x))


@fitness("rastrigin")
def rastrigin(genome: VectorGenome, ctx: FitnessContext) -> float:
    """Negated Rastrigin; optimum 0 at the origin."""
    x = genome.values
    return -float(10.0 * x.size + np.sum(x * x - 10.0 * np.cos(2.0 * np.pi * x)))


@fitness("sphere_batched", batched=True)
def sphere_batched(genomes: list[VectorGenome], ctx: FitnessContext) -> list[float]:
    """The sphere on a whole batch at once (a stand-in for one GPU forward per population)."""
    x = np.stack([g.values for g in genomes]) - float(ctx.params.get("shift", 0.0))
    return (-np.einsum("ij,ij->i", x, x)).tolist()


@fitness("zdt1")
def zdt1(genome: VectorGenome, ctx: FitnessContext) -> dict:
    """ZDT1 two-objective benchmark on [0, 1]^d, both objectives maximised as negatives.

    ``score`` is the first objective; ``metrics`` holds both as ``obj0``/``obj1`` for
    multi-objective strategies (NSGA-II).
    """
    x = np.clip(genome.values, 0.0, 1.0)
    f1 = float(x[0])
    g = 1.0 + 9.0 * float(np.mean(x[1:])) if x.size > 1 else 1.0
    f2 = g * (1.0 - np.sqrt(f1 / g))
    return {"score": -f1, "metrics": {"obj0": -f1, "obj1": -float(f2)}}
