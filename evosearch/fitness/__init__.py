"""Fitness: the plugin API (``@fitness``), evaluation helpers and built-in evaluators.

Write plugins with ``from evosearch.fitness import fitness, FitnessContext``.
"""

from evosearch.fitness.base import FitnessContext, FitnessSpec, fitness
from evosearch.fitness.evaluate import evaluate_batch, evaluate_one

__all__ = ["FitnessContext", "FitnessSpec", "evaluate_batch", "evaluate_one", "fitness"]
