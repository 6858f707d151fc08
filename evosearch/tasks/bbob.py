"""The BBOB benchmark functions (COCO's ``cocoex``) as a built-in fitness.

``fitness: {ref: bbob, params: {function: 1..24, dimension: 2..40, instance: 1..}}``.
The score is the negated precision ``-(f(x) - f_opt)``: 0 at the optimum, maximised.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import threading

import numpy as np

from evosearch.fitness.base import FitnessContext, fitness
from evosearch.genomes.vector import VectorGenome

BBOB_FUNCTIONS = {
    1: "sphere", 2: "ellipsoid", 3: "rastrigin", 4: "bueche-rastrigin", 5: "linear-slope",
    6: "attractive-sector", 7: "step-ellipsoid", 8: "rosenbrock", 9: "rosenbrock-rotated",
    10: "ellipsoid-rotated", 11: "discus", 12: "bent-cigar", 13: "sharp-ridge",
    14: "different-powers", 15: "rastrigin-rotated", 16: "weierstrass", 17: "schaffers-f7",
    18: "schaffers-f7-ill", 19: "griewank-rosenbrock", 20: "schwefel", 21: "gallagher-101",
    22: "gallagher-21", 23: "katsuura", 24: "lunacek",
}  # fmt: skip
BBOB_DIMENSIONS = (2, 3, 5, 10, 20, 40)

_lock = threading.Lock()


class BBOBProblem:
    """One BBOB problem with its optimum value (cached per process)."""

    def __init__(self, function: int, dimension: int, instance: int):
        import cocoex

        if function not in BBOB_FUNCTIONS:
            raise ValueError(f"fitness.params.function: {function} is not a BBOB function (1..24)")
        if dimension not in BBOB_DIMENSIONS:
            raise ValueError(
                f"fitness.params.dimension: {dimension} not in the BBOB suite {BBOB_DIMENSIONS}"
            )
        suite = cocoex.Suite(
            "bbob",
            f"instances: {instance}",
            f"function_indices: {function} dimensions: {dimension}",
        )
        self.problem = suite.get_problem_by_function_dimension_instance(
            function, dimension, instance
        )
        self._suite = suite  # keep the suite alive while the problem is used
        self.function, self.dimension, self.instance = function, dimension, instance
        self.x_opt = _best_parameter(self.problem)
        self.f_opt = float(self.problem(self.x_opt))

    def __call__(self, x: np.ndarray) -> float:
        return float(self.problem(np.asarray(x, dtype=np.float64)))

    @property
    def name(self) -> str:
        return (
            f"f{self.function}-{BBOB_FUNCTIONS[self.function]}-d{self.dimension}-i{self.instance}"
        )


def _best_parameter(problem) -> np.ndarray:
    """Cocoex writes the optimum to a file in the working directory: read it from a temp dir."""
    with _lock, tempfile.TemporaryDirectory() as tmp, _chdir(tmp):
        problem._best_parameter("print")
        return np.loadtxt(os.path.join(tmp, "._bbob_problem_best_parameter.txt"), ndmin=1)


@contextlib.contextmanager
def _chdir(path: str):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@functools.lru_cache(maxsize=256)
def get_problem(function: int, dimension: int, instance: int = 1) -> BBOBProblem:
    return BBOBProblem(int(function), int(dimension), int(instance))


@fitness("bbob")
def bbob(genome: VectorGenome, ctx: FitnessContext) -> dict:
    """Negated BBOB precision of the genome; metrics ``f`` and ``precision``."""
    p = get_problem(
        ctx.params.get("function", 1),
        ctx.params.get("dimension", len(genome)),
        ctx.params.get("instance", 1),
    )
    if len(genome) != p.dimension:
        raise ValueError(
            f"genome has {len(genome)} coordinates, problem {p.name} needs {p.dimension}"
        )
    f = p(genome.values)
    precision = max(f - p.f_opt, 0.0)
    return {"score": -precision, "metrics": {"f": f, "precision": precision}}
