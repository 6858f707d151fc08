"""``make demo``: the default offline population run, then how to inspect it.

Runs ``examples/demo.yaml`` (whatever scenario it names) in a fresh run directory under
``runs/``. Scenarios that need local models build and cache them first (see their docs).
"""

from __future__ import annotations

import argparse
import pathlib
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evosearch.demo")
    parser.add_argument("--config", default="examples/demo.yaml")
    parser.add_argument("--out", default=None, help="run directory (default: runs/NAME-TIME)")
    args = parser.parse_args(argv)
    config = pathlib.Path(args.config)
    if not config.is_file():
        print(f"evosearch demo: error: {config} not found (run from the repository root)")
        return 2
    from evosearch.cli import main as cli_main

    argv_run = ["run", str(config)] + (["--out", args.out] if args.out else [])
    return cli_main(argv_run)


if __name__ == "__main__":
    sys.exit(main())
