"""The LLM backend protocol: batched requests in, completions with usage out.

Backends register in ``registry.llms`` and are configured as a ``PluginConfig``
(``{ref: transformers | openai | ..., params: {...}}``). Operators keep the *config*, not the
backend; a run's ``LLMPool`` (``evosearch.llm.pool``) turns it into an instance, so a
checkpoint never pickles model weights or connections.
"""

from __future__ import annotations

import abc
import dataclasses
import json
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
