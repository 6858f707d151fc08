"""An LLM proxy for sandboxed code: agents call the model without keys or network.

Code running in the sandbox (an agent) writes one JSON request per line to an inherited
pipe and reads one JSON answer per line from another; a host thread answers each request with
the configured backend and tallies the usage. API keys stay in the host process, and the
sandbox keeps its private network namespace.

Wire format (one line each way)::

    -> {"messages": [{"role": "user", "content": "..."}], "max_tokens": 512,
        "temperature": 0.7}
    <- {"text": "...", "tokens_in": 12, "tokens_out": 40, "error": ""}
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from evosearch.individual import Cost
from evosearch.llm.base import LLMRequest, Message, backend_from_config

REQ_ENV, RESP_ENV = "EVOSEARCH_LLM_REQ_FD", "EVOSEARCH_LLM_RESP_FD"


class LLMProxy:
    """Serve LLM requests from one sandboxed process.

    Use as a context manager around ``run_sandboxed(..., env=proxy.env, pass_fds=proxy.fds)``.

    Args:
        llm: The backend config (``PluginConfig`` or ``{name, params}``).
        seed: Base seed; request i is sampled with ``seed + i``.
        max_requests: Requests answered before the proxy refuses (a runaway-loop guard).
        max_tokens: Upper bound on any request's generation budget.
    """

    def __init__(self, llm: Any, *, seed: int = 0, max_requests: int = 64, max_tokens: int = 1024):
        self.llm = llm
        self.seed = seed
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.cost = Cost()
        self.requests = 0
        self.errors: list[str] = []
        self._req_r, self._req_w = os.pipe()
        self._resp_r, self._resp_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="llm-proxy")

    @property
    def fds(self) -> tuple[int, int]:
        """The child's ends: it writes requests to the first, reads answers from the second."""
        return (self._req_w, self._resp_r)

    @property
    def env(self) -> dict[str, str]:
        return {REQ_ENV: str(self._req_w), RESP_ENV: str(self._resp_r)}

    def __enter__(self) -> LLMProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in (self._req_w, self._resp_r):  # the child is gone: our copies end the stream
            _close(fd)
        self._thread.join(timeout=30)
        for fd in (self._req_r, self._resp_w):
            _close(fd)

    def _serve(self) -> None:
        with os.fdopen(self._req_r, "r", closefd=False) as requests:
            for line in requests:
                answer = self._answer(line)
                try:
                    os.write(self._resp_w, (json.dumps(answer) + "\n").encode())
                except OSError:  # the sandbox was killed while we generated
                    return

    def _answer(self, line: str) -> dict[str, Any]:
        if self.requests >= self.max_requests:
            return {"text": "", "error": f"LLM request limit ({self.max_requests}) reached"}
        try:
            data = json.loads(line)
            messages = tuple(Message(str(m["role"]), str(m["content"])) for m in data["messages"])
            request = LLMRequest(
                messages=messages,
                max_tokens=min(int(data.get("max_tokens", 512)), self.max_tokens),
                temperature=float(data.get("temperature", 0.7)),
                seed=self.seed + self.requests,
                tag="dgm.agent",
            )
        except (ValueError, KeyError, TypeError) as exc:
            return {"text": "", "error": f"malformed proxy request: {exc}"}
        self.requests += 1
        (completion,) = backend_from_config(self.llm).generate([request])
        self.cost = self.cost + Cost(
            completion.tokens_in, completion.tokens_out, completion.cost_usd
        )
        if completion.error:
            self.errors.append(completion.error)
        return {
            "text": completion.text,
            "tokens_in": completion.tokens_in,
            "tokens_out": completion.tokens_out,
            "error": completion.error,
        }


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
