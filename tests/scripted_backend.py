"""A scripted LLM backend FOR TESTS ONLY (a test double: it is not part of evosearch).

It answers from a fixed list (cycled) or a function of the prompt, deterministically. No
scenario, demo or benchmark may present its output as a result. The test session registers
it under the name ``scripted`` (``register()``, called by ``tests/conftest.py``) so test
configs can select it; a test's child process calls ``register()`` itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from evosearch import registry
from evosearch.llm.base import Completion, LLMBackend, LLMRequest

NAME = "scripted"


class ScriptedBackend(LLMBackend):
    """Returns scripted answers; counts characters as tokens.

    Args:
        responses: Answers returned in turn (cycled).
        respond: Alternatively, a function ``(request) -> str``, or its
            ``module:function`` reference (so configs can name one).
        fail_every: Every n-th request returns an error completion (0: never).
        latency: Seconds to sleep per request (for concurrency tests).
    """

    def __init__(
        self,
        responses: Sequence[str] = (),
        respond: Callable[[LLMRequest], str] | str | None = None,
        fail_every: int = 0,
        latency: float = 0.0,
    ):
        if not responses and respond is None:
            raise TypeError("ScriptedBackend needs responses or respond")
        if isinstance(respond, str):
            respond = registry.resolve_reference(respond)
        self.responses = list(responses)
        self.respond = respond
        self.fail_every = fail_every
        self.latency = latency
        self.calls: list[LLMRequest] = []

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        out = []
        for req in requests:
            self.calls.append(req)
            n = len(self.calls)
            if self.latency:
                time.sleep(self.latency)
            if self.fail_every and n % self.fail_every == 0:
                out.append(Completion(text="", error="scripted failure", finish_reason="error"))
                continue
            text = (
                self.respond(req) if self.respond else self.responses[(n - 1) % len(self.responses)]
            )
            prompt_chars = sum(len(m.content) for m in req.messages)
            out.append(
                Completion(
                    text=text, tokens_in=prompt_chars, tokens_out=len(text), finish_reason="stop"
                )
            )
        return out


def register() -> None:
    """Register ``ScriptedBackend`` as the LLM backend ``scripted`` (again: a no-op)."""
    registry.llms.register(NAME)(ScriptedBackend)
