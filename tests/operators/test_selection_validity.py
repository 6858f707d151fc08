"""Selection never picks an individual without a valid score, even when none has one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evosearch import registry
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import FitnessResult, Individual, Status
from evosearch.operators.selection import valid_only

RULES = ["best", "roulette", "tournament", "truncation", "uniform"]


def _ind(i: int, score: float) -> Individual:
    status = Status.OK if not math.isnan(score) else Status.FAILED
    return Individual(
        id=i,
        genome=VectorGenome([float(i)]),
        result=FitnessResult(score=score, status=status, error="" if status is Status.OK else "x"),
    )


def test_valid_only_keeps_valid_scores_and_returns_nothing_when_none_is_valid():
    mixed = [_ind(0, 1.0), _ind(1, math.nan), _ind(2, -3.0)]
    assert [i.id for i in valid_only(mixed)] == [0, 2]
    assert valid_only([_ind(0, math.nan), _ind(1, math.nan)]) == []


@pytest.mark.parametrize("rule", RULES)
def test_a_rule_given_only_failed_individuals_says_so(rule):
    selector = registry.selectors.get(rule).create({})
    failed = [_ind(i, math.nan) for i in range(4)]
    with pytest.raises(ValueError, match=rf"{rule} selection: no individual with a valid score"):
        selector(failed, 2, np.random.default_rng(0))
