"""ArchiveStrategy with LLM operators: the variation context, failures as data, whole runs."""

import copy
import math

import numpy as np
import pyarrow.compute as pc
import yaml
from code_run_helpers import code_run_config, program, rewrite

from evosearch import Engine, registry
from evosearch.genomes.code import CodeGenome
from evosearch.individual import FitnessResult, Individual
from evosearch.llm.pool import clear_backends
from evosearch.operators.base import Operator, VariationContext
from evosearch.strategies.archive import apply_operator, variation_context


def test_variation_context_holds_parents_inspirations_and_the_best():
    pool = [
        Individual(i, CodeGenome({"main.py": program(i)}), result=FitnessResult(score=float(i)))
        for i in range(6)
    ]
    pool.append(Individual(6, pool[0].genome, result=FitnessResult.failure("failed", "x")))
    op = type("Op", (Operator,), {"inspirations": 3})()
    ctx = variation_context(pool, [pool[2]], op, np.random.default_rng(0))
    assert isinstance(ctx, VariationContext)
    assert ctx.parents == (pool[2],) and ctx.best is pool[5]
    assert len(ctx.inspirations) == 3
    assert all(i.id not in (2, 6) for i in ctx.inspirations)  # no parent, no failure
    none = variation_context(pool, [pool[2]], Operator(), np.random.default_rng(0))
    assert none.inspirations == ()


def test_only_operators_that_ask_for_a_context_get_one():
    pool = [Individual(0, CodeGenome({"main.py": program(0)}), result=FitnessResult(score=0.0))]
    seen = {}

    class Plain(Operator):  # a vector-style operator: no context parameter at all
        def __call__(self, genomes, rng):
            return list(genomes)

    plain = Plain()

    class WithContext(Operator):
        uses_context = True
        inspirations = 0

        def __call__(self, genomes, rng, context=None):
            seen["context"] = context
            return list(genomes)

    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    assert apply_operator(plain, [pool[0].genome], rng, pool, pool) == [pool[0].genome]
    apply_operator(WithContext(), [pool[0].genome], rng, pool, pool)
    assert rng.bit_generator.state == before  # no inspirations asked: no draws
    assert seen["context"].parents == (pool[0],) and seen["context"].best is pool[0]


def test_a_code_evolution_run_records_failed_mutations_and_goes_on(tmp_path):
    clear_backends()
    responses = [rewrite(5), "I cannot help with that.", rewrite("(1 +"), rewrite(7)]
    summary = Engine.create(code_run_config(tmp_path, responses), tmp_path / "run").run()
    clear_backends()
    assert summary.evaluations == 6
    assert summary.best.score == 7.0 and summary.best.operator == "llm.rewrite"
    table = Engine.resume(tmp_path / "run").store.table()
    rows = table.to_pylist()
    failed = [r for r in rows if r["status"] == "invalid"]
    assert len(failed) == 2
    assert any("I cannot help with that." in r["feedback"] for r in failed)
    assert any("syntax error" in r["error"] for r in failed)
    llm_rows = [r for r in rows if r["operator"] == "llm.rewrite"]
    assert all(r["tokens_in"] > 0 and r["tokens_out"] > 0 for r in llm_rows)
    assert pc.sum(table["tokens_out"]).as_py() == sum(len(r) for r in responses)


def example(path: str) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def test_the_circle_packing_example_is_wired_end_to_end(tmp_path):
    """The example's evaluator, initial program and operators, with a scripted LLM (tests only)."""
    clear_backends()
    cfg = copy.deepcopy(example("examples/circle-packing.yaml"))
    diff = (
        "Move the extra circle.\n<<<<<<< SEARCH\n    extra = np.array([[0.2, 0.2]])\n=======\n"
        "    extra = np.array([[0.0, 0.0]])\n>>>>>>> REPLACE\n"
    )
    op = cfg["strategy"]["params"]["operators"][0]["params"]
    op["llm"] = {"ref": "scripted", "params": {"responses": [diff]}}
    cfg.update(budget={"evaluations": 3}, executor={"ref": "serial"})
    cfg["strategy"]["params"]["population_size"] = 1
    summary = Engine.create(cfg, tmp_path / "run").run()
    clear_backends()
    rows = Engine.resume(tmp_path / "run").store.table().to_pylist()
    first = rows[0]
    assert first["status"] == "ok" and 1.5 < first["score"] < 2.635
    assert summary.evaluations == 3
    assert all(r["status"] in ("ok", "invalid") for r in rows)
    assert any(r["operator"] == "llm.diff" for r in rows)


def test_the_prompt_evolution_example_is_wired_end_to_end(tmp_path):
    """EvoPrompt GA over the generated sentiment task, with scripted LLMs (tests only)."""
    clear_backends()
    cfg = copy.deepcopy(example("examples/prompt-evolution.yaml"))
    cfg["fitness"]["params"]["llm"] = {"ref": "scripted", "params": {"responses": ["positive"]}}
    cfg["fitness"]["params"]["examples"] = 6
    op = cfg["strategy"]["params"]["operators"][0]["params"]
    op["llm"] = {
        "name": "scripted",
        "params": {"responses": ["<prompt>Say positive.</prompt>", "no tags at all"]},
    }
    cfg["budget"] = {"generations": 2}
    summary = Engine.create(cfg, tmp_path / "run").run()
    clear_backends()
    rows = Engine.resume(tmp_path / "run").store.table().to_pylist()
    assert summary.evaluations == 8
    scored = [r for r in rows if r["status"] == "ok"]
    assert all(math.isclose(r["score"], 0.5) for r in scored)  # "positive" is right half the time
    assert {r["operator"] for r in rows} == {"init", "llm.evoprompt_ga"}
    assert any(r["status"] == "invalid" and "no tags at all" in r["feedback"] for r in rows)


def test_llm_operators_are_registered():
    names = registry.operators.names()
    for name in (
        "llm.diff",
        "llm.rewrite",
        "llm.code_crossover",
        "llm.evoprompt_ga",
        "llm.evoprompt_de",
        "llm.prompt_mutate",
    ):
        assert name in names
