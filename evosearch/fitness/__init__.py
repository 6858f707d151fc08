"""Fitness: the plugin API (``@fitness``, ``FitnessContext``) and its runtime.

``base`` is the API, ``evaluate`` runs a fitness (time limits, batches, failures as
results), ``resources`` keeps per-worker resources. The problem domains (sphere, BBOB,
CartPole, LM and coding tasks ...) are ``evosearch.tasks``. Write plugins with
``from evosearch.fitness import fitness, FitnessContext``.
"""

from evosearch.fitness.base import FitnessContext, FitnessSpec, fitness
from evosearch.fitness.evaluate import evaluate_batch, evaluate_one

__all__ = ["FitnessContext", "FitnessSpec", "evaluate_batch", "evaluate_one", "fitness"]
