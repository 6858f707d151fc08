"""Every example config in examples/ validates (examples added later are picked up too)."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT

from evosearch.config import load_config
from evosearch.fitness.base import FitnessSpec

EXAMPLES = sorted((REPO_ROOT / "examples").glob("*.yaml"))


def test_the_documented_examples_exist():
    names = {p.name for p in EXAMPLES}
    assert {"bbob-cmaes.yaml", "bbob-ga.yaml", "custom-fitness.yaml", "nsga2-zdt1.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_validates(path):
    config = load_config(path)
    FitnessSpec.from_config(config.fitness)  # the fitness resolves (plugins installed)


def test_the_custom_fitness_example_uses_the_entry_point_plugin():
    from evosearch.registry import fitnesses

    config = load_config(REPO_ROOT / "examples" / "custom-fitness.yaml")
    assert fitnesses.get(config.fitness.ref).origin == "entry-point"
