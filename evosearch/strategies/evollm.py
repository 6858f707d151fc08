"""EvoLLM (Lange et al., 2024): a language model as the recombination operator of an ES.

Each generation: take the best ``top_k`` solutions evaluated so far, render them as
discretised integer coordinates sorted worst → best with their (scaled) losses, ask the LLM for
a better mean — one request per block of ``block_size`` coordinates, all blocks in one batched
``generate`` call — parse it (falling back to the buffer's best coordinates for a block whose
answer does not parse, and counting such fallbacks), then sample the population around the
proposed mean with a decaying σ. Every call and its parse outcome is stored with the
individuals it produced (``operator_params`` of the generation's first individual, the
proposed mean itself).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pydantic
from pydantic import Field

from evosearch import registry
from evosearch.config import PluginConfig
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Cost, Individual
from evosearch.llm.base import LLMRequest
from evosearch.strategies.base import Offspring, Strategy, box_bounds
from evosearch.strategies.evollm_prompt import (
    blocks,
    from_grid,
    parse_answer,
    render_prompt,
    to_grid,
)


class EvoLLMParams(pydantic.BaseModel):
    """Parameters of the EvoLLM strategy.

    Attributes:
        dimension: Vector length; ``low``/``high`` bound the search box.
        popsize: Individuals per generation (the proposed mean plus ``popsize - 1`` samples).
        top_k: Buffer solutions shown to the LLM (distinct points; a re-evaluated point is
            kept once).
        order: ``worst_first`` (the paper's order, and the one the offline model is trained
            on) or ``best_first``.
        resolution: Coordinates are shown as integers ``0..resolution``.
        block_size: Coordinates per LLM request (large dimensions are queried blockwise).
        sigma_init: Initial sampling σ as a fraction of the box width.
        sigma_decay: σ multiplier per generation; ``sigma_min`` is the floor (fractions).
        llm: The backend (``transformers``, ``openai``, or ``evollm_tiny``, the model this
            project trains on teacher trajectories).
        temperature: Sampling temperature of the LLM (0 = greedy).
        max_tokens: Generation budget per request.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    dimension: int = Field(ge=1)
    low: float = -5.0
    high: float = 5.0
    popsize: int = Field(default=10, ge=2)
    top_k: int = Field(default=5, ge=2)
    order: Literal["worst_first", "best_first"] = "worst_first"
    resolution: int = Field(default=100, ge=2)
    block_size: int = Field(default=4, ge=1)
    sigma_init: float = Field(default=0.15, gt=0, le=1)
    sigma_decay: float = Field(default=0.9, gt=0, le=1)
    sigma_min: float = Field(default=0.005, ge=0)
    llm: PluginConfig
    temperature: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(default=48, ge=1)


@registry.strategies.register("evollm")
class EvoLLM(Strategy):
    """The LLM proposes the next mean; a Gaussian around it gives the population."""

    Params = EvoLLMParams

    def __init__(self, params: EvoLLMParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        d = params.dimension
        self.low, self.high = box_bounds(d, params.low, params.high)
        self.sigma = params.sigma_init
        self.buffer_x = np.empty((0, d))
        self.buffer_loss = np.empty(0)
        self.llm_calls = 0
        self.fallbacks = 0
        self.block_requests = 0
        registry.llms.get(params.llm.name)  # fail early on an unknown backend

    @property
    def batch_size(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> list[Offspring]:
        p = self.params
        if self.buffer_x.shape[0] == 0:
            xs = self.rng.uniform(self.low, self.high, size=(n, p.dimension))
            return [Offspring(VectorGenome(x, p.low, p.high), operator="init") for x in xs]
        mean, record, cost = self._propose_mean()
        width = self.high - self.low
        samples = mean + self.rng.normal(size=(n - 1, p.dimension)) * self.sigma * width
        samples = np.clip(samples, self.low, self.high)
        first = Offspring(
            VectorGenome(mean, p.low, p.high), operator="evollm.mean", operator_params=record,
            cost=cost,
        )
        rest = [
            Offspring(
                VectorGenome(x, p.low, p.high),
                operator="evollm.sample",
                operator_params={"sigma": self.sigma, "generation_record_on": "evollm.mean"},
            )
            for x in samples
        ]
        return [first, *rest]

    def _propose_mean(self) -> tuple[np.ndarray, dict, Cost]:
        p = self.params
        order = np.argsort(self.buffer_loss, kind="stable")[: p.top_k][::-1]  # worst → best
        shown_x, shown_loss = self.buffer_x[order], self.buffer_loss[order]
        if p.order == "best_first":
            shown_x, shown_loss = shown_x[::-1], shown_loss[::-1]
        grid = to_grid(shown_x, self.low, self.high, p.resolution)
        spans = blocks(p.dimension, p.block_size)
        requests = [
            LLMRequest.from_prompt(
                render_prompt(grid[:, a:b], shown_loss, p.resolution, p.order),
                max_tokens=p.max_tokens,
                temperature=p.temperature,
                seed=int(self.rng.integers(0, 2**31 - 1)),
                stop=("\n",),
                tag="evollm.mean",
            )
            for a, b in spans
        ]
        completions = self.llm_backend(p.llm).generate(requests)
        self.llm_calls += 1
        self.block_requests += len(requests)
        best_grid = grid[-1] if p.order == "worst_first" else grid[0]
        mean_grid = best_grid.copy()
        calls = []
        cost = Cost()
        for (a, b), comp in zip(spans, completions):
            cost = cost + Cost(comp.tokens_in, comp.tokens_out, comp.cost_usd)
            if comp.error:
                outcome, detail, values = "backend_error", comp.error, None
            else:
                parsed = parse_answer(comp.text, b - a, p.resolution)
                outcome, detail, values = parsed.status, parsed.detail, parsed.values
            if values is None:
                self.fallbacks += 1
            else:
                mean_grid[a:b] = values
            calls.append({"block": [a, b], "answer": comp.text[:200], "outcome": outcome,
                          "detail": detail, "fallback": values is None})
        mean = from_grid(mean_grid, self.low, self.high, p.resolution)
        record = {
            "sigma": self.sigma,
            "calls": calls,
            "fallback_blocks": sum(c["fallback"] for c in calls),
            "blocks": len(calls),
        }
        return mean, record, cost

    def _tell(self, individuals: list[Individual]) -> None:
        xs = np.stack([i.genome.values for i in individuals])
        scores = np.array([i.score for i in individuals])
        ok = np.isfinite(scores)
        self.buffer_x = np.concatenate([self.buffer_x, xs[ok]])
        self.buffer_loss = np.concatenate([self.buffer_loss, -scores[ok]])
        _, first = np.unique(self.buffer_x, axis=0, return_index=True)  # each point once
        by_loss = first[np.argsort(self.buffer_loss[first], kind="stable")]
        keep = by_loss[: max(64, 4 * self.params.top_k)]
        self.buffer_x, self.buffer_loss = self.buffer_x[keep], self.buffer_loss[keep]
        if self.generation > 0:  # the init generation does not shrink σ
            self.sigma = max(self.params.sigma_min, self.sigma * self.params.sigma_decay)
