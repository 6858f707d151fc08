"""An OpenAI-compatible chat-completions client: vLLM, Ollama, llama.cpp server, OpenAI.

Requests run on a thread pool (``concurrency`` in flight), each on a kept-alive
``http.client`` connection of its worker thread. 429s, 5xx, timeouts and dropped connections
are retried with exponential backoff and full jitter (a ``Retry-After`` header wins); every
other failure, and a request that runs out of retries, comes back as
``Completion(error=...)``. The API key is read from the environment variable named by
``api_key_env`` at each request: it is never part of the config, the object, a log line or
an error message.

The standard library is used instead of ``httpx``: one POST of JSON with timeouts, status
codes and headers is all this needs, and it adds no dependency to every install.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import email.utils
import http.client
import json
import logging
import os
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pydantic

from evosearch import registry
from evosearch.llm.base import Completion, LLMBackend, LLMRequest

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAIParams(pydantic.BaseModel):
    """Parameters of the ``openai`` backend (the ``llm.params`` of a config).

    Attributes:
        base_url: The API root, e.g. ``http://localhost:8000/v1`` (vLLM),
            ``http://localhost:11434/v1`` (Ollama), ``https://api.openai.com/v1``.
        model: The model name the server knows.
        api_key_env: Environment variable holding the key (unset: no Authorization header).
        concurrency: Requests in flight at once.
        timeout: Seconds per attempt (connect, and each read).
        max_retries: Retries after the first attempt, on 429/5xx/timeouts/connection errors.
        backoff: First backoff in seconds; doubles each retry (full jitter).
        max_backoff: Upper bound of one wait, ``Retry-After`` included.
        price_in: Dollars per million prompt tokens.
        price_out: Dollars per million completion tokens.
        send_seed: Send ``request.seed`` (vLLM, Ollama and OpenAI accept it).
        max_tokens_field: ``max_tokens`` or ``max_completion_tokens`` (newer OpenAI models).
        extra_body: Extra JSON fields sent with every request (``top_p``, ...).
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = pydantic.Field(default=4, ge=1, le=512)
    timeout: float = pydantic.Field(default=120.0, gt=0)
    max_retries: int = pydantic.Field(default=4, ge=0)
    backoff: float = pydantic.Field(default=1.0, ge=0)
    max_backoff: float = pydantic.Field(default=60.0, ge=0)
    price_in: float = pydantic.Field(default=0.0, ge=0)
    price_out: float = pydantic.Field(default=0.0, ge=0)
    send_seed: bool = True
    max_tokens_field: str = "max_tokens"
    extra_body: dict[str, Any] = pydantic.Field(default_factory=dict)

    @pydantic.field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL like http://localhost:8000/v1, got {value!r}")
        return value.rstrip("/")

    @pydantic.field_validator("max_tokens_field")
    @classmethod
    def _field(cls, value: str) -> str:
        if value not in ("max_tokens", "max_completion_tokens"):
            raise ValueError("must be 'max_tokens' or 'max_completion_tokens'")
        return value


class _Retryable(Exception):
    """A failed attempt worth retrying; ``wait`` is the server's Retry-After, if any."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class _Stale(Exception):
    """A kept-alive connection the server has closed meanwhile (not a failed attempt)."""


class _Fatal(Exception):
    """A failed attempt that retrying will not fix."""


@registry.llms.register("openai")
class OpenAIBackend(LLMBackend):
    """Chat completions over HTTP from any OpenAI-compatible server.

    Args:
        base_url: API root (``.../v1``); ``/chat/completions`` is appended.
        model: Model name.
        sleep: How the backend waits between retries (``time.sleep``; tests pass a
            function that records the waits instead).
        **options: The other fields of ``OpenAIParams``.

    Raises:
        pydantic.ValidationError: for a bad URL or option.
        TypeError: if ``sleep`` is not callable.
    """

    cacheable = True

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        **options: Any,
    ):
        if not callable(sleep):
            raise TypeError(f"llm.params.sleep: expected a function of seconds, got {sleep!r}")
        self.params = OpenAIParams(base_url=base_url, model=model, **options)
        url = urllib.parse.urlsplit(self.params.base_url)
        self._scheme, self._host, self._port = url.scheme, url.hostname, url.port
        self._path = (url.path or "") + "/chat/completions"
        self.url = f"{self.params.base_url}/chat/completions"
        self._local = threading.local()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._rng = np.random.default_rng()  # backoff jitter only; never affects results
        self._sleep = sleep
        self.attempts = 0  # HTTP attempts made (tests and benchmarks read it)
        self._count_lock = threading.Lock()
        # The limit holds across callers too (several threads may call generate at once).
        self._slots = threading.BoundedSemaphore(self.params.concurrency)

    @property
    def cache_id(self) -> str:
        """What identifies this backend's answers (for the response cache)."""
        return f"openai:{self.params.base_url}:{self.params.model}"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "an LLM backend is not picklable: keep its config and call backend_from_config"
        )

    # ------------------------------------------------------------------ public
    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        """Answer every request, in order, ``concurrency`` at a time; never raises."""
        requests = list(requests)
        if len(requests) <= 1:
            return [self._one(r) for r in requests]
        with self._pool_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self.params.concurrency, thread_name_prefix="evosearch-llm"
                )
        return list(self._pool.map(self._one, requests))

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------------ one request
    def _one(self, req: LLMRequest) -> Completion:
        with self._slots:
            return self._one_unlimited(req)

    def _one_unlimited(self, req: LLMRequest) -> Completion:
        t0 = time.perf_counter()
        body = self._body(req)
        p = self.params
        retries = 0
        while True:
            try:
                comp = self._attempt(body)
                break
            except _Fatal as exc:
                comp = _error(str(exc))
                break
            except _Retryable as exc:
                if retries >= p.max_retries:
                    comp = _error(f"{exc} (gave up after {retries + 1} attempts)")
                    break
                wait = exc.wait
                if wait is None:
                    wait = float(self._rng.uniform(0, p.backoff * 2**retries))
                wait = min(wait, p.max_backoff)
                retries += 1
                log.warning("%s; retry %d/%d in %.2fs", exc, retries, p.max_retries, wait)
                self._sleep(wait)
        return dataclasses.replace(comp, latency_s=time.perf_counter() - t0)

    def _body(self, req: LLMRequest) -> bytes:
        p = self.params
        body: dict[str, Any] = {
            "model": p.model,
            "messages": [{"role": m.role, "content": m.content} for m in req.messages],
            p.max_tokens_field: req.max_tokens,
            "temperature": req.temperature,
        }
        if req.stop:
            body["stop"] = list(req.stop)
        if p.send_seed and req.seed is not None:
            body["seed"] = int(req.seed) % 2**31  # servers want a 32-bit int
        body.update(p.extra_body)
        return json.dumps(body).encode()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            t = self.params.timeout
            if self._scheme == "https":
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=t, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=t)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self._local.used = False

    def _attempt(self, body: bytes) -> Completion:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.params.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        with self._count_lock:
            self.attempts += 1
        where = f"POST {self.url}"
        try:
            try:
                status, raw, retry_after = self._exchange(body, headers)
            except _Stale:  # the server closed an idle kept-alive connection: resend at once
                status, raw, retry_after = self._exchange(body, headers)
        except TimeoutError as exc:
            self._drop_connection()
            raise _Retryable(f"{where}: timed out after {self.params.timeout:g}s") from exc
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            self._drop_connection()
            what = type(exc).__name__
            raise _Retryable(f"{where}: connection failed ({what}: {exc})") from exc
        if status != 200:
            detail = _server_message(raw)
            msg = f"{where}: HTTP {status}" + (f": {detail}" if detail else "")
            if status in RETRY_STATUS:
                raise _Retryable(msg, _retry_after(retry_after))
            raise _Fatal(msg)
        return self._parse(raw, where)

    def _exchange(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        """One request and its response on this thread's connection.

        Raises:
            _Stale: when a connection that served earlier requests turns out to be closed.
        """
        conn = self._connection()
        reused = getattr(self._local, "used", False)
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
            if not reused:
                raise
            self._drop_connection()
            raise _Stale() from exc
        status, raw = resp.status, resp.read()
        self._local.used = True
        if (resp.getheader("Connection") or "").lower() == "close":
            self._drop_connection()
        return status, raw, resp.getheader("Retry-After")

    def _parse(self, raw: bytes, where: str) -> Completion:
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            snippet = raw[:200].decode("utf-8", "replace")
            raise _Fatal(
                f"{where}: not a chat completion ({type(exc).__name__}: {exc}); "
                f"body starts {snippet!r}"
            ) from None
        usage = data.get("usage") or {}
        t_in = int(usage.get("prompt_tokens") or 0)
        t_out = int(usage.get("completion_tokens") or 0)
        p = self.params
        return Completion(
            text=text,
            tokens_in=t_in,
            tokens_out=t_out,
            cost_usd=(t_in * p.price_in + t_out * p.price_out) / 1e6,
            finish_reason=str(choice.get("finish_reason") or ""),
        )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(raw: bytes) -> str:
    """The error message in a server's JSON error body, or the start of the body."""
    try:
        data = json.loads(raw)
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message", err) if isinstance(err, dict) else err
        return str(msg)[:300]
    except ValueError:
        return raw[:300].decode("utf-8", "replace").strip()


def _error(msg: str) -> Completion:
    return Completion(text="", error=msg, finish_reason="error")
