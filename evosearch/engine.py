"""The engine: ask → evaluate → tell → commit, in generational or steady-state mode.

``Engine.run()`` is a thin loop over the strategy's ``ask_batch``/``tell_batch``: a
generation is a ``Batch`` of columns evaluated into ``Results`` columns (DESIGN §3).
Durability lives in the ``RunStore``: each commit appends the evaluated rows and the
strategy's ``state_dict()`` in one durable write. A resumed run rebuilds the strategy from
the config and loads that state (steady-state runs also replay the rows appended after it),
so a ``kill -9`` loses at most the work in flight.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import pathlib
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from evosearch import registry, scratch
from evosearch.archives.rebuild import archive_tables
from evosearch.batch import Batch, Results
from evosearch.config import RunConfig, dump_config, load_config
from evosearch.executors.base import Executor, Task
from evosearch.fitness.base import FitnessContext, FitnessSpec, row_seeds
from evosearch.individual import Individual, best_of
from evosearch.run_context import RunContext
from evosearch.run_health import RunHealth
from evosearch.store.runstore import RunStore, StoreError
from evosearch.strategies.base import Strategy

ENGINE_STATE_VERSION = 2


@dataclasses.dataclass
class Progress:
    """A snapshot of a running run, passed to progress callbacks after each commit."""

    generation: int
    evaluations: int
    best_score: float
    best_id: int | None
    elapsed: float
    evals_per_second: float
    fraction_done: float
    tokens: int
    failed: int
    status_counts: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunSummary:
    """What ``Engine.run`` returns."""

    run_dir: pathlib.Path
    generations: int
    evaluations: int
    best: Individual | None
    elapsed: float
    stopped_by: str
    status_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    stop_reason: str = ""  # why an infrastructure or convergence stop happened


def build_strategy(config: RunConfig, rng: np.random.Generator) -> Strategy:
    """Instantiate the configured strategy with validated parameters.

    Raises:
        registry.RegistryError: naming ``strategy.params.<key>`` when a parameter is wrong.
    """
    entry = registry.strategies.get(config.strategy.name)
    cls = entry.obj
    params_model = cls.Params
    if params_model is None:
        return registry.instantiate(
            cls,
            {**config.strategy.params, "rng": rng},
            key="strategy.params",
            what="strategy",
            population=True,
        )
    params = registry.instantiate(
        params_model,
        dict(config.strategy.params),
        key="strategy.params",
        what=f"strategy {config.strategy.name!r}",
        population=True,
    )
    return cls(params, rng=rng)


def build_executor(config: RunConfig) -> Executor:
    entry = registry.executors.get(config.executor.name)
    return registry.instantiate(
        entry.obj,
        {"workers": config.executor.workers, **config.executor.params},
        key="executor.params",
        what=f"executor {config.executor.name!r}",
    )


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
        self.elapsed_before = float(counters.get("elapsed", 0.0))
        self.tokens = int(counters.get("tokens", 0))
        self.failed = int(counters.get("failed", 0))
        self.commits = int(counters.get("commits", 0))
        self.health = RunHealth(
            max(8, 2 * strategy.batch_size), counts=counters.get("status_counts")
        )
        self._committed = self._committed_view()
        self._start = time.monotonic()
        self._scratch = scratch.reserve()  # created only if an evaluator uses it
        # what the run needs at run time (LLM backends with their cache in the run
        # directory, the device), passed to the strategy and in every fitness context
        self.context = RunContext(store.path, _default_device(config.fitness.params))
        strategy.run_context = self.context
        self.stopped_by = ""

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
        rng = np.random.default_rng(config.seed)
        strategy = build_strategy(config, rng)
        executor = build_executor(config)
        store = _create_store(run_dir, _run_yaml(config), strategy.facts())
        return cls(config, store, strategy, executor=executor)

    @classmethod
    def resume(cls, run_dir: str | pathlib.Path, *, budget_overrides: list[str] | None = None):
        """Continue a run from its last commit.

        Args:
            run_dir: The run directory.
            budget_overrides: ``budget.key=value`` strings to extend the budget.

        Raises:
            StoreError: if the run is missing, locked by another process, or corrupted.
        """
        store = RunStore.open(run_dir, writable=True)
        try:
            import yaml

            problems = store.verify()
            if problems:
                raise StoreError(
                    f"{store.path} has {len(problems)} damaged part(s): {'; '.join(problems)}. "
                    f"Run 'evosearch repair {store.path}' to quarantine them (their "
                    "individuals are lost; everything else is kept)"
                )

            raw = yaml.safe_load(store.run_yaml)
            raw.pop("evosearch", None)
            config = load_config(raw, budget_overrides)
            state = store.load_checkpoint()
            strategy = build_strategy(config, np.random.default_rng(config.seed))
            counters: dict[str, Any] = {}
            if state is not None:
                if state.get("version") != ENGINE_STATE_VERSION:
                    raise StoreError(
                        f"{store.path}: checkpoint version {state.get('version')!r} "
                        f"(this evosearch reads version {ENGINE_STATE_VERSION})"
                    )
                strategy.load_state_dict(state["strategy"])
                counters = dict(state["counters"])
                strategy.restore(store)  # state rebuilt from the stored individuals
            strategy.drop_pending()
            engine = cls(config, store, strategy, counters=counters)
        except BaseException:
            store.close()
            raise
        replay = store.read_wal()
        if replay:  # steady-state results evaluated but not yet in a part
            known = set()
            if store.parts:
                known = set(store.table(["id"])["id"].to_pylist())
            replay = [i for i in replay if i.id not in known]
            strategy.replay(replay)
            engine._count(replay)
            engine._commit(replay)
        return engine

    # ---------------------------------------------------------------- the loop
    def run(self, progress: Callable[[Progress], None] | None = None) -> RunSummary:
        """Run until a budget is exhausted (or Ctrl-C: committed work is kept)."""
        self._progress = progress
        try:
            with self.context.serving():
                if self.config.mode == "steady_state":
                    self._run_steady_state()
                else:
                    self._run_generational()
        except KeyboardInterrupt:
            self.stopped_by = "interrupted"
        finally:
            self.close()
        return self.summary()

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
        self.tokens += results.tokens() + (sum(c.tokens_in + c.tokens_out for c in batch.cost)
                                           if batch.cost else 0)
        self.failed += results.failures()
        self.health.add_columns(results.status, results.error)
        return batch, results

    def _run_generational(self) -> None:
        per_commit = self.config.store.generations_per_commit
        pending: list[tuple[Batch, Results]] = []
        while not self._should_stop():
            pending.append(self._generation())
            if len(pending) >= per_commit:
                self._commit_batches(pending)
                pending = []
        if pending:  # the budget ended between commits (Ctrl-C does not reach here)
            self._commit_batches(pending)

    def _run_steady_state(self) -> None:
        if not self.strategy.steady_state:
            raise RuntimeError(
                f"mode: steady_state needs a steady-state strategy; {self.config.strategy.name!r}"
                " is generational (use mode: generational)"
            )
        commit_every = self.config.store.commit_every or self.strategy.batch_size
        in_flight: dict[Any, Individual] = {}
        buffer: list[Individual] = []

        def complete(ind: Individual) -> None:
            self.strategy.tell([ind])
            self._count([ind])
            self.store.append_wal([ind])
            buffer.append(ind)
            if len(buffer) >= commit_every:
                self._commit(buffer)
                buffer.clear()

        try:
            while True:
                while len(in_flight) < self.executor.workers and not self._should_stop(
                    extra=len(in_flight)
                ):
                    for ind in self.strategy.ask(1):
                        if ind.result is not None:
                            complete(ind)
                        else:
                            task = Task(self.spec, [ind.genome], self._ctx(ind))
                            in_flight[self.executor.submit(task)] = ind
                if not in_flight:
                    break
                done, _ = self.executor.wait(list(in_flight), timeout=None)
                for fut in sorted(done, key=lambda f: in_flight[f].id):
                    ind = in_flight.pop(fut)
                    complete(ind.with_result(self.executor.result(fut)[0]))
        finally:
            if buffer:
                self._commit(buffer)

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
        for ind in individuals:
            self.tokens += ind.cost.tokens_in + ind.cost.tokens_out
            if ind.result is not None:
                self.tokens += ind.result.cost.tokens_in + ind.result.cost.tokens_out
            if math.isnan(ind.score):
                self.failed += 1
        self.health.add(individuals)

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self._start)

    @property
    def evaluations(self) -> int:
        return self.strategy.evaluations

    @property
    def generation(self) -> int:
        if self.strategy.steady_state:
            return self.strategy.evaluations // max(1, self.strategy.batch_size)
        return self.strategy.generation

    def counters(self) -> dict[str, Any]:
        return {
            "elapsed": self.elapsed,
            "tokens": self.tokens,
            "failed": self.failed,
            "commits": self.commits,
            "evaluations": self.evaluations,
            "generation": self.generation,
            "best_score": None if self.strategy.best is None else self.strategy.best.score,
            "best_id": None if self.strategy.best is None else self.strategy.best.id,
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
        self._commit(_concat_columns([b.columns(r) for b, r in batches]), generation)

    def _commit(self, individuals: Any, generation: int | None = None) -> None:
        self.commits += 1
        counters = self.counters()
        if generation is None:
            generation = max((i.generation for i in individuals), default=self.generation)
        tables = archive_tables(  # drains the archive's events before the state is saved
            self.strategy.archive,
            generation=generation,
            evaluations=self.evaluations,
        )
        state = {
            "version": ENGINE_STATE_VERSION,
            "strategy": self.strategy.state_dict(),
            "counters": counters,
        }
        self.store.commit(
            individuals, state, generation=generation, counters=counters, tables=tables
        )
        self._committed = self._committed_view()
        if self._progress is not None:
            self._progress(self.progress())

    _progress: Callable[[Progress], None] | None = None

    def progress(self) -> Progress:
        best = self.strategy.best
        elapsed = self.elapsed
        return Progress(
            generation=self.generation,
            evaluations=self.evaluations,
            best_score=math.nan if best is None else best.score,
            best_id=None if best is None else best.id,
            elapsed=elapsed,
            evals_per_second=self.evaluations / elapsed if elapsed > 0 else 0.0,
            fraction_done=self.fraction_done(),
            tokens=self.tokens,
            failed=self.failed,
            status_counts=dict(self.health.counts),
        )

    def fraction_done(self) -> float:
        b = self.config.budget
        fractions = []
        if b.generations:
            fractions.append(self.generation / b.generations)
        if b.evaluations:
            fractions.append(self.evaluations / b.evaluations)
        if b.wall_seconds:
            fractions.append(self.elapsed / b.wall_seconds)
        if b.llm_tokens:
            fractions.append(self.tokens / b.llm_tokens)
        return min(1.0, max(fractions or [0.0]))

    def _should_stop(self, extra: int = 0) -> bool:
        b = self.config.budget
        batch = 1 if self.strategy.steady_state else 0
        checks = [
            ("generations", b.generations is not None and self.generation >= b.generations),
            (
                "generations",
                b.generations is not None
                and self.strategy.steady_state
                and self.evaluations + extra >= b.generations * self.strategy.batch_size,
            ),
            (
                "evaluations",
                b.evaluations is not None and self.evaluations + extra * batch >= b.evaluations,
            ),
            ("wall_seconds", b.wall_seconds is not None and self.elapsed >= b.wall_seconds),
            ("llm_tokens", b.llm_tokens is not None and self.tokens >= b.llm_tokens),
            ("converged", bool(getattr(self.strategy, "converged", None))),  # restarts spent
            ("infrastructure", self.health.stop_reason is not None),
        ]
        for name, hit in checks:
            if hit:
                self.stopped_by = self.stopped_by or name
                return True
        return False

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


def _create_store(run_dir: str | pathlib.Path, run_yaml: str, facts: dict | None) -> RunStore:
    return RunStore.create(run_dir, run_yaml, facts=facts)


def _concat_columns(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One column dict from several batches' (missing optional columns filled)."""
    if len(parts) == 1:
        return parts[0]
    import pyarrow as pa

    sizes = [len(p["id"]) for p in parts]
    defaults = {"operator_params": "{}", "metrics": {}, "descriptors": [], "error": None,
                "feedback": None, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0}
    out: dict[str, Any] = {}
    for key in {k for p in parts for k in p}:
        cols = [p.get(key) for p in parts]
        if all(isinstance(c, np.ndarray) for c in cols):
            out[key] = np.concatenate(cols)
        elif all(isinstance(c, pa.Array) for c in cols) and len({c.type for c in cols}) == 1:
            out[key] = pa.concat_arrays(cols)
        else:
            merged: list = []
            for c, n in zip(cols, sizes):
                if c is None:
                    merged.extend([defaults[key]] * n)
                elif isinstance(c, (pa.Array, pa.ChunkedArray)):
                    merged.extend(c.to_pylist())
                elif isinstance(c, np.ndarray) and c.ndim == 2:
                    merged.extend(list(c))
                else:
                    merged.extend(c.tolist() if isinstance(c, np.ndarray) else c)
            out[key] = np.stack(merged) if key == "genome" and merged and isinstance(
                merged[0], np.ndarray) else merged
    return out


def _run_yaml(config: RunConfig) -> str:
    import platform

    import yaml

    from evosearch import __version__

    header = {
        "evosearch": {
            "version": __version__,
            "python": platform.python_version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }
    return dump_config(config) + yaml.safe_dump(header, sort_keys=False)


def _default_device(params: dict[str, Any]) -> str:
    if "device" in params:
        return str(params["device"])
    # The fitness's module is imported by now: one that uses torch has imported it. One that
    # does not never pays torch's import (seconds) to learn of a device it will not use.
    torch = sys.modules.get("torch")
    if torch is None:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
