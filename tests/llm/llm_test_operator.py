"""A test-only operator that asks an LLM backend and moves a vector (for accounting tests)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from conftest import archive_config
from pydantic.dataclasses import dataclass

from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Cost
from evosearch.llm.base import LLMRequest
from evosearch.llm.pool import backend_from_config
from evosearch.operators.base import PARAMS, Offspring, Operator, VariationError


@dataclass(config=PARAMS)
class AskThenNudge(Operator):
    """Sends one seeded request per child; the answer is ignored, its usage recorded."""

    llm: dict[str, Any]
    arity = 1

    def __call__(self, parents: list[VectorGenome], rng: np.random.Generator) -> list[Offspring]:
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
        return [Offspring(
            VectorGenome(values, g.low, g.high), operator_params={"cached": c.cached}, cost=cost
        )]


def llm_run(url: str, budget: dict) -> dict:
    """A tiny archive run whose only operator is ``AskThenNudge`` on the server at ``url``."""
    llm = {
        "ref": "openai",
        "params": {"base_url": url, "model": "m", "price_in": 2.0, "price_out": 4.0},
    }
    cfg = archive_config(budget=budget)
    cfg["strategy"]["params"]["population_size"] = 4
    cfg["strategy"]["params"]["operators"] = [
        {"ref": "llm_test_operator:AskThenNudge", "params": {"llm": llm}}
    ]
    return cfg


@dataclass(config=PARAMS)
class AskForNumber(Operator):
    """Asks for a number and adds it to the first coordinate; an answer without one fails."""

    llm: dict[str, Any]
    max_tokens: int = 8
    arity = 1

    def __call__(self, parents: list[VectorGenome], rng: np.random.Generator) -> list[Offspring]:
        req = LLMRequest.from_prompt(
            "Answer with one number:",
            max_tokens=self.max_tokens,
            temperature=1.0,
            seed=int(rng.integers(0, 2**31 - 1)),
        )
        (c,) = backend_from_config(self.llm).generate([req])
        cost = Cost(c.tokens_in, c.tokens_out, c.cost_usd)
        match = re.search(r"-?\d+(\.\d+)?", c.text)
        if not c.ok or match is None:
            raise VariationError(
                f"no number in the answer: {c.error or c.text!r}", raw=c.text, cost=cost
            )
        g = parents[0]
        values = g.values.copy()
        values[0] += float(match.group())
        return [Offspring(VectorGenome(values, g.low, g.high), cost=cost)]
