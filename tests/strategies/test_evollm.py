import numpy as np
import pytest

from evosearch import Engine
from evosearch.individual import FitnessResult
from evosearch.llm.pool import clear_backends
from evosearch.store import RunStore
from evosearch.strategies.evollm import EvoLLM, EvoLLMParams
from evosearch.strategies.evollm_prompt import (
    blocks,
    fitness_labels,
    from_grid,
    parse_answer,
    render_prompt,
    to_grid,
)


@pytest.fixture(autouse=True)
def _fresh_backends():
    clear_backends()
    yield
    clear_backends()


def test_grid_round_trip_is_exact_on_lattice_points():
    low, high = np.full(3, -5.0), np.full(3, 5.0)
    z = np.array([0, 37, 100])
    assert np.array_equal(to_grid(from_grid(z, low, high, 100), low, high, 100), z)


def test_grid_clips_out_of_box_values():
    low, high = np.zeros(2), np.ones(2)
    assert to_grid(np.array([-3.0, 7.0]), low, high, 10).tolist() == [0, 10]


def test_prompt_lists_solutions_worst_to_best_with_scaled_losses():
    grid = np.array([[1, 2], [3, 4], [5, 6]])
    text = render_prompt(grid, [30.0, 20.0, 10.0], 100)
    lines = [ln for ln in text.splitlines() if ln.startswith("x=") and " f=" in ln]
    assert lines == ["x=001,002 f=999", "x=003,004 f=500", "x=005,006 f=000"]
    assert "(2 integers)" in text and text.rstrip().endswith("x=")


def test_fitness_labels_of_equal_losses_are_zero():
    assert fitness_labels([4.0, 4.0]) == [0, 0]


def test_parse_round_trips_a_rendered_solution():
    res = parse_answer("12,40,7\n", 3, 100)
    assert res.status == "ok" and res.values.tolist() == [12, 40, 7]


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("", "no_numbers"),
        ("I think the answer is unclear", "no_numbers"),
        ("1,2", "wrong_count"),
        ("1,2,3,4", "wrong_count"),
    ],
)
def test_malformed_answers_are_unusable(answer, status):
    res = parse_answer(answer, 3, 100)
    assert res.values is None and res.status == status


def test_out_of_bounds_values_are_clipped_and_flagged():
    res = parse_answer("-4,50,250", 3, 100)
    assert res.status == "clipped" and res.values.tolist() == [0, 50, 100]


def test_parse_ignores_an_echoed_fitness():
    assert parse_answer("5,6 f=12", 2, 100).values.tolist() == [5, 6]


def test_blocks_cover_every_coordinate_once():
    assert blocks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert blocks(3, 8) == [(0, 3)]


def _llm(answers):
    return {"ref": "scripted", "params": {"responses": answers}}


def _run_generations(strategy, gens, f=lambda x: -float(np.sum(x**2))):
    for _ in range(gens):
        batch = strategy.ask()
        strategy.tell([i.with_result(FitnessResult(score=f(i.genome.values))) for i in batch])


def test_blockwise_querying_sends_one_request_per_block_in_one_call():
    from evosearch.llm.pool import backend_from_config

    params = EvoLLMParams(dimension=10, block_size=4, popsize=4, llm=_llm(["50,50,50,50"]))
    s = EvoLLM(params, rng=np.random.default_rng(0))
    _run_generations(s, 2)
    backend = backend_from_config(params.llm)
    assert len(backend.calls) == 3  # blocks 4 + 4 + 2 in the second generation
    assert s.llm_calls == 1 and s.block_requests == 3
    # the last block asked for 2 integers, got 4: it falls back to the buffer's best
    assert s.fallbacks == 1
    assert "(2 integers)" in backend.calls[-1].messages[-1].content


def test_the_proposed_mean_is_the_first_individual_and_records_every_call():
    params = EvoLLMParams(dimension=2, low=0.0, high=1.0, popsize=5, llm=_llm(["25,75"]))
    s = EvoLLM(params, rng=np.random.default_rng(1))
    _run_generations(s, 1)
    batch = s.ask()
    assert batch[0].operator == "evollm.mean"
    assert np.allclose(batch[0].genome.values, [0.25, 0.75])
    calls = batch[0].operator_params["calls"]
    assert calls == [
        {"block": [0, 2], "answer": "25,75", "outcome": "ok", "detail": "", "fallback": False}
    ]
    assert batch[0].cost.tokens_out == len("25,75")


def test_unparseable_answers_fall_back_to_the_buffer_best():
    params = EvoLLMParams(dimension=2, popsize=4, llm=_llm(["no idea"]))
    s = EvoLLM(params, rng=np.random.default_rng(2))
    _run_generations(s, 1)
    best = s.best.genome.values
    batch = s.ask()
    low, high = np.full(2, -5.0), np.full(2, 5.0)
    expected = from_grid(to_grid(best, low, high, 100), low, high, 100)
    assert np.allclose(batch[0].genome.values, expected)
    assert s.fallbacks == 1
    assert batch[0].operator_params["calls"][0]["outcome"] == "no_numbers"


def test_backend_errors_fall_back_and_are_recorded():
    llm = {"ref": "scripted", "params": {"responses": ["1,2"], "fail_every": 1}}
    s = EvoLLM(EvoLLMParams(dimension=2, popsize=3, llm=llm), rng=np.random.default_rng(3))
    _run_generations(s, 2)
    assert s.fallbacks == 1


def test_sigma_decays_to_its_floor():
    params = EvoLLMParams(dimension=2, popsize=3, sigma_init=0.1, sigma_decay=0.5,
                          sigma_min=0.02, llm=_llm(["50,50"]))
    s = EvoLLM(params, rng=np.random.default_rng(4))
    _run_generations(s, 5)
    assert s.sigma == pytest.approx(0.02)


def test_evollm_runs_are_deterministic_with_a_scripted_backend(tmp_path):
    def cfg():
        return {
            "name": "evollm",
            "seed": 11,
            "budget": {"generations": 4},
            "fitness": {"ref": "bbob", "params": {"function": 1, "dimension": 3}},
            "strategy": {
                "ref": "evollm",
                "params": {"dimension": 3, "population_size": 5, "block_size": 2,
                           "llm": _llm(["40,60", "55", "x", "10,20"])},
            },
        }

    tables = []
    for name in ("a", "b"):
        clear_backends()
        Engine.create(cfg(), tmp_path / name).run()
        t = RunStore.open(tmp_path / name).table().drop_columns(["eval_seconds"])
        tables.append(t)
    assert tables[0].num_rows == 20
    assert tables[0].equals(tables[1])


def test_random_search_and_hill_climb_improve_on_the_sphere():
    from evosearch.strategies.simple import HillClimb, HillClimbParams, RandomSearch

    for s in (
        RandomSearch(RandomSearch.Params(dimension=3, popsize=8), rng=np.random.default_rng(0)),
        HillClimb(HillClimbParams(dimension=3, popsize=8), rng=np.random.default_rng(0)),
    ):
        _run_generations(s, 15)
        assert s.best.score > -5.0


def test_zero_padded_answers_parse_as_integers():
    assert parse_answer("053,007,100", 3, 100).values.tolist() == [53, 7, 100]


def test_best_first_order_lists_the_best_solution_first():
    text = render_prompt(np.array([[5, 6], [3, 4]]), [10.0, 30.0], 100, "best_first")
    lines = [ln for ln in text.splitlines() if ln.startswith("x=") and " f=" in ln]
    assert lines == ["x=005,006 f=000", "x=003,004 f=999"] and "sorted best to worst" in text


def test_best_first_strategy_prompt_and_fallback_use_the_best_row():
    from evosearch.llm.pool import backend_from_config

    params = EvoLLMParams(dimension=2, popsize=4, order="best_first", llm=_llm(["junk"]))
    s = EvoLLM(params, rng=np.random.default_rng(5))
    _run_generations(s, 1)
    batch = s.ask()
    prompt = backend_from_config(params.llm).calls[-1].messages[-1].content
    rows = [ln for ln in prompt.splitlines() if ln.startswith("x=") and " f=" in ln]
    assert rows[0].endswith("f=000")  # the best first
    low, high = np.full(2, -5.0), np.full(2, 5.0)
    expected = from_grid(to_grid(s.best.genome.values, low, high, 100), low, high, 100)
    assert np.allclose(batch[0].genome.values, expected)


def test_an_unknown_order_is_rejected():
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="order"):
        EvoLLMParams(dimension=2, order="random", llm=_llm(["1,2"]))


def test_a_re_evaluated_point_fills_one_buffer_slot():
    params = EvoLLMParams(dimension=2, popsize=3, top_k=2, llm=_llm(["50,50"]))
    s = EvoLLM(params, rng=np.random.default_rng(6))
    for _ in range(4):  # the same proposed mean (0, 0) is evaluated every generation
        _run_generations(s, 1)
    assert np.sum(np.all(s.buffer_x == 0.0, axis=1)) == 1
    assert len(np.unique(s.buffer_x, axis=0)) == len(s.buffer_x)
