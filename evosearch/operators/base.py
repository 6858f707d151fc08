"""Shared pieces of variation operators: the config of one operator, deap seeding, results."""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pydantic

from evosearch.genomes.base import Genome
from evosearch.individual import Cost, Individual

# Frozen, strict parameter models for operators, selectors, initializers and archives.
PARAMS = pydantic.ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
# The same for stateful plugins (archives), whose parameters are fixed but state is not.
STATEFUL = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class VariationError(Exception):
    """An operator could not produce a child (e.g. an LLM answer that does not parse).

    The strategy records it as an individual with status ``invalid``, the raw output in
    its feedback, instead of crashing the run.
    """

    def __init__(self, message: str, *, raw: str = "", cost: Cost | None = None):
        super().__init__(message)
        self.raw = raw
        self.cost = cost or Cost()


@dataclasses.dataclass(frozen=True)
class Child:
    """An operator output with extra record-keeping (optional; plain genomes also work)."""

    genome: Genome
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    cost: Cost = dataclasses.field(default_factory=Cost)


@dataclasses.dataclass(frozen=True)
class VariationContext:
    """What a strategy knows around one variation, for operators that ask for it.

    Operators declare ``uses_context = True`` (and usually an ``inspirations`` count); the
    strategy then calls ``op(parents, rng, context=VariationContext(...))``. Vector operators
    never see it.

    Attributes:
        parents: The evaluated parent individuals, in the order of the genomes passed (empty
            for the later steps of a pipeline, whose input is a fresh, unevaluated child).
        inspirations: Other archive members to show an LLM (any order; operators sort them).
        best: The best archive member, or None.
    """

    parents: tuple[Individual, ...] = ()
    inspirations: tuple[Individual, ...] = ()
    best: Individual | None = None


@contextlib.contextmanager
def seeded_python_random(rng: np.random.Generator) -> Iterator[None]:
    """Seed the global ``random`` (which deap uses) from ``rng`` for one call, then restore.

    Keeps runs that use deap's operators reproducible from the run's single generator.
    """
    state = random.getstate()
    random.seed(int(rng.integers(0, 2**63 - 1)))
    try:
        yield
    finally:
        random.setstate(state)
