"""``evosearch ui RUN``: a local, read-only web page over a run directory."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui",
        help="local web page: curves, map of elites, lineage tree, diffs (read-only)",
    )
    p.add_argument("run", help="run directory (it may still be running)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only)",
    )
    p.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    from evosearch.cli import CLIError
    from evosearch.ui.server import make_server

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be between 0 and 65535, got {args.port}")
    try:
        server = make_server(args.run, args.host, args.port)
    except OSError as exc:
        raise CLIError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc} "
            "(try another --port, or --port 0 for any free one)"
        ) from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: serving {args.run} on {args.host}, reachable from other machines",
            file=sys.stderr,
        )
    print(f"evosearch ui: {server.url}  (read-only; Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
