"""The records every part of evosearch passes around: ``Individual``, ``FitnessResult`` ...

``Offspring`` is what a strategy proposes before it becomes an ``Individual``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any

from evosearch.genomes.base import Genome


class Status(enum.StrEnum):
    """Outcome of one evaluation. Failures are data the archive stores, not exceptions."""

    OK = "ok"
    FAILED = "failed"  # the fitness raised
    TIMEOUT = "timeout"  # the fitness ran past its time limit
    INVALID = "invalid"  # the fitness returned NaN/inf, a wrong type, or the genome is unusable


@dataclasses.dataclass(frozen=True, slots=True)
class Cost:
    """LLM usage attributable to producing or evaluating one individual."""

    tokens_in: int = 0
    tokens_out: int = 0
    usd: float = 0.0

    def __reduce__(self) -> tuple:  # pickles ~5x faster than the dataclass default
        return (Cost, (self.tokens_in, self.tokens_out, self.usd))

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.tokens_in + other.tokens_in,
            self.tokens_out + other.tokens_out,
            self.usd + other.usd,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class FitnessResult:
    """What an evaluator says about one genome. ``score`` is maximised.

    Attributes:
        score: The fitness (higher is better). NaN for anything but ``Status.OK``.
        metrics: Named extra measurements.
        descriptors: Behaviour descriptors for quality-diversity archives.
        status: Whether the evaluation succeeded.
        error: A readable explanation when ``status`` is not OK.
        feedback: Text for the next LLM mutation (compiler errors, failing tests, ...).
        eval_seconds: Wall time of the evaluation.
        cost: LLM usage of the evaluation itself.
    """

    score: float = math.nan
    metrics: Mapping[str, float] = dataclasses.field(default_factory=dict)
    descriptors: tuple[float, ...] = ()
    status: Status = Status.OK
    error: str = ""
    feedback: str = ""
    eval_seconds: float = 0.0
    cost: Cost = dataclasses.field(default_factory=Cost)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def __reduce__(self) -> tuple:  # checkpoints pickle whole populations: keep it fast
        return (
            FitnessResult,
            (
                self.score,
                self.metrics,
                self.descriptors,
                self.status,
                self.error,
                self.feedback,
                self.eval_seconds,
                self.cost,
            ),
        )

    @classmethod
    def failure(cls, status: Status, error: str, *, eval_seconds: float = 0.0) -> FitnessResult:
        """A result for an evaluation that did not produce a usable score."""
        return cls(status=Status(status), error=error, eval_seconds=eval_seconds)

    def with_(self, **changes: Any) -> FitnessResult:
        return dataclasses.replace(self, **changes)


def coerce_result(value: Any) -> FitnessResult:
    """Turn whatever a fitness function returned into a validated ``FitnessResult``.

    Accepts a real number, a ``FitnessResult`` or a mapping with a ``score`` key (plus the
    other ``FitnessResult`` fields). Anything else, or a non-finite score, becomes an
    ``INVALID`` result with an error that says what came back.
    """
    if type(value) is float or (type(value) is int):  # the common case, kept cheap
        if math.isfinite(value):
            return FitnessResult(score=float(value))
        return FitnessResult.failure(
            Status.INVALID, f"fitness returned a non-finite score ({value!r})"
        )
    if isinstance(value, FitnessResult):
        result = value
    elif isinstance(value, Mapping):
        allowed = [f.name for f in dataclasses.fields(FitnessResult)]
        unknown = set(value) - set(allowed)
        if unknown or "score" not in value:
            return FitnessResult.failure(
                Status.INVALID,
                "fitness returned a dict without 'score' or with unknown keys "
                f"{sorted(unknown)}; allowed: {allowed}",
            )
        fields = dict(value)
        if "status" in fields:
            fields["status"] = Status(fields["status"])
        if "descriptors" in fields:
            fields["descriptors"] = tuple(float(d) for d in fields["descriptors"])
        if isinstance(fields.get("cost"), Mapping):
            fields["cost"] = Cost(**fields["cost"])
        result = FitnessResult(**fields)
    elif isinstance(value, bool) or not _is_real(value):
        return FitnessResult.failure(
            Status.INVALID,
            f"fitness returned {type(value).__name__} ({_short(value)}); "
            "expected a float, a dict with 'score', or a FitnessResult",
        )
    else:
        result = FitnessResult(score=float(value))
    if result.status is Status.OK:
        if not _is_real(result.score) or not math.isfinite(float(result.score)):
            return FitnessResult.failure(
                Status.INVALID, f"fitness returned a non-finite score ({result.score!r})"
            ).with_(metrics=dict(result.metrics), feedback=result.feedback)
        bad = [k for k, v in result.metrics.items() if not _is_real(v)]
        if bad:
            return FitnessResult.failure(
                Status.INVALID, f"metrics {bad} are not numbers; metrics must map name -> float"
            )
        result = result.with_(
            score=float(result.score),
            metrics={str(k): float(v) for k, v in result.metrics.items()},
            descriptors=tuple(float(d) for d in result.descriptors),
        )
    return result


def _is_real(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes))


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclasses.dataclass(frozen=True, slots=True)
class Individual:
    """One member of a run: a genome, where it came from, and (once evaluated) its result.

    Attributes:
        id: Unique and increasing within a run.
        parent_ids: Ids of the parents (empty for initial individuals).
        operator: Name of the operator that produced it, e.g. ``init``, ``merge.ties``.
        operator_params: JSON-able parameters of that operator application.
        generation: Generation (or commit batch, in steady-state mode) it was asked in.
        island: Island index for island models; 0 otherwise.
        genome: The genome.
        result: The evaluation, or None before evaluation.
        cost: LLM usage spent to *produce* this genome (mutation calls).
    """

    id: int
    genome: Genome
    parent_ids: tuple[int, ...] = ()
    operator: str = "init"
    operator_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    generation: int = 0
    island: int = 0
    result: FitnessResult | None = None
    cost: Cost = dataclasses.field(default_factory=Cost)

    @property
    def evaluated(self) -> bool:
        return self.result is not None

    @property
    def score(self) -> float:
        """The score, or NaN when not evaluated or not OK."""
        if self.result is None or not self.result.ok:
            return math.nan
        return self.result.score

    def __reduce__(self) -> tuple:
        return (
            Individual,
            (
                self.id,
                self.genome,
                self.parent_ids,
                self.operator,
                self.operator_params,
                self.generation,
                self.island,
                self.result,
                self.cost,
            ),
        )

    def with_result(self, result: FitnessResult) -> Individual:
        return dataclasses.replace(self, result=result)


@dataclasses.dataclass(frozen=True)
class Offspring:
    """What a strategy's ``_ask`` proposes; ``ask`` turns it into an ``Individual``.

    Attributes:
        genome: The new genome.
        parent_ids: Ids of the parents it came from.
        operator: Operator name(s), e.g. ``vector.sbx+vector.gaussian``.
        operator_params: JSON-able parameters of that application.
        island: Island index.
        result: Set when the variation itself failed (e.g. unparseable LLM output): the
            individual is stored with this result and not evaluated.
        cost: LLM usage spent producing it.
    """

    genome: Genome
    parent_ids: tuple[int, ...] = ()
    operator: str = "init"
    operator_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    island: int = 0
    result: FitnessResult | None = None
    cost: Cost = dataclasses.field(default_factory=Cost)


def best_of(individuals: Sequence[Individual]) -> Individual | None:
    """The individual with the highest valid score (ties: lowest id), or None."""
    valid = [ind for ind in individuals if not math.isnan(ind.score)]
    if not valid:
        return None
    return max(valid, key=lambda ind: (ind.score, -ind.id))
