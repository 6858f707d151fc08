"""``merge_cmaes``: evotorch's CMA-ES over the mergekit-evolve genome.

CMA-ES samples flat vectors; each is decoded by ``MergeGenotype`` into a ``WeightsGenome``
merge recipe before it leaves ``ask()``, so the run store holds recipes (exportable as HF
checkpoints and mergekit YAML) and the raw vector in ``operator_params['x']``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pydantic
from pydantic import Field, model_validator

from evosearch import registry
from evosearch.batch import Batch
from evosearch.models.genotype import MergeGenotype
from evosearch.models.pool import check_pool_config
from evosearch.strategies.evotorch import CMAES, EvotorchParams


class MergeCMAESParams(pydantic.BaseModel):
    """Parameters of ``merge_cmaes``.

    Attributes:
        genotype: The genome layout and decoding (models, base, method, layer groups ...).
        popsize: CMA-ES population (default: evotorch's ``4 + 3 ln d``).
        stdev_init: Initial step size σ₀ (mergekit-evolve / Sakana: 1/6).
        center_init: ``mergekit`` (weight 1/M, density 1), ``uniform`` (sampled in
            [0, 1]) or an explicit vector.
        options: Other evotorch ``CMAES`` keywords (e.g. ``separable``).
        pool: The fitness's model pool (optional): when given, it is opened and checked
            against the genotype's models before the run starts, and ``genotype.num_layers``
            defaults to the reference model's ``num_hidden_layers``.
    """

    @model_validator(mode="before")
    @classmethod
    def _check_pool(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("pool"):
            return data
        geno = dict(data.get("genotype") or {})
        _, ref_cfg = check_pool_config(
            data["pool"], [*geno.get("models", []), geno.get("base_model")]
        )
        if geno.get("num_layers") is None and "num_hidden_layers" in ref_cfg:
            geno["num_layers"] = ref_cfg["num_hidden_layers"]
        return {**data, "genotype": geno}

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    genotype: MergeGenotype
    pool: dict[str, Any] | None = None
    popsize: int | None = Field(default=None, ge=2)
    stdev_init: float = Field(default=1 / 6, gt=0)
    center_init: Literal["mergekit", "uniform"] | list[float] = "mergekit"
    options: dict[str, Any] = Field(default_factory=dict)


@registry.strategies.register("merge_cmaes")
class MergeCMAES(CMAES):
    """CMA-ES whose individuals are decoded merge recipes."""

    Params = MergeCMAESParams
    algorithm = "cmaes"

    def __init__(self, params: MergeCMAESParams, *, rng: np.random.Generator):
        self.merge_params = params
        g = params.genotype
        if params.center_init == "mergekit":
            center: list[float] | None = g.initial().tolist()
        elif params.center_init == "uniform":
            center = None
        else:
            center = list(params.center_init)
            if len(center) != g.dimension:
                raise ValueError(
                    f"strategy.params.center_init: {len(center)} values, genotype has "
                    f"{g.dimension} (shape {list(g.shape)})"
                )
        inner = EvotorchParams(
            dimension=g.dimension,
            low=0.0,
            high=1.0,
            popsize=params.popsize,
            stdev_init=params.stdev_init,
            center_init=center,
            options=params.options,
        )
        super().__init__(inner, rng=rng)

    def _ask_batch(self, n: int) -> Batch:
        batch = super()._ask_batch(n)
        xs = batch.genomes
        batch.genomes = [self.merge_params.genotype.decode(x) for x in xs]
        batch.operator_params = [{"x": [float(v) for v in x]} for x in xs]
        return batch

    def facts(self) -> None:
        return None  # recipes, not vectors
