"""LLM mutation throughput with concurrency N vs 1 against a local fixed-latency server.

A local OpenAI-compatible server (stdlib, 127.0.0.1, ephemeral port) answers every chat
completion after a fixed latency with a SEARCH/REPLACE edit. Two measurements, each against
concurrency 1 in the same run:

1. backend: the ``openai`` backend answers one batch of code-mutation requests with
   ``concurrency`` N;
2. strategy: ``ArchiveStrategy.ask()`` produces a generation of children with an operator
   that sends one request per child (as the LLM operators do), ``parallel_variations`` N.

The speed-up is against concurrency 1 (ideal: N x while the server takes N at once).

    PYTHONPATH=. python benchmarks/llm_concurrency.py --latency 0.05 --requests 64
"""

from __future__ import annotations

import argparse
import http.server
import json
import socket
import threading
import time

import numpy as np
from pydantic.dataclasses import dataclass

from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Cost, FitnessResult
from evosearch.llm.base import LLMRequest
from evosearch.llm.openai_backend import OpenAIBackend
from evosearch.llm.pool import backend_from_config, clear_backends
from evosearch.operators.base import PARAMS, Child, VariationError
from evosearch.strategies.archive import ArchiveParams, ArchiveStrategy

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

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.request_queue_size = 128  # a burst of N connects must not overflow the backlog
    server.server_bind()
    server.server_activate()
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


@dataclass(config=PARAMS)
class LLMEdit:
    """Benchmark operator: one seeded mutation request per child; the edit moves a vector."""

    llm: dict
    arity = 1

    def __call__(self, parents, rng: np.random.Generator):
        req = LLMRequest.from_prompt(
            f"Improve this program.\n{PARENT}", seed=int(rng.integers(2**31)), tag="llm.diff"
        )
        (c,) = backend_from_config(self.llm).generate([req])
        if not c.ok or "REPLACE" not in c.text:
            raise VariationError(c.error or "no edit", raw=c.text)
        g = parents[0]
        child = VectorGenome(g.values + rng.normal(0, 0.1, g.values.shape), g.low, g.high)
        return [Child(child, cost=Cost(c.tokens_in, c.tokens_out, c.cost_usd))]


def measure_strategy(url: str, workers: int, children: int) -> tuple[float, int]:
    clear_backends()
    llm = {"ref": "openai", "params": {"base_url": url, "model": "bench", "concurrency": workers}}
    params = ArchiveParams(
        batch_size=children,
        init={"ref": "vector.uniform", "params": {"dimension": 4}},
        operators=[{"ref": "__main__:LLMEdit", "params": {"llm": llm}}],
        archive={"ref": "population", "params": {"size": children}},
        parallel_variations=workers,
    )
    strategy = ArchiveStrategy(params, rng=np.random.default_rng(0))
    first = strategy.ask()  # the initial population: no LLM calls
    strategy.tell([i.with_result(FitnessResult(score=-float(i.id))) for i in first])
    t0 = time.perf_counter()
    batch = strategy.ask()
    dt = time.perf_counter() - t0
    return dt, sum(1 for i in batch if i.result is None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.05, help="server seconds per request")
    ap.add_argument("--requests", type=int, default=64, help="mutations per measurement")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    args = ap.parse_args()
    server, url = serve(args.latency)
    reqs = mutation_requests(args.requests)
    levels = sorted(set([1, *args.concurrency]))
    backend_rows = [(n, *measure(url, n, reqs)) for n in levels]
    strategy_rows = [(n, *measure_strategy(url, n, args.requests)) for n in levels]
    server.shutdown()
    print(f"{args.requests} mutations per measurement, server latency {args.latency * 1000:.0f} ms")
    for title, rows in (
        ("backend.generate(batch), concurrency N", backend_rows),
        ("ArchiveStrategy.ask(), parallel_variations N (one request per child)", strategy_rows),
    ):
        base = rows[0][1]
        print(f"\n{title}")
        print(f"{'N':>4} {'seconds':>8} {'mutations/s':>12} {'speed-up':>9} {'ideal':>6} {'ok':>4}")
        for n, dt, ok in rows:
            rate = args.requests / dt
            print(f"{n:>4} {dt:>8.3f} {rate:>12.1f} {base / dt:>8.2f}x {n:>5}x {ok:>4}")


if __name__ == "__main__":
    main()
