"""One conformance suite parametrized over every registered plugin of every family.

A new plugin that needs parameters gets one line in ``tests/plugin_examples.py``.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from plugin_examples import (
    ARCHIVE_PARAMS,
    EXECUTOR_PARAMS,
    EXERCISED_ELSEWHERE,
    FITNESS_PARAMS,
    INITIALIZER_PARAMS,
    LLM_PARAMS,
    OPERATOR_PARAMS,
    SELECTOR_PARAMS,
    STRATEGY_PARAMS,
)

from evosearch import registry
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.genomes import VectorGenome
from evosearch.genomes.base import genome_from_json, genome_kinds
from evosearch.individual import FitnessResult, Individual, Status
from evosearch.strategies.base import Offspring


def shipped(entry: registry.Entry) -> bool:
    """Built-in or installed plugins (not ones registered by other test modules)."""
    return entry.origin == "entry-point" or entry.obj.__module__.startswith("evosearch")


def here(reg: registry.Registry) -> list[str]:
    """The shipped plugins of a family this suite builds and calls."""
    elsewhere = EXERCISED_ELSEWHERE.get(reg.family, {})
    return [e.name for e in reg if shipped(e) and e.name not in elsewhere]


@pytest.mark.parametrize("family", sorted(registry.REGISTRIES))
def test_every_plugin_is_exercised_here_or_listed_elsewhere(family):
    listed = EXERCISED_ELSEWHERE.get(family, {})
    stale = sorted(set(listed) - set(registry.REGISTRIES[family].names()))
    assert not stale, f"plugin_examples.EXERCISED_ELSEWHERE lists unregistered {stale}"


@pytest.mark.parametrize(
    ("family", "name"),
    [(f, e.name) for f, reg in sorted(registry.REGISTRIES.items()) for e in reg if shipped(e)],
)
def test_every_registered_plugin_fits_its_family(family, name):
    reg = registry.REGISTRIES[family]
    entry = reg.get(name)
    reg._check(name, entry.obj, entry.meta)  # the registration check still holds
    if family in ("operator", "selector", "initializer", "archive"):
        assert isinstance(entry.obj, type)
        with pytest.raises((registry.RegistryError, TypeError, ValueError)):
            entry.create({"no_such_param": 1})
    if family == "strategy":
        assert entry.obj.Params is not None, "strategies declare a pydantic Params model"
        with pytest.raises(Exception, match="no_such_param"):
            entry.obj.Params(no_such_param=1)
    if family == "strategy" and name not in EXERCISED_ELSEWHERE["strategy"]:
        assert name in STRATEGY_PARAMS, f"add {name!r} to plugin_examples.STRATEGY_PARAMS"


def build(reg: registry.Registry, name: str, params: dict):
    try:
        return reg.get(name).create(params.get(name, {}))
    except registry.RegistryError as exc:
        pytest.fail(f"{reg.family} {name!r} does not build ({exc}); add params to plugin_examples")


def population(n: int = 8, dim: int = 3) -> list[Individual]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        g = VectorGenome(rng.uniform(-1, 1, dim), -5.0, 5.0)
        res = FitnessResult.failure(Status.FAILED, "x") if i % 4 == 3 else FitnessResult(-i)
        out.append(Individual(id=i, genome=g, result=res))
    return out


@pytest.mark.parametrize("name", here(registry.operators))
def test_operator_protocol(name):
    op = build(registry.operators, name, OPERATOR_PARAMS)
    assert isinstance(type(op).arity, int) and op.arity >= 1
    parents = [i.genome for i in population(op.arity)]
    children = op(parents, np.random.default_rng(1))
    again = op(parents, np.random.default_rng(1))
    assert isinstance(children, list) and children
    genomes = [c.genome if isinstance(c, Offspring) else c for c in children]
    assert all(g.kind == parents[0].kind for g in genomes)
    assert [g.fingerprint() for g in genomes] == [
        (c.genome if isinstance(c, Offspring) else c).fingerprint() for c in again
    ], "same rng seed, same children"
    assert all(p.values.flags.writeable is False for p in parents)  # parents untouched
    with pytest.raises((TypeError, ValueError)):
        registry.operators.get(name).create({"no_such_param": 1})


@pytest.mark.parametrize("name", here(registry.selectors))
def test_selector_protocol(name):
    sel = build(registry.selectors, name, SELECTOR_PARAMS)
    pool = population()
    picked = sel(pool, 20, np.random.default_rng(2))
    assert len(picked) == 20 and all(p in pool for p in picked)
    assert not any(math.isnan(p.score) for p in picked), "failed individuals are never picked"
    assert [p.id for p in sel(pool, 20, np.random.default_rng(2))] == [p.id for p in picked]
    all_failed = [i for i in pool if math.isnan(i.score)]
    with pytest.raises(ValueError, match="no individual with a valid score"):
        sel(all_failed, 3, np.random.default_rng(0))


@pytest.mark.parametrize("name", here(registry.initializers))
def test_initializer_protocol(name):
    init = build(registry.initializers, name, INITIALIZER_PARAMS)
    genomes = init(4, np.random.default_rng(3))
    assert len(genomes) == 4
    for g in genomes:
        assert g.kind in genome_kinds()
        back = genome_from_json(g.kind, json.loads(json.dumps(g.to_json())))
        assert back.fingerprint() == g.fingerprint() and isinstance(g.summary(), str)
    again = init(4, np.random.default_rng(3))
    assert [g.fingerprint() for g in again] == [g.fingerprint() for g in genomes]


@pytest.mark.parametrize("name", here(registry.archives))
def test_archive_protocol(name):
    archive = build(registry.archives, name, ARCHIVE_PARAMS)
    pool = population()
    statuses = archive.add(pool)
    assert len(statuses) == len(pool)
    members = archive.members()
    assert members and all(m in pool for m in members)
    assert not any(math.isnan(m.score) for m in members)
    clone = pickle.loads(pickle.dumps(archive))
    assert [m.id for m in clone.members()] == [m.id for m in members]


@pytest.mark.parametrize("name", here(registry.executors))
def test_executor_protocol(name):
    ex = build(registry.executors, name, EXECUTOR_PARAMS)
    try:
        spec = FitnessSpec.from_config(_fitness_cfg("sphere"))
        genomes = [VectorGenome([float(i)]) for i in range(3)]
        results = ex.evaluate(spec, genomes, [FitnessContext(individual_id=i) for i in range(3)])
        assert [r.score for r in results] == [0.0, -1.0, -4.0]
        assert ex.evaluate(spec, [], []) == []
    finally:
        ex.close()


@pytest.mark.parametrize("name", here(registry.fitnesses))
def test_fitness_protocol(name):
    entry = registry.fitnesses.get(name)
    assert callable(entry.obj) and isinstance(entry.meta.get("batched", False), bool)
    assert name in FITNESS_PARAMS, f"add {name!r} to plugin_examples.FITNESS_PARAMS"
    from evosearch.fitness.evaluate import evaluate_batch

    spec = FitnessSpec.from_config(_fitness_cfg(name, FITNESS_PARAMS[name]))
    genomes = [VectorGenome([0.5, 0.25]), VectorGenome([0.1, 0.9])]
    results = evaluate_batch(spec, genomes, FitnessContext())
    assert len(results) == 2 and all(r.ok and math.isfinite(r.score) for r in results), results


@pytest.mark.parametrize("name", sorted(set(here(registry.llms)) | set(LLM_PARAMS)))
def test_llm_backend_protocol(name):
    """Shipped backends built here, and the suite's own (``scripted``, registered by conftest)."""
    backend = build(registry.llms, name, LLM_PARAMS)
    assert callable(backend.generate)


def test_registration_rejects_name_clashes_and_wrong_signatures():
    reg = registry.Registry("selector", registry.selectors._check)

    def pick(individuals, n, rng):
        return individuals[:n]

    def other(individuals, n, rng):
        return individuals[:n]

    reg.add("pick", pick)
    reg.add("pick", pick)  # the same object again is fine (module re-import)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("pick", other)
    with pytest.raises(TypeError, match="must accept"):
        reg.add("bad", lambda individuals: individuals)
    with pytest.raises(registry.RegistryError, match="unknown selector 'nope'; known: pick"):
        reg.get("nope")


def _fitness_cfg(ref: str, params: dict | None = None):
    from evosearch.config import FitnessConfig

    return FitnessConfig(ref=ref, params=params or {})
