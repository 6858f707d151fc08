"""Building a run's parts from its config: the strategy, the executor, ``run.yaml``, device."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from evosearch import registry
from evosearch.config import RunConfig, dump_config
from evosearch.executors.base import Executor
from evosearch.strategies.base import Strategy


def build_strategy(config: RunConfig, rng: np.random.Generator) -> Strategy:
    """Instantiate the configured strategy with validated parameters.

    Raises:
        registry.RegistryError: naming ``strategy.params.<key>`` when a parameter is wrong.
    """
    entry = registry.strategies.get(config.strategy.name)
    cls = entry.obj
    params_model = cls.Params
    if params_model is None:
        return registry.instantiate(
            cls,
            {**config.strategy.params, "rng": rng},
            key="strategy.params",
            what="strategy",
            population=True,
        )
    params = registry.instantiate(
        params_model,
        dict(config.strategy.params),
        key="strategy.params",
        what=f"strategy {config.strategy.name!r}",
        population=True,
    )
    return cls(params, rng=rng)


def build_executor(config: RunConfig) -> Executor:
    """Instantiate the configured executor (``executor.params`` validated).

    Raises:
        registry.RegistryError: naming ``executor.params.<key>`` when a parameter is wrong.
    """
    entry = registry.executors.get(config.executor.name)
    return registry.instantiate(
        entry.obj,
        {"workers": config.executor.workers, **config.executor.params},
        key="executor.params",
        what=f"executor {config.executor.name!r}",
    )


def run_yaml(config: RunConfig) -> str:
    """The resolved config as written to ``run.yaml``, with a header of versions."""
    import platform

    import yaml

    from evosearch.version import __version__

    header = {
        "evosearch": {
            "version": __version__,
            "python": platform.python_version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }
    return dump_config(config) + yaml.safe_dump(header, sort_keys=False)


def default_device(params: dict[str, Any]) -> str:
    """``fitness.params.device``, else ``cuda`` when the fitness uses torch and has one."""
    if "device" in params:
        return str(params["device"])
    # The fitness's module is imported by now: one that uses torch has imported it. One that
    # does not never pays torch's import (seconds) to learn of a device it will not use.
    torch = sys.modules.get("torch")
    if torch is None:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
