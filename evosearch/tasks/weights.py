"""Fitness for ``WeightsGenome`` recipes: materialise on the device, score in place.

``WeightsRuntime`` holds, per process, the model pool (resident on the device), a
``Materialiser`` with its LRU cache, and one model skeleton built from the pool's reference
checkpoint. Each recipe's weights are copied into the skeleton's tensors in place and the
model is scored; nothing is reloaded between individuals.

Registered fitness ``weights.lm_tasks`` (batched): the two-skill exact-match accuracy of
``evosearch.tasks.lm_tasks.score_model`` (2-digit addition and string reversal) for each
recipe. ``ctx.params``: ``pool`` (see ``ModelPool.from_config``), ``tasks``, ``split``, ``n``
(examples per task), ``batch_size``, ``loglik_weight``, ``cache_bytes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from evosearch.fitness.base import fitness
from evosearch.genomes.weights import WeightsGenome
from evosearch.individual import FitnessResult, Status
from evosearch.models.materialise import Materialiser
from evosearch.models.pool import ModelPool, PoolError

_RUNTIMES: dict[str, WeightsRuntime] = {}


class WeightsRuntime:
    """Pool + materialiser + model skeleton on one device (one per process and config).

    Args:
        pool: The model pool.
        device: The evaluation device.
        cache_bytes: Bound of the materialiser's LRU cache.
    """

    def __init__(self, pool: ModelPool, *, device: str = "cpu", cache_bytes: int = 2**30):
        self.pool = pool
        self.device = torch.device(device)
        self.materialiser = Materialiser(pool, device=self.device, cache_bytes=cache_bytes)
        self._model: torch.nn.Module | None = None

    @classmethod
    def get(
        cls, pool_cfg: Mapping[str, Any], *, device: str = "cpu", cache_bytes: int = 2**30
    ) -> WeightsRuntime:
        """The process-wide runtime for this pool config and device (built on first use).

        Raises:
            PoolError: the pool config is missing or unusable.
        """
        if not isinstance(pool_cfg, Mapping):
            raise PoolError("fitness.params.pool: give the model pool ({models: {name: path}})")
        key = json.dumps(
            [cls.__qualname__, pool_cfg, device, cache_bytes], sort_keys=True, default=str
        )
        rt = _RUNTIMES.get(key)
        if rt is None:
            pool = ModelPool.from_config(pool_cfg, device=device)
            rt = _RUNTIMES[key] = cls(pool, device=device, cache_bytes=cache_bytes)
        return rt

    @property
    def model(self) -> torch.nn.Module:
        """The skeleton (reference checkpoint's architecture) on the device, in eval mode."""
        if self._model is None:
            ref = self.pool.reference_dir()
            if ref is None:
                raise PoolError("the pool needs an HF checkpoint directory to build the model")
            self._model = self._load(ref).to(self.device).eval()
        return self._model

    def _load(self, ref: str) -> torch.nn.Module:
        """The skeleton from the reference checkpoint directory ``ref`` (a causal LM here)."""
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(ref)

    def model_for(self, genome: WeightsGenome) -> torch.nn.Module:
        """The skeleton holding ``genome``'s weights (copied in place)."""
        self.materialiser.load_into(self.model, genome)
        return self.model

    def evaluate(
        self,
        genomes: Sequence[WeightsGenome],
        score: Callable[[torch.nn.Module], Any],
    ) -> list[Any]:
        """Score each recipe; a recipe that cannot be built becomes an ``invalid`` result."""
        out: list[Any] = []
        for g in genomes:
            if not isinstance(g, WeightsGenome):
                out.append(FitnessResult.failure(Status.INVALID, f"not a weights genome: {g!r}"))
                continue
            try:
                self.materialiser.check(g)
                model = self.model_for(g)
            except ValueError as exc:  # PoolError, MergeParamError, RecipeError
                out.append(FitnessResult.failure(Status.INVALID, str(exc)))
                continue
            out.append(score(model))
        return out


def runtime_from_ctx(ctx: Any) -> WeightsRuntime:
    """The ``WeightsRuntime`` for a fitness context (``ctx.params['pool']``, ``ctx.device``)."""
    params = ctx.params or {}
    return WeightsRuntime.get(
        params.get("pool"),
        device=ctx.device,
        cache_bytes=int(params.get("cache_bytes", 2**30)),
    )


@fitness("weights.lm_tasks", batched=True)
def lm_tasks(genomes: Sequence[WeightsGenome], ctx: Any) -> list[Any]:
    """Two-skill exact-match accuracy of each recipe (see the module docstring)."""
    from evosearch.tasks.lm_tasks import score_model

    params = dict(ctx.params or {})
    kwargs = {k: params[k] for k in ("split", "n", "batch_size", "loglik_weight") if k in params}
    if "tasks" in params:
        kwargs["task_names"] = tuple(params["tasks"])
    rt = runtime_from_ctx(ctx)
    return rt.evaluate(genomes, lambda model: score_model(model, device=rt.device, **kwargs))

