import numpy as np
import pytest

from evosearch.scenarios.demo_models.evollm_lm import TrainRecipe, teacher_examples
from evosearch.scenarios.demo_models.evollm_targets import TEACHERS, best_next_mean, candidate_means
from evosearch.strategies.evollm_prompt import parse_answer


def _sphere(x):
    return float(np.sum(np.asarray(x) ** 2))


_SCORE = {"sigma": 1e-9, "popsize": 3, "low": np.full(2, -5.0), "high": np.full(2, 5.0)}


def test_candidates_are_the_teachers_mean_updates():
    shown = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0], [4.0, 4.0]])
    c = candidate_means(shown)
    assert set(c) == set(TEACHERS)
    assert c["best"].tolist() == [1.0, 0.0]
    # CMA-ES: log-rank weights, decreasing, over all five; SNES: only the top half counts
    w = np.log(5.5) - np.log(np.arange(1, 6))
    assert np.allclose(c["cmaes"], (w / w.sum()) @ shown)
    u = np.maximum(0, np.log(3.5) - np.log(np.arange(1, 6)))
    assert u[3] == u[4] == 0 and np.allclose(c["snes"], (u / u.sum()) @ shown)
    assert np.allclose(c["step"], shown[0] + 0.5 * (shown[0] - c["cmaes"]))


def test_recombination_wins_when_the_optimum_lies_between_the_shown_solutions():
    shown = np.array([[1.0, 0.5], [-1.0, -0.5], [1.2, -0.4], [-1.3, 0.3]])
    name, mean, scores = best_next_mean(shown, _sphere, rng=np.random.default_rng(0), **_SCORE)
    assert name in ("cmaes", "snes")
    assert scores[name] == min(scores.values()) < scores["best"]
    assert _sphere(mean) < _sphere(shown[0])


def test_the_best_so_far_wins_when_it_is_already_at_the_optimum():
    shown = np.array([[0.0, 0.0], [2.0, 2.0], [3.0, -3.0], [-4.0, 1.0]])
    name, mean, scores = best_next_mean(shown, _sphere, rng=np.random.default_rng(0), **_SCORE)
    assert name == "best" and mean.tolist() == [0.0, 0.0] and scores["best"] == 0.0


def test_extrapolation_wins_on_a_slope():
    shown = np.array([[1.0, 1.0], [0.0, 0.0], [-1.0, -1.0]])
    name, _, _ = best_next_mean(shown, lambda x: -float(np.sum(x)),
                                rng=np.random.default_rng(0), **_SCORE)
    assert name == "step"


def test_candidates_are_scored_after_snapping_to_the_grid():
    shown = np.array([[1.0, 0.5], [-1.0, -0.5], [1.2, -0.4]])
    _, mean, _ = best_next_mean(shown, _sphere, snap=np.round, rng=np.random.default_rng(0),
                                **_SCORE)
    assert np.array_equal(mean, np.round(mean))


def _tiny(**kw):
    return TrainRecipe(functions=(1, 8), dimensions=(2, 5), instances=(11,), generations=4,
                       rollouts=1, **kw)


@pytest.mark.parametrize("target", ["policy", "step"])
def test_multi_teacher_examples_are_prompts_and_parseable_answers(target):
    stats = {}
    pairs = teacher_examples(_tiny(target=target), stats=stats)
    # 2 functions x (1 block at d=2 + 2 blocks at d=5) x 3 generations after the first
    assert len(pairs) == 2 * 3 * 3
    for prompt, answer in pairs:
        count = 2 if "(2 integers)" in prompt else 1 if "(1 integers)" in prompt else 4
        assert "sorted worst to best" in prompt and prompt.endswith("x=\n")
        assert parse_answer(answer, count, 100).status == "ok"
    assert sum(v for k, v in stats.items() if k in TEACHERS) == 2 * 2 * 3
    if target == "policy":
        scores = stats["policy_scores"]
        winner = min(scores, key=scores.get)
        assert set(scores) == set(TEACHERS) and stats[winner] == 12


def test_teacher_examples_are_deterministic():
    assert teacher_examples(_tiny()) == teacher_examples(_tiny())


@pytest.mark.parametrize(("field", "value"), [("teacher", "oracle"), ("target", "greedy")])
def test_an_unknown_teacher_or_target_is_one_clear_error(field, value):
    with pytest.raises(ValueError, match=f"{field}: '{value}' is not one of"):
        teacher_examples(_tiny(**{field: value}))
