"""The LLM backend protocol: batched requests in, completions with usage out.

Backends register in ``registry.llms`` and are configured as a ``PluginConfig``
(``{ref: transformers | openai | ..., params: {...}}``). Operators keep the *config*, not the
backend: ``backend_from_config`` returns one shared instance per config per process, so a
checkpoint never pickles model weights or connections.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import pathlib
import threading
from collections.abc import Sequence
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclasses.dataclass(frozen=True)
class LLMRequest:
    """One generation request.

    Attributes:
        messages: The chat; a plain prompt is one user message.
        max_tokens: Upper bound on generated tokens.
        temperature: Sampling temperature (0 = greedy).
        seed: Per-request sampling seed (derived from the run's generator).
        stop: Stop sequences.
        tag: What the request is for (``llm.diff``, ``evollm.mean`` ...), for accounting.
    """

    messages: tuple[Message, ...]
    max_tokens: int = 1024
    temperature: float = 0.7
    seed: int | None = None
    stop: tuple[str, ...] = ()
    tag: str = ""

    @classmethod
    def from_prompt(cls, prompt: str, *, system: str | None = None, **kw: Any) -> LLMRequest:
        msgs = ((Message("system", system),) if system else ()) + (Message("user", prompt),)
        return cls(messages=msgs, **kw)

    def cache_key(self, backend_id: str) -> str:
        """A stable key of the request and the backend that answers it."""
        import hashlib

        payload = json.dumps(
            [backend_id, dataclasses.asdict(self)], sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Completion:
    """A backend's answer to one request. Errors are data: ``error`` set, ``text`` empty."""

    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    finish_reason: str = ""
    error: str = ""
    cached: bool = False
    latency_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error


class LLMBackend(abc.ABC):
    """What every backend provides; the defaults are used when a backend does not.

    Attributes:
        cacheable: Answers depend only on the request (and ``cache_id``): a run may keep
            them in its response cache.
        cache_id: What identifies this backend's answers in the cache (None: its config).
    """

    cacheable: ClassVar[bool] = False
    cache_id: str | None = None

    @abc.abstractmethod
    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        """Answer every request, in order; never raises for a failed request."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release the model or connections."""


_BACKENDS: dict[str, LLMBackend] = {}
_LOCK = threading.RLock()  # operators may run on several threads (parallel variations)
_CACHE_DIR: pathlib.Path | None = None


def set_cache_dir(path: str | pathlib.Path | None) -> None:
    """Where ``backend_from_config`` keeps its response cache by default (``None``: no cache).

    The engine sets this to the run directory while a run is open, so operators that call
    ``backend_from_config(config)`` get cached backends without knowing the run directory.
    """
    global _CACHE_DIR
    _CACHE_DIR = None if path is None else pathlib.Path(path)


def get_cache_dir() -> pathlib.Path | None:
    """The default cache directory set by ``set_cache_dir`` (the open run), if any."""
    return _CACHE_DIR


def backend_from_config(config: Any, *, cache_dir: str | pathlib.Path | None = None) -> LLMBackend:
    """The shared backend instance for a ``PluginConfig`` (or ``{ref, params}`` dict).

    One instance per distinct config per process: operators hold only the config, so
    checkpoints stay small and a model is loaded once. With a cache directory (``cache_dir``,
    else the one set by ``set_cache_dir``), a backend that declares ``cacheable = True`` is
    wrapped in a ``CachedBackend`` over ``<cache_dir>/llm-cache.sqlite``.

    Raises:
        registry.RegistryError: for an unknown backend or bad parameters.
    """
    if isinstance(config, dict):
        name, params = config.get("ref") or config["name"], dict(config.get("params", {}))
    else:
        name, params = config.name, dict(config.params)
    key = json.dumps([name, params], sort_keys=True, default=str)
    with _LOCK:
        return _shared(key, name, params, cache_dir)


def _shared(key: str, name: str, params: dict, cache_dir: Any) -> LLMBackend:
    from evosearch import registry

    backend = _BACKENDS.get(key)
    if backend is None:
        entry = registry.llms.get(name)
        backend = entry.create(params, key="llm.params")
        _BACKENDS[key] = backend
    directory = cache_dir if cache_dir is not None else _CACHE_DIR
    if directory is None or not backend.cacheable:
        return backend
    from evosearch.llm.cache import CACHE_FILE, CachedBackend

    path = pathlib.Path(directory) / CACHE_FILE
    cached_key = json.dumps([key, str(path.resolve())])
    wrapped = _BACKENDS.get(cached_key)
    if wrapped is None:
        wrapped = CachedBackend(backend, path, backend.cache_id or key)
        _BACKENDS[cached_key] = wrapped
    return wrapped


def clear_backends() -> None:
    """Forget shared backend instances (tests; freeing a model)."""
    with _LOCK:
        for backend in _BACKENDS.values():
            backend.close()
        _BACKENDS.clear()
