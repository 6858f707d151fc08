"""LLM operators on ``CodeGenome``: SEARCH/REPLACE diffs, full rewrites, crossover.

Each prompt shows the parent program, its evaluator feedback and metrics, and a few
inspirations from the archive sorted worst → best (templates in ``evosearch/llm/prompts``).
An answer that does not parse or apply raises ``VariationError`` with the raw text, which
``ArchiveStrategy`` records as an ``invalid`` individual; the run goes on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field, field_validator
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.config import PluginConfig
from evosearch.genomes.code import CodeGenome
from evosearch.individual import Cost
from evosearch.llm import templates
from evosearch.operators.base import (
    PARAMS,
    Initializer,
    Offspring,
    VariationContext,
    VariationError,
)
from evosearch.operators.code_edits import (
    EditError,
    apply_diff,
    check_syntax,
    parse_diff,
    parse_files,
)
from evosearch.operators.llm_common import (
    LLMOperator,
    Prompt,
    compact,
    feedback_text,
    known_backend,
    metrics_text,
    parent_individual,
    score_text,
    sorted_inspirations,
)


def render_program(genome: CodeGenome, limit: int | None = None) -> str:
    """Every file of a program as ``FILE: path`` plus a fenced block (optionally truncated)."""
    files = genome.files.items()
    text = compact([templates.render("code_file", path=p, text=t.rstrip("\n")) for p, t in files])
    if limit is not None and len(text) > limit:
        text = text[:limit] + "\n[... truncated ...]"
    return text


def render_inspirations(context: VariationContext | None, limit: int) -> str:
    """The inspirations block (worst → best), or an empty string when there are none."""
    items = [
        templates.render(
            "inspiration_item",
            rank=n,
            score=score_text(ind),
            metrics=metrics_text(ind),
            program=render_program(ind.genome, limit)
            if isinstance(ind.genome, CodeGenome)
            else ind.genome.summary(),
        )
        for n, ind in enumerate(sorted_inspirations(context), 1)
    ]
    return templates.render("inspirations", items=compact(items)) if items else ""


@dataclass(config=PARAMS)
class _LLMCodeOperator(LLMOperator):
    """Parameters shared by the code operators.

    Attributes:
        llm: The backend config (``{name, params}``), e.g. ``transformers`` or ``openai``.
        task: A description of the problem, shown in every prompt.
        inspirations: Archive members shown as inspirations (sorted worst → best).
        inspiration_chars: Characters of each inspiration program shown at most.
        max_tokens: Generation limit per request.
        temperature: Sampling temperature.
        check_syntax: Compile (never run) changed ``.py`` files; a syntax error is a failed
            variation, saving an evaluation.
    """

    tag = "llm.code"

    llm: PluginConfig
    task: str = ""
    inspirations: int = Field(default=3, ge=0)
    inspiration_chars: int = Field(default=4000, ge=100)
    max_tokens: int = Field(default=2048, ge=1)
    temperature: float = Field(default=0.7, ge=0)
    check_syntax: bool = True

    _known_backend = field_validator("llm")(known_backend)

    def _request(
        self, template: str, entry: str, context: VariationContext | None, **fields: str
    ) -> Prompt:
        """``template`` with the task and inspirations, and the code system message."""
        inspirations = render_inspirations(context, self.inspiration_chars)
        text = templates.render(
            template, entry=entry, task=self.task, inspirations=inspirations, **fields
        )
        return Prompt(text, templates.render("code_system", entry=entry))

    def _parse(self, parents: Sequence[CodeGenome], raw: str, cost: Cost, params: dict):
        """Whole files (``FILE:`` + fenced blocks) over the first parent."""
        child = parents[0].with_files(parse_files(raw, parents[0]))
        return self._finish(parents[0], child, raw, cost)

    def _finish(self, parent: CodeGenome, child: CodeGenome, raw: str, cost: Cost, **params):
        changed = [p for p, t in child.files.items() if parent.files.get(p) != t]
        if self.check_syntax:
            try:
                check_syntax({p: child.files[p] for p in changed})
            except EditError as exc:
                raise VariationError(str(exc), raw=raw, cost=cost) from None
        return [Offspring(child, operator_params={**params, "changed": changed}, cost=cost)]


def _shown(
    genome: CodeGenome, context: VariationContext | None, index: int, suffix: str = ""
) -> dict[str, str]:
    """The prompt fields of parent ``index``: its score, program and evaluator feedback."""
    ind = parent_individual(context, index, genome)
    return {
        f"score{suffix}": score_text(ind),
        f"program{suffix}": render_program(genome),
        f"feedback{suffix}": feedback_text(ind),
    }


def _code(genome: object) -> CodeGenome:
    if not isinstance(genome, CodeGenome):
        raise TypeError(f"LLM code operators need CodeGenome parents, got {type(genome).__name__}")
    return genome


@registry.operators.register("llm.diff")
@dataclass(config=PARAMS)
class LLMDiffMutation(_LLMCodeOperator):
    """Ask for SEARCH/REPLACE blocks and apply them exactly (multi-file through ``FILE:``)."""

    arity = 1
    tag = "llm.diff"
    failure = "diff not applied"

    def _prompt(self, parents: Sequence[CodeGenome], context: VariationContext | None) -> Prompt:
        parent = _code(parents[0])
        fields = _shown(parent, context, 0)
        return self._request(
            "code_diff", parent.entry, context, entry_file=parent.entry_file, **fields
        )

    def _parse(self, parents: Sequence[CodeGenome], raw: str, cost: Cost, params: dict):
        blocks = parse_diff(raw)
        child = apply_diff(parents[0], blocks)
        return self._finish(parents[0], child, raw, cost, edits=len(blocks))


@registry.operators.register("llm.rewrite")
@dataclass(config=PARAMS)
class LLMRewriteMutation(_LLMCodeOperator):
    """Ask for whole files; files not given stay as they are."""

    arity = 1
    tag = "llm.rewrite"
    failure = "rewrite not usable"

    def _prompt(self, parents: Sequence[CodeGenome], context: VariationContext | None) -> Prompt:
        parent = _code(parents[0])
        return self._request("code_rewrite", parent.entry, context, **_shown(parent, context, 0))


@registry.operators.register("llm.code_crossover")
@dataclass(config=PARAMS)
class LLMCodeCrossover(_LLMCodeOperator):
    """Show two programs and ask for a combined one (files not given come from A)."""

    arity = 2
    tag = "llm.code_crossover"
    failure = "crossover not usable"

    def _prompt(self, parents: Sequence[CodeGenome], context: VariationContext | None) -> Prompt:
        a, b = _code(parents[0]), _code(parents[1])
        fields = {**_shown(a, context, 0, "_a"), **_shown(b, context, 1, "_b")}
        return self._request("code_crossover", a.entry, context, **fields)


@registry.initializers.register("code.from_dir")
@dataclass(config=PARAMS)
class ProgramFromDir(Initializer):
    """The initial population: ``n`` copies of the program in ``path`` (``*.py`` files).

    Attributes:
        path: Directory of the initial program (relative to the working directory).
        entry: Entry point, ``file.py:function``.
    """

    path: str
    entry: str = "main.py:run"

    def __call__(self, n: int, rng: np.random.Generator) -> list[CodeGenome]:
        genome = CodeGenome.from_dir(self.path, self.entry)
        return [genome] * n
