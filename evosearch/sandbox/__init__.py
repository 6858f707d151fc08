"""Isolation of untrusted code: the bubblewrap sandbox, its limits and trusted results.

``runner.run_sandboxed`` runs a command contained (``launch`` builds and starts it, ``boot``
is the sandbox's init, ``cgroup`` limits the whole process tree); ``llm_proxy`` lets
sandboxed agents call an LLM without keys or network; ``evaluator_api`` is the stdlib-only
helper evaluators run beside the candidate. Nothing here registers a plugin: the fitness
plugins that use the sandbox live in ``evosearch.tasks``.
"""
