"""``Budget``: one place that counts what a run spends and says which limit it reached."""

from __future__ import annotations

import math

import numpy as np

from evosearch.budget import Budget
from evosearch.config import BudgetConfig
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Cost, FitnessResult, Individual


def ind(i: int, score: float, tokens_in: int = 0, eval_tokens: int = 0) -> Individual:
    genome = VectorGenome(np.zeros(1))
    result = FitnessResult(score=score, cost=Cost(eval_tokens, 0))
    return Individual(id=i, genome=genome, result=result, cost=Cost(tokens_in, 0))


def test_the_first_limit_reached_is_named():
    budget = Budget(BudgetConfig(generations=3, evaluations=10, llm_tokens=50))
    assert budget.exhausted(generation=2, evaluations=9) is None
    assert budget.exhausted(generation=3, evaluations=9) == "generations"
    assert budget.exhausted(generation=2, evaluations=10) == "evaluations"
    budget.count([ind(0, 1.0, tokens_in=30, eval_tokens=20)])
    assert budget.tokens == 50
    assert budget.exhausted(generation=0, evaluations=0) == "llm_tokens"


def test_steady_state_counts_asks_in_flight_as_spent():
    budget = Budget(BudgetConfig(evaluations=10, generations=5), steady_state=True, batch_size=4)
    assert budget.exhausted(generation=0, evaluations=8) is None
    assert budget.exhausted(generation=0, evaluations=8, in_flight=2) == "evaluations"
    generational = Budget(BudgetConfig(evaluations=10))
    assert generational.exhausted(generation=0, evaluations=8, in_flight=2) is None


def test_counters_carry_over_a_resume_and_failures_are_counted():
    budget = Budget(BudgetConfig(llm_tokens=100), counters={"tokens": 40, "failed": 2})
    budget.count([ind(0, math.nan, tokens_in=5), ind(1, 1.0)])
    counters = budget.counters()
    assert (counters["tokens"], counters["failed"]) == (45, 3)
    again = Budget(BudgetConfig(llm_tokens=100), counters=counters)
    assert (again.tokens, again.failed) == (45, 3)
    assert again.elapsed >= counters["elapsed"]
    assert again.fraction_done(generation=0, evaluations=0) == 0.45
