"""CMA-ES restarts when evotorch breaks numerically, in ask or in tell (issue 14)."""

from __future__ import annotations

import numpy as np

from evosearch.individual import FitnessResult
from evosearch.strategies.evotorch import CMAES


def _strategy(**params):
    return CMAES(CMAES.Params(dimension=3, popsize=6, **params), rng=np.random.default_rng(0))


def _break_next_step(strategy):
    searcher = strategy.searcher

    def step():
        raise RuntimeError("linalg.cholesky: not positive-definite (simulated)")

    searcher.step = step


def _tell(strategy, batch):
    strategy.tell([i.with_result(FitnessResult(score=-float(np.sum(i.genome.values**2))))
                   for i in batch])


def test_a_numerical_error_while_sampling_restarts_with_a_larger_population():
    s = _strategy()
    _tell(s, s.ask())
    _break_next_step(s)
    batch = s.ask()
    assert len(batch) == 12 and {i.operator for i in batch} == {"restart"}
    params = batch[0].operator_params
    assert params["restart"] == 1 and params["popsize"] == 12
    assert params["reason"].startswith("numerical error: linalg.cholesky")
    _tell(s, batch)
    assert {i.operator for i in s.ask()} == {"evotorch.cmaes"}  # recorded once


def test_with_no_restart_left_the_strategy_reports_converged():
    s = _strategy(restarts=0)
    _tell(s, s.ask())
    _break_next_step(s)
    batch = s.ask()  # the generation asked for is still sampled
    assert len(batch) == 6
    assert s.converged.startswith("numerical error")
