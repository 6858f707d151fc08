"""The small demo models the scenarios train offline and cache: not needed at run time.

``tinylm`` (byte-level Llama base and experts, the model-merge demo), ``minilm`` (MiniLM-L6
experts, the MiniLM merge demo) and ``evollm_lm`` (the ``evollm_tiny`` LLM backend trained
on teacher trajectories, with its targets in ``evollm_targets``).
"""
