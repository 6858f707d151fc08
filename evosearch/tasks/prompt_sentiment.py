"""``prompt.sentiment``: score a prompt (``TextGenome``) by an LLM's accuracy on a task.

The data is generated here, offline and deterministically from a seed: short sentences
built from templates with a clearly positive or negative word, labelled accordingly. The
LLM named in ``fitness.params.llm`` answers each ``prompt + sentence``; the answer is graded
by rule (the first label word it contains). Score = accuracy; misclassified examples go
into the feedback for the next prompt mutation; LLM usage into the result's cost.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from evosearch.fitness.base import FitnessContext, fitness
from evosearch.genomes.text import TextGenome
from evosearch.individual import Cost, FitnessResult, Status
from evosearch.llm.base import LLMRequest

SUBJECTS = [
    "The film",
    "This phone",
    "Our hotel room",
    "The new album",
    "That restaurant",
    "The service",
    "My laptop",
    "The concert",
    "This book",
    "The coffee",
]
POSITIVE = [
    "wonderful",
    "delightful",
    "excellent",
    "superb",
    "charming",
    "fantastic",
    "brilliant",
    "lovely",
]
NEGATIVE = [
    "dreadful",
    "awful",
    "disappointing",
    "terrible",
    "boring",
    "horrible",
    "broken",
    "miserable",
]
FRAMES = [
    "{s} was {w}.",
    "Honestly, {s} was {w} from start to finish.",
    "I have to say {s_l} felt {w}.",
    "{s} turned out {w}, as my friends said.",
]
LABELS = ("positive", "negative")


def sentiment_data(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` generated (sentence, label) pairs, balanced, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = LABELS[i % 2]
        words = POSITIVE if label == "positive" else NEGATIVE
        s = SUBJECTS[rng.integers(len(SUBJECTS))]
        frame = FRAMES[rng.integers(len(FRAMES))]
        w = words[rng.integers(len(words))]
        out.append((frame.format(s=s, s_l=s[0].lower() + s[1:], w=w), label))
    return out


def grade(answer: str) -> str | None:
    """The first label word in an answer (case-insensitive), or None."""
    m = re.search(r"\b(positive|negative)\b", answer, re.IGNORECASE)
    return m.group(1).lower() if m else None


@fitness("prompt.sentiment", version="1")
def prompt_sentiment(genome: TextGenome, ctx: FitnessContext) -> FitnessResult:
    """Accuracy of the LLM, instructed by ``genome.text``, on generated sentiment data.

    ``ctx.params``: ``llm`` (backend config, required), ``examples`` (default 24),
    ``data_seed`` (default 0), ``max_tokens`` (default 8).
    """
    params: dict[str, Any] = ctx.params
    if "llm" not in params:
        raise ValueError("fitness.params.llm: required (an LLM backend config {name, params})")
    data = sentiment_data(int(params.get("examples", 24)), int(params.get("data_seed", 0)))
    requests = [
        LLMRequest.from_prompt(
            f"{genome.text.strip()}\nSentence: {sentence}\nAnswer:",
            max_tokens=int(params.get("max_tokens", 8)),
            temperature=0.0,
            seed=ctx.seed + i,
            tag="prompt.sentiment",
        )
        for i, (sentence, _) in enumerate(data)
    ]
    completions = ctx.llm_backend(params["llm"]).generate(requests)
    cost = Cost(
        sum(c.tokens_in for c in completions),
        sum(c.tokens_out for c in completions),
        sum(c.cost_usd for c in completions),
    )
    errors = [c.error for c in completions if not c.ok]
    if len(errors) == len(completions):
        return FitnessResult.failure(Status.FAILED, f"every LLM request failed: {errors[0]}").with_(
            cost=cost
        )
    wrong = []
    for (sentence, label), c in zip(data, completions):
        got = grade(c.text) if c.ok else None
        if got != label:
            wrong.append(f"- {sentence!r}: expected {label}, answered {c.text.strip()[:40]!r}")
    accuracy = 1.0 - len(wrong) / len(data)
    unparsed = sum(1 for c in completions if not c.ok or grade(c.text) is None)
    feedback = f"{len(wrong)} of {len(data)} wrong"
    if wrong:
        feedback += ":\n" + "\n".join(wrong[:5])
    return FitnessResult(
        score=accuracy,
        metrics={"accuracy": accuracy, "unparsed": float(unparsed), "llm_errors": len(errors)},
        feedback=feedback,
        cost=cost,
    )
