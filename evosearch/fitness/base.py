"""The fitness plugin API: the ``@fitness`` decorator, ``FitnessContext`` and ``FitnessSpec``.

A fitness is a plain function ``score(genome, ctx) -> float | dict | FitnessResult``, or,
when registered with ``batched=True``, ``score(genomes, ctx) -> list[...]`` (one call for a
whole batch, e.g. one GPU forward over the population). Configs name it by registered name,
by entry-point name (group ``evosearch.fitness``) or as ``package.module:function``.
Running one (time limits, batches, failures as results) is ``evosearch.fitness.evaluate``.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections.abc import Callable
from typing import Any

from evosearch import registry
from evosearch.llm.base import LLMBackend
from evosearch.run_context import RunContext, llm_backend

log = logging.getLogger("evosearch.fitness")


def fitness(
    name: str | None = None,
    *,
    batched: bool = False,
    version: str = "1",
    setup: Callable[[FitnessContext], Any] | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[[Callable], Callable]:
    """Register a fitness function.

    Args:
        name: Registered name (defaults to the function's name).
        batched: The function takes a list of genomes and returns a list of results.
        version: Evaluator version, part of the evaluation cache key.
        setup: ``setup(ctx) -> resource``, called once per worker process (per fitness,
            version, params and device) to load what evaluations share, e.g. a model pool;
            the fitness finds it as ``ctx.resource`` (see ``fitness/resources.py``).
        check: ``check(params)``, called when a run is created; raises (one line) when the
            fitness cannot work as configured (e.g. no sandbox), so the run never starts.

    Returns:
        The decorator; the function itself is returned unchanged.

    Example:
        >>> @fitness("sphere10")
        ... def sphere10(genome, ctx):
        ...     return -float((genome.values ** 2).sum())
    """

    def decorator(fn: Callable) -> Callable:
        meta: dict[str, Any] = {"batched": batched, "version": version}
        if setup is not None:
            meta["setup"] = setup
        if check is not None:
            meta["check_params"] = check
        fn.__evosearch_meta__ = meta  # type: ignore[attr-defined]
        registry.fitnesses.add(name or fn.__name__, fn, **meta)
        return fn

    return decorator


@dataclasses.dataclass(frozen=True)
class FitnessContext:
    """What a fitness function gets besides the genome.

    Attributes:
        params: ``fitness.params`` from the config.
        seed: A per-evaluation seed derived from the run seed (reproducible).
        device: ``cuda`` when available and asked for, else ``cpu``.
        stage: The evaluation stage (0 unless staged evaluation is configured).
        scratch: A scratch directory private to this evaluation (created on demand).
        individual_id: Id of the individual being evaluated (-1 for batched calls).
        resource: What the fitness's ``setup`` returned in this worker (None without one).
        run: The run's ``RunContext`` (its LLM backends and cache), None outside a run.
    """

    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"
    stage: int = 0
    scratch_root: str | None = None
    individual_id: int = -1
    resource: Any = dataclasses.field(default=None, compare=False, repr=False)
    run: RunContext | None = dataclasses.field(default=None, compare=False, repr=False)

    def llm_backend(self, config: Any) -> LLMBackend:
        """The run's backend for an LLM ``PluginConfig`` (outside a run: a standalone one)."""
        return llm_backend(self.run, config)

    @property
    def scratch(self) -> pathlib.Path:
        import tempfile

        root = pathlib.Path(self.scratch_root or tempfile.gettempdir())
        path = root / f"eval-{self.individual_id}-{self.seed}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def logger(self) -> logging.Logger:
        return log


@dataclasses.dataclass(frozen=True)
class FitnessSpec:
    """A resolved, picklable reference to a fitness plus how to call it."""

    ref: str
    params: dict[str, Any]
    timeout: float | None
    version: str
    batched: bool
    target: str = ""  # "module:qualname" of the function, resolved without the registry

    @classmethod
    def from_config(cls, cfg: Any) -> FitnessSpec:
        """Resolve a ``FitnessConfig`` (fails early if the fitness does not exist).

        Raises:
            registry.RegistryError: if the reference cannot be resolved.
        """
        try:
            entry = registry.fitnesses.get(cfg.ref)
        except registry.RegistryError as exc:
            raise registry.RegistryError(f"fitness.ref: {exc}") from None
        if "check_params" in entry.meta:
            try:
                entry.meta["check_params"](dict(cfg.params))
            except ValueError as exc:  # one clear line, not a traceback
                raise registry.RegistryError(str(exc).splitlines()[0]) from None
        return cls(
            ref=cfg.ref,
            params=dict(cfg.params),
            timeout=cfg.timeout,
            version=str(entry.meta.get("version", cfg.version)) + f"/{cfg.version}",
            batched=bool(entry.meta.get("batched", False)),
            target=_target(entry.obj),
        )

    def function(self) -> Callable:
        return _resolve_cached(self.ref, self.target)


_CACHE: dict[tuple[str, str], Callable] = {}


def _target(fn: Any) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return ""
    return f"{module}:{qualname}"


def _resolve_cached(ref: str, target: str = "") -> Callable:
    """The fitness function, by its import path when known.

    A worker process then imports only the fitness's own module, not every built-in plugin.
    """
    fn = _CACHE.get((ref, target))
    if fn is None:
        fn = None
        if target:
            try:
                fn = registry.resolve_reference(target)
            except registry.RegistryError:
                fn = None
        if fn is None:
            fn = registry.fitnesses.get(ref).obj
        _CACHE[(ref, target)] = fn
    return fn
