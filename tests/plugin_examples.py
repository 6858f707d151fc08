"""Minimal parameters for the plugins the conformance suites build and call.

Every registered plugin gets the registry-level checks (protocol, validated params).
Plugins on vectors are also built and called: those whose params are not all optional
need an entry here. Plugins that need a model, an LLM backend, a cluster or non-vector
genomes are exercised by their own tests; list them in ``EXERCISED_ELSEWHERE`` with the
test file, so that a newly registered plugin is noticed (the suite fails until it is in
one of the two places).
"""

from __future__ import annotations

VECTOR_INIT = {"ref": "vector.uniform", "params": {"dimension": 3}}

STRATEGY_PARAMS: dict[str, dict] = {
    "archive": {
        "population_size": 6,
        "init": VECTOR_INIT,
        "operators": [{"ref": "vector.sbx"}, {"ref": "vector.gaussian"}],
        "archive": {"ref": "population", "params": {"size": 6}},
    },
    "ga": {"population_size": 8, "dimension": 3},
    "cmaes": {"dimension": 3, "population_size": 6},
    "snes": {"dimension": 3, "population_size": 6},
    "pgpe": {"dimension": 3, "population_size": 6},
    "random_search": {"dimension": 3, "population_size": 6},
    "hill_climb": {"dimension": 3, "population_size": 6},
    "map_elites": {
        "dimension": 3,
        "population_size": 6,
        "archive": {"ref": "grid", "params": {"dims": [4, 4], "ranges": [[-5, 5], [-5, 5]]}},
    },
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

# LLM backends (the suite's own ``scripted`` included): params that build them offline.
LLM_PARAMS: dict[str, dict] = {"scripted": {"responses": ["hello"]}}

# family -> name -> where it is tested (plugins this suite does not build and call).
EXERCISED_ELSEWHERE: dict[str, dict[str, str]] = {
    "strategy": {
        "evollm": "tests/strategies/test_evollm.py",
        "deep_ga": "tests/strategies/test_deep_ga.py (seed-chain genomes, CartPole)",
        "genome_merge": "tests/models/test_weight_search.py (needs a model pool)",
        "merge_cmaes": "tests/models/test_weight_search.py (needs a model pool)",
    },
    "operator": {
        **{
            f"merge.{m}": "tests/models/test_merge_vs_mergekit.py (needs a model pool)"
            for m in (
                "breadcrumbs",
                "dare_linear",
                "dare_ties",
                "della",
                "linear",
                "model_stock",
                "slerp",
                "task_arithmetic",
                "ties",
            )
        },
        "merge": "tests/models/test_weights_recipes.py (needs a model pool)",
        "noise.gaussian": "tests/models/test_weights_recipes.py (needs a model pool)",
        "seedchain.mutate": "tests/genomes/test_seedchain.py",
        "dgm.self_improve": "DGM scenario tests",
        "llm.code_crossover": "tests/operators/test_llm_operators.py",
        "llm.diff": "tests/operators/test_llm_operators.py",
        "llm.evoprompt_de": "tests/operators/test_llm_operators.py",
        "llm.evoprompt_ga": "tests/operators/test_llm_operators.py",
        "llm.prompt_mutate": "tests/operators/test_llm_operators.py",
        "llm.rewrite": "tests/operators/test_llm_operators.py",
    },
    "selector": {
        "dgm.score_child_prop": "DGM selection tests",
        "novelty_tournament": "novelty selection tests",
    },
    "initializer": {
        "code.from_dir": "code evolution tests",
        "dgm.initial_agent": "DGM scenario tests",
        "text.prompts": "prompt evolution tests",
        "weights.pool": "tests/models/test_weight_search.py (needs a model pool)",
    },
    "archive": {
        "cvt": "QD archive tests",
        "dgm": "DGM archive tests",
        "grid": "QD archive tests",
        "islands": "island tests",
        "novelty": "novelty archive tests",
    },
    "executor": {"ray": "Ray executor tests (starts a local Ray)"},
    "llm": {
        "evollm_tiny": "EvoLLM tests (trains/loads a tiny model)",
        "openai": "HTTP backend tests",
        "transformers": "transformers backend tests",
    },
    "fitness": {
        "arm": "QD scenario tests",
        "cartpole": "tests/fitness/test_cartpole.py (seed-chain genomes)",
        "weights.lm_tasks": "tests/scenarios/test_model_merge_scenario.py (needs a model pool)",
        "weights.minilm_tasks": "tests/models/test_minilm_scenario.py (needs MiniLM experts)",
        "weights.minilm_dfs": "tests/models/test_dfs.py (needs MiniLM sources)",
        "code.sandbox": "sandbox tests",
        "dgm.coding": "DGM scenario tests",
        "prompt.sentiment": "prompt evolution tests",
    },
}
