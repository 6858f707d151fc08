"""``RunContext``: what one run needs at run time, made per run by the engine.

Its LLM backends (with the response cache in the run directory) and its evaluation device.

Nothing here is process-wide: two runs in one process each have their own ``RunContext``.
Plugins reach it through the contexts they are already given (``VariationContext.run``,
``FitnessContext.run``, ``Strategy.run_context``). A context sent to a worker process
arrives as one that shares that worker's loaded backends, keyed by this run's cache.
"""

from __future__ import annotations

import pathlib
from typing import Any

from evosearch.llm.base import LLMBackend
from evosearch.llm.pool import LLMPool, backend_from_config, standalone_pool, using


class RunContext:
    """A run's LLM backends and device.

    Args:
        run_dir: The run directory: cacheable LLM answers are kept in its
            ``llm-cache.sqlite`` (None: no cache).
        device: Where evaluations run (``cpu``, ``cuda`` ...).
        llm: The backend pool (default: a new one over ``run_dir``).
    """

    def __init__(
        self,
        run_dir: str | pathlib.Path | None = None,
        device: str = "cpu",
        *,
        llm: LLMPool | None = None,
    ):
        self.run_dir = None if run_dir is None else pathlib.Path(run_dir)
        self.device = device
        self.llm = llm if llm is not None else LLMPool(self.run_dir)

    def llm_backend(self, config: Any) -> LLMBackend:
        """The run's backend for an LLM ``PluginConfig`` (or ``{ref, params}`` dict)."""
        return self.llm.get(config)

    def serving(self) -> Any:
        """A context manager: ``backend_from_config`` answers from this run meanwhile."""
        return using(self.llm)

    def close(self) -> None:
        """Close the run's backends and its cache file."""
        self.llm.close()

    def __reduce__(self) -> tuple:
        # The pool holds models and connections: a worker process gets its own context.
        return (_in_worker, (None if self.run_dir is None else str(self.run_dir), self.device))

    def __repr__(self) -> str:
        return f"RunContext(run_dir={self.run_dir!r}, device={self.device!r})"


def _in_worker(run_dir: str | None, device: str) -> RunContext:
    """A run's context in a worker process: the worker's backends, this run's cache."""
    return RunContext(run_dir, device, llm=LLMPool(run_dir, share=standalone_pool()))


def llm_backend(run: RunContext | None, config: Any) -> LLMBackend:
    """The backend for an LLM config: ``run``'s, or outside a run ``backend_from_config``'s."""
    if run is not None:
        return run.llm_backend(config)
    return backend_from_config(config)
