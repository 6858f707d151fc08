"""The fitness plugin API: the ``@fitness`` decorator, ``FitnessContext`` and evaluation.

A fitness is a plain function ``score(genome, ctx) -> float | dict | FitnessResult``, or,
when registered with ``batched=True``, ``score(genomes, ctx) -> list[...]`` (one call for a
whole batch, e.g. one GPU forward over the population). Configs name it by registered name,
by entry-point name (group ``evosearch.fitness``) or as ``package.module:function``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import pathlib
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from evosearch import registry
from evosearch.batch import STATUS_CODE, Results
from evosearch.genomes.base import Genome
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import FitnessResult, Status, coerce_result
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


class EvaluationTimeout(Exception):
    """Raised inside an evaluation when its time limit expires."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``EvaluationTimeout`` in the calling (main) thread after ``seconds``.

    Uses ``SIGALRM``; outside the main thread, or without a limit, it does nothing.
    Code stuck inside C without returning to the interpreter is caught by the executor's
    hard watchdog instead.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise EvaluationTimeout(f"evaluation exceeded its {seconds:g}s time limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def evaluate_one(spec: FitnessSpec, genome: Genome, ctx: FitnessContext) -> FitnessResult:
    """Run one (unbatched) evaluation; every failure becomes a ``FitnessResult``."""
    try:
        fn = spec.function()  # imports happen before the clock starts
    except Exception as exc:
        return FitnessResult.failure(Status.FAILED, _format_exception(exc))
    start = time.perf_counter()
    try:
        with time_limit(spec.timeout):
            raw = fn(genome, ctx)
    except EvaluationTimeout as exc:
        return FitnessResult.failure(Status.TIMEOUT, str(exc), eval_seconds=_since(start))
    except Exception as exc:  # the fitness is user code: any exception is a result
        return FitnessResult.failure(
            Status.FAILED, _format_exception(exc), eval_seconds=_since(start)
        )
    result = coerce_result(raw)
    return result.with_(eval_seconds=result.eval_seconds or _since(start))


def evaluate_batch(
    spec: FitnessSpec, genomes: Sequence[Genome], ctx: FitnessContext
) -> list[FitnessResult]:
    """Evaluate a batch: one call for batched fitnesses, a loop otherwise."""
    if not spec.batched:
        return [
            evaluate_one(spec, g, dataclasses.replace(ctx, seed=ctx.seed + i))
            for i, g in enumerate(genomes)
        ]
    try:
        fn = spec.function()
    except Exception as exc:
        return [FitnessResult.failure(Status.FAILED, _format_exception(exc))] * len(genomes)
    out = Results.empty(len(genomes))
    _evaluate_batched(spec, fn, genomes, ctx, np.array([ctx.seed]), out)
    return [out.result(i) for i in range(len(genomes))]


class VectorRows(Sequence):
    """The genomes of a vector batch: an ``[N, D]`` array that reads as ``VectorGenome``s.

    A per-individual fitness gets ``rows[i]`` (a zero-copy ``VectorGenome`` view); a batched
    fitness gets the whole object and may use ``rows.values`` (the array) directly or iterate
    it like the list of genomes it used to get.
    """

    def __init__(self, values: np.ndarray, low: np.ndarray | None, high: np.ndarray | None):
        self.values, self.low, self.high = values, low, high

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return VectorRows(self.values[i], self.low, self.high)
        return VectorGenome.view(self.values[i], self.low, self.high)

    def __iter__(self):
        low, high, view = self.low, self.high, VectorGenome.view
        return (view(row, low, high) for row in self.values)


def row_seeds(run_seed: int, ids: np.ndarray) -> np.ndarray:
    """Per-individual evaluation seeds from (run seed, id), for a whole batch at once.

    splitmix64 of ``run_seed * φ64 + id``, top 32 bits: deterministic, distinct streams per
    id, no ``SeedSequence`` per individual.
    """
    mult = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = np.uint64(run_seed % 2**64) * mult + ids.astype(np.uint64) + mult
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(32)).astype(np.int64)


def evaluate_rows(
    spec: FitnessSpec,
    genomes: Sequence[Genome],
    ctx: FitnessContext,
    ids: np.ndarray,
    seeds: np.ndarray,
) -> Results:
    """Evaluate a chunk of a batch into columns; every failure becomes a row status.

    A batched fitness is called once with the whole chunk (``ctx.seed`` is the first row's
    seed); a per-individual fitness is called in a loop, each call with its own seed and id
    and its own time limit. A batched fitness may return a list of results, a 1-D array
    of scores, or columns ``{"score": [N], "descriptors": [N, k]}`` (arrays).
    """
    n = len(genomes)
    out = Results.empty(n)
    try:
        fn = spec.function()
    except Exception as exc:
        _fail_all(out, Status.FAILED, _format_exception(exc), 0.0)
        return out
    if spec.batched:
        _evaluate_batched(spec, fn, genomes, ctx, seeds, out)
        return out
    base = dict(ctx.__dict__)
    new = object.__new__
    alarm = (
        spec.timeout is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    previous = None
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
    score, seconds, clock = out.score, out.eval_seconds, time.perf_counter
    seed_list, id_list = seeds.tolist(), ids.tolist()
    if isinstance(genomes, VectorRows):  # zero-copy views over the rows, built inline
        low, high, vg = genomes.low, genomes.high, VectorGenome
        items: Any = [new(vg) for _ in range(n)]
        for g, row in zip(items, genomes.values):
            g.__dict__.update(values=row, low=low, high=high)
    else:
        items = genomes
    try:
        for i in range(n):
            c = new(FitnessContext)
            c.__dict__.update(base, seed=seed_list[i], individual_id=id_list[i])
            start = clock()
            try:
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, float(spec.timeout))
                raw = fn(items[i], c)
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except EvaluationTimeout:
                out.set(i, FitnessResult.failure(
                    Status.TIMEOUT, f"evaluation exceeded its {spec.timeout:g}s time limit",
                    eval_seconds=clock() - start))
                continue
            except Exception as exc:  # the fitness is user code: any exception is a result
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                out.set(i, FitnessResult.failure(
                    Status.FAILED, _format_exception(exc), eval_seconds=clock() - start))
                continue
            took = clock() - start
            if type(raw) is float and math.isfinite(raw):  # the common case, kept cheap
                score[i] = raw
                seconds[i] = took
            else:
                r = coerce_result(raw)
                out.set(i, r.with_(eval_seconds=r.eval_seconds or took))
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return out


def _on_alarm(signum: int, frame: Any) -> None:
    raise EvaluationTimeout("evaluation exceeded its time limit")


def _evaluate_batched(spec, fn, genomes, ctx, seeds, out: Results) -> None:
    n = len(genomes)
    if n and len(seeds):
        ctx = dataclasses.replace(ctx, seed=int(seeds[0]))
    start = time.perf_counter()
    limit = None if spec.timeout is None else spec.timeout * max(1, n)
    try:
        with time_limit(limit):
            raw = fn(genomes if isinstance(genomes, VectorRows) else list(genomes), ctx)
    except EvaluationTimeout as exc:
        _fail_all(out, Status.TIMEOUT, str(exc), _since(start))
        return
    except Exception as exc:
        _fail_all(out, Status.FAILED, _format_exception(exc), _since(start))
        return
    per = _since(start) / max(1, n)
    if isinstance(raw, dict) and "score" in raw:  # columns: score [N], descriptors [N, k]
        desc = raw.get("descriptors")
        raw = np.asarray(raw["score"], dtype=np.float64)
        if desc is not None:
            out.descriptors = np.asarray(desc, dtype=np.float64).reshape(n, -1)
    if isinstance(raw, np.ndarray) and raw.ndim == 1 and len(raw) == n and raw.dtype.kind == "f":
        ok = np.isfinite(raw)
        out.score[:] = np.where(ok, raw, np.nan)
        out.eval_seconds[:] = per
        for i in np.flatnonzero(~ok).tolist():
            out.set(i, FitnessResult.failure(
                Status.INVALID, f"fitness returned a non-finite score ({raw[i]!r})",
                eval_seconds=per))
        return
    if not isinstance(raw, (list, tuple)) or len(raw) != n:
        got = f"{type(raw).__name__} of length {len(raw)}" if hasattr(raw, "__len__") else repr(raw)
        err = f"batched fitness must return a list of {n} results, got {got}"
        _fail_all(out, Status.INVALID, err, 0.0)
        return
    for i, r in enumerate(raw):
        if type(r) is float and math.isfinite(r):
            out.score[i] = r
            out.eval_seconds[i] = per
        else:
            out.set(i, coerce_result(r).with_(eval_seconds=per))


def _fail_all(out: Results, status: Status, error: str, seconds: float) -> None:
    out.score[:] = np.nan
    out.status[:] = STATUS_CODE[status]
    out.eval_seconds[:] = seconds
    out.error = [error] * len(out)


def _since(start: float) -> float:
    return time.perf_counter() - start


def _format_exception(exc: BaseException, limit: int = 4000) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-6))
    head = f"{type(exc).__name__}: {exc}"
    body = text if len(text) <= limit else "...\n" + text[-limit:]
    return f"{head}\n{body}"
