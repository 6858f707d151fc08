"""The built-in plugins by name, without importing them.

``registry`` reads this table to know every built-in name (for config validation, error
messages and ``evosearch`` listings) and imports a plugin's module only when a config names
it. Each value is ``"module:attribute"``: the module registers the plugin with its family's
decorator when imported, which is when the registration checks run.
``tests/test_registry_lazy.py`` imports every module of the package and asserts this table
equals what the modules register, so it cannot drift.

Names follow one scheme (docs/plugins.md, "Plugin names"): lowercase snake_case words,
optionally behind one group and a dot (``vector.gaussian``, ``dgm.self_improve``), and no
name is used by two families. ``ALIASES`` keeps the names of the previous version working
for one version, with a ``ConfigDeprecationWarning`` naming the new name.
"""

from __future__ import annotations

BUILTINS: dict[str, dict[str, str]] = {
    "archive": {
        "cvt": "evosearch.archives.cvt:CVTArchive",
        "dgm": "evosearch.archives.dgm:DGMArchive",
        "grid": "evosearch.archives.grid:GridArchive",
        "islands": "evosearch.archives.islands:Islands",
        "novelty": "evosearch.archives.novelty:NoveltyArchive",
        "population": "evosearch.archives.population:Population",
    },
    "executor": {
        "processes": "evosearch.executors.processes:ProcessExecutor",
        "ray": "evosearch.executors.ray:RayExecutor",
        "serial": "evosearch.executors.serial:SerialExecutor",
    },
    "fitness": {
        "arm": "evosearch.tasks.arm:arm",
        "bbob": "evosearch.tasks.bbob:bbob",
        "cartpole": "evosearch.tasks.cartpole:cartpole",
        "code.sandbox": "evosearch.tasks.code_evaluator:code_sandbox",
        "dgm.coding": "evosearch.tasks.dgm:dgm_coding",
        "prompt.sentiment": "evosearch.tasks.prompt_sentiment:prompt_sentiment",
        "rastrigin": "evosearch.tasks.vector_functions:rastrigin",
        "sphere": "evosearch.tasks.vector_functions:sphere",
        "sphere_batched": "evosearch.tasks.vector_functions:sphere_batched",
        "weights.lm_tasks": "evosearch.tasks.weights:lm_tasks",
        "weights.minilm_dfs": "evosearch.tasks.minilm:minilm_dfs",
        "weights.minilm_tasks": "evosearch.tasks.minilm:minilm_tasks",
        "zdt1": "evosearch.tasks.vector_functions:zdt1",
    },
    "initializer": {
        "code.from_dir": "evosearch.operators.llm_code:ProgramFromDir",
        "dgm.initial_agent": "evosearch.operators.dgm:InitialAgent",
        "seedchain.random": "evosearch.operators.seedchain:RandomSeedChains",
        "text.prompts": "evosearch.operators.llm_prompt:SeedPrompts",
        "vector.normal": "evosearch.operators.vector:NormalVectors",
        "vector.uniform": "evosearch.operators.vector:UniformVectors",
        "weights.pool": "evosearch.operators.merge:PoolModels",
    },
    "llm": {
        "evollm_tiny": "evosearch.scenarios.demo_models.evollm_lm:EvoLLMTinyBackend",
        "openai": "evosearch.llm.openai_backend:OpenAIBackend",
        "transformers": "evosearch.llm.transformers_backend:TransformersBackend",
    },
    "operator": {
        "dgm.self_improve": "evosearch.operators.dgm:SelfImprove",
        "llm.code_crossover": "evosearch.operators.llm_code:LLMCodeCrossover",
        "llm.diff": "evosearch.operators.llm_code:LLMDiffMutation",
        "llm.evoprompt_de": "evosearch.operators.llm_prompt:EvoPromptDE",
        "llm.evoprompt_ga": "evosearch.operators.llm_prompt:EvoPromptGA",
        "llm.prompt_mutate": "evosearch.operators.llm_prompt:PromptMutation",
        "llm.rewrite": "evosearch.operators.llm_code:LLMRewriteMutation",
        "merge": "evosearch.operators.merge:MergeCrossover",
        "merge.breadcrumbs": "evosearch.operators.merge:Merge_breadcrumbs",
        "merge.dare_linear": "evosearch.operators.merge:Merge_dare_linear",
        "merge.dare_ties": "evosearch.operators.merge:Merge_dare_ties",
        "merge.della": "evosearch.operators.merge:Merge_della",
        "merge.linear": "evosearch.operators.merge:Merge_linear",
        "merge.model_stock": "evosearch.operators.merge:Merge_model_stock",
        "merge.slerp": "evosearch.operators.merge:Merge_slerp",
        "merge.task_arithmetic": "evosearch.operators.merge:Merge_task_arithmetic",
        "merge.ties": "evosearch.operators.merge:Merge_ties",
        "noise.gaussian": "evosearch.operators.noise:GaussianNoise",
        "seedchain.mutate": "evosearch.operators.seedchain:SeedChainMutation",
        "vector.blend": "evosearch.operators.vector:BlendCrossover",
        "vector.gaussian": "evosearch.operators.vector:GaussianMutation",
        "vector.polynomial": "evosearch.operators.vector:PolynomialMutation",
        "vector.sbx": "evosearch.operators.vector:SimulatedBinaryCrossover",
        "vector.uniform_crossover": "evosearch.operators.vector:UniformCrossover",
    },
    "selector": {
        "best": "evosearch.operators.selection:Best",
        "dgm.score_child_prop": "evosearch.archives.dgm:DGMSelector",
        "novelty_tournament": "evosearch.archives.novelty:NoveltySelector",
        "roulette": "evosearch.operators.selection:Roulette",
        "tournament": "evosearch.operators.selection:Tournament",
        "truncation": "evosearch.operators.selection:Truncation",
        "uniform": "evosearch.operators.selection:Uniform",
    },
    "strategy": {
        "archive": "evosearch.strategies.archive:ArchiveStrategy",
        "cmaes": "evosearch.strategies.evotorch:CMAES",
        "deep_ga": "evosearch.strategies.deep_ga:DeepGA",
        "evollm": "evosearch.strategies.evollm:EvoLLM",
        "ga": "evosearch.strategies.ga:GeneticAlgorithm",
        "genome_merge": "evosearch.strategies.genome_merge:GenomeMergeStrategy",
        "hill_climb": "evosearch.strategies.simple:HillClimb",
        "map_elites": "evosearch.strategies.map_elites:MapElites",
        "merge_cmaes": "evosearch.strategies.merge_cmaes:MergeCMAES",
        "pgpe": "evosearch.strategies.evotorch:PGPE",
        "random_search": "evosearch.strategies.simple:RandomSearch",
        "snes": "evosearch.strategies.evotorch:SNES",
    },
}

# Deprecated names (family -> old -> new): they resolve, with a warning, for one version.
ALIASES: dict[str, dict[str, str]] = {
    "llm": {"evollm-tiny": "evollm_tiny"},
    "selector": {"dgm": "dgm.score_child_prop", "novelty": "novelty_tournament"},
    "strategy": {"genome": "genome_merge"},
}
