"""Descriptors: evaluator descriptors, and sentence embeddings reduced by projection."""

from __future__ import annotations

import numpy as np
import pytest
from archive_helpers import ind

from evosearch.archives.descriptors import (
    DescriptorSpec,
    descriptors_of,
    embed_texts,
    genome_text,
    project,
)
from evosearch.archives.grid import GridArchive
from evosearch.genomes.code import CodeGenome
from evosearch.genomes.text import TextGenome
from evosearch.individual import FitnessResult, Individual


def test_evaluator_descriptors_of_the_wrong_length_are_nan():
    d = descriptors_of([ind(0, 1.0, (0.1, 0.2)), ind(1, 1.0, (0.3,))], DescriptorSpec(), 2)
    assert d[0] == pytest.approx([0.1, 0.2]) and np.isnan(d[1]).all()


def test_random_projection_is_fixed_by_the_seed_and_bounded():
    e = np.random.default_rng(0).normal(size=(50, 384))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    a, b = project(e, 3, seed=1), project(e, 3, seed=1)
    assert a.shape == (50, 3) and np.array_equal(a, b)
    assert not np.array_equal(a, project(e, 3, seed=2))
    assert np.abs(project(e, 3, seed=1, scale=50.0)).max() <= 1.0


def test_genome_text_of_prompts_code_and_other_genomes():
    assert genome_text(TextGenome("hi")) == "hi"
    code = CodeGenome({"b.py": "B", "main.py": "A"}, "main.py:run")
    assert genome_text(code) == "# b.py\nB\n# main.py\nA"

    class Other:
        def to_json(self):
            return [1, 2]

    assert genome_text(Other()) == "[1, 2]"


def test_embedding_descriptors_place_similar_texts_close():
    texts = ["def add(a, b): return a + b", "def plus(x, y): return x + y", "Sunny in Paris."]
    e = embed_texts(texts)
    assert e.shape == (3, 384)
    assert np.linalg.norm(e, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3
    spec = DescriptorSpec(source="embedding", seed=0, scale=4.0)
    inds = [
        Individual(id=i, genome=TextGenome(t), result=FitnessResult(score=1.0))
        for i, t in enumerate(texts)
    ]
    d = descriptors_of(inds, spec, 2)
    assert np.array_equal(d, descriptors_of(inds, spec, 2))
    assert np.linalg.norm(d[0] - d[1]) < np.linalg.norm(d[0] - d[2])
    grid = GridArchive(dims=[8, 8], ranges=[(-1.0, 1.0), (-1.0, 1.0)], descriptors=spec)
    assert len([s for s in grid.add(inds) if s != "not_added"]) >= 2
