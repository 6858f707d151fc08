"""The synthetic skills' data: deterministic, disjoint splits with correct answers."""

from __future__ import annotations

import numpy as np
import pytest

from evosearch.tasks import lm_data


@pytest.mark.parametrize("task", lm_data.TASKS)
def test_splits_are_deterministic_and_disjoint(task):
    lm_data._splits.cache_clear()
    first = {s: lm_data.examples(task, s) for s in lm_data.SPLITS}
    lm_data._splits.cache_clear()
    again = {s: lm_data.examples(task, s) for s in lm_data.SPLITS}
    assert first == again
    prompts = {s: {e.prompt for e in first[s]} for s in lm_data.SPLITS}
    assert not prompts["train"] & prompts["test"]
    assert not prompts["train"] & prompts["val"]
    assert not prompts["val"] & prompts["test"]
    assert len(first["test"]) == lm_data.HELD_OUT["test"]
    assert len(first["val"]) == lm_data.HELD_OUT["val"]


def test_a_different_seed_gives_different_splits():
    assert lm_data.examples("add", "test", seed=1) != lm_data.examples("add", "test", seed=2)


def test_answers_are_right():
    for ex in lm_data.examples("add", "test"):
        a, b = ex.prompt[:-1].split("+")
        assert ex.answer == str(int(a) + int(b)) and 10 <= int(a) <= 99
    for ex in lm_data.examples("rev", "test"):
        assert ex.prompt.endswith("|") and ex.answer == ex.prompt[:-1][::-1]
        assert 3 <= len(ex.answer) <= 6


def test_unknown_task_or_split_names_the_allowed_values():
    with pytest.raises(ValueError, match="allowed: \\['add', 'rev'\\]"):
        lm_data.examples("mul", "test")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        lm_data.examples("add", "dev")


def test_pretraining_text_holds_no_two_digit_sums_and_no_reversals():
    lines = lm_data.pretraining_texts(500, np.random.default_rng(0))
    assert lines == lm_data.pretraining_texts(500, np.random.default_rng(0))
    for line in lines:
        if "=" in line:
            assert int(line.split("=")[1]) <= 18 and len(line.split("+")[0]) == 1
        if "|" in line:
            left, right = line.split("|")
            assert left == right
