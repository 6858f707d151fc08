"""``make demo``: the default offline population run, then how to inspect it.

Runs ``examples/model-merge.yaml`` — evolutionary model merge (CMA-ES over the mergekit-evolve
genome) of two offline demo experts — in a fresh run directory under ``runs/``. The demo
models are trained on first use (a few minutes on CPU) and cached under ``.cache/``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

DEFAULT_CONFIG = "examples/model-merge.yaml"
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evosearch.demo")
    parser.add_argument("--config", default=None, help=f"default: the checkout's {DEFAULT_CONFIG}")
    parser.add_argument("--out", default=None, help="run directory (default: runs/NAME-TIME)")
    args = parser.parse_args(argv)
    config = find_config(args.config)
    if config is None:
        wanted = args.config or DEFAULT_CONFIG
        print(
            f"evosearch demo: error: {wanted} not found here nor in {CHECKOUT} "
            "(give --config PATH to an example config)",
            file=sys.stderr,
        )
        return 2
    from evosearch.cli import main as cli_main

    argv_run = ["run", str(config)] + (["--out", args.out] if args.out else [])
    return cli_main(argv_run)


def find_config(given: str | None) -> pathlib.Path | None:
    """The config: as given (relative to the current directory), else in the checkout."""
    name = pathlib.Path(given or DEFAULT_CONFIG)
    for candidate in (name, CHECKOUT / name):
        if candidate.is_file():
            return candidate.resolve()
    return None


if __name__ == "__main__":
    sys.exit(main())
