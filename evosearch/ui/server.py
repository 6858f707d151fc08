"""The local, read-only web server of ``evosearch ui``.

Standard library only (``ThreadingHTTPServer``): the page is a handful of static files
shipped as package data plus a small JSON API, so nothing needs to be installed or fetched
from the internet. Every endpoint is a GET; nothing writes to the run.

API (all JSON):

- ``/api/summary``: progress, ``seq`` (changes on every commit), best individual.
- ``/api/curves``: best / mean / best-so-far per generation, QD curves when descriptors exist.
- ``/api/heatmap?x=0&y=1&bins=20[&gen=G]``: best score per filled cell.
- ``/api/individuals?offset=0&limit=50&sort=score|id[&gen=G][&status=ok]``: one page of rows.
- ``/api/lineage/ID?dir=ancestors|descendants&depth=6&limit=300``: a bounded lineage.
- ``/api/individual/ID[?against=PID]``: the full record and the genome diff to a parent.
"""

from __future__ import annotations

import json
import math
import mimetypes
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlparse

from evosearch.store.runstore import StoreError
from evosearch.ui.columns import STATUSES
from evosearch.ui.data import RunView

STATIC_FILES = ("index.html", "app.js", "tree.js", "style.css")


class UIServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` bound to one ``RunView``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, view: RunView, host: str = "127.0.0.1", port: int = 0):
        self.view = view
        self.static = {name: _static(name) for name in STATIC_FILES}
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (for tests and benchmarks); ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="evosearch-ui", daemon=True)
        thread.start()
        return thread


def make_server(run: str, host: str = "127.0.0.1", port: int = 0) -> UIServer:
    """A server for the run directory ``run`` (port 0 picks a free port).

    Raises:
        StoreError: if ``run`` is not a run directory.
    """
    return UIServer(RunView(run), host, port)


class _Handler(BaseHTTPRequestHandler):
    server: UIServer
    server_version = "evosearch-ui"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: the CLI prints the URL once

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        try:
            if path == "/favicon.ico":
                return self._send(204, b"", "image/x-icon")
            if path in ("/", "/index.html"):
                return self._send(200, self.server.static["index.html"], "text/html")
            if path.startswith("/static/") and path[8:] in self.server.static:
                name = path[8:]
                ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return self._send(200, self.server.static[name], ctype)
            if path.startswith("/api/"):
                return self._json(200, self._api(path[5:], query))
            return self._json(404, {"error": f"no such page: {path}"})
        except KeyError as exc:
            return self._json(404, {"error": str(exc.args[0] if exc.args else exc)})
        except ValueError as exc:
            return self._json(400, {"error": str(exc)})
        except StoreError as exc:
            return self._json(503, {"error": str(exc)})

    def _api(self, endpoint: str, q: dict[str, str]) -> Any:
        view = self.server.view
        if endpoint == "summary":
            return view.summary()
        if endpoint == "curves":
            return view.curves()
        if endpoint == "heatmap":
            return view.heatmap(
                _int(q, "x", 0), _int(q, "y", 1), _int(q, "bins", 20), _opt_int(q, "gen")
            )
        if endpoint == "individuals":
            if q.get("sort", "score") not in ("score", "id"):
                raise ValueError(f"sort must be 'score' or 'id', got {q['sort']!r}")
            if q.get("status") and q["status"] not in STATUSES:
                raise ValueError(
                    f"status must be one of {', '.join(STATUSES)}, got {q['status']!r}"
                )
            return view.page(
                _int(q, "offset", 0),
                _int(q, "limit", 50),
                q.get("sort", "score"),
                _opt_int(q, "gen"),
                q.get("status"),
            )
        m = re.fullmatch(r"lineage/(-?\d+)", endpoint)
        if m:
            direction = q.get("dir", "ancestors")
            if direction not in ("ancestors", "descendants"):
                raise ValueError("dir must be 'ancestors' or 'descendants'")
            depth = _opt_int(q, "depth")
            return view.lineage(
                int(m[1]), direction, 6 if "depth" not in q else depth, _int(q, "limit", 300)
            )
        m = re.fullmatch(r"individual/(-?\d+)", endpoint)
        if m:
            return view.individual(int(m[1]), _opt_int(q, "against"))
        raise KeyError(f"no such endpoint: /api/{endpoint}")

    def _json(self, code: int, data: Any) -> None:
        body = json.dumps(_clean(data), separators=(",", ":"), default=str).encode()
        self._send(code, body, "application/json")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(HTTPStatus(code))
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _static(name: str) -> bytes:
    return resources.files("evosearch.ui").joinpath("static", name).read_bytes()


def _int(q: dict[str, str], key: str, default: int) -> int:
    value = _opt_int(q, key)
    return default if value is None else value


def _opt_int(q: dict[str, str], key: str) -> int | None:
    if key not in q or q[key] in ("", "null", "all"):
        return None
    try:
        return int(q[key])
    except ValueError:
        raise ValueError(f"query parameter {key!r} must be an integer, got {q[key]!r}") from None


def _clean(x: Any) -> Any:
    """Replace NaN/inf (invalid JSON) by null, recursively."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x
