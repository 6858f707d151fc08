"""The mergekit-evolve genome: a real tensor ``[G, M, F+1, P]`` decoded into a merge recipe.

G layer groups, M models, F tensor-name filters plus a catch-all, P method parameters
(``weight`` for linear / task_arithmetic; ``weight, density`` for ties / dare_ties).
Decoding follows mergekit-evolve (``mergekit/evo/genome.py``): ``weight = |x|``,
``density = clamp(|x|, 0, 1)``, and layer group g covers layers ``[g·L/G, (g+1)·L/G)``.
The decoded recipe is a ``WeightsGenome`` merge with one ``slices`` entry per layer group,
which exports to the same slices YAML mergekit-evolve writes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pydantic
from pydantic import Field, model_validator

from evosearch.genomes.weights import WeightsGenome

PARAMS_OF = {
    "linear": ("weight",),
    "task_arithmetic": ("weight",),
    "ties": ("weight", "density"),
    "dare_ties": ("weight", "density"),
}


class MergeGenotype(pydantic.BaseModel):
    """How a flat vector maps to a merge recipe.

    Attributes:
        models: Pool models to merge (M).
        base_model: The base for task-vector methods (a pool model; may be one of ``models``).
        method: ``linear``, ``task_arithmetic``, ``ties`` or ``dare_ties``.
        num_layers: Transformer layers of the models (L).
        layer_groups: Layer groups (G); group g covers ``[g·L/G, (g+1)·L/G)``.
        filters: Tensor-name substrings with their own parameters (F), e.g. ``[mlp, self_attn]``.
        normalize: mergekit's ``normalize`` (default: on for linear/ties/dare_ties).
        allow_negative_weights: Keep the sign of weights instead of taking ``|x|``.
        seed: Seed for dare_ties' random masks.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    models: list[str] = Field(min_length=1)
    base_model: str | None = None
    method: Literal["linear", "task_arithmetic", "ties", "dare_ties"] = "ties"
    num_layers: int = Field(ge=1)
    layer_groups: int = Field(default=1, ge=1)
    filters: list[str] = Field(default_factory=list)
    normalize: bool | None = None
    allow_negative_weights: bool = False
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> MergeGenotype:
        if self.method != "linear" and self.base_model is None:
            raise ValueError(f"method {self.method!r} needs base_model")
        if self.layer_groups > self.num_layers:
            raise ValueError(f"layer_groups ({self.layer_groups}) > num_layers ({self.num_layers})")
        return self

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(G, M, F+1, P)``."""
        return (
            self.layer_groups,
            len(self.models),
            len(self.filters) + 1,
            len(PARAMS_OF[self.method]),
        )

    @property
    def dimension(self) -> int:
        return int(np.prod(self.shape))

    def initial(self) -> np.ndarray:
        """mergekit-evolve's starting point: weight ``1/M``, density 1 (flattened)."""
        x = np.zeros(self.shape)
        x[..., 0] = 1.0 / len(self.models)
        if x.shape[-1] > 1:
            x[..., 1:] = 1.0
        return x.reshape(-1)

    def decode(self, x: np.ndarray) -> WeightsGenome:
        """The merge recipe a genotype vector stands for.

        Raises:
            ValueError: when ``x`` has the wrong length.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.size != self.dimension:
            raise ValueError(f"genotype has {x.size} values, expected {self.dimension}")
        x = x.reshape(self.shape)
        names = list(self.models)
        base = None
        if self.base_model is not None:
            if self.base_model not in names:
                names = [self.base_model, *names]
            base = names.index(self.base_model)
        offset = len(names) - len(self.models)
        G, L = self.layer_groups, self.num_layers
        slices = []
        for g in range(G):
            params: dict[str, list] = {}
            for p_idx, pname in enumerate(PARAMS_OF[self.method]):
                per: list = [None] * len(names)
                for m in range(len(self.models)):
                    values = [self._value(pname, v) for v in x[g, m, :, p_idx]]
                    if self.filters:
                        conds = [{"filter": f, "value": v} for f, v in zip(self.filters, values)]
                        per[m + offset] = [*conds, {"filter": None, "value": values[-1]}]
                    else:
                        per[m + offset] = values[0]
                params[pname] = per
            slices.append({"layers": [g * L // G, (g + 1) * L // G], "params": params})
        normalize = self.normalize
        if normalize is None:
            normalize = self.method in ("ties", "dare_ties", "linear")
        parents = [WeightsGenome.base(n) for n in names]
        seed = self.seed if self.method == "dare_ties" else None
        return WeightsGenome.merge(
            self.method, parents, {"normalize": normalize}, base=base, slices=slices, seed=seed
        )

    def _value(self, name: str, v: float) -> float:
        if name == "density":
            return float(min(max(abs(v), 0.0), 1.0))
        return float(v if self.allow_negative_weights else abs(v))
