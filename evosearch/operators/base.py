"""The operator, selector and initializer contracts, and shared pieces of variation.

Each family's base class declares what a plugin may provide, with defaults (STYLE.md 17):
strategies read ``op.uses_context`` and ``op.inspirations`` instead of probing for them.
Plugins are usually frozen pydantic dataclasses (``@dataclass(config=PARAMS)``) deriving
from one of these bases; ``evosearch.api`` re-exports them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from evosearch.genomes.base import Genome
from evosearch.individual import Cost, Individual, Offspring
from evosearch.llm.base import LLMBackend

# re-exported: operator plugins import them from here
from evosearch.plugin_params import PARAMS as PARAMS
from evosearch.plugin_params import STATEFUL as STATEFUL
from evosearch.run_context import RunContext, llm_backend


class VariationError(Exception):
    """An operator could not produce a child (e.g. an LLM answer that does not parse).

    The strategy records it as an individual with status ``invalid``, the raw output in
    its feedback, instead of crashing the run.
    """

    def __init__(self, message: str, *, raw: str = "", cost: Cost | None = None):
        super().__init__(message)
        self.raw = raw
        self.cost = cost or Cost()


class Operator:
    """A variation operator: ``op(parents, rng) -> list[Genome | Offspring]``.

    Subclasses implement ``__call__(self, parents, rng)`` (plus ``context=`` when
    ``uses_context``) and return new genomes, or ``Offspring(genome, operator_params=...,
    cost=...)`` records when they have parameters or LLM cost to record.

    Attributes:
        arity: How many parent genomes one call takes.
        uses_context: Called as ``op(parents, rng, context=VariationContext(...))``.
        inspirations: Other archive members to put in the context (LLM operators).
    """

    arity: ClassVar[int] = 1
    uses_context: ClassVar[bool] = False
    inspirations: ClassVar[int] = 0


class Selector:
    """Picks parents: ``sel(individuals, n, rng) -> list[Individual]``.

    Attributes:
        uses_child_counts: Also called with ``child_counts=`` (told children per parent id).
    """

    uses_child_counts: ClassVar[bool] = False


class Initializer:
    """Makes the first genomes: ``init(n, rng) -> list[Genome]``."""


class Child(Offspring):
    """Deprecated name of an operator's ``Offspring`` record: ``Child(genome, params, cost)``."""

    def __init__(
        self, genome: Genome, params: dict[str, Any] | None = None, cost: Cost | None = None
    ):
        super().__init__(genome, operator_params=dict(params or {}), cost=cost or Cost())

    @property
    def params(self) -> dict[str, Any]:
        """The ``operator_params`` of the record."""
        return dict(self.operator_params)


def as_offspring(value: Genome | Offspring) -> Child:
    """An operator's output as a record (genomes get empty parameters)."""
    if isinstance(value, Child):
        return value
    if isinstance(value, Offspring):
        return Child(value.genome, dict(value.operator_params), value.cost)
    return Child(value)


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
        run: The run's ``RunContext`` (its LLM backends), None outside a run.
    """

    parents: tuple[Individual, ...] = ()
    inspirations: tuple[Individual, ...] = ()
    best: Individual | None = None
    run: RunContext | None = dataclasses.field(default=None, compare=False, repr=False)

    def llm_backend(self, config: Any) -> LLMBackend:
        """The run's backend for an LLM ``PluginConfig`` (outside a run: a standalone one)."""
        return llm_backend(self.run, config)


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
