"""The ``evosearch`` command.

Each subcommand lives in its own module with ``add_parser(subparsers)``; ``COMMAND_MODULES``
lists them explicitly. Errors a user can fix print as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = [
    "evosearch.cli.run",
    "evosearch.cli.inspect",
    "evosearch.cli.ui",
    "evosearch.cli.repair",
    "evosearch.cli.export",
]


class CLIError(Exception):
    """An error reported as one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    from evosearch.version import __version__

    parser = argparse.ArgumentParser(
        prog="evosearch",
        description="Evolutionary search over models, prompts and code.",
    )
    parser.add_argument("--version", action="version", version=f"evosearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``evosearch`` console script."""
    from evosearch.config import ConfigError
    from evosearch.registry import RegistryError
    from evosearch.store.runstore import StoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, ConfigError, RegistryError, StoreError, KeyError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        for i, line in enumerate(str(message).splitlines() or [""]):
            print(f"evosearch: error: {line}" if i == 0 else f"  {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evosearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
