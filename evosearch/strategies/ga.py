"""A generational genetic algorithm on vectors built from deap's operators and selectors.

Single-objective: deap's ``eaSimple`` scheme (select → ``varAnd`` crossover/mutation →
replace) with optional elitism. Multi-objective: NSGA-II (``selNSGA2`` over parents +
offspring, ``selTournamentDCD`` for mating). deap draws from the global ``random``; every call
is wrapped in ``seeded_python_random`` so runs stay reproducible from the run seed.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pydantic
from deap import algorithms, base, tools
from pydantic import Field

from evosearch import registry
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Individual
from evosearch.operators.base import seeded_python_random
from evosearch.strategies.base import Offspring, Strategy


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


def _deap_ind(values: list[float], fit: tuple[float, ...], ref: Individual | None = None):
    ind = _DeapIndividual(values)
    ind.fitness = _fitness_type(len(fit))()
    if all(math.isfinite(v) for v in fit):
        ind.fitness.values = fit
    ind.ref = ref
    return ind


class _DeapIndividual(list):
    fitness: base.Fitness
    ref: Individual | None


_FIT_TYPES: dict[int, type] = {}


def _fitness_type(k: int) -> type:
    if k not in _FIT_TYPES:
        _FIT_TYPES[k] = type(f"_Fitness{k}", (base.Fitness,), {"weights": (1.0,) * k})
    return _FIT_TYPES[k]


@registry.strategies.register("ga")
class GeneticAlgorithm(Strategy):
    """deap-operator GA (generational); NSGA-II when ``selection: nsga2``."""

    Params = GAParams

    def __init__(self, params: GAParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        self.population: list[Individual] = []
        p = params
        dim, low, high = p.dimension, p.low, p.high
        tb = base.Toolbox()
        if p.crossover == "sbx":
            tb.register("mate", tools.cxSimulatedBinaryBounded, eta=p.eta, low=low, up=high)
        elif p.crossover == "blend":
            tb.register("mate", tools.cxBlend, alpha=p.alpha)
        elif p.crossover == "uniform":
            tb.register("mate", tools.cxUniform, indpb=0.5)
        else:
            tb.register("mate", tools.cxTwoPoint)
        indpb = p.indpb if p.indpb is not None else 1.0 / dim
        if p.mutation == "gaussian":
            tb.register("mutate", tools.mutGaussian, mu=0.0, sigma=p.sigma, indpb=indpb)
        else:
            tb.register(
                "mutate", tools.mutPolynomialBounded, eta=p.eta, low=low, up=high, indpb=indpb
            )
        tb.register("select", tools.selTournament, tournsize=p.tournament_size)
        self.toolbox = tb

    @property
    def batch_size(self) -> int:
        return self.params.population_size

    def members(self) -> list[Individual]:
        return list(self.population)

    def _fit(self, ind: Individual) -> tuple[float, ...]:
        if self.params.selection == "nsga2":
            if math.isnan(ind.score):
                return (-math.inf,) * len(self.params.objectives)
            return tuple(ind.result.metrics.get(k, -math.inf) for k in self.params.objectives)
        return (ind.score if not math.isnan(ind.score) else -math.inf,)

    def _ask(self, n: int) -> list[Offspring]:
        p = self.params
        if not self.population:
            values = self.rng.uniform(p.low, p.high, size=(n, p.dimension))
            return [Offspring(VectorGenome(v, p.low, p.high)) for v in values]
        pop = [_deap_ind(i.genome.values.tolist(), self._fit(i), i) for i in self.population]
        with seeded_python_random(self.rng):
            if p.selection == "nsga2":
                tools.selNSGA2(pop, len(pop))  # assigns crowding distance for DCD
                chosen = tools.selTournamentDCD(pop, n)
            else:
                chosen = self.toolbox.select(pop, n)
            parents = [c.ref for c in chosen]
            # no .ref on kids: varAnd deep-copies them, and copying Individuals dominated the loop
            kids = [_deap_ind(list(c), (math.nan,)) for c in chosen]
            kids = algorithms.varAnd(kids, self.toolbox, p.cxpb, p.mutpb)
        out = []
        for i, kid in enumerate(kids):
            # varAnd pairs neighbours (0,1), (2,3)...: both are parents of each child of a pair
            mate = i ^ 1 if (i ^ 1) < len(parents) else i
            ids = tuple(sorted({parents[i].id, parents[mate].id}))
            v = np.clip(np.asarray(kid, dtype=np.float64), p.low, p.high)
            out.append(
                Offspring(VectorGenome(v, p.low, p.high), ids, f"ga.{p.crossover}+{p.mutation}")
            )
        return out

    def _tell(self, individuals: list[Individual]) -> None:
        p = self.params
        if not self.population:
            self.population = list(individuals)
            return
        if p.selection == "nsga2":
            pool = [_deap_ind([], self._fit(i), i) for i in self.population + individuals]
            for d in pool:
                if not d.fitness.valid:
                    d.fitness.values = tuple(-1e300 for _ in p.objectives)
            with seeded_python_random(self.rng):
                survivors = tools.selNSGA2(pool, p.population_size)
            self.population = [s.ref for s in survivors]
            return
        elite = sorted(self.population, key=lambda i: (-_k(i), i.id))[: p.elitism]
        rest = sorted(individuals, key=lambda i: (-_k(i), i.id))
        self.population = elite + rest[: p.population_size - len(elite)]


def _k(ind: Individual) -> float:
    return -math.inf if math.isnan(ind.score) else ind.score
