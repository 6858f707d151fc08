"""The ask/tell ``Strategy`` base class.

``ask()`` and ``tell()`` are template methods: they keep ids, pending individuals, counters
and the order rules; subclasses implement only ``_ask()`` and ``_tell()`` (STYLE.md 2).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from evosearch.genomes.base import Genome
from evosearch.individual import Cost, FitnessResult, Individual


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


class Strategy(abc.ABC):
    """Produces individuals (``ask``) and learns from their evaluations (``tell``).

    Generational strategies (``steady_state = False``) alternate strictly: ``ask`` → ``tell``
    with exactly that batch → ``ask`` ... Steady-state strategies accept several outstanding
    asks and ``tell`` in any order and any grouping. Misuse raises ``RuntimeError``.

    Args:
        rng: The strategy's random generator (seeded from the run seed).
    """

    steady_state: ClassVar[bool] = False
    #: The pydantic model of the strategy's parameters; the engine builds it from
    #: ``strategy.params`` and calls ``cls(params, rng=rng)``. None: ``cls(**params, rng=rng)``.
    Params: ClassVar[type[Any] | None] = None
    #: The archive the strategy keeps (its membership events and QD stats are stored).
    archive: Any = None

    def __init__(self, *, rng: np.random.Generator):
        self.rng = rng
        self.generation = 0
        self.next_id = 0
        self.evaluations = 0
        self.best: Individual | None = None
        self._pending: dict[int, Individual] = {}

    # --------------------------------------------------------------------- template
    @property
    @abc.abstractmethod
    def batch_size(self) -> int:
        """Individuals per ``ask()`` (the population size for generational strategies)."""

    @property
    def population_size(self) -> int:
        """Individuals per ``ask()``: the one name of ``batch_size`` across plugins."""
        return self.batch_size

    def restore(self, store: Any) -> None:  # noqa: B027  (optional hook)
        """Rebuild state a checkpoint leaves out from the run's committed individuals.

        Called on resume after the checkpoint is loaded; the default keeps everything in
        the checkpoint and does nothing.
        """

    def ask(self, n: int | None = None) -> list[Individual]:
        """Propose new individuals (unevaluated, unless their variation failed).

        Args:
            n: How many (steady-state strategies only; default ``batch_size``).

        Raises:
            RuntimeError: a generational strategy asked again before ``tell``.
        """
        if self._pending and not self.steady_state:
            raise RuntimeError(
                f"{type(self).__name__}.ask() called again before tell() of the previous "
                f"{len(self._pending)} individuals"
            )
        if n is not None and not self.steady_state and n != self.batch_size:
            raise RuntimeError(
                f"{type(self).__name__} is generational: ask() returns whole batches of "
                f"{self.batch_size}, not {n}"
            )
        offspring = self._ask(self.batch_size if n is None else n)
        generation = (
            self.evaluations // max(1, self.batch_size) if self.steady_state else self.generation
        )
        batch = []
        for off in offspring:
            ind = Individual(
                id=self.next_id,
                genome=off.genome,
                parent_ids=tuple(int(p) for p in off.parent_ids),
                operator=off.operator,
                operator_params=dict(off.operator_params),
                generation=generation,
                island=off.island,
                result=off.result,
                cost=off.cost,
            )
            self.next_id += 1
            self._pending[ind.id] = ind
            batch.append(ind)
        return batch

    def tell(self, individuals: Sequence[Individual]) -> None:
        """Give the evaluated individuals back.

        Raises:
            RuntimeError: nothing was asked, an id was not asked (or already told), an
                individual is not evaluated, or a generational batch is incomplete.
        """
        if not self._pending:
            raise RuntimeError(f"{type(self).__name__}.tell() called without a pending ask()")
        ids = [ind.id for ind in individuals]
        unknown = [i for i in ids if i not in self._pending]
        if unknown or len(set(ids)) != len(ids):
            raise RuntimeError(
                f"tell() got individuals that are not pending from ask(): {unknown or ids}"
            )
        if any(ind.result is None for ind in individuals):
            raise RuntimeError("tell() needs evaluated individuals (result is None)")
        if not self.steady_state and set(ids) != set(self._pending):
            raise RuntimeError(
                f"{type(self).__name__} is generational: tell() needs the whole batch of "
                f"{len(self._pending)} individuals, got {len(ids)}"
            )
        for i in ids:
            del self._pending[i]
        self._record(individuals)
        self._tell(list(individuals))
        if not self.steady_state:
            self.generation += 1

    def replay(self, individuals: Sequence[Individual]) -> None:
        """Re-apply ``tell`` for individuals evaluated before a crash (from the WAL).

        Only for steady-state strategies, whose state after ``tell`` does not depend on the
        pending set. Ids are taken as already allocated.
        """
        if not individuals:
            return
        for ind in individuals:
            self._pending.pop(ind.id, None)
        self.next_id = max(self.next_id, max(i.id for i in individuals) + 1)
        self._record(individuals)
        self._tell(list(individuals))

    def drop_pending(self) -> list[Individual]:
        """Forget outstanding asks (after a resume, in-flight work is asked again)."""
        dropped = list(self._pending.values())
        self._pending.clear()
        return dropped

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _record(self, individuals: Sequence[Individual]) -> None:
        self.evaluations += len(individuals)
        for ind in individuals:
            if not math.isnan(ind.score) and (self.best is None or ind.score > self.best.score):
                self.best = ind

    # --------------------------------------------------------------------- subclass API
    @abc.abstractmethod
    def _ask(self, n: int) -> list[Offspring]:
        """Return ``n`` offspring (generational: exactly ``batch_size``)."""

    @abc.abstractmethod
    def _tell(self, individuals: list[Individual]) -> None:
        """Learn from evaluated individuals (failed ones have NaN scores)."""

    def members(self) -> list[Individual]:
        """The strategy's current population or archive members (for inspection)."""
        return []
