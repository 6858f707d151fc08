"""The ask/tell ``Strategy`` base class.

``ask_batch()``/``tell_batch()`` (columns) and ``ask()``/``tell()`` (``Individual`` lists) are
template methods: they keep ids, the pending ask, counters and the order rules. A subclass
implements either the columnar pair ``_ask_batch()``/``_tell_batch()`` (vector strategies:
whole-population array operations, ``vectorized = True``) or the object pair
``_ask()``/``_tell()`` (archive, LLM and merge strategies); the base converts at the
boundary, so both APIs work for every strategy (STYLE.md 2, 14).

State is data (STYLE.md 15): ``state_dict()`` encodes the strategy's attributes through
``strategies.state.encode`` — all but those its classes list in ``rebuilt_attrs`` (objects
its ``__init__`` builds from the config: parameters, plugins, library searchers);
``load_state_dict()`` restores them into a strategy freshly built from the same config.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from evosearch.batch import Batch, Results
from evosearch.individual import Individual, Offspring
from evosearch.llm.base import LLMBackend
from evosearch.run_context import RunContext, llm_backend
from evosearch.strategies import state as state_codec


class Strategy(abc.ABC):
    """Produces individuals (``ask``) and learns from their evaluations (``tell``).

    Generational strategies (``steady_state = False``) alternate strictly: ``ask`` → ``tell``
    with exactly that batch → ``ask`` ... Steady-state strategies accept several outstanding
    asks and ``tell`` in any order and any grouping. Misuse raises ``RuntimeError``.

    Capabilities (declared here, not probed):
        steady_state: accepts several outstanding asks.
        vectorized: implements ``_ask_batch``/``_tell_batch`` on arrays.

    Args:
        rng: The strategy's random generator (seeded from the run seed).
    """

    steady_state: ClassVar[bool] = False
    vectorized: ClassVar[bool] = False
    #: Attributes ``state_dict`` leaves out because ``__init__`` rebuilds them from the
    #: config (summed over the class hierarchy).
    rebuilt_attrs: ClassVar[tuple[str, ...]] = ("params", "_pending", "_asked", "run_context")
    STATE_VERSION: ClassVar[int] = 1
    #: The pydantic model of the strategy's parameters; the engine builds it from
    #: ``strategy.params`` and calls ``cls(params, rng=rng)``. None: ``cls(**params, rng=rng)``.
    Params: ClassVar[type[Any] | None] = None
    #: The archive the strategy keeps (its membership events and QD stats are stored).
    archive: Any = None
    #: The run's ``RunContext`` (LLM backends, device), bound by the engine; None outside a run.
    run_context: RunContext | None = None

    def __init__(self, *, rng: np.random.Generator):
        self.rng = rng
        self.generation = 0
        self.next_id = 0
        self.evaluations = 0
        self.best: Individual | None = None
        self._pending: dict[int, Individual] = {}  # steady-state asks
        self._asked: Batch | None = None  # the generational ask awaiting tell

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

    def facts(self) -> dict[str, Any] | None:
        """Run-wide facts stored once per run (vector strategies: dimension and bounds)."""
        return None

    def ask_batch(self, n: int | None = None) -> Batch:
        """Propose new individuals as a ``Batch`` (unevaluated, unless their variation failed).

        Args:
            n: How many (steady-state strategies only; default ``batch_size``).

        Raises:
            RuntimeError: a generational strategy asked again before ``tell``.
        """
        if self.pending and not self.steady_state:
            raise RuntimeError(
                f"{type(self).__name__}.ask() called again before tell() of the previous "
                f"{self.pending} individuals"
            )
        if n is not None and not self.steady_state and n != self.batch_size:
            raise RuntimeError(
                f"{type(self).__name__} is generational: ask() returns whole batches of "
                f"{self.batch_size}, not {n}"
            )
        with self._serving():
            batch = self._ask_batch(self.batch_size if n is None else n)
        size = len(batch.genomes)
        batch.ids = np.arange(self.next_id, self.next_id + size, dtype=np.int64)
        batch.generation = (
            self.evaluations // max(1, self.batch_size) if self.steady_state else self.generation
        )
        self.next_id += len(batch)
        if self.steady_state:
            for ind in batch.individuals():
                self._pending[ind.id] = ind
        else:
            self._asked = batch
        return batch

    def llm_backend(self, config: Any) -> LLMBackend:
        """The run's backend for an LLM ``PluginConfig`` (outside a run: a standalone one)."""
        return llm_backend(self.run_context, config)

    def _serving(self) -> Any:
        """While asking, plugins that call ``backend_from_config`` get the run's backends."""
        return contextlib.nullcontext() if self.run_context is None else self.run_context.serving()

    def ask(self, n: int | None = None) -> list[Individual]:
        """``ask_batch`` as a list of ``Individual`` (for code that wants objects)."""
        if self.steady_state:
            before = self.next_id
            self.ask_batch(n)
            return [self._pending[i] for i in range(before, self.next_id)]
        return self.ask_batch(n).individuals()

    def tell_batch(self, batch: Batch, results: Results) -> None:
        """Give an evaluated batch back (``results`` in the batch's row order).

        Raises:
            RuntimeError: nothing was asked, or ``batch`` is not the pending ask.
        """
        if self.steady_state or self._asked is None or batch is not self._asked:
            if not self.pending:
                raise RuntimeError(f"{type(self).__name__}.tell() called without a pending ask()")
            self.tell(batch.individuals(results))
            return
        self._asked = None
        self._finish(batch, results, None)

    def tell(self, individuals: Sequence[Individual]) -> None:
        """Give the evaluated individuals back.

        Raises:
            RuntimeError: nothing was asked, an id was not asked (or already told), an
                individual is not evaluated, or a generational batch is incomplete.
        """
        if not self.pending:
            raise RuntimeError(f"{type(self).__name__}.tell() called without a pending ask()")
        ids = [ind.id for ind in individuals]
        pending = self._pending_ids()
        unknown = [i for i in ids if i not in pending]
        if unknown or len(set(ids)) != len(ids):
            raise RuntimeError(
                f"tell() got individuals that are not pending from ask(): {unknown or ids}"
            )
        if any(ind.result is None for ind in individuals):
            raise RuntimeError("tell() needs evaluated individuals (result is None)")
        if not self.steady_state and set(ids) != pending:
            raise RuntimeError(
                f"{type(self).__name__} is generational: tell() needs the whole batch of "
                f"{len(pending)} individuals, got {len(ids)}"
            )
        if self.steady_state:
            for i in ids:
                del self._pending[i]
            self._finish(None, None, list(individuals))
            return
        batch, self._asked = self._asked, None
        if self.vectorized:  # back to columns, in the asked row order
            assert batch is not None
            results = Results.empty(len(batch))
            first = int(batch.ids[0])
            for ind in individuals:
                results.set(ind.id - first, ind.result)
            self._finish(batch, results, None)
        else:
            self._finish(None, None, list(individuals))

    def _finish(
        self, batch: Batch | None, results: Results | None, individuals: list[Individual] | None
    ) -> None:
        if self.vectorized and batch is not None and results is not None:
            self._record_batch(batch, results)
            self._tell_batch(batch, results)
        else:
            if individuals is None:
                assert batch is not None
                individuals = batch.individuals(results)
            self._record(individuals)
            self._tell(individuals)
        if not self.steady_state:
            self.generation += 1

    def _pending_ids(self) -> set[int]:
        if self._asked is not None:
            return set(self._asked.ids.tolist())
        return set(self._pending)

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
        if self._asked is not None:
            dropped.extend(self._asked.individuals())
        self._pending.clear()
        self._asked = None
        return dropped

    @property
    def pending(self) -> int:
        return len(self._pending) + (0 if self._asked is None else len(self._asked))

    def _record(self, individuals: Sequence[Individual]) -> None:
        self.evaluations += len(individuals)
        for ind in individuals:
            if not math.isnan(ind.score) and (self.best is None or ind.score > self.best.score):
                self.best = ind

    def _record_batch(self, batch: Batch, results: Results) -> None:
        self.evaluations += len(batch)
        scores = results.score
        if len(scores) == 0 or np.isnan(scores).all():
            return
        k = int(np.nanargmax(scores))  # the first of equal maxima, as in _record
        if self.best is None or scores[k] > self.best.score:
            self.best = batch.individual(k, results)

    # --------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The strategy's state as plain data (arrays, counters, RNG states), versioned."""
        attrs: dict[str, Any] = {}
        for name in self._state_names():
            if name in self.__dict__:
                attrs[name] = state_codec.encode(self.__dict__[name], f"strategy.{name}")
        return {"class": type(self).__qualname__, "version": self.STATE_VERSION, "attrs": attrs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` output into a strategy built from the same config.

        Raises:
            ValueError: the state was written by another strategy class or version.
        """
        if state.get("class") != type(self).__qualname__ or state.get("version") != (
            self.STATE_VERSION
        ):
            raise ValueError(
                f"checkpoint holds {state.get('class')} state version {state.get('version')}; "
                f"this run's strategy is {type(self).__qualname__} version {self.STATE_VERSION}"
            )
        for name, value in state["attrs"].items():
            setattr(self, name, state_codec.decode(value))
        self._pending.clear()
        self._asked = None

    def _state_names(self) -> list[str]:
        rebuilt = {n for cls in type(self).__mro__ for n in cls.__dict__.get("rebuilt_attrs", ())}
        return [name for name in self.__dict__ if name not in rebuilt]

    # --------------------------------------------------------------------- subclass API
    def _ask_batch(self, n: int) -> Batch:
        """Columnar ask (ids and generation are filled in by ``ask_batch``).

        The default wraps the object API: ``_ask`` offspring become a batch of genome
        objects (failed variations become preset results).
        """
        offspring = self._ask(n)
        preset = {i: o.result for i, o in enumerate(offspring) if o.result is not None}
        return Batch(
            ids=np.empty(0, dtype=np.int64),
            generation=0,
            genomes=[o.genome for o in offspring],
            parents=[tuple(int(p) for p in o.parent_ids) for o in offspring],
            operator=[o.operator for o in offspring],
            operator_params=[dict(o.operator_params) for o in offspring],
            island=np.array([o.island for o in offspring], dtype=np.int64),
            cost=[o.cost for o in offspring],
            preset=preset or None,
        )

    def _tell_batch(self, batch: Batch, results: Results) -> None:
        """Columnar tell (only called when ``vectorized``)."""
        raise NotImplementedError

    def _ask(self, n: int) -> list[Offspring]:
        """Return ``n`` offspring (generational: exactly ``batch_size``)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _ask nor _ask_batch")

    def _tell(self, individuals: list[Individual]) -> None:
        """Learn from evaluated individuals (failed ones have NaN scores)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _tell nor _tell_batch")

    def members(self) -> list[Individual]:
        """The strategy's current population or archive members (for inspection)."""
        return []


def box_bounds(dimension: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The box ``[low, high]^dimension`` of a vector strategy as two float arrays."""
    return np.full(dimension, float(low)), np.full(dimension, float(high))


def box_facts(low: np.ndarray, high: np.ndarray) -> dict[str, Any]:
    """The run facts of vectors in the box ``[low, high]``: their dimension and bounds."""
    bounds = [[float(a), float(b)] for a, b in zip(low, high)]
    return {"genome": {"kind": "vector", "dimension": len(low), "bounds": bounds}}
