"""Every LLM operator against the scripted (test-only) backend, including malformed answers."""

import numpy as np
import pytest

from evosearch import registry
from evosearch.genomes.code import CodeGenome
from evosearch.genomes.text import TextGenome
from evosearch.individual import FitnessResult, Individual
from evosearch.llm.pool import backend_from_config, clear_backends
from evosearch.operators.base import Offspring, VariationContext, VariationError

PROGRAM = CodeGenome({"main.py": "def run():\n    return 1\n", "lib.py": "X = 1\n"})
DIFF = "Return 2.\n<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n"


@pytest.fixture(autouse=True)
def fresh_backends():
    clear_backends()
    yield
    clear_backends()


def scripted(*responses: str, **params) -> dict:
    return {"ref": "scripted", "params": {"responses": list(responses), **params}}


def make(name: str, **params):
    return registry.operators.get(name).create(params)


def ind(i: int, genome, score: float, feedback: str = "", **metrics: float) -> Individual:
    result = FitnessResult(score=score, metrics=metrics, feedback=feedback)
    return Individual(id=i, genome=genome, result=result)


def context(parents, inspirations=(), best=None) -> VariationContext:
    return VariationContext(tuple(parents), tuple(inspirations), best)


def prompt_of(llm: dict) -> str:
    (request,) = backend_from_config(llm).calls
    return request.messages[-1].content


def test_diff_prompt_shows_parent_feedback_metrics_and_inspirations_worst_to_best():
    llm = scripted(DIFF)
    op = make("llm.diff", llm=llm, task="Return a big number.", inspirations=2)
    parent = ind(0, PROGRAM, 1.0, "run() returned 1; try larger", size=3.0)
    good = ind(1, PROGRAM.with_files({"lib.py": "X = 'GOOD'\n"}), 9.0)
    bad = ind(2, PROGRAM.with_files({"lib.py": "X = 'BAD'\n"}), -4.0)
    (child,) = op([PROGRAM], np.random.default_rng(0), context=context([parent], [good, bad]))
    assert isinstance(child, Offspring)
    assert child.genome.files["main.py"] == "def run():\n    return 2\n"
    assert child.operator_params == {"edits": 1, "changed": ["main.py"]}
    text = prompt_of(llm)
    assert "Return a big number." in text and "run() returned 1; try larger" in text
    assert "metrics: size=3" in text and "(score 1)" in text and "def run():" in text
    assert text.index("'BAD'") < text.index("'GOOD'")  # worst first, best last
    assert child.cost.tokens_in == len(text) + len(
        backend_from_config(llm).calls[0].messages[0].content
    )
    assert child.cost.tokens_out == len(DIFF)


def test_request_seed_comes_from_the_rng():
    seeds = []
    for _ in range(2):
        clear_backends()
        llm = scripted(DIFF)
        make("llm.diff", llm=llm)([PROGRAM], np.random.default_rng(42))
        seeds.append(backend_from_config(llm).calls[0].seed)
    assert seeds[0] == seeds[1] is not None


@pytest.mark.parametrize(
    ("answer", "backend", "message"),
    [
        ("I would make it return two.", {}, "no complete SEARCH/REPLACE block"),
        (DIFF.replace("return 1", "return 7", 1), {}, "SEARCH text not found in 'main.py'"),
        ("   \n", {}, "LLM returned an empty answer"),
        (DIFF, {"fail_every": 1}, "LLM request failed: scripted failure"),
        (DIFF.replace("return 2", "return (", 1), {}, "main.py:2: syntax error"),
    ],
    ids=["unparseable", "search-not-found", "empty", "backend-error", "syntax-error"],
)
def test_diff_failures_raise_variation_error_with_raw_text_and_cost(answer, backend, message):
    op = make("llm.diff", llm=scripted(answer, **backend))
    with pytest.raises(VariationError, match=message) as info:
        op([PROGRAM], np.random.default_rng(0))
    if not backend:
        assert info.value.raw == answer
        assert info.value.cost.tokens_out == len(answer)
    else:
        assert info.value.raw == ""


def test_rewrite_replaces_named_files_and_keeps_the_rest():
    answer = "New lib.\nFILE: lib.py\n```python\nX = 41\n```\n"
    (child,) = make("llm.rewrite", llm=scripted(answer))([PROGRAM], np.random.default_rng(1))
    assert child.genome.files == {"lib.py": "X = 41\n", "main.py": PROGRAM.files["main.py"]}
    with pytest.raises(VariationError, match="no ```fenced``` code block") as info:
        make("llm.rewrite", llm=scripted("just prose"))([PROGRAM], np.random.default_rng(1))
    assert info.value.raw == "just prose"


def test_code_crossover_shows_both_parents_and_builds_on_a():
    b = PROGRAM.with_files({"lib.py": "X = 'from B'\n"})
    llm = scripted("```python\ndef run():\n    return 3\n```")
    op = make("llm.code_crossover", llm=llm)
    ctx = context([ind(0, PROGRAM, 1.0, "A feedback"), ind(1, b, 2.0, "B feedback")])
    (child,) = op([PROGRAM, b], np.random.default_rng(2), context=ctx)
    assert child.genome.files["main.py"] == "def run():\n    return 3\n"
    assert child.genome.files["lib.py"] == "X = 1\n"
    text = prompt_of(llm)
    assert "A feedback" in text and "B feedback" in text and "'from B'" in text


def test_operators_work_without_a_context():
    (child,) = make("llm.diff", llm=scripted(DIFF))([PROGRAM], np.random.default_rng(0))
    assert child.genome.files["main.py"].endswith("return 2\n")


P1, P2, P3 = TextGenome("Say positive or negative."), TextGenome("Label it."), TextGenome("Hm.")


def test_evoprompt_ga_crosses_two_prompts_and_extracts_the_last_tagged_prompt():
    llm = scripted(
        "1. <prompt>draft</prompt>\n2. <prompt> Classify as positive/negative. </prompt>"
    )
    op = make("llm.evoprompt_ga", llm=llm, task="sentiment")
    ctx = context([ind(0, P1, 0.5, "3 of 6 wrong"), ind(1, P2, 0.25)])
    (child,) = op([P1, P2], np.random.default_rng(0), context=ctx)
    assert child.genome == TextGenome("Classify as positive/negative.")
    text = prompt_of(llm)
    assert "Cross over the following prompts" in text and "3 of 6 wrong" in text
    assert "Prompt 1 (score 0.5): Say positive or negative." in text


def test_evoprompt_de_merges_donor_differences_into_the_archive_best():
    llm = scripted("<prompt>Decide: positive or negative?</prompt>")
    op = make("llm.evoprompt_de", llm=llm)
    best = ind(7, TextGenome("BEST PROMPT"), 0.9)
    ctx = context([ind(0, P1, 0.1), ind(1, P2, 0.2), ind(2, P3, 0.3)], best=best)
    (child,) = op([P1, P2, P3], np.random.default_rng(0), context=ctx)
    assert child.genome.text == "Decide: positive or negative?"
    assert child.operator_params == {"best_id": 7}
    text = prompt_of(llm)
    assert "Prompt 1: Label it." in text and "Prompt 2: Hm." in text
    assert "Prompt 3 (the best so far, score 0.9): BEST PROMPT" in text
    assert "Basic Prompt (score 0.1): Say positive or negative." in text


def test_prompt_mutation_shows_inspirations_worst_to_best():
    llm = scripted("<prompt>Better.</prompt>")
    op = make("llm.prompt_mutate", llm=llm, inspirations=2)
    ctx = context([ind(0, P1, 0.5)], [ind(1, TextGenome("HIGH"), 0.8), ind(2, P3, 0.1)])
    (child,) = op([P1], np.random.default_rng(0), context=ctx)
    assert child.genome.text == "Better."
    text = prompt_of(llm)
    assert text.index("Hm.") < text.index("HIGH")


@pytest.mark.parametrize("name", ["llm.evoprompt_ga", "llm.evoprompt_de", "llm.prompt_mutate"])
@pytest.mark.parametrize("answer", ["A better prompt, no tags.", "<prompt>  </prompt>", ""])
def test_prompt_operators_reject_answers_without_a_prompt(name, answer):
    op = make(name, llm=scripted(answer))
    parents = [P1, P2, P3][: op.arity]
    with pytest.raises(VariationError) as info:
        op(parents, np.random.default_rng(0))
    assert info.value.raw == answer


def test_operator_params_are_validated_with_key_paths():
    with pytest.raises(registry.RegistryError, match="params.llm"):
        registry.operators.get("llm.diff").create({})
    with pytest.raises(registry.RegistryError, match="params.inspirations"):
        registry.operators.get("llm.rewrite").create({"llm": scripted("x"), "inspirations": -1})
    for name in ("llm.diff", "llm.evoprompt_de"):
        with pytest.raises(registry.RegistryError, match="params.llm: .*unknown llm 'nosuch'"):
            registry.operators.get(name).create({"llm": {"ref": "nosuch"}})
