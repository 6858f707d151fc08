"""A local OpenAI-compatible server for tests: scripted replies, started on an ephemeral port."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


class FakeOpenAI:
    """Serves ``POST /v1/chat/completions`` from a script of behaviours, then successes.

    Behaviours (consumed one per request, in order):
        ``("ok", text)``; ``("ok_then_close", text)`` (then drops the idle connection, as
        servers with a keep-alive timeout do); ``("status", code, headers, body)``;
        ``("sleep", seconds)`` (answers late); ``("drop",)`` (closes the connection without
        answering); ``("raw", bytes)`` (a 200 with that body).

    Attributes:
        requests: ``(headers, json_body)`` of every request received.
        max_inflight: The most requests handled at once.

    ``gather=N`` holds the first requests until N are in flight at once (a barrier, so a test
    of concurrency does not depend on how fast the machine is); once N met, nothing waits.
    A client that never sends N at once is released after ``GATHER_BOUND`` seconds, and
    ``max_inflight`` then shows it.
    """

    GATHER_BOUND = 60.0

    def __init__(
        self, script: list[tuple] | None = None, latency: float = 0.0, gather: int = 0
    ):
        self.script = list(script or [])
        self.latency = latency
        self.gather = gather
        self._gathered = threading.Condition()
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def setup(self) -> None:  # answer without Nagle's 40 ms delayed-ACK stall
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with fake._lock:
                    fake.requests.append((dict(self.headers), json.loads(body)))
                    step = fake.script.pop(0) if fake.script else ("ok", None)
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                fake._barrier()
                try:
                    fake._serve(self, step, json.loads(body))
                finally:
                    with fake._lock:
                        fake.inflight -= 1

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), Handler, bind_and_activate=False
        )
        self.server.request_queue_size = 128  # a burst of N connects must not overflow the backlog
        self.server.server_bind()
        self.server.server_activate()
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _barrier(self) -> None:
        if not self.gather:
            return
        with self._gathered:
            self._gathered.notify_all()
            self._gathered.wait_for(
                lambda: not self.gather or self.max_inflight >= self.gather, self.GATHER_BOUND
            )
            self.gather = 0  # met (or given up): later requests never wait
            self._gathered.notify_all()

    def _serve(self, h: http.server.BaseHTTPRequestHandler, step: tuple, req: dict) -> None:
        kind = step[0]
        if self.latency:
            time.sleep(self.latency)
        if kind == "drop":
            h.close_connection = True
            return
        if kind == "ok_then_close":  # answer, then close the kept-alive connection silently
            h.close_connection = True
            step, kind = ("ok", step[1]), "ok"
        if kind == "sleep":
            time.sleep(step[1])
            step = ("ok", None)
            kind = "ok"
        if kind == "ok":
            text = step[1] if step[1] is not None else "echo: " + req["messages"][-1]["content"]
            payload = {
                "id": "x",
                "object": "chat.completion",
                "model": req.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
            self._send(h, 200, {}, json.dumps(payload).encode())
        elif kind == "status":
            _, code, headers, body = step
            self._send(h, code, headers, body.encode() if isinstance(body, str) else body)
        elif kind == "raw":
            self._send(h, 200, {}, step[1])
        else:
            raise ValueError(kind)

    @staticmethod
    def _send(h, code: int, headers: dict[str, str], body: bytes) -> None:
        try:
            h.send_response(code)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def fake_openai(
    script: list[tuple] | None = None, latency: float = 0.0, gather: int = 0
) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(script, latency, gather) as server:
        yield server
