"""Shared pieces of LLM-driven operators: the ask template, describing individuals.

Operators keep the LLM *config* (a ``PluginConfig``) and get the backend per call from the
run's context (``VariationContext.run``), so checkpoints never pickle a model or a
connection, and two runs in one process never share backends or caches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from evosearch.config import PluginConfig
from evosearch.genomes.base import Genome
from evosearch.individual import Cost, Individual
from evosearch.llm.base import LLMRequest
from evosearch.operators.base import Offspring, Operator, VariationContext, VariationError

FEEDBACK_CHARS = 2000  # evaluator feedback shown per individual


def ask_llm(
    llm: PluginConfig,
    prompt: str,
    *,
    system: str | None,
    rng: np.random.Generator,
    max_tokens: int,
    temperature: float,
    tag: str,
    context: VariationContext | None = None,
) -> tuple[str, Cost]:
    """Send one request (seeded from ``rng``) and return the answer text and its cost.

    Args:
        llm: The backend config.
        prompt: The user message.
        system: The system message, if any.
        rng: Draws the request's seed.
        max_tokens: Generation limit.
        temperature: Sampling temperature.
        tag: What the request is for (accounting).
        context: The variation context; its run's backends answer (outside a run: a
            standalone backend).

    Raises:
        VariationError: when the backend reports an error or answers nothing; it carries
            the cost already spent and whatever text came back.
    """
    request = LLMRequest.from_prompt(
        prompt,
        system=system,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=int(rng.integers(0, 2**31 - 1)),
        tag=tag,
    )
    (completion,) = (context or VariationContext()).llm_backend(llm).generate([request])
    cost = Cost(completion.tokens_in, completion.tokens_out, completion.cost_usd)
    if not completion.ok:
        raise VariationError(
            f"LLM request failed: {completion.error}", raw=completion.text, cost=cost
        )
    if not completion.text.strip():
        raise VariationError(
            f"LLM returned an empty answer (finish reason {completion.finish_reason or '?'})",
            raw=completion.text,
            cost=cost,
        )
    return completion.text, cost


class Prompt(NamedTuple):
    """What an LLM operator asks for one child.

    Attributes:
        text: The user message.
        system: The system message, if any.
        params: ``operator_params`` to record with the child.
    """

    text: str
    system: str | None = None
    params: dict[str, Any] | None = None


class LLMOperator(Operator):
    """The template of LLM operators: render a prompt → ask → parse the answer.

    Subclasses (pydantic dataclasses with ``llm``, ``max_tokens`` and ``temperature``
    fields) implement ``_prompt`` and ``_parse``. An answer that does not parse (a
    ``ValueError``, e.g. ``EditError``) becomes a ``VariationError`` that carries the raw
    answer and the cost, which the strategy records as an ``invalid`` individual.

    Attributes:
        tag: What the requests are for (accounting).
        failure: How a parse error is introduced in the ``VariationError`` message.
    """

    uses_context: ClassVar[bool] = True
    tag: ClassVar[str] = "llm"
    failure: ClassVar[str] = "answer not usable"

    def __call__(
        self,
        parents: Sequence[Genome],
        rng: np.random.Generator,
        context: VariationContext | None = None,
    ) -> list[Offspring]:
        prompt = self._prompt(parents, context)
        raw, cost = ask_llm(
            self.llm,  # type: ignore[attr-defined]
            prompt.text,
            system=prompt.system,
            rng=rng,
            max_tokens=self.max_tokens,  # type: ignore[attr-defined]
            temperature=self.temperature,  # type: ignore[attr-defined]
            tag=self.tag,
            context=context,
        )
        try:
            return self._parse(parents, raw, cost, dict(prompt.params or {}))
        except VariationError:
            raise
        except ValueError as exc:
            raise VariationError(f"{self.failure}: {exc}", raw=raw, cost=cost) from None

    def _prompt(self, parents: Sequence[Genome], context: VariationContext | None) -> Prompt:
        """The request for these parents (raises ``TypeError`` for the wrong genome type)."""
        raise NotImplementedError

    def _parse(
        self, parents: Sequence[Genome], raw: str, cost: Cost, params: dict[str, Any]
    ) -> list[Offspring]:
        """The children in an answer (raises ``ValueError`` or ``VariationError``)."""
        raise NotImplementedError


def known_backend(llm: PluginConfig) -> PluginConfig:
    """Validator: the backend name must be registered (checked when the run is built).

    Raises:
        ValueError: naming the known backends.
    """
    from evosearch import registry

    try:
        registry.llms.get(llm.name)
    except registry.RegistryError as exc:
        raise ValueError(str(exc)) from None
    return llm


def score_text(ind: Individual | None) -> str:
    """A score for a prompt: the number, or why there is none."""
    if ind is None or ind.result is None:
        return "not evaluated"
    if not ind.result.ok or math.isnan(ind.score):
        return f"none: {ind.result.status.value}"
    return f"{ind.score:.6g}"


def metrics_text(ind: Individual | None) -> str:
    """The metrics of an individual as ``name=value`` pairs (empty when none)."""
    if ind is None or ind.result is None or not ind.result.metrics:
        return ""
    return "metrics: " + ", ".join(f"{k}={v:.6g}" for k, v in sorted(ind.result.metrics.items()))


def feedback_text(ind: Individual | None, limit: int = FEEDBACK_CHARS) -> str:
    """Metrics, error and evaluator feedback of an individual, truncated, or ``(none)``."""
    if ind is None or ind.result is None:
        return "(none)"
    r = ind.result
    parts = [metrics_text(ind)]
    if r.error:
        parts.append(f"error: {r.error}")
    if r.feedback:
        parts.append(r.feedback)
    text = "\n".join(p for p in parts if p).strip()
    if len(text) > limit:
        text = text[: limit // 2] + "\n[...]\n" + text[-limit // 2 :]
    return text or "(none)"


def sorted_inspirations(context: VariationContext | None) -> list[Individual]:
    """The context's inspirations sorted worst → best (ties by id), so the best is last."""
    if context is None:
        return []
    return sorted(context.inspirations, key=lambda i: (_key(i), i.id))


def parent_individual(
    context: VariationContext | None, index: int, genome: object
) -> Individual | None:
    """The evaluated parent behind ``genome`` when the context has it, else None."""
    if context is None or index >= len(context.parents):
        return None
    ind = context.parents[index]
    return ind if ind.genome is genome or ind.genome == genome else None


def _key(ind: Individual) -> float:
    return -math.inf if math.isnan(ind.score) else ind.score


def compact(items: Sequence[str]) -> str:
    """Join non-empty blocks with blank lines."""
    return "\n\n".join(s.strip() for s in items if s and s.strip())
