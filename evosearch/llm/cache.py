"""A response cache so that a resumed run does not pay twice for the same request.

Completions are stored in an SQLite file in the run directory (``llm-cache.sqlite``, WAL
journal, one transaction per batch), keyed by ``LLMRequest.cache_key(backend_id)``. Only
reproducible requests are cached: greedy ones (temperature 0) and seeded ones. A resumed run
re-asks the requests made after its last commit with the same seeds (they come from the
checkpointed generator), so they are answered from the cache: ``cached=True``, no cost. Token
counts are kept, so a run's token accounting does not depend on whether it was resumed.
Failed completions are never cached.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sqlite3
import threading
import time
from collections.abc import Sequence

from evosearch.llm.base import Completion, LLMBackend, LLMRequest

CACHE_FILE = "llm-cache.sqlite"

_FIELDS = ("text", "tokens_in", "tokens_out", "cost_usd", "finish_reason")


def is_reproducible(request: LLMRequest) -> bool:
    """Whether the same request should get the same answer (greedy or seeded)."""
    return request.temperature <= 0 or request.seed is not None


class ResponseCache:
    """A persistent map from request keys to completions (SQLite, WAL mode, thread-safe).

    Args:
        path: The database file (created with its parent directory).
    """

    def __init__(self, path: str | pathlib.Path):
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS completions ("
            " key TEXT PRIMARY KEY, backend TEXT, tag TEXT, completion TEXT, created REAL)"
        )
        self._db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        """The cached completions among ``keys``."""
        found: dict[str, Completion] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, completion FROM completions WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, blob in rows:
                    found[key] = Completion(**json.loads(blob))
        return found

    def put_many(self, items: Sequence[tuple[str, str, LLMRequest, Completion]]) -> None:
        """Store ``(key, backend_id, request, completion)`` rows in one transaction."""
        if not items:
            return
        now = time.time()
        rows = [
            (key, backend, req.tag, json.dumps({f: getattr(c, f) for f in _FIELDS}), now)
            for key, backend, req, c in items
        ]
        with self._lock:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?)", rows
                )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedBackend(LLMBackend):
    """Wraps a backend: reproducible requests are answered from a ``ResponseCache`` first.

    Args:
        inner: The backend that answers cache misses.
        path: The cache database, usually ``RUN_DIR/llm-cache.sqlite``.
        backend_id: What identifies the inner backend's answers (its ``cache_id``).

    Attributes:
        hits: Requests answered from the cache.
        misses: Requests sent to the inner backend.
    """

    def __init__(self, inner: LLMBackend, path: str | pathlib.Path, backend_id: str | None = None):
        self.inner = inner
        self.cache = ResponseCache(path)
        self.backend_id = backend_id or inner.cache_id or type(inner).__name__
        self.hits = 0
        self.misses = 0

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        """Answer from the cache where possible, the rest from the inner backend."""
        requests = list(requests)
        keys = [r.cache_key(self.backend_id) if is_reproducible(r) else None for r in requests]
        cached = self.cache.get_many([k for k in keys if k is not None])
        out: list[Completion | None] = [None] * len(requests)
        todo: list[int] = []
        first: dict[str, int] = {}  # identical reproducible requests are asked once
        for i, key in enumerate(keys):
            if key is not None and key in cached:
                out[i] = dataclasses.replace(cached[key], cached=True, cost_usd=0.0)
            elif key is not None and key in first:
                continue
            else:
                if key is not None:
                    first[key] = i
                todo.append(i)
        answers = self.inner.generate([requests[i] for i in todo]) if todo else []
        fresh = []
        for i, comp in zip(todo, answers):
            out[i] = comp
            if keys[i] is not None and comp.ok:
                fresh.append((keys[i], self.backend_id, requests[i], comp))
        self.cache.put_many(fresh)
        for i, key in enumerate(keys):
            if out[i] is None:  # a duplicate of an earlier request in this batch
                src = out[first[key]]
                out[i] = dataclasses.replace(src, cached=True, cost_usd=0.0) if src.ok else src
        self.hits += sum(1 for c in out if c.cached)
        self.misses += len(todo)
        return out  # type: ignore[return-value]

    def close(self) -> None:
        """Close the cache file (the inner backend is shared and stays open)."""
        self.cache.close()
