import pytest

from evosearch.fitness.base import FitnessContext
from evosearch.genomes.text import TextGenome
from evosearch.individual import Status
from evosearch.llm.pool import clear_backends
from evosearch.tasks.prompt_sentiment import NEGATIVE, grade, prompt_sentiment, sentiment_data


@pytest.fixture(autouse=True)
def fresh_backends():
    clear_backends()
    yield
    clear_backends()


def test_generated_data_is_balanced_and_reproducible():
    data = sentiment_data(10, seed=3)
    assert data == sentiment_data(10, seed=3) and data != sentiment_data(10, seed=4)
    assert [label for _, label in data].count("positive") == 5
    for sentence, label in data:
        assert any(w in sentence for w in NEGATIVE) == (label == "negative")


def test_grading_takes_the_first_label_word():
    assert grade(" Positive. (not negative)") == "positive"
    assert grade("It is NEGATIVE") == "negative"
    assert grade("positively unclear") is None


def oracle(request):
    text = request.messages[-1].content.rsplit("Sentence:", 1)[1]
    return "negative" if any(w in text for w in NEGATIVE) else "positive"


def test_accuracy_feedback_and_cost_come_from_the_llm_answers():
    ctx = FitnessContext(params={"llm": {"ref": "scripted", "params": {"respond": oracle}}})
    r = prompt_sentiment(TextGenome("Positive or negative?"), ctx)
    assert r.status is Status.OK and r.score == 1.0 and r.metrics["unparsed"] == 0
    assert r.cost.tokens_in > 0 and r.feedback == "0 of 24 wrong"
    llm = {"ref": "scripted", "params": {"responses": ["positive"]}}
    half = prompt_sentiment(TextGenome("p"), FitnessContext(params={"llm": llm, "examples": 8}))
    assert half.score == 0.5 and "expected negative, answered 'positive'" in half.feedback


def test_a_backend_that_always_fails_is_a_failed_evaluation():
    llm = {"ref": "scripted", "params": {"responses": ["x"], "fail_every": 1}}
    r = prompt_sentiment(TextGenome("p"), FitnessContext(params={"llm": llm, "examples": 4}))
    assert r.status is Status.FAILED and "every LLM request failed" in r.error
    with pytest.raises(ValueError, match="fitness.params.llm: required"):
        prompt_sentiment(TextGenome("p"), FitnessContext(params={}))
