"""The planar-arm repertoire fitness (pyribs' arm domain)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evosearch.config import FitnessConfig
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.fitness.evaluate import evaluate_batch
from evosearch.genomes.vector import VectorGenome
from evosearch.tasks.arm import arm_simulate


def test_straight_and_bent_arms():
    obj, pos = arm_simulate(np.array([[0.0] * 12, [math.pi / 2] + [0.0] * 11]), np.ones(12))
    assert pos[0] == pytest.approx([12.0, 0.0])
    assert pos[1] == pytest.approx([0.0, 12.0], abs=1e-12)
    assert obj[0] == 0.0 and obj[1] == pytest.approx(-np.var([math.pi / 2] + [0.0] * 11))


def test_elbow_folds_back_and_link_lengths_count():
    _, pos = arm_simulate(np.array([[0.0, math.pi]]), np.array([2.0, 1.0]))
    assert pos[0] == pytest.approx([1.0, 0.0], abs=1e-12)


def test_registered_batched_fitness_returns_descriptors():
    spec = FitnessSpec.from_config(FitnessConfig(ref="arm", params={"link_length": 0.5}))
    genomes = [VectorGenome(np.zeros(4)), VectorGenome(np.full(4, 0.1))]
    results = evaluate_batch(spec, genomes, FitnessContext(params=spec.params, seed=0))
    assert results[0].descriptors == pytest.approx((2.0, 0.0))
    assert results[0].score == 0.0 and results[1].score == pytest.approx(0.0)
