"""Where backend instances live: an ``LLMPool`` per run, made by the engine's run context.

Operators keep the LLM *config* (a ``PluginConfig``), not the backend, so a checkpoint never
pickles model weights or connections. A pool turns a config into a backend instance, one
per distinct config, loaded once; with a cache directory (a run directory), a backend that
declares ``cacheable = True`` is wrapped in a ``CachedBackend`` over
``<cache_dir>/llm-cache.sqlite``. Each run owns its pool: two runs in one process share
neither backends nor caches.

Code that runs outside any run (a notebook, a test calling an operator directly) uses
``backend_from_config``, which answers from the pool of the run being served in the current
context (set with ``using``) or else from this process's standalone pool.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import pathlib
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from evosearch import registry
from evosearch.llm.base import LLMBackend
from evosearch.llm.cache import CACHE_FILE, CachedBackend


class LLMPool:
    """Backend instances for one run (thread-safe: variations may run on threads).

    Args:
        cache_dir: Where cacheable backends keep their response cache (None: no cache).
        share: Another pool whose instances this one reuses (a worker process serving a
            run reuses its process's loaded models); closing this pool leaves them open.
    """

    def __init__(
        self, cache_dir: str | pathlib.Path | None = None, *, share: LLMPool | None = None
    ):
        self.cache_dir = None if cache_dir is None else pathlib.Path(cache_dir)
        self._owner = share is None
        self._instances: dict[str, LLMBackend] = {} if share is None else share._instances
        self._lock = threading.RLock() if share is None else share._lock

    def get(self, config: Any, *, cache_dir: str | pathlib.Path | None = None) -> LLMBackend:
        """The pool's backend for a ``PluginConfig`` (or ``{ref, params}`` dict).

        Args:
            config: The backend's config.
            cache_dir: A cache directory other than the pool's.

        Raises:
            registry.RegistryError: for an unknown backend or bad parameters.
        """
        name, params = _name_params(config)
        key = json.dumps([name, params], sort_keys=True, default=str)
        directory = cache_dir if cache_dir is not None else self.cache_dir
        with self._lock:
            backend = self._instances.get(key)
            if backend is None:
                backend = registry.llms.get(name).create(params, key="llm.params")
                self._instances[key] = backend
            if directory is None or not backend.cacheable:
                return backend
            path = pathlib.Path(directory) / CACHE_FILE
            cached_key = json.dumps([key, str(path.resolve())])
            wrapped = self._instances.get(cached_key)
            if wrapped is None:
                wrapped = CachedBackend(backend, path, backend.cache_id or key)
                self._instances[cached_key] = wrapped
            return wrapped

    def close(self) -> None:
        """Close the pool's backends and cache files (a sharing pool leaves them open)."""
        if not self._owner:
            return
        with self._lock:
            for backend in self._instances.values():
                backend.close()
            self._instances.clear()


def _name_params(config: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(config, dict):
        return config.get("ref") or config["name"], dict(config.get("params", {}))
    return config.name, dict(config.params)


# Backends of code that runs outside any run, and of worker processes serving runs (their
# ``RunContext`` shares these instances and keys each run's cache by its own directory).
_STANDALONE = LLMPool()
# The pool of the run served in the current context (thread or task): not shared between
# runs, set by ``using`` around a run's calls into plugins that call ``backend_from_config``.
_SERVING: contextvars.ContextVar[LLMPool | None] = contextvars.ContextVar(
    "evosearch_llm_pool", default=None
)


def standalone_pool() -> LLMPool:
    """The pool of code that runs outside a run (and of worker processes)."""
    return _STANDALONE


@contextlib.contextmanager
def using(pool: LLMPool | None) -> Iterator[None]:
    """Serve ``backend_from_config`` from ``pool`` in this context (None: leave it as is)."""
    if pool is None:
        yield
        return
    token = _SERVING.set(pool)
    try:
        yield
    finally:
        _SERVING.reset(token)


def backend_from_config(config: Any, *, cache_dir: str | pathlib.Path | None = None) -> LLMBackend:
    """The backend for a ``PluginConfig`` (or ``{ref, params}`` dict), outside a run context.

    Plugins given a run context use it instead (``VariationContext.run``,
    ``FitnessContext.llm_backend``, ``Strategy.llm_backend``). This answers from the pool of
    the run served in the current context, else from the process's standalone pool.

    Raises:
        registry.RegistryError: for an unknown backend or bad parameters.
    """
    pool = _SERVING.get() or _STANDALONE
    return pool.get(config, cache_dir=cache_dir)


def set_cache_dir(path: str | pathlib.Path | None) -> None:
    """Deprecated: the cache directory of the standalone pool.

    A run keeps its LLM cache in its own run directory (its ``RunContext``); this only sets
    where code outside any run caches.
    """
    warnings.warn(
        "evosearch.llm.set_cache_dir is deprecated: a run caches in its own run directory; "
        "outside a run pass cache_dir= to backend_from_config or use an LLMPool",
        DeprecationWarning,
        stacklevel=2,
    )
    _STANDALONE.cache_dir = None if path is None else pathlib.Path(path)


def get_cache_dir() -> pathlib.Path | None:
    """The cache directory ``backend_from_config`` uses here (the served run's, if any)."""
    return (_SERVING.get() or _STANDALONE).cache_dir


def clear_backends() -> None:
    """Close and forget the standalone pool's backends and cache directory (tests, freeing)."""
    _STANDALONE.close()
    _STANDALONE.cache_dir = None
