"""The serial executor: evaluations run one by one in the engine process."""

from __future__ import annotations

import concurrent.futures as cf

from evosearch import registry
from evosearch.executors.base import Executor, Task, run_task


@registry.executors.register("serial")
class SerialExecutor(Executor):
    """Evaluate in-process, in order. Deterministic; timeouts use ``SIGALRM``.

    Use it for cheap fitnesses, debugging and reproducibility checks. Code you do not trust
    (LLM-written programs) goes through the sandboxed code evaluator, never here.
    """

    def __init__(self, workers: int = 1, **params: object):
        super().__init__(1, **params)

    def submit(self, task: Task) -> cf.Future:
        future: cf.Future = cf.Future()
        future.set_result(run_task(task))
        return future
