"""Per-worker resources of a fitness: loaded once per process, kept resident.

A fitness declared as ``@fitness("lm_loss", setup=load_pool)`` gets ``load_pool(ctx)``'s
return value as ``ctx.resource``. ``setup`` runs the first time a worker process evaluates
that fitness (with those params, that version, on that device) and the result stays in the
process: loky workers and Ray actors are long-lived, so a model pool is loaded once per
worker, not once per evaluation. The Ray executor starts an evaluation's hard time limit
only after the resource is ready, so loading a model never counts as a timeout.

Example:
    >>> def load_pool(ctx):
    ...     return {"base": load_model(ctx.params["base"], device=ctx.device)}
    >>> @fitness("lm_loss", setup=load_pool)
    ... def lm_loss(genome, ctx):
    ...     return -loss(ctx.resource["base"], genome)
"""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

from evosearch import registry
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.fitness.evaluate import _format_exception

_resources: dict[tuple[str, str, str, str], Any] = {}
_lock = threading.Lock()


class SetupFailed(Exception):
    """A fitness's ``setup`` raised; evaluations that needed it fail with this message."""


def resource_key(spec: FitnessSpec, ctx: FitnessContext) -> tuple[str, str, str, str]:
    params = json.dumps(spec.params, sort_keys=True, default=str)
    return (spec.ref, spec.version, params, ctx.device)


_setups: dict[str, Any] = {}


def setup_of(spec: FitnessSpec):
    """The ``setup`` callable declared for the spec's fitness, or None (looked up once)."""
    if spec.ref not in _setups:
        _setups[spec.ref] = registry.fitnesses.get(spec.ref).meta.get("setup")
    return _setups[spec.ref]


def get_resource(spec: FitnessSpec, ctx: FitnessContext) -> Any:
    """The resident resource of ``spec`` in this process, created on first use.

    Raises:
        SetupFailed: if ``setup`` raised (not cached: the next call tries again).
    """
    setup = setup_of(spec)
    if setup is None:
        return None
    key = resource_key(spec, ctx)
    with _lock:
        if key not in _resources:
            try:
                _resources[key] = setup(ctx)
            except Exception as exc:  # user code: report it on every evaluation it breaks
                raise SetupFailed(
                    f"setup of fitness {spec.ref!r} failed: {_format_exception(exc)}"
                ) from None
        return _resources[key]


def with_resource(spec: FitnessSpec, ctx: FitnessContext) -> FitnessContext:
    """``ctx`` with ``resource`` filled in (unchanged when the fitness has no setup)."""
    res = get_resource(spec, ctx)
    return ctx if res is None else dataclasses.replace(ctx, resource=res)


def loaded() -> int:
    """How many resources this process holds (for tests and diagnostics)."""
    return len(_resources)
