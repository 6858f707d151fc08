"""A generational genetic algorithm on vectors: deap's operators, applied to whole arrays.

Single-objective: deap's ``eaSimple`` scheme (select → ``varAnd`` crossover/mutation →
replace) with optional elitism, every step one numpy operation over the population
(``vector_ops``; same arithmetic as deap's operators, a different random stream — see
docs/concepts.md). Multi-objective: NSGA-II — variation as above, survivor and mating
selection through deap's ``selNSGA2``/``selTournamentDCD`` (no vectorised form), called
inside ``seeded_python_random`` so runs stay reproducible from the run seed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pydantic
from deap import base, tools
from pydantic import Field

from evosearch import registry
from evosearch.batch import Batch, Results
from evosearch.individual import Individual
from evosearch.operators.base import seeded_python_random
from evosearch.strategies import vector_ops as ops
from evosearch.strategies.base import Strategy, box_bounds, box_facts


class GAParams(pydantic.BaseModel):
    """Parameters of the deap GA.

    Attributes:
        population_size: μ (and λ: offspring per generation).
        dimension: Vector length; ``low``/``high`` are the box bounds.
        crossover: deap crossover: ``sbx`` (cxSimulatedBinaryBounded), ``blend`` (cxBlend),
            ``uniform`` (cxUniform), ``two_point`` (cxTwoPoint).
        mutation: deap mutation: ``gaussian`` (mutGaussian) or ``polynomial``
            (mutPolynomialBounded).
        selection: ``tournament`` (single objective) or ``nsga2`` (multi-objective over
            the metrics named in ``objectives``, all maximised).
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    population_size: int = Field(default=50, ge=4)
    dimension: int = Field(ge=1)
    low: float = -5.0
    high: float = 5.0
    crossover: Literal["sbx", "blend", "uniform", "two_point"] = "sbx"
    cxpb: float = Field(default=0.9, ge=0, le=1)
    eta: float = Field(default=15.0, gt=0)
    alpha: float = Field(default=0.3, ge=0)
    mutation: Literal["gaussian", "polynomial"] = "polynomial"
    mutpb: float = Field(default=0.5, ge=0, le=1)
    sigma: float = Field(default=0.3, gt=0)
    indpb: float | None = Field(default=None, ge=0, le=1)
    selection: Literal["tournament", "nsga2"] = "tournament"
    tournament_size: int = Field(default=3, ge=1)
    elitism: int = Field(default=1, ge=0)
    objectives: list[str] = Field(default_factory=list)

    @pydantic.model_validator(mode="after")
    def _check(self) -> GAParams:
        if self.selection == "nsga2":
            if len(self.objectives) < 2:
                raise ValueError("objectives: NSGA-II needs at least two metric names")
            if self.population_size % 4:
                raise ValueError(
                    "population_size: NSGA-II's selTournamentDCD needs a multiple of 4"
                )
        return self


@registry.strategies.register("ga")
class GeneticAlgorithm(Strategy):
    """Vectorised GA (generational); NSGA-II when ``selection: nsga2``.

    State: the population as arrays (``pop_x`` ``[μ, D]``, ``pop_fit`` ``[μ, k]``,
    ``pop_ids``), plus the base counters and generator.
    """

    Params = GAParams
    vectorized = True
    rebuilt_attrs = ("low", "high", "_indpb")

    def __init__(self, params: GAParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        d = params.dimension
        self.low, self.high = box_bounds(d, params.low, params.high)
        self.low.setflags(write=False)
        self.high.setflags(write=False)
        k = len(params.objectives) if params.selection == "nsga2" else 1
        self.pop_x = np.empty((0, d))
        self.pop_fit = np.empty((0, k))
        self.pop_ids = np.empty(0, dtype=np.int64)
        self.pop_score = np.empty(0)
        self._indpb = params.indpb if params.indpb is not None else 1.0 / d

    @property
    def batch_size(self) -> int:
        return self.params.population_size

    def facts(self) -> dict:
        return box_facts(self.low, self.high)

    def members(self) -> list[Individual]:
        batch = Batch(self.pop_ids, self.generation, self.pop_x, low=self.low, high=self.high)
        results = Results.empty(len(batch))
        results.score[:] = self.pop_score
        results.status[np.isnan(self.pop_score)] = 3  # failed members: not OK
        return batch.individuals(results)

    def _crossover(self, a: np.ndarray, b: np.ndarray):
        p = self.params
        if p.crossover == "sbx":
            return ops.sbx(a, b, p.eta, self.low, self.high, self.rng)
        if p.crossover == "blend":
            return ops.blend(a, b, p.alpha, self.rng)
        if p.crossover == "uniform":
            return ops.uniform(a, b, 0.5, self.rng)
        return ops.two_point(a, b, self.rng)

    def _mutate(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        if p.mutation == "gaussian":
            return ops.gaussian(x, p.sigma, self._indpb, self.rng)
        return ops.polynomial(x, p.eta, self.low, self.high, self._indpb, self.rng)

    def _ask_batch(self, n: int) -> Batch:
        p = self.params
        if self.pop_ids.size == 0:
            x = self.rng.uniform(p.low, p.high, size=(n, p.dimension))
            x.setflags(write=False)
            return Batch(np.empty(0, np.int64), 0, x, low=self.low, high=self.high)
        if p.selection == "nsga2":
            chosen = self._nsga2_mating(n)
        else:
            chosen = ops.tournament(self.pop_fit[:, 0], n, p.tournament_size, self.rng)
        kids = ops.var_and(
            self.pop_x[chosen], self._crossover, self._mutate, p.cxpb, p.mutpb, self.rng
        )
        np.clip(kids, self.low, self.high, out=kids)
        kids.setflags(write=False)
        # varAnd pairs neighbours (0,1), (2,3)...: both are parents of each child of a pair
        mate = np.arange(n) ^ 1
        mate[mate >= n] = n - 1
        a, b = self.pop_ids[chosen], self.pop_ids[chosen[mate]]
        parents = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
        parents[parents[:, 0] == parents[:, 1], 1] = -1
        return Batch(
            np.empty(0, np.int64), 0, kids, parents, f"ga.{p.crossover}+{p.mutation}",
            low=self.low, high=self.high,
        )

    def _fitness(self, results: Results) -> np.ndarray:
        p = self.params
        if p.selection != "nsga2":
            return np.where(np.isnan(results.score), -np.inf, results.score)[:, None]
        out = np.full((len(results), len(p.objectives)), -np.inf)
        metrics = results.metrics or [{}] * len(results)
        for i, m in enumerate(metrics):
            if not np.isnan(results.score[i]):
                out[i] = [m.get(k, -np.inf) for k in p.objectives]
        return out

    def _tell_batch(self, batch: Batch, results: Results) -> None:
        p = self.params
        fit = self._fitness(results)
        x = np.asarray(batch.genomes)
        if self.pop_ids.size == 0:
            self.pop_x, self.pop_fit, self.pop_ids = x, fit, batch.ids.copy()
            self.pop_score = results.score.copy()
            return
        if p.selection == "nsga2":
            pool_x = np.concatenate([self.pop_x, x])
            pool_fit = np.concatenate([self.pop_fit, fit])
            pool_ids = np.concatenate([self.pop_ids, batch.ids])
            pool_score = np.concatenate([self.pop_score, results.score])
            keep = self._nsga2_survivors(pool_fit, p.population_size)
            self.pop_x, self.pop_fit, self.pop_ids = pool_x[keep], pool_fit[keep], pool_ids[keep]
            self.pop_score = pool_score[keep]
            return
        # elitism: the best of the old population, then the best offspring (ties: lower id)
        elite = np.lexsort((self.pop_ids, -self.pop_fit[:, 0]))[: p.elitism]
        rest = np.lexsort((batch.ids, -fit[:, 0]))[: p.population_size - elite.size]
        self.pop_x = np.concatenate([self.pop_x[elite], x[rest]])
        self.pop_fit = np.concatenate([self.pop_fit[elite], fit[rest]])
        self.pop_ids = np.concatenate([self.pop_ids[elite], batch.ids[rest]])
        self.pop_score = np.concatenate([self.pop_score[elite], results.score[rest]])

    # ------------------------------------------------------------------ NSGA-II (deap)
    def _deap_pool(self, fit: np.ndarray) -> list:
        pool = []
        for i, row in enumerate(fit):
            ind = _DeapIndividual()
            ind.fitness = _fitness_type(fit.shape[1])()
            ind.fitness.values = tuple(float(v) if np.isfinite(v) else -1e300 for v in row)
            ind.row = i
            pool.append(ind)
        return pool

    def _nsga2_mating(self, n: int) -> np.ndarray:
        pop = self._deap_pool(self.pop_fit)
        with seeded_python_random(self.rng):
            tools.selNSGA2(pop, len(pop))  # assigns crowding distance for DCD
            chosen = tools.selTournamentDCD(pop, n)
        return np.array([c.row for c in chosen], dtype=np.int64)

    def _nsga2_survivors(self, fit: np.ndarray, k: int) -> np.ndarray:
        pool = self._deap_pool(fit)
        with seeded_python_random(self.rng):
            survivors = tools.selNSGA2(pool, k)
        return np.array([s.row for s in survivors], dtype=np.int64)


class _DeapIndividual(list):
    fitness: base.Fitness
    row: int


_FIT_TYPES: dict[int, type] = {}


def _fitness_type(k: int) -> type:
    if k not in _FIT_TYPES:
        _FIT_TYPES[k] = type(f"_Fitness{k}", (base.Fitness,), {"weights": (1.0,) * k})
    return _FIT_TYPES[k]
