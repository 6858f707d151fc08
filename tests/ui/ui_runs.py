"""Small hand-built runs (and their fixtures) for the lineage renderers, the UI API and browser."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, ClassVar

import numpy as np
import pytest

from evosearch.genomes.base import genome_kind
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import FitnessResult, Individual, Status
from evosearch.store import RunStore

XSS = '<script>window.__evo_pwned = 1</script><img src=x onerror="window.__evo_pwned = 2">'


@genome_kind
@dataclasses.dataclass(frozen=True)
class NoteGenome:
    """A test-only genome: a prompt text plus a structured recipe."""

    kind: ClassVar[str] = "test.note"
    text: str
    recipe: dict

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "recipe": dict(self.recipe)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NoteGenome:
        return cls(data["text"], data["recipe"])

    def fingerprint(self) -> str:
        return hashlib.sha256((self.text + repr(sorted(self.recipe.items()))).encode()).hexdigest()

    def summary(self) -> str:
        return f"note({self.text[:20]!r})"


def _ok(score: float, desc=(), feedback: str = "") -> FitnessResult:
    return FitnessResult(
        score=score, descriptors=tuple(desc), metrics={"m": score / 2}, feedback=feedback
    )


def build_small_run(path) -> RunStore:
    """Three generations of vectors with descriptors, plus a text lineage with markup.

    Ids: 0-3 init vectors (gen 0); 4-7 gen 1; 8-9 gen 2; 10-12 text genomes where 12 holds
    ``XSS`` in its text and feedback; 13 a failed child of 12.
    """
    store = RunStore.create(path, "name: small\nstrategy: {name: archive}\nfitness: {ref: t}\n")
    rng = np.random.default_rng(0)
    v = [VectorGenome(rng.normal(size=3)) for _ in range(4)]
    g0 = [Individual(i, v[i], result=_ok(float(i), (i / 4, (3 - i) / 4))) for i in range(4)]
    store.commit(g0, {"g": 0}, generation=0)
    kids = []
    for j, (a, b) in enumerate([(0, 1), (1, 2), (2, 3), (3, 3)]):
        vals = v[a].values.copy()
        vals[j % 3] += 0.5
        kids.append(
            Individual(
                4 + j,
                VectorGenome(vals),
                parent_ids=(a, b)[:1] if j == 3 else (a, b),
                operator="vector.sbx" if j < 3 else "vector.gaussian",
                generation=1,
                result=_ok(4.0 + j, (0.1 * j, 0.9 - 0.2 * j)),
            )
        )
    store.commit(kids, {"g": 1}, generation=1)
    g2 = [
        Individual(
            8,
            VectorGenome(kids[3].genome.values + 0.1),
            parent_ids=(7,),
            operator="vector.gaussian",
            operator_params={"sigma": 0.1},
            generation=2,
            result=_ok(9.0, (0.95, 0.05)),
        ),
        Individual(
            9,
            VectorGenome(kids[0].genome.values),
            parent_ids=(4, 7),
            operator="vector.sbx",
            generation=2,
            result=FitnessResult.failure(Status.FAILED, "boom"),
        ),
    ]
    store.commit(g2, {"g": 2}, generation=2)
    texts = [
        Individual(
            10,
            NoteGenome("Solve the task.\nBe brief.", {"w": 0.5, "k": 1}),
            operator="init",
            generation=3,
            result=_ok(1.0),
        ),
        Individual(
            11,
            NoteGenome("Solve the task.\nBe very brief.", {"w": 0.7, "k": 1}),
            parent_ids=(10,),
            operator="llm.rewrite",
            generation=3,
            result=_ok(2.0),
        ),
        Individual(
            12,
            NoteGenome("Solve the task.\n" + XSS, {"w": 0.7, "k": 2, "new": "x"}),
            parent_ids=(11,),
            operator="llm.rewrite",
            generation=3,
            result=_ok(3.0, feedback=XSS),
        ),
        Individual(
            13,
            NoteGenome("broken", {"w": 0.0, "k": 2}),
            parent_ids=(12,),
            operator="llm.rewrite",
            generation=3,
            result=FitnessResult.failure(Status.INVALID, "did not parse"),
        ),
    ]
    store.commit(texts, {"g": 3}, generation=3)
    return store


@pytest.fixture
def small_run(tmp_path):
    store = build_small_run(tmp_path / "run")
    store.close()
    return tmp_path / "run"


def build_chain_run(path, length: int) -> RunStore:
    """A single line of descent ``0 ← 1 ← ... ← length-1`` (one individual per generation)."""
    store = RunStore.create(path, "name: chain\n")
    inds = [
        Individual(
            i,
            VectorGenome([float(i)]),
            parent_ids=(i - 1,) if i else (),
            operator="vector.gaussian" if i else "init",
            generation=i,
            result=_ok(float(i)),
        )
        for i in range(length)
    ]
    store.commit(inds, None, generation=length - 1)
    return store


@pytest.fixture
def chain_run(tmp_path):
    store = build_chain_run(tmp_path / "chain", 1000)
    store.close()
    return tmp_path / "chain"


def grid_config(**overrides) -> dict:
    """A tiny MAP-Elites run on the planar arm: a 10×10 grid with membership/QD tables."""
    cfg = {
        "name": "arm-grid",
        "seed": 1,
        "budget": {"generations": 4},
        "fitness": {"ref": "arm"},
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 30,
                "init": {"ref": "vector.normal", "params": {"dimension": 4, "std": 0.5}},
                "selector": {"ref": "uniform"},
                "operators": [{"ref": "vector.gaussian", "params": {"sigma": 0.3}}],
                "archive": {
                    "ref": "grid",
                    "params": {"dims": [10, 10], "ranges": [[-4, 4], [-4, 4]], "qd_offset": -10},
                },
            },
        },
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture
def grid_run(tmp_path):
    from evosearch.engine import Engine

    engine = Engine.create(grid_config(), tmp_path / "grid")
    engine.run()
    engine.close() if hasattr(engine, "close") else None
    return tmp_path / "grid"
