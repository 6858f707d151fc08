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

import contextvars
import json
import math
import os
import threading
from typing import Any

from evosearch.individual import Cost
from evosearch.llm.base import LLMRequest, Message
from evosearch.llm.pool import backend_from_config

REQ_ENV, RESP_ENV = "EVOSEARCH_LLM_REQ_FD", "EVOSEARCH_LLM_RESP_FD"
MAX_REQUEST_BYTES = 1 << 20  # one request line; a longer line is skipped unread (not buffered)
ROLES = ("system", "user", "assistant")


class LLMProxy:
    """Serve LLM requests from one sandboxed process.

    Use as a context manager around ``run_sandboxed(..., env=proxy.env, pass_fds=proxy.fds)``.

    Args:
        llm: The backend config (``PluginConfig`` or ``{name, params}``).
        seed: Base seed; request i is sampled with ``seed + i``.
        max_requests: Requests answered before the proxy refuses (a runaway-loop guard).
        max_tokens: Upper bound on any request's generation budget.
        max_request_bytes: Largest request line; a longer one is refused while it streams
            in, never held in memory.
    """

    def __init__(
        self,
        llm: Any,
        *,
        seed: int = 0,
        max_requests: int = 64,
        max_tokens: int = 1024,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ):
        self.llm = llm
        self.max_request_bytes = max_request_bytes
        self.seed = seed
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.cost = Cost()
        self.requests = 0
        self.errors: list[str] = []
        self._req_r, self._req_w = os.pipe()
        self._resp_r, self._resp_w = os.pipe()
        # served in the caller's context: the run it serves answers with its own backends
        serving = contextvars.copy_context()
        self._thread = threading.Thread(
            target=serving.run, args=(self._serve,), daemon=True, name="llm-proxy"
        )

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
        for line in self._lines():
            answer = self._answer(line) if isinstance(line, bytes) else {"text": "", "error": line}
            try:
                os.write(self._resp_w, (json.dumps(answer) + "\n").encode())
            except OSError:  # the sandbox was killed while we generated
                return

    def _lines(self):
        """Request lines (bytes), or an error text for each line over the size cap."""
        buf, skipping = b"", False
        while chunk := os.read(self._req_r, 65536):
            while chunk:
                head, nl, chunk = chunk.partition(b"\n")
                if skipping:
                    if nl:
                        skipping = False
                    continue
                buf += head
                if len(buf) > self.max_request_bytes:
                    buf, skipping = b"", not nl
                    yield f"request over {self.max_request_bytes} bytes refused"
                    continue
                if nl:
                    yield buf
                    buf = b""

    def _answer(self, line: bytes) -> dict[str, Any]:
        if self.requests >= self.max_requests:
            return {"text": "", "error": f"LLM request limit ({self.max_requests}) reached"}
        try:
            request = self._request(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            return {"text": "", "error": f"malformed proxy request: {exc}"}
        self.requests += 1
        # charged before the request is sent: the prompt (about 4 characters a token) and
        # the whole generation budget; settled with the backend's count afterwards
        reserved = Cost(sum(len(m.content) for m in request.messages) // 4, request.max_tokens)
        self.cost = self.cost + reserved
        (completion,) = backend_from_config(self.llm).generate([request])
        actual = Cost(completion.tokens_in, completion.tokens_out, completion.cost_usd)
        self.cost = self.cost + actual + Cost(-reserved.tokens_in, -reserved.tokens_out)
        if completion.error:
            self.errors.append(completion.error)
        return {
            "text": completion.text,
            "tokens_in": completion.tokens_in,
            "tokens_out": completion.tokens_out,
            "error": completion.error,
        }

    def _request(self, data: Any) -> LLMRequest:
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise ValueError("'messages' must be a list of {role, content}")
        messages = []
        for m in data["messages"]:
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                raise ValueError(f"each message needs a role in {list(ROLES)}")
            if not isinstance(m.get("content"), str):
                raise ValueError("each message needs a string content")
            messages.append(Message(m["role"], m["content"]))
        max_tokens = data.get("max_tokens", 512)
        if type(max_tokens) is not int or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        temperature = data.get("temperature", 0.7)
        if type(temperature) not in (int, float) or not 0 <= temperature <= 2:
            raise ValueError(f"temperature must be a number in [0, 2], got {temperature!r}")
        if not math.isfinite(temperature):
            raise ValueError("temperature must be finite")
        stop = data.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or len(stop) > 4 or not all(
            isinstance(x, str) and 0 < len(x) <= 100 for x in stop
        ):
            raise ValueError("stop must be a string or a list of up to 4 strings (1-100 chars)")
        return LLMRequest(
            messages=tuple(messages),
            max_tokens=min(max_tokens, self.max_tokens),
            temperature=float(temperature),
            seed=self.seed + self.requests,
            stop=tuple(stop),
            tag="dgm.agent",
        )


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
