"""ArchiveStrategy: LLM tokens spent on children it drops (duplicates, extras) still count."""

from __future__ import annotations

import pytest

from evosearch import Engine
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Cost
from evosearch.operators.base import Offspring, Operator
from evosearch.store import RunStore

SEED = "Say positive."
DUP = f"<prompt>{SEED}</prompt>"  # the LLM's answer that rebuilds the seed prompt


def prompt_length(genome, ctx) -> float:
    """A cheap fitness over text genomes."""
    return float(len(genome.text))


def prompt_run(responses: list[str], budget: dict) -> dict:
    """An archive run over one seed prompt, varied by a scripted LLM, with dedup on."""
    return {
        "name": "dedup",
        "seed": 3,
        "budget": budget,
        "fitness": {"ref": "test_archive_dedup:prompt_length"},
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 2,
                "dedup": True,
                "init": {"ref": "text.prompts", "params": {"prompts": [SEED]}},
                "operators": [
                    {
                        "ref": "llm.prompt_mutate",
                        "params": {"llm": {"ref": "scripted", "params": {"responses": responses}}},
                    }
                ],
                "archive": {"ref": "population", "params": {"size": 4}},
            },
        },
    }


def llm_rows(run) -> list[dict]:
    rows = RunStore.open(run).table(["operator", "tokens_in", "tokens_out"]).to_pylist()
    return [r for r in rows if r["operator"] != "init"]


def test_tokens_of_children_dropped_as_duplicates_are_counted(tmp_path):
    # Each child: two duplicates of the seed are dropped, the third answer is new.
    responses = [DUP, DUP, "<prompt>Say positive, please.</prompt>"]
    engine = Engine.create(prompt_run(responses, {"generations": 2}), tmp_path / "run")
    summary = engine.run()
    rows = llm_rows(tmp_path / "run")
    assert summary.evaluations == 4 and len(rows) == 2
    per_child_out = 2 * len(DUP) + len(responses[2])  # three answers per child
    assert [r["tokens_out"] for r in rows] == [per_child_out] * 2
    assert engine.tokens == sum(r["tokens_in"] + r["tokens_out"] for r in rows)
    assert all(r["tokens_in"] > 0 for r in rows)


def test_tokens_of_the_fallback_after_every_retry_was_a_duplicate_count_toward_the_budget(
    tmp_path,
):
    # Every answer rebuilds the seed: each child uses up all 10 retries, then the duplicate is
    # kept. 20 answers of len(DUP) tokens out each reach the budget in the first LLM generation.
    budget = {"generations": 20, "llm_tokens": 20 * len(DUP)}
    engine = Engine.create(prompt_run([DUP], budget), tmp_path / "run")
    summary = engine.run()
    rows = llm_rows(tmp_path / "run")
    assert summary.stopped_by == "llm_tokens"
    assert summary.generations == 2 and len(rows) == 2
    assert [r["tokens_out"] for r in rows] == [10 * len(DUP)] * 2
    assert engine.tokens == pytest.approx(sum(r["tokens_in"] + r["tokens_out"] for r in rows))
    assert engine.tokens >= budget["llm_tokens"]


class TwoPaidChildren(Operator):
    """A test operator: two children per call, each with the LLM cost of making it."""

    def __call__(self, parents, rng):
        g = parents[0]
        return [
            Offspring(VectorGenome(g.values + k + 1.0, g.low, g.high), cost=Cost(3, 4))
            for k in range(2)
        ]


def test_tokens_of_children_made_beyond_the_batch_are_counted(tmp_path):
    cfg = {
        "name": "extra",
        "seed": 1,
        "budget": {"generations": 3},
        "fitness": {"ref": "sphere"},
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 1,  # one child asked per generation, two made
                "init": {"ref": "vector.uniform", "params": {"dimension": 2}},
                "operators": [{"ref": "test_archive_dedup:TwoPaidChildren"}],
                "archive": {"ref": "population", "params": {"size": 2}},
            },
        },
    }
    engine = Engine.create(cfg, tmp_path / "run")
    engine.run()
    rows = llm_rows(tmp_path / "run")
    assert [(r["tokens_in"], r["tokens_out"]) for r in rows] == [(6, 8), (6, 8)]
    assert engine.tokens == 2 * (6 + 8)
