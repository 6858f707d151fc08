"""The engine: ask → evaluate → tell → commit, in generational or steady-state mode.

``Engine.run()`` is one loop over a *mode*: generational mode asks, evaluates and tells a
whole generation of columns per step (DESIGN §3); steady-state mode keeps the workers busy
and tells each result as it finishes. Evaluated work is committed in chunks to the
``RunStore`` (rows and the strategy's ``state_dict()`` in one durable write), so a ``kill -9``
loses at most the work in flight. Apart: the ``Budget`` (counts, decides when to stop), the
``RunContext`` (LLM backends, device), resuming (``store.resume``), ``progress`` reports.
"""

from __future__ import annotations

import contextlib
import pathlib
import shutil
from typing import Any

import numpy as np

from evosearch import scratch
from evosearch.archives.rebuild import archive_tables
from evosearch.batch import Batch, Results
from evosearch.budget import Budget
from evosearch.build import build_executor, build_strategy, default_device, run_yaml
from evosearch.columns import concat_columns
from evosearch.config import RunConfig, load_config
from evosearch.executors.base import Executor, Task
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.fitness.evaluate import row_seeds
from evosearch.individual import Individual, best_of
from evosearch.progress import Progress, ProgressCallback, RunSummary
from evosearch.run_context import RunContext
from evosearch.run_health import RunHealth
from evosearch.store.resume import checkpoint, open_resumable, replay_rows
from evosearch.store.runstore import RunStore
from evosearch.strategies.base import Strategy

__all__ = ["Engine", "Progress", "RunSummary", "build_executor", "build_strategy"]


class Engine:
    """Runs one run directory to its budget.

    Create with ``Engine.create`` (new run) or ``Engine.resume`` (existing run).
    """

    def __init__(
        self,
        config: RunConfig,
        store: RunStore,
        strategy: Strategy,
        *,
        counters: dict[str, Any] | None = None,
        executor: Executor | None = None,
    ):
        self.config = config
        self.store = store
        store.sync = config.store.fsync
        self.strategy = strategy
        self.spec = FitnessSpec.from_config(config.fitness)
        self.executor = executor or build_executor(config)
        counters = counters or {}
        self.budget = Budget(  # counts what the run spends, decides when it is spent
            config.budget, steady_state=strategy.steady_state, batch_size=strategy.batch_size,
            counters=counters,
        )
        self.commits = int(counters.get("commits", 0))
        self.health = RunHealth(
            max(8, 2 * strategy.batch_size), counts=counters.get("status_counts")
        )
        self._committed = self._committed_view()
        self._scratch = scratch.reserve()  # created only if an evaluator uses it
        # what the run needs at run time (LLM backends with their cache in the run
        # directory, the device), passed to the strategy and in every fitness context
        self.context = RunContext(store.path, default_device(config.fitness.params))
        strategy.run_context = self.context
        self.stopped_by = ""
        self._progress: ProgressCallback | None = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def create(
        cls,
        config: RunConfig | str | pathlib.Path | dict,
        run_dir: str | pathlib.Path,
        *,
        overrides: list[str] | None = None,
    ) -> Engine:
        """Start a new run in ``run_dir`` (validated fully before anything is written).

        Raises:
            ConfigError, RegistryError: for an invalid config or plugin parameter.
            StoreError: if ``run_dir`` already holds a run.
        """
        if not isinstance(config, RunConfig):
            config = load_config(config, overrides)
        FitnessSpec.from_config(config.fitness)  # fail before creating anything
        strategy = build_strategy(config, np.random.default_rng(config.seed))
        executor = build_executor(config)
        store = RunStore.create(run_dir, run_yaml(config), facts=strategy.facts())
        return cls(config, store, strategy, executor=executor)

    @classmethod
    def resume(cls, run_dir: str | pathlib.Path, *, budget_overrides: list[str] | None = None):
        """Continue a run from its last commit.

        The strategy is rebuilt from the config and loads the committed state; a
        steady-state run also replays the rows it appended after that commit.

        Args:
            run_dir: The run directory.
            budget_overrides: ``budget.key=value`` strings to extend the budget.

        Raises:
            StoreError: if the run is missing, locked by another process, or corrupted.
        """
        point = open_resumable(run_dir)
        try:
            config = load_config(point.config, budget_overrides)
            strategy = build_strategy(config, np.random.default_rng(config.seed))
            if point.strategy_state is not None:
                strategy.load_state_dict(point.strategy_state)
                strategy.restore(point.store)  # state rebuilt from the stored individuals
            strategy.drop_pending()
            engine = cls(config, point.store, strategy, counters=point.counters)
        except BaseException:
            point.store.close()
            raise
        replay = replay_rows(point.store)
        if replay:  # steady-state results evaluated but not yet in a part
            strategy.replay(replay)
            engine._count(replay)
            engine._commit(replay)
        return engine

    # ---------------------------------------------------------------- the loop
    def run(self, progress: ProgressCallback | None = None) -> RunSummary:
        """Run until a budget is exhausted (or Ctrl-C: committed work is kept)."""
        self._progress = progress
        try:
            with self.context.serving():
                steady = self.config.mode == "steady_state"
                self._loop(_SteadyState(self) if steady else _Generational(self))
        except KeyboardInterrupt:
            self.stopped_by = "interrupted"
        finally:
            self.close()
        return self.summary()

    def _loop(self, mode: _Generational | _SteadyState) -> None:
        """The one loop: step the mode, committing its work every ``mode.every`` items."""
        pending: list[Any] = []

        def emit(item: Any) -> None:
            pending.append(item)
            if len(pending) >= mode.every:
                mode.commit(list(pending))
                pending.clear()

        try:
            while mode.step(emit):
                pass
        except BaseException:
            if pending and mode.durable:  # their rows are in the log: commit them
                mode.commit(pending)
            raise
        if pending:  # the budget ended between commits
            mode.commit(pending)

    def step(self) -> list[Individual]:
        """One generation: ask, evaluate, tell, commit. Returns the evaluated individuals."""
        with self.context.serving():
            batch, results = self._generation()
            self._commit_batches([(batch, results)])
        return batch.individuals(results)

    def _generation(self) -> tuple[Batch, Results]:
        """Ask, evaluate and tell one generation (not yet committed)."""
        batch = self.strategy.ask_batch()
        results = self.evaluate_batch(batch)
        self.strategy.tell_batch(batch, results)
        self.budget.count_batch(batch, results)
        self.health.add_columns(results.status, results.error)
        return batch, results

    def _complete(self, ind: Individual) -> Individual:
        """Tell one evaluated individual (steady state) and append it to the log."""
        self.strategy.tell([ind])
        self._count([ind])
        self.store.append_wal([ind])
        return ind

    def evaluate_batch(self, batch: Batch) -> Results:
        """Evaluate a batch's rows (preset rows keep their result), as columns."""
        ctx = FitnessContext(
            params=self.spec.params,
            device=self.context.device,
            scratch_root=self._scratch,
            run=self.context,
        )
        seeds = row_seeds(self.config.seed, batch.ids)
        with self.context.serving():
            return self.executor.evaluate_batch(self.spec, batch, ctx, seeds)

    def evaluate(self, batch: list[Individual]) -> list[Individual]:
        """Evaluate the individuals that have no result yet (failed variations keep theirs)."""
        todo = [i for i in batch if i.result is None]
        with self.context.serving():
            results = self.executor.evaluate(
                self.spec, [i.genome for i in todo], [self._ctx(i) for i in todo]
            )
        by_id = {i.id: r for i, r in zip(todo, results)}
        return [i if i.result is not None else i.with_result(by_id[i.id]) for i in batch]

    # ---------------------------------------------------------------- bookkeeping
    def _ctx(self, ind: Individual) -> FitnessContext:
        seed = int(row_seeds(self.config.seed, np.array([ind.id]))[0])
        return FitnessContext(
            params=self.spec.params,
            seed=seed,
            device=self.context.device,
            scratch_root=self._scratch,
            individual_id=ind.id,
            run=self.context,
        )

    def _count(self, individuals: list[Individual]) -> None:
        self.budget.count(individuals)
        self.health.add(individuals)

    @property
    def tokens(self) -> int:
        """LLM tokens spent so far (variations and evaluations, over all sessions)."""
        return self.budget.tokens

    @property
    def failed(self) -> int:
        """Failed evaluations so far."""
        return self.budget.failed

    @property
    def elapsed(self) -> float:
        return self.budget.elapsed

    @property
    def evaluations(self) -> int:
        return self.strategy.evaluations

    @property
    def generation(self) -> int:
        if self.strategy.steady_state:
            return self.strategy.evaluations // max(1, self.strategy.batch_size)
        return self.strategy.generation

    def counters(self) -> dict[str, Any]:
        best = self.strategy.best
        return {
            **self.budget.counters(),
            "commits": self.commits,
            "evaluations": self.evaluations,
            "generation": self.generation,
            "best_score": None if best is None else best.score,
            "best_id": None if best is None else best.id,
            "status_counts": dict(self.health.counts),
        }

    def _committed_view(self) -> dict[str, Any]:
        """What the summary reports: the state of the last commit (Ctrl-C loses the rest)."""
        return {
            "evaluations": self.evaluations,
            "generation": self.generation,
            "best": self.strategy.best,
            "status_counts": dict(self.health.counts),
        }

    def _commit_batches(self, batches: list[tuple[Batch, Results]]) -> None:
        generation = max(b.generation for b, _ in batches)
        self._commit(concat_columns([b.columns(r) for b, r in batches]), generation)

    def _commit(self, individuals: Any, generation: int | None = None) -> None:
        self.commits += 1
        counters = self.counters()
        if generation is None:
            generation = max((i.generation for i in individuals), default=self.generation)
        tables = archive_tables(  # drains the archive's events before the state is saved
            self.strategy.archive, generation=generation, evaluations=self.evaluations
        )
        state = checkpoint(self.strategy.state_dict(), counters)
        self.store.commit(
            individuals, state, generation=generation, counters=counters, tables=tables
        )
        self._committed = self._committed_view()
        if self._progress is not None:
            self._progress(self.progress())

    def progress(self) -> Progress:
        return Progress.snapshot(
            generation=self.generation,
            evaluations=self.evaluations,
            best=self.strategy.best,
            elapsed=self.elapsed,
            fraction_done=self.fraction_done(),
            tokens=self.tokens,
            failed=self.failed,
            status_counts=self.health.counts,
        )

    def fraction_done(self) -> float:
        return self.budget.fraction_done(self.generation, self.evaluations)

    def _should_stop(self, extra: int = 0) -> bool:
        reason = self.budget.exhausted(self.generation, self.evaluations, extra)
        if reason is None and getattr(self.strategy, "converged", None):
            reason = "converged"  # restarts spent
        if reason is None and self.health.stop_reason is not None:
            reason = "infrastructure"
        if reason is None:
            return False
        self.stopped_by = self.stopped_by or reason
        return True

    def summary(self) -> RunSummary:
        """The run as committed (after Ctrl-C, work evaluated but not committed is not in it)."""
        view = self._committed
        best = view["best"]
        if best is None and self.stopped_by != "interrupted":
            best = best_of(self.strategy.members())
        stopped_by = self.stopped_by or "budget"
        reason = {
            "infrastructure": self.health.stop_reason or "",
            "converged": str(getattr(self.strategy, "converged", None) or ""),
        }.get(stopped_by, "")
        return RunSummary(
            run_dir=self.store.path,
            generations=view["generation"],
            evaluations=view["evaluations"],
            best=best,
            elapsed=self.elapsed,
            stopped_by=stopped_by,
            status_counts=view["status_counts"],
            stop_reason=reason,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.executor.close()
        self.store.close()
        self.context.close()
        shutil.rmtree(self._scratch, ignore_errors=True)


class _Generational:
    """Generational mode: each step asks, evaluates and tells one whole generation."""

    durable = False  # uncommitted generations are not in the log: Ctrl-C drops them

    def __init__(self, engine: Engine):
        self.engine = engine
        self.every = engine.config.store.generations_per_commit
        self.commit = engine._commit_batches

    def step(self, emit: Any) -> bool:
        if self.engine._should_stop():
            return False
        emit(self.engine._generation())
        return True


class _SteadyState:
    """Steady-state mode: keep every worker busy; tell each result as it finishes."""

    durable = True  # told individuals are appended to the log at once

    def __init__(self, engine: Engine):
        if not engine.strategy.steady_state:
            raise RuntimeError(
                f"mode: steady_state needs a steady-state strategy; "
                f"{engine.config.strategy.name!r} is generational (use mode: generational)"
            )
        self.engine = engine
        self.every = engine.config.store.commit_every or engine.strategy.batch_size
        self.commit = engine._commit
        self.in_flight: dict[Any, Individual] = {}

    def step(self, emit: Any) -> bool:
        e, in_flight = self.engine, self.in_flight
        while len(in_flight) < e.executor.workers and not e._should_stop(extra=len(in_flight)):
            for ind in e.strategy.ask(1):
                if ind.result is not None:  # a failed variation: nothing to evaluate
                    emit(e._complete(ind))
                else:
                    task = Task(e.spec, [ind.genome], e._ctx(ind))
                    in_flight[e.executor.submit(task)] = ind
        if not in_flight:
            return False
        done, _ = e.executor.wait(list(in_flight), timeout=None)
        for fut in sorted(done, key=lambda f: in_flight[f].id):
            ind = in_flight.pop(fut)
            emit(e._complete(ind.with_result(e.executor.result(fut)[0])))
        return True
