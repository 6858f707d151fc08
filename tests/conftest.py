"""Shared fixtures: tiny run configs and a CLI runner that uses this checkout's code."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import scripted_backend

pytest_plugins = ["pico_models"]  # pico model fixtures (weights tests)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Register the test-only ``scripted`` LLM backend before collection (it is no built-in)."""
    scripted_backend.register()


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: this checkout first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH", "")])]
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def run_cli(*args: str, cwd: str | os.PathLike | None = None, timeout: float = 300, **kw):
    """Run ``python -m evosearch ARGS`` in a subprocess and return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "evosearch", *map(str, args)],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


@pytest.fixture
def cli():
    return run_cli


def sphere_config(**overrides) -> dict:
    """A tiny CMA-ES run on the sphere: the cheapest real run."""
    cfg = {
        "name": "sphere",
        "seed": 3,
        "budget": {"generations": 5},
        "fitness": {"ref": "sphere", "params": {"shift": 1.0}},
        "strategy": {"ref": "cmaes", "params": {"dimension": 4, "population_size": 6}},
    }
    cfg.update(overrides)
    return cfg


def archive_config(**overrides) -> dict:
    """A tiny steady-state-capable archive run on the sphere."""
    cfg = {
        "name": "archive",
        "seed": 5,
        "budget": {"generations": 4},
        "fitness": {"ref": "sphere"},
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 8,
                "init": {"ref": "vector.uniform", "params": {"dimension": 3}},
                "operators": [
                    {"ref": "vector.sbx"},
                    {"ref": "vector.gaussian", "params": {"sigma": 0.3}},
                ],
                "archive": {"ref": "population", "params": {"size": 8}},
            },
        },
    }
    cfg.update(overrides)
    return cfg
