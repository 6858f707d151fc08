"""Minimal parameters to build every registered plugin in the conformance suites.

A plugin that cannot be built from ``{}`` needs an entry here (one line per plugin): the
conformance tests fail with a message pointing here when one is missing.
"""

from __future__ import annotations

VECTOR_INIT = {"name": "vector.uniform", "params": {"dimension": 3}}

STRATEGY_PARAMS: dict[str, dict] = {
    "archive": {
        "batch_size": 6,
        "init": VECTOR_INIT,
        "operators": [{"name": "vector.sbx"}, {"name": "vector.gaussian"}],
        "archive": {"name": "population", "params": {"size": 6}},
    },
    "ga": {"population_size": 8, "dimension": 3},
    "cmaes": {"dimension": 3, "popsize": 6},
    "snes": {"dimension": 3, "popsize": 6},
    "pgpe": {"dimension": 3, "popsize": 6},
}

OPERATOR_PARAMS: dict[str, dict] = {}
SELECTOR_PARAMS: dict[str, dict] = {}
INITIALIZER_PARAMS: dict[str, dict] = {
    "vector.uniform": {"dimension": 3},
    "vector.normal": {"dimension": 3},
}
ARCHIVE_PARAMS: dict[str, dict] = {}
EXECUTOR_PARAMS: dict[str, dict] = {"processes": {"workers": 1}}

# Fitness functions: the genome they take and the params they need.
FITNESS_PARAMS: dict[str, dict] = {
    "bbob": {"function": 1, "dimension": 2},
    "zdt1": {},
    "sphere": {},
    "rastrigin": {},
    "sphere_batched": {},
    "rastrigin-shifted": {"shift": 1.0},
}

# LLM backends (test-only ones included): params that build them offline.
LLM_PARAMS: dict[str, dict] = {"scripted": {"responses": ["hello"]}}
