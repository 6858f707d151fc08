"""LLM mutation throughput with concurrency N vs 1 against a local fixed-latency server.

A local OpenAI-compatible server (stdlib, 127.0.0.1, ephemeral port) answers every chat
completion after a fixed latency with a SEARCH/REPLACE edit. The ``openai`` backend sends the
same batch of code-mutation requests with ``concurrency`` 1 and N; the table shows requests
per second and the speed-up over concurrency 1 (ideal: N x while N requests fit the server).

    python benchmarks/llm_concurrency.py --latency 0.05 --requests 64 --concurrency 1 4 8 16
"""

from __future__ import annotations

import argparse
import http.server
import json
import socket
import threading
import time

from evosearch.llm.base import LLMRequest
from evosearch.llm.openai_backend import OpenAIBackend

PARENT = """def pack(n):
    # place n circles in the unit square
    return [(0.5, 0.5, 0.1)] * n
"""
ANSWER = """<<<<<<< SEARCH
    return [(0.5, 0.5, 0.1)] * n
=======
    return [((i % 5 + 0.5) / 5, (i // 5 + 0.5) / 6, 0.08) for i in range(n)]
>>>>>>> REPLACE"""


def serve(latency: float) -> tuple[http.server.ThreadingHTTPServer, str]:
    body = json.dumps(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 120, "completion_tokens": 60},
        }
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def setup(self):  # answer without Nagle's 40 ms delayed-ACK stall
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(latency)  # the model's fixed latency
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def mutation_requests(n: int) -> list[LLMRequest]:
    return [
        LLMRequest.from_prompt(
            f"Improve this program (attempt {i}). Answer with SEARCH/REPLACE blocks.\n{PARENT}",
            system="You are an expert Python programmer.",
            max_tokens=256,
            temperature=0.8,
            seed=i,
            tag="llm.diff",
        )
        for i in range(n)
    ]


def measure(url: str, concurrency: int, requests: list[LLMRequest]) -> tuple[float, int]:
    backend = OpenAIBackend(base_url=url, model="bench", concurrency=concurrency)
    backend.generate(requests[:1])  # connect once
    t0 = time.perf_counter()
    out = backend.generate(requests)
    dt = time.perf_counter() - t0
    backend.close()
    ok = sum(1 for c in out if c.ok and "REPLACE" in c.text)
    return dt, ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.05, help="server seconds per request")
    ap.add_argument("--requests", type=int, default=64, help="mutations per measurement")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    args = ap.parse_args()
    server, url = serve(args.latency)
    reqs = mutation_requests(args.requests)
    levels = sorted(set([1, *args.concurrency]))
    rows = []
    for n in levels:
        dt, ok = measure(url, n, reqs)
        rows.append((n, dt, ok))
    server.shutdown()
    base = rows[0][1]
    print(f"{args.requests} mutation requests, server latency {args.latency * 1000:.0f} ms")
    print(
        f"{'concurrency':>11} {'seconds':>8} {'mutations/s':>12} {'speed-up':>9} "
        f"{'ideal':>6} {'ok':>4}"
    )
    for n, dt, ok in rows:
        print(f"{n:>11} {dt:>8.3f} {args.requests / dt:>12.1f} {base / dt:>8.2f}x {n:>5}x {ok:>4}")


if __name__ == "__main__":
    main()
