"""The minimal plugin of every family shown in docs/plugins.md, written against evosearch.api.

tests/test_plugin_api.py runs them in a real run, so the documentation's examples keep working.
"""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pydantic
from pydantic.dataclasses import dataclass

from evosearch.api import (
    PARAMS,
    STATEFUL,
    AddStatus,
    Archive,
    Completion,
    Executor,
    Initializer,
    LLMBackend,
    Offspring,
    Operator,
    Selector,
    Strategy,
    VectorGenome,
    fitness,
    run_task,
)


# --- fitness
@fitness("docs.neg_l1")
def neg_l1(genome, ctx):
    return -float(np.abs(genome.values).sum())


# --- operator
@dataclass(config=PARAMS)
class Flip(Operator):
    """Negate one random coordinate of the parent."""

    def __call__(self, parents, rng):
        g = parents[0]
        values = g.values.copy()
        i = int(rng.integers(len(values)))
        values[i] = -values[i]
        return [Offspring(VectorGenome(values, g.low, g.high), operator_params={"index": i})]


# --- selector
@dataclass(config=PARAMS)
class BestHalf(Selector):
    """Uniform picks among the better half."""

    def __call__(self, individuals, n, rng):
        ranked = sorted(individuals, key=lambda i: i.score, reverse=True)
        top = ranked[: max(1, len(ranked) // 2)]
        return [top[k] for k in rng.integers(len(top), size=n)]


# --- initializer
@dataclass(config=PARAMS)
class Box(Initializer):
    """Uniform vectors in [-width, width]^dimension."""

    dimension: int
    width: float = 5.0

    def __call__(self, n, rng):
        lo, hi = -self.width, self.width
        return [VectorGenome(rng.uniform(lo, hi, self.dimension), lo, hi) for _ in range(n)]


# --- archive
@dataclass(config=STATEFUL)
class KeepBest(Archive):
    """The ``size`` best individuals seen."""

    size: int = 10

    def __post_init__(self):
        self._members = []

    def add(self, individuals):
        out = []
        for ind in individuals:
            self._members.append(ind)
            self._members.sort(key=lambda i: i.score, reverse=True)
            kept = ind in self._members[: self.size]
            del self._members[self.size :]
            out.append(AddStatus.NEW if kept else AddStatus.NOT_ADDED)
        return out

    def members(self):
        return list(self._members)


# --- strategy
class RandomVectors(Strategy):
    """Independent uniform samples every generation."""

    class Params(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
        dimension: int = pydantic.Field(ge=1)
        population_size: int = pydantic.Field(default=8, ge=1)

    def __init__(self, params, *, rng):
        super().__init__(rng=rng)
        self.params = params

    @property
    def batch_size(self):
        return self.params.population_size

    def _ask(self, n):
        d = self.params.dimension
        return [Offspring(VectorGenome(self.rng.uniform(-5, 5, d), -5.0, 5.0)) for _ in range(n)]

    def _tell(self, individuals):
        pass


# --- executor
class Inline(Executor):
    """Runs each task at once, in this process."""

    def submit(self, task):
        future = cf.Future()
        future.set_result(run_task(task))
        return future


# --- LLM backend
class Echo(LLMBackend):
    """Answers every request with its last message, prefixed."""

    cacheable = True

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def generate(self, requests):
        return [Completion(text=self.prefix + r.messages[-1].content) for r in requests]
