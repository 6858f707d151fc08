"""A test-only operator that asks an LLM backend and moves a vector (for accounting tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic.dataclasses import dataclass

from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Cost
from evosearch.llm.base import LLMRequest, backend_from_config
from evosearch.operators.base import PARAMS, Child, VariationError


@dataclass(config=PARAMS)
class AskThenNudge:
    """Sends one seeded request per child; the answer is ignored, its usage recorded."""

    llm: dict[str, Any]
    arity = 1

    def __call__(self, parents: list[VectorGenome], rng: np.random.Generator) -> list[Child]:
        req = LLMRequest.from_prompt(
            f"improve {parents[0].values.round(3).tolist()}",
            seed=int(rng.integers(0, 2**31 - 1)),
            temperature=0.7,
            tag="test.nudge",
        )
        (c,) = backend_from_config(self.llm).generate([req])
        cost = Cost(c.tokens_in, c.tokens_out, c.cost_usd)
        if not c.ok:
            raise VariationError(c.error, raw=c.text, cost=cost)
        g = parents[0]
        values = g.values + rng.normal(0, 0.1, size=g.values.shape)
        return [Child(VectorGenome(values, g.low, g.high), {"cached": c.cached}, cost)]
