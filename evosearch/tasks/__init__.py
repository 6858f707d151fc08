"""Problem domains evaluators score on, each a registered fitness and its data.

Vector benchmarks (``vector_functions``, ``bbob``, ``arm``), control (``cartpole``), language
models (``lm_tasks`` on ``lm_data``, ``weights``, ``minilm`` on ``text_classification``),
prompts (``prompt_sentiment``) and code (``code_evaluator``, ``coding`` and the DGM's
``dgm`` with its initial agent ``dgm_agent``). Modules register their fitness when the
registry imports them (``evosearch.builtin_plugins``); importing this package registers none.
"""
