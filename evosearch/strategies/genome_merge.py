"""``genome_merge``: GENOME population evolution of model weights (Zhang et al., GENOME/GENOME+).

A population of ``population_size`` slots, each holding a current model and its personal
best. Every generation:

1. the top ``elite_frac`` slots are kept unchanged (elitism, not re-evaluated);
2. every other slot gets a child: with probability ``crossover_prob`` a fitness-weighted
   merge of a roulette-selected pair (weights ∝ shifted fitness), else its current model;
3. with probability ``mutation_prob`` the child gets seeded Gaussian noise (σ, Bernoulli
   mask ``mask_p``; GENOME: 0.05 and 0.1);
4. succession, a PSO-like step through mergekit's task arithmetic with the child as base:
   ``x + φp·r1·(pbest − x) + φg·r2·(gbest − x) − φw·r3·(worst − x)``;
5. with ``ensemble_k > 0`` one extra individual, the uniform weight-space average of the
   current top-k (the "ensemble" of GENOME+), competes for the worst slot, so the last
   generation always offers the top-k ensemble.

Children are ``WeightsGenome`` recipes; all weight arithmetic is mergekit's.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pydantic
from pydantic import Field, model_validator

from evosearch import registry
from evosearch.genomes.weights import WeightsGenome
from evosearch.individual import Individual
from evosearch.models.pool import check_pool_config
from evosearch.operators.merge import merge_genome
from evosearch.strategies.base import Offspring, Strategy


class GenomeMergeParams(pydantic.BaseModel):
    """Parameters of the ``genome_merge`` strategy (defaults from the GENOME paper).

    ``pool`` (optional, the fitness's pool config) is opened and checked against ``models``
    when the config is loaded, so a missing checkpoint fails before the run starts.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    models: list[str] = Field(min_length=1)
    population_size: int = Field(default=10, ge=2)
    crossover_prob: float = Field(default=0.8, ge=0, le=1)
    crossover_method: Literal["linear", "task_arithmetic", "ties"] = "linear"
    base_model: str | None = None
    mutation_prob: float = Field(default=0.3, ge=0, le=1)
    sigma: float = Field(default=0.05, gt=0)
    mask_p: float | None = Field(default=0.1, gt=0, le=1)
    init_sigma: float | None = Field(default=None, gt=0)
    elite_frac: float = Field(default=0.1, ge=0, lt=1)
    phi_personal: float = Field(default=0.2, ge=0)
    phi_global: float = Field(default=0.2, ge=0)
    phi_worst: float = Field(default=0.05, ge=0)
    ensemble_k: int = Field(default=3, ge=0)
    pool: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_pool(self) -> GenomeMergeParams:
        if self.pool:
            check_pool_config(self.pool, [*self.models, self.base_model])
        if self.crossover_method != "linear" and self.base_model is None:
            raise ValueError(f"crossover_method {self.crossover_method!r} needs base_model")
        return self


def _score(ind: Individual | None) -> float:
    if ind is None or math.isnan(ind.score):
        return -math.inf
    return ind.score


def roulette_pair(scores: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Two distinct indices drawn with probability ∝ score − min (uniform if all equal)."""
    finite = np.where(np.isfinite(scores), scores, np.nan)
    lo = np.nanmin(finite) if np.isfinite(finite).any() else 0.0
    w = np.nan_to_num(finite - lo, nan=0.0) + 1e-9
    first = int(rng.choice(len(w), p=w / w.sum()))
    w2 = w.copy()
    w2[first] = 0.0
    if w2.sum() <= 0:
        w2 = np.ones_like(w)
        w2[first] = 0.0
    second = int(rng.choice(len(w), p=w2 / w2.sum()))
    return first, second


@registry.strategies.register("genome_merge")
class GenomeMergeStrategy(Strategy):
    """GENOME: crossover, mutation, elitism and PSO-like succession over weight recipes."""

    Params = GenomeMergeParams

    def __init__(self, params: GenomeMergeParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        self.slots: list[Individual] = []
        self.pbest: list[Individual] = []
        self.n_elite = max(1, round(params.elite_frac * params.population_size))
        if params.elite_frac == 0:
            self.n_elite = 0

    @property
    def batch_size(self) -> int:
        if not self.slots:
            return self.params.population_size
        return self.params.population_size - self.n_elite + (1 if self._ensemble_on() else 0)

    def _ensemble_on(self) -> bool:
        return self.params.ensemble_k > 1 and len(self.params.models) > 0

    def members(self) -> list[Individual]:
        return list(self.slots)

    # ----------------------------------------------------------------- ask
    def _ask(self, n: int) -> list[Offspring]:
        p = self.params
        if not self.slots:
            out = []
            for i in range(p.population_size):
                g = WeightsGenome.base(p.models[i % len(p.models)])
                if i >= len(p.models):
                    seed = int(self.rng.integers(0, 2**63 - 1))
                    g = g.noised(seed, p.init_sigma or p.sigma, p.mask_p)
                out.append(Offspring(g, (), "init", {"slot": i}))
            return out
        scores = np.array([_score(s) for s in self.slots])
        order = np.argsort(-scores, kind="stable")
        gbest = max(self.pbest, key=_score)
        worst = self.slots[int(order[-1])]
        out = []
        for slot in (int(i) for i in order[self.n_elite :]):
            out.append(self._child(slot, scores, gbest, worst))
        if self._ensemble_on():
            out.append(self._ensemble(order))
        return out

    def _child(
        self, slot: int, scores: np.ndarray, gbest: Individual, worst: Individual
    ) -> Offspring:
        p = self.params
        cur = self.slots[slot]
        names: list[str] = []
        if self.rng.random() < p.crossover_prob:
            a, b = roulette_pair(scores, self.rng)
            fa, fb = scores[a], scores[b]
            lo = min(fa, fb) if np.isfinite(min(fa, fb)) else 0.0
            wa, wb = fa - lo + 1e-3, fb - lo + 1e-3
            wa, wb = float(wa / (wa + wb)), float(wb / (wa + wb))
            genome = merge_genome(
                p.crossover_method,
                [self.slots[a].genome, self.slots[b].genome],
                {"weight": [wa, wb]},
                base_model=p.base_model if p.crossover_method != "linear" else None,
                rng=self.rng,
            )
            parents = (self.slots[a].id, self.slots[b].id)
            names.append(f"merge.{p.crossover_method}")
        else:
            genome, parents = cur.genome, (cur.id,)
        if self.rng.random() < p.mutation_prob:
            genome = genome.noised(int(self.rng.integers(0, 2**63 - 1)), p.sigma, p.mask_p)
            names.append("noise.gaussian")
        stepped = self._succession(genome, self.pbest[slot], gbest, worst)
        if stepped is not genome:
            genome = stepped
            names.append("succession")
        return Offspring(genome, parents, "+".join(names) or "copy", {"slot": slot})

    def _succession(
        self, x: WeightsGenome, pbest: Individual, gbest: Individual, worst: Individual
    ) -> WeightsGenome:
        p = self.params
        r = self.rng.random(3)
        weights = [p.phi_personal * r[0], p.phi_global * r[1], -p.phi_worst * r[2]]
        if not any(weights):
            return x
        others = [pbest.genome, gbest.genome, worst.genome]
        keep = [(g, w) for g, w in zip(others, weights) if w and g != x]
        if not keep:
            return x
        return WeightsGenome.merge(
            "task_arithmetic",
            [x, *(g for g, _ in keep)],
            {"weight": [None, *(float(w) for _, w in keep)], "normalize": False},
            base=0,
        )

    def _ensemble(self, order: np.ndarray) -> Offspring:
        top: list[Individual] = []
        for i in order:
            ind = self.slots[int(i)]
            if math.isfinite(_score(ind)) and all(ind.genome != t.genome for t in top):
                top.append(ind)
            if len(top) == self.params.ensemble_k:
                break
        if len(top) < 2:
            best = self.slots[int(order[0])]
            return Offspring(best.genome, (best.id,), "copy", {"slot": -1})
        genome = merge_genome("linear", [t.genome for t in top], {"weight": 1.0})
        return Offspring(genome, tuple(t.id for t in top), "ensemble.top_k", {"slot": -1})

    # ----------------------------------------------------------------- tell
    def _tell(self, individuals: list[Individual]) -> None:
        if not self.slots:
            ordered = sorted(individuals, key=lambda i: i.operator_params["slot"])
            self.slots = list(ordered)
            self.pbest = list(ordered)
            return
        for ind in individuals:
            slot = int(ind.operator_params.get("slot", -1))
            if slot < 0:  # the ensemble: replaces the worst slot when it is better
                worst = min(range(len(self.slots)), key=lambda i: _score(self.slots[i]))
                if _score(ind) > _score(self.slots[worst]):
                    self.slots[worst] = ind
                    self.pbest[worst] = ind
                continue
            if math.isfinite(_score(ind)):
                self.slots[slot] = ind
            if _score(ind) > _score(self.pbest[slot]):
                self.pbest[slot] = ind

    def ensemble(self, k: int | None = None) -> WeightsGenome:
        """The uniform weight average of the current top-k models (the final ensemble)."""
        scores = np.array([_score(s) for s in self.slots])
        top = [self.slots[int(i)].genome for i in np.argsort(-scores, kind="stable")]
        top = top[: (k or self.params.ensemble_k or 1)]
        if len(top) == 1:
            return top[0]
        return merge_genome("linear", top, {"weight": 1.0})
