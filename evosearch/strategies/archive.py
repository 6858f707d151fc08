"""``ArchiveStrategy``: select parents from an archive, vary them with operators, insert back.

The generic evolutionary loop behind GA-style, MAP-Elites-style, LLM-mutation and DGM-style
runs: which archive, selector and operators are used is configuration.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pydantic
from pydantic import Field

from evosearch import registry
from evosearch.config import PluginConfig
from evosearch.genomes.base import Genome
from evosearch.individual import Cost, FitnessResult, Individual, Status, best_of
from evosearch.operators.base import Child, VariationContext, VariationError, as_offspring
from evosearch.operators.selection import ValidPool, valid_only
from evosearch.run_context import RunContext
from evosearch.strategies.base import Offspring, Strategy

DEDUP_RETRIES = 10  # variations tried per child before a duplicate is kept


class OperatorStep(PluginConfig):
    """One operator of the variation pipeline, applied with probability ``prob``."""

    prob: float = Field(default=1.0, ge=0, le=1)


class ArchiveParams(pydantic.BaseModel):
    """Parameters of ``ArchiveStrategy``.

    Attributes:
        batch_size: Individuals per ask (the offspring per generation, λ).
        init: Initializer plugin for the first ``init_size`` individuals.
        init_size: Individuals created by ``init`` before variation starts (default
            ``batch_size``).
        selector: Parent-selection rule.
        operators: The variation pipeline. The first operator may take several parents;
            the rest are applied to each child in turn.
        archive: Where evaluated individuals go (``population`` = μ+λ truncation).
        dedup: Skip children whose fingerprint the archive already holds (up to 10 retries).
        parallel_variations: Variations run at once on threads, so LLM operators keep an
            HTTP backend's ``concurrency`` busy. Each child then draws from its own generator
            spawned from the strategy's, so runs stay reproducible; 1 (the default) keeps
            the sequential random stream. Asked for fewer children than this (steady-state
            mode asks for one at a time), the strategy still makes this many at once and
            hands out the rest on the next asks (they are part of its checkpointed state).
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(default=16, ge=1)
    init: PluginConfig
    init_size: int | None = Field(default=None, ge=1)
    selector: PluginConfig = PluginConfig(ref="tournament")
    operators: list[OperatorStep] = Field(min_length=1)
    archive: PluginConfig = PluginConfig(ref="population")
    dedup: bool = False
    parallel_variations: int = Field(default=1, ge=1)


@registry.strategies.register("archive")
class ArchiveStrategy(Strategy):
    """Select → vary → evaluate → insert into an archive. Steady-state capable."""

    steady_state = True
    Params = ArchiveParams
    # the archive, seen fingerprints and child counts are rebuilt from the stored rows
    rebuilt_attrs = ("init", "selector", "operators", "archive", "_seen", "_children")

    def __init__(self, params: ArchiveParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        self.init = registry.initializers.get(params.init.name).create(
            params.init.params, key="strategy.params.init.params"
        )
        self.selector = registry.selectors.get(params.selector.name).create(
            params.selector.params, key="strategy.params.selector.params"
        )
        self.operators = []
        for i, step in enumerate(params.operators):
            op = registry.operators.get(step.name).create(
                step.params, key=f"strategy.params.operators.{i}.params"
            )
            if i > 0 and op.arity != 1:
                raise registry.RegistryError(
                    f"strategy.params.operators.{i}: {step.name!r} takes {op.arity} parents; "
                    "only the first operator of the pipeline may take more than one"
                )
            self.operators.append((step.name, step.prob, op))
        self.archive = registry.archives.get(params.archive.name).create(
            params.archive.params, key="strategy.params.archive.params"
        )
        self._initialised = 0
        self._seen: set[str] = set()
        self._children: Counter[int] = Counter()  # told children per parent id
        self._next_island = 0

    @property
    def batch_size(self) -> int:
        return self.params.batch_size

    def members(self) -> list[Individual]:
        return list(self.archive.members())

    def child_counts(self) -> Counter[int]:
        """How many told children each parent id has (what child-count selectors see)."""
        return Counter(self._children)

    # ---------------------------------------------------------------- ask, step by step
    def _ask(self, n: int) -> list[Offspring]:
        pool = ValidPool(valid_only(self.archive.members()))
        out = self._initial(n, pool)
        out += self._made_ahead(n - len(out), pool)
        out += self._vary_islands(n - len(out), pool)
        return out[:n]

    def _initial(self, n: int, pool: ValidPool) -> list[Offspring]:
        """Initializer genomes while the first ``init_size`` are not made (or none is valid)."""
        init_size = self.params.init_size or self.batch_size
        if self._initialised >= init_size and pool:
            return []
        k = n if not pool else min(n, init_size - self._initialised)
        islands = self.archive.islands
        out = [
            Offspring(g, operator="init", island=(self._initialised + j) % islands)
            for j, g in enumerate(self.init(k, self.rng))
        ]
        self._initialised += k
        return out

    def _made_ahead(self, need: int, pool: ValidPool) -> list[Offspring]:
        """Children from parallel variations (``parallel_variations > 1``), made ahead."""
        workers = self.params.parallel_variations
        if not need or workers <= 1 or not pool:
            return []
        ready = self.__dict__.setdefault("_ready", [])  # children made ahead
        if len(ready) < need:  # steady state asks one at a time: make `workers` at once
            ready.extend(self._vary_parallel(pool, max(need - len(ready), workers)))
        out = ready[:need]
        del ready[:need]
        return out

    def _vary_islands(self, need: int, pool: ValidPool) -> list[Offspring]:
        """Variations until ``need`` children; with islands, round-robin over them."""
        out: list[Offspring] = []
        islands = self.archive.islands
        by_island: dict[int, ValidPool] = {}
        while len(out) < need:
            island, local = None, pool
            if islands > 1:  # parents come from the island whose turn it is
                island = self._next_island % islands
                self._next_island += 1
                if island not in by_island:
                    by_island[island] = ValidPool(valid_only(self.archive.members(island=island)))
                local = by_island[island]
            out.extend(self._vary(local or pool, need - len(out), island))
        return out

    def _vary_parallel(self, pool: list[Individual], need: int) -> list[Offspring]:
        """``need`` single-child variations on threads, each with its own spawned generator."""
        import concurrent.futures
        import contextvars

        serving = contextvars.copy_context()  # the run served by this ask, on every thread

        def one(rng: np.random.Generator) -> list[Offspring]:
            # A shallow copy that shares archive and operators; only the generator differs.
            # (Not copy.copy: that goes through __getstate__, which leaves the archive out.)
            worker = object.__new__(type(self))
            worker.__dict__.update(self.__dict__, rng=rng)
            return serving.copy().run(worker._vary, pool, 1, None)

        workers = min(need, self.params.parallel_variations)
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            return [o for outs in ex.map(one, self.rng.spawn(need)) for o in outs]

    def _select(self, pool: list[Individual], k: int) -> list[Individual]:
        if self.selector.uses_child_counts:
            return self.selector(pool, k, self.rng, child_counts=self._children)
        return self.selector(pool, k, self.rng)

    def _vary(
        self, pool: list[Individual], need: int, island: int | None = None
    ) -> list[Offspring]:
        """Select parents and run the pipeline; with ``dedup``, retry duplicates.

        The LLM cost of children dropped (as duplicates, or beyond ``need``) is not lost: it
        is carried by the first child returned (or by the failure record), so token budgets
        count it.
        """
        dropped = Cost()  # spent on duplicates that were dropped
        for _attempt in range(DEDUP_RETRIES):
            parents = self._select(pool, self.operators[0][2].arity)
            home = parents[0].island if island is None else island
            try:
                children, label = self._pipeline(parents, pool)
            except VariationError as exc:
                exc.cost = dropped + exc.cost
                return [self._failed(parents, self.operators[0][0], exc, home)]
            kept = children
            if self.params.dedup:
                kept = [c for c in children if c.genome.fingerprint()[:32] not in self._seen]
                if not kept:
                    dropped = sum((c.cost for c in children), dropped)
                    continue
            kept = kept[:need]
            dropped = sum((c.cost for c in children if all(c is not k for k in kept)), dropped)
            return _offspring(kept, parents, label, home, dropped)
        # every attempt was a duplicate: keep the last children anyway (their cost in `dropped`)
        plain = [Child(c.genome) for c in children]
        return _offspring(plain[:need], parents, label, home, dropped)

    def _pipeline(
        self, parents: list[Individual], pool: list[Individual]
    ) -> tuple[list[Child], str]:
        """Apply the operator pipeline (each step with its probability) to ``parents``.

        Returns:
            The children and the label of the steps applied (``copy`` if none was).

        Raises:
            VariationError: an operator could not produce a child.
        """
        (name, prob, first), names = self.operators[0], []
        if self.rng.random() < prob:
            genomes = [p.genome for p in parents]
            out = apply_operator(first, genomes, self.rng, pool, parents, self.run_context)
            children = [as_offspring(c) for c in out]
            names.append(name)
        else:
            children = [Child(p.genome) for p in parents]
        step = (self.rng, pool, [], self.run_context)
        for step_name, step_prob, op in self.operators[1:]:
            if self.rng.random() < step_prob:
                children = [
                    _merge(c, as_offspring(apply_operator(op, [c.genome], *step)[0]))
                    for c in children
                ]
                names.append(step_name)
        return children, "+".join(names) or "copy"

    def _failed(
        self, parents: list[Individual], name: str, exc: VariationError, island: int
    ) -> Offspring:
        result = FitnessResult.failure(Status.INVALID, f"variation failed: {exc}").with_(
            feedback=exc.raw[:20000]
        )
        return Offspring(
            parents[0].genome,
            tuple(p.id for p in parents),
            name,
            {"failed": True},
            island,
            result=result,
            cost=exc.cost,
        )

    def __getstate__(self) -> dict[str, Any]:
        # The archive, the seen fingerprints and the child counts are functions of the
        # committed individuals (DESIGN §5): checkpoints leave them out (pickling a large
        # archive at every commit dominated run time) and ``restore`` rebuilds them.
        state = self.__dict__.copy()
        state.update(archive=None, _seen=None, _children=None, run_context=None)
        return state

    def restore(self, store: Any) -> None:
        """Rebuild the archive and bookkeeping from a run's committed individuals.

        Called by ``Engine.resume`` after loading a checkpoint (before any WAL replay).

        Args:
            store: The run's ``RunStore``.
        """
        from evosearch.archives.rebuild import rebuild_archive
        from evosearch.store import schema

        commits = (schema.from_table(t, store.facts) for t in store.iter_commits())
        self.archive = rebuild_archive(commits, self.params.archive)
        table = store.table(["fingerprint", "parent_ids"])
        self._seen = {fp.hex() for fp in table["fingerprint"].to_pylist()}  # 16-byte prefixes
        self._children = Counter(p for ps in table["parent_ids"].to_pylist() for p in set(ps or ()))

    def _tell(self, individuals: list[Individual]) -> None:
        self.archive.add(individuals)
        self._seen.update(i.genome.fingerprint()[:32] for i in individuals)
        self._children.update(p for i in individuals for p in set(i.parent_ids))


def apply_operator(
    op: Any,
    genomes: list[Genome],
    rng: np.random.Generator,
    pool: list[Individual],
    parents: list[Individual],
    run: RunContext | None = None,
) -> list[Genome | Child]:
    """Call an operator; those with ``uses_context`` also get a ``VariationContext``.

    Args:
        op: The operator.
        genomes: Its input genomes.
        rng: The generator it draws from.
        pool: The valid archive members (inspirations are drawn from them).
        parents: The evaluated parents behind ``genomes`` (empty for later pipeline steps).
        run: The run's context, passed on in the ``VariationContext``.
    """
    if not op.uses_context:
        return op(genomes, rng)
    return op(genomes, rng, context=variation_context(pool, parents, op, rng, run))


def variation_context(
    pool: list[Individual],
    parents: list[Individual],
    op: Any,
    rng: np.random.Generator,
    run: RunContext | None = None,
) -> VariationContext:
    """Parents plus ``op.inspirations`` valid archive members drawn without replacement.

    Draws from ``rng`` only when the operator asks for inspirations and some exist, so
    operators without context leave the random stream untouched.
    """
    parent_ids = {p.id for p in parents}
    others = [i for i in pool if i.id not in parent_ids and i.result is not None and i.result.ok]
    k = min(int(op.inspirations or 0), len(others))
    picks = sorted(rng.choice(len(others), size=k, replace=False).tolist()) if k else []
    inspirations = tuple(others[i] for i in picks)
    return VariationContext(tuple(parents), inspirations, best_of(pool), run)


def _offspring(
    children: list[Child], parents: list[Individual], label: str, island: int, dropped: Cost
) -> list[Offspring]:
    """Offspring records of ``children``; the first also carries the ``dropped`` cost."""
    ids = tuple(p.id for p in parents)
    return [
        Offspring(
            c.genome, ids, label, dict(c.params), island, cost=c.cost if k else c.cost + dropped
        )
        for k, c in enumerate(children)
    ]


def _merge(before: Child, after: Child) -> Child:
    return Child(after.genome, {**before.params, **after.params}, before.cost + after.cost)
