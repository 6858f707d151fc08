"""``noise.gaussian``: mutate a weight recipe by a seeded Gaussian noise step.

The child is the parent recipe plus a noise node ``(seed, sigma, mask_p)``; no noise is
stored. The weights are built when the recipe is materialised (``evosearch.models.noise``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.genomes.weights import WeightsGenome
from evosearch.operators.base import PARAMS, Offspring, Operator


@registry.operators.register("noise.gaussian")
@dataclass(config=PARAMS)
class GaussianNoise(Operator):
    """Mutation: the parent recipe plus seeded Gaussian noise (a new seed per child).

    Attributes:
        sigma: Noise scale σ.
        mask_p: Perturb each entry with this probability (None: every entry).
    """

    arity = 1
    sigma: float = Field(default=0.01, gt=0)
    mask_p: float | None = Field(default=None, gt=0, le=1)

    def __call__(self, parents: Sequence[WeightsGenome], rng: np.random.Generator):
        (parent,) = parents
        if not isinstance(parent, WeightsGenome):
            raise TypeError(f"noise.gaussian mutates WeightsGenome, got {type(parent).__name__}")
        seed = int(rng.integers(0, 2**63 - 1))
        child = parent.noised(seed, self.sigma, self.mask_p)
        return [Offspring(
            child, operator_params={"seed": seed, "sigma": self.sigma, "mask_p": self.mask_p}
        )]
