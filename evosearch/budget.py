"""``Budget``: what a run has spent and whether a limit is reached — one place for both.

A run stops on whichever limit of its ``budget`` config comes first: generations,
evaluations, wall-clock seconds or LLM tokens (DESIGN §3). The budget counts the tokens
(of variations and of evaluations, including those of children a strategy dropped), the
failed evaluations and the wall clock across resumes; the generation and evaluation counts
are the strategy's, passed in when asked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from evosearch.batch import Batch, Results
from evosearch.config import BudgetConfig
from evosearch.individual import Individual


class Budget:
    """The limits of a run and what it has spent against them.

    Args:
        limits: The ``budget`` config.
        steady_state: The strategy is steady-state (``generations`` then counts
            ``batch_size`` evaluations each, and asks in flight count as spent).
        batch_size: The strategy's batch size.
        counters: Counters of a checkpoint, to go on from (``elapsed``, ``tokens``,
            ``failed``).
    """

    def __init__(
        self,
        limits: BudgetConfig,
        *,
        steady_state: bool = False,
        batch_size: int = 1,
        counters: Mapping[str, Any] | None = None,
    ):
        counters = counters or {}
        self.limits = limits
        self.steady_state = steady_state
        self.batch_size = max(1, batch_size)
        self.elapsed_before = float(counters.get("elapsed", 0.0))
        self.tokens = int(counters.get("tokens", 0))
        self.failed = int(counters.get("failed", 0))
        self._start = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Wall-clock seconds of the run, over all its sessions."""
        return self.elapsed_before + (time.monotonic() - self._start)

    def count_batch(self, batch: Batch, results: Results) -> None:
        """Count a told generation: its variations' and evaluations' tokens, its failures."""
        self.tokens += results.tokens()
        if batch.cost:
            self.tokens += sum(c.tokens_in + c.tokens_out for c in batch.cost)
        self.failed += results.failures()

    def count(self, individuals: Iterable[Individual]) -> None:
        """Count told individuals: tokens of their variation and evaluation, failures."""
        for ind in individuals:
            self.tokens += ind.cost.tokens_in + ind.cost.tokens_out
            if ind.result is not None:
                self.tokens += ind.result.cost.tokens_in + ind.result.cost.tokens_out
            if math.isnan(ind.score):
                self.failed += 1

    def exhausted(self, generation: int, evaluations: int, in_flight: int = 0) -> str | None:
        """The first limit reached (``generations`` ... ``llm_tokens``), or None.

        Args:
            generation: The strategy's generation.
            evaluations: The strategy's told evaluations.
            in_flight: Asks out for evaluation (steady state: they count as spent).
        """
        b = self.limits
        steady = self.steady_state
        evaluations_out = evaluations + (in_flight if steady else 0)
        checks = (
            ("generations", b.generations is not None and generation >= b.generations),
            (
                "generations",
                b.generations is not None
                and steady
                and evaluations + in_flight >= b.generations * self.batch_size,
            ),
            ("evaluations", b.evaluations is not None and evaluations_out >= b.evaluations),
            ("wall_seconds", b.wall_seconds is not None and self.elapsed >= b.wall_seconds),
            ("llm_tokens", b.llm_tokens is not None and self.tokens >= b.llm_tokens),
        )
        return next((name for name, hit in checks if hit), None)

    def fraction_done(self, generation: int, evaluations: int) -> float:
        """How far the run is toward its nearest limit, in [0, 1]."""
        b = self.limits
        fractions = []
        if b.generations:
            fractions.append(generation / b.generations)
        if b.evaluations:
            fractions.append(evaluations / b.evaluations)
        if b.wall_seconds:
            fractions.append(self.elapsed / b.wall_seconds)
        if b.llm_tokens:
            fractions.append(self.tokens / b.llm_tokens)
        return min(1.0, max(fractions or [0.0]))

    def counters(self) -> dict[str, Any]:
        """What a checkpoint keeps of the budget (read back through ``counters=``)."""
        return {"elapsed": self.elapsed, "tokens": self.tokens, "failed": self.failed}
