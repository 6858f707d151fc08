"""Merge crossover: children are mergekit merge recipes of their parents.

One operator per method, registered as ``merge.<method>`` (``merge.linear``, ``merge.slerp``,
``merge.task_arithmetic``, ``merge.ties``, ``merge.dare_ties``, ``merge.dare_linear``,
``merge.breadcrumbs``, ``merge.della``, ``merge.model_stock``), plus ``merge`` with a
``method`` parameter. Parameters are mergekit's own (``weight``, ``density``, ``t``,
``lambda``, ``normalize``, ``gamma``, ``epsilon`` ...) and are checked against mergekit's
method spec when the operator is built, so a typo fails before the run starts.
The operators only write recipes; ``Materialiser`` executes them through
``mergekit.merge_methods.merge_tensors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.genomes.weights import WeightsGenome
from evosearch.models import merging
from evosearch.models.pool import check_pool_config
from evosearch.operators.base import PARAMS, Initializer, Offspring, Operator


def merge_genome(
    method: str,
    parents: Sequence[WeightsGenome],
    params: dict[str, Any],
    *,
    base_model: str | None = None,
    rng: np.random.Generator | None = None,
) -> WeightsGenome:
    """A merge recipe of ``parents`` (preceded by the pool model ``base_model`` if given).

    Methods that need a base take ``base_model`` or, without one, the first parent.
    Randomised methods (DARE, DELLA) get a seed drawn from ``rng``.

    Raises:
        merging.MergeParamError: an unknown method or parameter.
    """
    inputs = list(parents)
    base: int | None = None
    if base_model is not None:
        inputs = [WeightsGenome.base(base_model), *inputs]
        base = 0
    elif merging.method(method).spec.contract.base.value == "required":
        base = 0
    seed = None
    if method in merging.RANDOMISED:
        seed = int((rng or np.random.default_rng()).integers(0, 2**31 - 1))
    merging.check_params(method, params, len(inputs), base)
    return WeightsGenome.merge(method, inputs, params, base=base, seed=seed)


def _per_input_names(method: str) -> set[str]:
    spec = merging.method(method).spec
    return {p.name for p in spec.parameters if p.scope.value != "shared"}


@dataclass(config=PARAMS)
class MergeCrossover(Operator):
    """Merge ``arity`` parents with a mergekit method into one child recipe.

    Attributes:
        method: The mergekit method.
        params: Fixed mergekit parameters (scalar, or one value per input).
        sample: Parameters drawn uniformly from ``[lo, hi]`` per application (one draw per
            parent for per-model parameters such as ``weight``/``density``), e.g.
            ``{t: [0.2, 0.8]}`` for slerp.
        base_model: A pool model used as the merge base (task-vector methods, model_stock);
            without it, methods that need a base use the first parent.
        parents: How many parents the operator takes.
        pool: The fitness's model pool config (optional; a YAML anchor): when given, it is
            opened (headers only) when the config is loaded and must hold ``base_model``.
    """

    arity = 2
    method: str = "linear"
    params: dict[str, Any] = Field(default_factory=dict)
    sample: dict[str, tuple[float, float]] = Field(default_factory=dict)
    base_model: str | None = None
    parents: int = Field(default=2, ge=1)
    pool: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.method not in merging.METHODS:
            raise ValueError(f"unknown merge method {self.method!r}; allowed: {merging.METHODS}")
        for key, bounds in self.sample.items():
            try:
                merging.check_value(key, list(bounds), f"sample.{key}")
            except merging.MergeParamError as exc:
                raise ValueError(str(exc)) from None
            if bounds[0] > bounds[1]:
                raise ValueError(f"sample.{key}: [lo, hi] with lo > hi: {list(bounds)}")
        if self.pool:
            check_pool_config(self.pool, [self.base_model])
        dummy = {k: 0.5 for k in self.sample}
        n = self.parents + (self.base_model is not None)
        base = 0 if (self.base_model is not None or self._needs_base()) else None
        try:
            merging.check_params(self.method, {**self.params, **dummy}, n, base)
        except merging.MergeParamError as exc:
            raise ValueError(str(exc)) from None
        object.__setattr__(self, "arity", self.parents)

    def _needs_base(self) -> bool:
        return merging.method(self.method).spec.contract.base.value == "required"

    def __call__(self, parents: Sequence[WeightsGenome], rng: np.random.Generator):
        for p in parents:
            if not isinstance(p, WeightsGenome):
                raise TypeError(f"merge.{self.method} needs WeightsGenome, got {type(p).__name__}")
        params = dict(self.params)
        per_input = _per_input_names(self.method)
        n = len(parents) + (self.base_model is not None)
        for key, (lo, hi) in self.sample.items():
            if key in per_input:
                params[key] = [float(v) for v in rng.uniform(lo, hi, size=n)]
            else:
                params[key] = float(rng.uniform(lo, hi))
        child = merge_genome(self.method, parents, params, base_model=self.base_model, rng=rng)
        return [Offspring(child, operator_params={"method": self.method, **params})]


registry.operators.add("merge", MergeCrossover)


def _method_operator(name: str) -> type:
    """A ``merge.<name>`` operator class: ``MergeCrossover`` with the method fixed."""
    namespace = {
        "__doc__": f"Merge crossover with mergekit's ``{name}`` (see ``MergeCrossover``).",
        "__module__": __name__,
        "__qualname__": f"Merge_{name}",
        "__annotations__": {"method": Literal[name]},  # type: ignore[valid-type]
        "method": name,
    }
    return dataclass(config=PARAMS)(type(f"Merge_{name}", (MergeCrossover,), namespace))


for _name in merging.METHODS:
    _cls = _method_operator(_name)
    globals()[_cls.__name__] = _cls
    registry.operators.add(f"merge.{_name}", _cls)
del _name, _cls


@registry.initializers.register("weights.pool")
@dataclass(config=PARAMS)
class PoolModels(Initializer):
    """Initial weights genomes: the named pool models in turn, then seeded-noise copies.

    Attributes:
        pool: The fitness's model pool config (a YAML anchor of ``fitness.params.pool``):
            opened (headers only) when the config is loaded, so a missing or misnamed
            model is one error before the run starts, not a run of failed individuals.
        models: Pool model names.
        sigma: Noise scale of the copies made once every model has been used (None: plain
            copies).
        mask_p: Bernoulli mask of that noise.
    """

    pool: dict[str, Any]
    models: list[str] = Field(min_length=1)
    sigma: float | None = Field(default=None, gt=0)
    mask_p: float | None = Field(default=None, gt=0, le=1)

    def __post_init__(self) -> None:
        check_pool_config(self.pool, list(self.models))

    def __call__(self, n: int, rng: np.random.Generator) -> list[WeightsGenome]:
        out = []
        for i in range(n):
            g = WeightsGenome.base(self.models[i % len(self.models)])
            if i >= len(self.models) and self.sigma is not None:
                g = g.noised(int(rng.integers(0, 2**63 - 1)), self.sigma, self.mask_p)
            out.append(g)
        return out
