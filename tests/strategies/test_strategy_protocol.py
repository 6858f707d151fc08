"""Ask/tell order rules, checked for every registered strategy (STYLE.md 1)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from plugin_examples import EXERCISED_ELSEWHERE, STRATEGY_PARAMS

from evosearch import registry
from evosearch.config import load_config
from evosearch.engine import build_strategy
from evosearch.individual import FitnessResult, Individual, Status
from evosearch.strategies.base import Strategy

# Strategies that need a model or an LLM are checked by their own tests (plugin_examples).
STRATEGIES = [n for n in registry.strategies.names() if n not in EXERCISED_ELSEWHERE["strategy"]]


def make(name: str, seed: int = 0):
    if name not in STRATEGY_PARAMS:
        pytest.fail(f"strategy {name!r}: add minimal params to tests/plugin_examples.py")
    cfg = load_config(
        {
            "budget": {"generations": 1},
            "fitness": "sphere",
            "strategy": {"ref": name, "params": STRATEGY_PARAMS[name]},
        }
    )
    return build_strategy(cfg, np.random.default_rng(seed))


def evaluated(batch: list[Individual], rng=None) -> list[Individual]:
    rng = rng or np.random.default_rng(1)
    return [
        i if i.result is not None else i.with_result(FitnessResult(score=float(-rng.random())))
        for i in batch
    ]


@pytest.mark.parametrize("name", STRATEGIES)
def test_tell_without_ask_raises(name):
    s = make(name)
    with pytest.raises(RuntimeError, match="without a pending ask"):
        s.tell([])


@pytest.mark.parametrize("name", STRATEGIES)
def test_tell_of_unknown_id_raises(name):
    s = make(name)
    batch = evaluated(s.ask())
    stranger = batch[0].__class__(id=10_000, genome=batch[0].genome, result=batch[0].result)
    with pytest.raises(RuntimeError, match="not pending"):
        s.tell([*batch[1:], stranger])


@pytest.mark.parametrize("name", STRATEGIES)
def test_tell_of_duplicate_ids_raises(name):
    s = make(name)
    batch = evaluated(s.ask())
    with pytest.raises(RuntimeError, match="not pending"):
        s.tell([*batch, batch[0]])


@pytest.mark.parametrize("name", STRATEGIES)
def test_tell_twice_raises(name):
    s = make(name)
    batch = evaluated(s.ask())
    s.tell(batch)
    with pytest.raises(RuntimeError):
        s.tell(batch)


@pytest.mark.parametrize("name", STRATEGIES)
def test_tell_of_unevaluated_individuals_raises(name):
    s = make(name)
    batch = s.ask()
    with pytest.raises(RuntimeError, match="evaluated"):
        s.tell(batch)


@pytest.mark.parametrize("name", STRATEGIES)
def test_generational_strategies_refuse_a_second_ask_and_partial_batches(name):
    s = make(name)
    if s.steady_state:
        first, second = s.ask(2), s.ask(2)  # several outstanding asks are the point
        s.tell(evaluated(second[:1]))  # any order, any grouping
        s.tell(evaluated([*first, second[1]]))
        assert s.pending == 0 and s.evaluations == 4
        return
    with pytest.raises(RuntimeError, match="whole batches"):
        s.ask(s.batch_size + 1)
    batch = s.ask()
    with pytest.raises(RuntimeError, match="before tell"):
        s.ask()
    with pytest.raises(RuntimeError, match="whole batch"):
        s.tell(evaluated(batch[:-1]))


@pytest.mark.parametrize("name", STRATEGIES)
def test_a_rejected_tell_leaves_the_strategy_usable(name):
    s = make(name)
    batch = evaluated(s.ask())
    with pytest.raises(RuntimeError):
        s.tell([*batch, batch[0]])
    s.tell(batch)
    nxt = s.ask()
    assert [i.id for i in nxt] == list(range(len(batch), len(batch) + len(nxt)))


@pytest.mark.parametrize("name", STRATEGIES)
def test_failed_evaluations_are_told_and_never_become_best(name):
    s = make(name)
    for _ in range(3):
        batch = s.ask()
        results = [
            FitnessResult.failure(Status.FAILED, "boom") if i.id % 2 else FitnessResult(score=-i.id)
            for i in batch
        ]
        s.tell([i if i.result else i.with_result(r) for i, r in zip(batch, results)])
    assert s.best is not None and s.best.result.ok
    assert s.evaluations == 3 * len(batch)


@pytest.mark.parametrize("name", STRATEGIES)
def test_ids_increase_and_generations_count(name):
    s = make(name)
    seen = []
    for g in range(3):
        batch = s.ask()
        seen.extend(i.id for i in batch)
        if not s.steady_state:
            assert {i.generation for i in batch} == {g}
        s.tell(evaluated(batch))
    assert seen == list(range(len(seen)))


# Strategies with ``restore(store)`` leave state out of the pickle and rebuild it from the
# committed individuals; their resume is covered by tests/store/test_sigkill_resume.py.
SELF_CONTAINED = [
    n for n in STRATEGIES if registry.strategies.get(n).obj.restore is Strategy.restore
]


@pytest.mark.parametrize("name", SELF_CONTAINED)
def test_a_pickled_strategy_continues_identically(name):
    a = make(name, seed=4)
    a.tell(evaluated(a.ask()))
    b = pickle.loads(pickle.dumps(a))
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(2):
        ba, bb = a.ask(), b.ask()
        assert [i.genome.fingerprint() for i in ba] == [i.genome.fingerprint() for i in bb]
        a.tell(evaluated(ba, rng_a))
        b.tell(evaluated(bb, rng_b))
