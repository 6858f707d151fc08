"""LLM operators on ``TextGenome`` prompts: EvoPrompt GA and DE, and plain mutation.

EvoPrompt (Guo et al., 2024): GA asks the LLM to cross over two prompts and mutate the
result in one call; DE asks it to mutate the parts where two donors differ, merge them
into the best prompt, and cross that with the target. The final prompt comes back between
``<prompt>`` and ``</prompt>``; an answer without it is a failed variation (raw text kept).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from pydantic import Field, field_validator
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.config import PluginConfig
from evosearch.genomes.text import TextGenome
from evosearch.individual import Cost, Individual
from evosearch.llm import templates
from evosearch.operators.base import (
    PARAMS,
    Initializer,
    Offspring,
    VariationContext,
    VariationError,
)
from evosearch.operators.llm_common import (
    LLMOperator,
    Prompt,
    feedback_text,
    known_backend,
    parent_individual,
    score_text,
    sorted_inspirations,
)

_PROMPT = re.compile(r"<prompt>(.*?)</prompt>", re.DOTALL | re.IGNORECASE)


def extract_prompt(raw: str, cost: Cost) -> TextGenome:
    """The text of the last ``<prompt>...</prompt>`` in an answer.

    Raises:
        VariationError: when there is none or it is empty.
    """
    found = [m.strip() for m in _PROMPT.findall(raw)]
    if not found or not found[-1]:
        raise VariationError(
            "answer has no non-empty <prompt>...</prompt> section", raw=raw, cost=cost
        )
    return TextGenome(found[-1])


def _text(genome: object) -> TextGenome:
    if not isinstance(genome, TextGenome):
        raise TypeError(f"prompt operators need TextGenome parents, got {type(genome).__name__}")
    return genome


@dataclass(config=PARAMS)
class _LLMPromptOperator(LLMOperator):
    """Parameters shared by the prompt operators.

    Attributes:
        llm: The backend config (``{name, params}``).
        task: What the prompt is for, shown to the LLM.
        inspirations: Other archive prompts shown, sorted worst → best.
        max_tokens: Generation limit per request.
        temperature: Sampling temperature.
    """

    tag = "llm.prompt"

    llm: PluginConfig
    task: str = ""
    inspirations: int = Field(default=0, ge=0)
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.8, ge=0)

    _known_backend = field_validator("llm")(known_backend)

    def _inspirations(self, context: VariationContext | None) -> str:
        items = [
            f"- (score {score_text(i)}) {i.genome.text}"
            for i in sorted_inspirations(context)
            if isinstance(i.genome, TextGenome)
        ]
        return templates.render("prompt_inspirations", items="\n".join(items)) if items else ""

    def _feedback(self, *pairs: tuple[str, Individual | None]) -> str:
        lines = [
            f"Evaluator feedback on {label}: {feedback_text(ind, 600)}"
            for label, ind in pairs
            if ind is not None and ind.result is not None
        ]
        return "\n".join(lines)

    def _request(self, template: str, context: VariationContext | None, **fields: str) -> Prompt:
        """A prompt-evolution request: ``template`` with the task and the inspirations."""
        inspirations = self._inspirations(context)
        text = templates.render(template, task=self.task, inspirations=inspirations, **fields)
        return Prompt(text, templates.render("prompt_system"))

    def _parse(self, parents: Sequence[TextGenome], raw: str, cost: Cost, params: dict):
        return [Offspring(extract_prompt(raw, cost), operator_params=params, cost=cost)]


@registry.operators.register("llm.prompt_mutate")
@dataclass(config=PARAMS)
class PromptMutation(_LLMPromptOperator):
    """Rewrite one prompt using its score and feedback."""

    arity = 1
    tag = "llm.prompt_mutate"

    def _prompt(self, parents: Sequence[TextGenome], context: VariationContext | None) -> Prompt:
        p = _text(parents[0])
        ind = parent_individual(context, 0, p)
        feedback = self._feedback(("the current prompt", ind))
        return self._request(
            "prompt_mutate", context, score=score_text(ind), prompt=p.text, feedback=feedback
        )


@registry.operators.register("llm.evoprompt_ga")
@dataclass(config=PARAMS)
class EvoPromptGA(_LLMPromptOperator):
    """EvoPrompt GA: cross over two prompts and mutate the result, in one LLM call."""

    arity = 2
    tag = "llm.evoprompt_ga"

    def _prompt(self, parents: Sequence[TextGenome], context: VariationContext | None) -> Prompt:
        a, b = _text(parents[0]), _text(parents[1])
        ia, ib = parent_individual(context, 0, a), parent_individual(context, 1, b)
        return self._request(
            "prompt_ga",
            context,
            score_a=score_text(ia),
            prompt_a=a.text,
            score_b=score_text(ib),
            prompt_b=b.text,
            feedback=self._feedback(("prompt 1", ia), ("prompt 2", ib)),
        )


@registry.operators.register("llm.evoprompt_de")
@dataclass(config=PARAMS)
class EvoPromptDE(_LLMPromptOperator):
    """EvoPrompt DE over parents ``(target, donor_a, donor_b)`` and the archive's best.

    The best comes from the strategy's context (the target itself when there is none).
    """

    arity = 3
    tag = "llm.evoprompt_de"

    def _prompt(self, parents: Sequence[TextGenome], context: VariationContext | None) -> Prompt:
        target, da, db = (_text(p) for p in parents[:3])
        it = parent_individual(context, 0, target)
        best_ind = context.best if context is not None else None
        best = best_ind.genome if best_ind is not None else target
        if not isinstance(best, TextGenome):
            best, best_ind = target, it
        request = self._request(
            "prompt_de",
            context,
            donor_a=da.text,
            donor_b=db.text,
            score_best=score_text(best_ind),
            best=best.text,
            score_target=score_text(it),
            target=target.text,
            feedback=self._feedback(("the basic prompt", it)),
        )
        return request._replace(params={"best_id": best_ind.id if best_ind is not None else None})


@registry.initializers.register("text.prompts")
@dataclass(config=PARAMS)
class SeedPrompts(Initializer):
    """The initial population: the given prompts, cycled to ``n`` (EvoPrompt's manual seeds).

    Attributes:
        prompts: One or more seed prompts.
    """

    prompts: list[str] = Field(min_length=1)

    def __call__(self, n: int, rng: np.random.Generator) -> list[TextGenome]:
        return [TextGenome(self.prompts[i % len(self.prompts)]) for i in range(n)]
