"""evotorch's CMA-ES, SNES and PGPE behind evosearch's ask/tell interface, on arrays.

evotorch's searchers evaluate inside ``step()``. ``ask`` runs ``step()`` up to the point
where it hands its sampled ``SolutionBatch`` to ``Problem._evaluate_batch``, copies the
solution array out and stops the step there (nothing but the random generators has moved:
sampling is the first thing each of these algorithms does). ``tell`` rewinds the generators
to where ``ask`` started and runs the same ``step()`` again: it samples the very same
solutions, and ``_evaluate_batch`` now answers with the scores, so the update is evotorch's
own code, in the caller's thread, with the same numbers as evotorch's own loop.

State is data: the searcher's tensors and counters (walked from its attributes), the
problem's generator state and the global torch RNG state — no pickle of evotorch objects.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

import numpy as np
import pydantic
import torch
from evotorch import Problem
from pydantic import Field

from evosearch import registry
from evosearch.batch import Batch, Results
from evosearch.strategies import restarts
from evosearch.strategies.base import Strategy

logging.getLogger("evotorch").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message="To copy construct from a tensor", category=UserWarning)


class EvotorchParams(restarts.RestartParams):
    """Parameters shared by the evotorch strategies.

    Attributes:
        dimension: Vector length.
        low: Lower bound of the initial region (solutions are not clipped).
        high: Upper bound of the initial region.
        popsize: Population size (None: the algorithm's default; PGPE needs one).
        stdev_init: Initial step size σ₀.
        center_init: Initial mean (default: evotorch samples it in ``[low, high]``).
        options: Any other keyword of the evotorch algorithm's constructor, passed through
            (e.g. ``center_learning_rate`` for PGPE, ``separable`` for CMA-ES).
        restarts, restart_popsize_factor, tolx: see ``strategies/restarts.py``.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    dimension: int = Field(ge=1)
    low: float = -5.0
    high: float = 5.0
    popsize: int | None = Field(default=None, ge=2)
    stdev_init: float = Field(default=1.0, gt=0)
    center_init: list[float] | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class _AlgorithmError(RuntimeError):
    """evotorch raised inside ``step()`` (e.g. a covariance that is no longer positive-definite)."""


class _Sampled(BaseException):
    """Stops ``searcher.step()`` once the population is sampled (``ask``)."""


class HandoffProblem(Problem):
    """An evotorch ``Problem`` whose evaluations come from ``tell``."""

    def _evaluate_batch(self, batch):  # called inside searcher.step()
        hand = self.handoff
        values = batch.values.detach()
        if hand["evals"] is None:  # ask: take the solutions, stop the step
            hand["values"] = values.clone()
            raise _Sampled()
        if not torch.equal(values, hand["values"]):
            raise RuntimeError("evotorch resampled different solutions on tell()")
        batch.set_evals(hand["evals"])


def _make_problem(params: EvotorchParams, seed: int) -> HandoffProblem:
    problem = HandoffProblem(
        "max",
        solution_length=params.dimension,
        initial_bounds=(params.low, params.high),
        dtype=torch.float64,
        seed=seed,
    )
    problem.handoff = {"evals": None, "values": None}
    return problem


class EvotorchStrategy(Strategy):
    """Base of the evotorch-backed strategies (generational, vectorised)."""

    Params = EvotorchParams
    algorithm: str = ""
    #: True when evotorch's step() samples, evaluates, then updates (CMA-ES); False when it
    #: updates from the previous evaluations, samples, then evaluates (SNES, PGPE).
    replays: bool = False
    vectorized = True
    rebuilt_attrs = ("problem", "searcher", "_rewind", "torch_seed", "merge_params")

    def __init__(self, params: EvotorchParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        self.torch_seed = int(rng.integers(0, 2**31 - 1))
        self._torch_state = torch.Generator().manual_seed(self.torch_seed).get_state()
        with torch.random.fork_rng():
            torch.random.set_rng_state(self._torch_state)
            self.problem = _make_problem(params, self.torch_seed)
            self.searcher = self._make_searcher()
            self._torch_state = torch.random.get_rng_state()
        self._rewind: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self.restarts_done = 0
        self.restart_event: dict[str, Any] | None = None
        self.converged: str | None = None

    def _make_searcher(self):
        raise NotImplementedError

    def _common_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"stdev_init": self.params.stdev_init}
        if self.params.popsize is not None:
            kw["popsize"] = self.params.popsize
        if self.params.center_init is not None:
            kw["center_init"] = list(self.params.center_init)
        kw.update(self.params.options)
        return kw

    @property
    def batch_size(self) -> int:
        return self._popsize()

    def _popsize(self) -> int:
        pop = getattr(self.searcher, "_popsize", None) or getattr(self.searcher, "popsize", None)
        if pop is None and self.params.popsize is not None:
            pop = self.params.popsize
        return int(pop)

    def facts(self) -> dict:
        return {"genome": {"kind": "vector", "dimension": self.params.dimension, "bounds": None}}

    def _generators(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        gen = self.problem.generator
        return self._torch_state, None if gen is None else gen.get_state()

    def _set_generators(self, states: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        self._torch_state = states[0]
        if states[1] is not None:
            self.problem.generator.set_state(states[1])

    def _step(self, evals: torch.Tensor | None) -> None:
        self.problem.handoff["evals"] = evals
        try:
            with torch.random.fork_rng():
                torch.random.set_rng_state(self._torch_state)
                try:
                    self.searcher.step()
                finally:
                    self._torch_state = torch.random.get_rng_state()
        except _Sampled:
            pass
        except Exception as exc:
            raise _AlgorithmError(f"evotorch {self.algorithm} failed: {exc}") from exc

    def _ask_batch(self, n: int) -> Batch:
        self._rewind = self._generators()
        try:
            self._step(None)
        except _AlgorithmError as exc:  # SNES/PGPE update at the start of step()
            if self.restart_event is not None:  # a fresh distribution broke at once
                raise
            restarts.restart_or_stop(self, restarts.numerical_reason(exc.__cause__), force=True)
            self.problem.handoff.update(evals=None, values=None)
            return self._ask_batch(n)  # the fresh distribution samples this generation
        values = self.problem.handoff["values"].cpu().numpy()
        values.setflags(write=False)
        event = restarts.take_event(self)
        if event is not None:  # the first generation after a restart records it
            return Batch(np.empty(0, np.int64), 0, values, None, restarts.RESTART_OPERATOR,
                         operator_params=event)
        return Batch(np.empty(0, np.int64), 0, values, None, f"evotorch.{self.algorithm}")

    def _tell_batch(self, batch: Batch, results: Results) -> None:
        scores = results.score
        valid = scores[np.isfinite(scores)]
        # evotorch cannot rank NaN: failed evaluations rank below the worst valid one.
        floor = (valid.min() - 1.0 - abs(valid.min())) if valid.size else -1e30
        evals = torch.as_tensor(np.where(np.isfinite(scores), scores, floor), dtype=torch.float64)
        assert self._rewind is not None
        if self.replays:  # the update follows the evaluation within step(): run it again
            self._set_generators(self._rewind)
            try:
                self._step(evals)
            except _AlgorithmError as exc:  # CMA-ES's update broke numerically
                self._rewind = None
                self.problem.handoff.update(evals=None, values=None)
                restarts.restart_or_stop(self, restarts.numerical_reason(exc.__cause__))
                return
        else:  # the evaluation ends step() (the update starts the next one): finish it
            s = self.searcher
            s._population.set_evals(evals)
            s._first_iter = False
            s._steps_count += 1
        self._rewind = None
        self.problem.handoff.update(evals=None, values=None)
        if reason := restarts.convergence_reason(self):
            restarts.restart_or_stop(self, reason)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.restarts_done:  # a restart changed popsize and centre: the config no longer says
            state["restarted_params"] = self.params.model_dump()
        gen = self.problem.generator
        state["problem_generator"] = None if gen is None else gen.get_state().numpy().copy()
        state["searcher"] = {k: _plain(v) for k, v in _numeric_attrs(self.searcher, "")}
        pop = None if self.replays else self.searcher._population
        if pop is not None:
            state["population"] = {
                "values": pop.access_values(keep_evals=True).detach().cpu().numpy().copy(),
                "evals": pop.access_evals().detach().cpu().numpy().copy(),
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if state.get("restarted_params") is not None:
            self.params = type(self.params)(**state["restarted_params"])
            self.searcher = self._make_searcher()
        if state.get("problem_generator") is not None:
            self.problem.generator.set_state(torch.as_tensor(state["problem_generator"]))
        for path, value in state["searcher"].items():
            _set_path(self.searcher, path, value)
        if state.get("population") is not None:
            from evotorch import SolutionBatch

            values = torch.as_tensor(np.asarray(state["population"]["values"]))
            pop = SolutionBatch(self.problem, popsize=values.shape[0], empty=True)
            pop.set_values(values)
            pop.set_evals(torch.as_tensor(np.asarray(state["population"]["evals"])))
            self.searcher._population = pop
        self._rewind = None

    @property
    def center(self) -> np.ndarray:
        """The current mean of the search distribution."""
        for attr in ("m", "_get_mu"):
            m = getattr(self.searcher, attr, None)
            if m is not None:
                m = m() if callable(m) else m
                return np.asarray(torch.as_tensor(m).detach().cpu().numpy(), dtype=np.float64)
        return np.asarray(self.searcher.status["center"], dtype=np.float64)


_SKIP = {"_problem", "problem", "_population", "_first_step_datetime", "_log_hook",
         "_before_step_hook", "_after_step_hook", "_end_of_run_hook", "_status", "_getters"}


def _numeric_attrs(obj: Any, prefix: str, depth: int = 0):
    """(path, value) of every tensor and number reachable through evotorch objects' attributes."""
    items = obj.items() if isinstance(obj, dict) else vars(obj).items()
    for name, value in items:
        if not isinstance(name, str) or name in _SKIP or "LazyReporter" in name:
            continue
        path = f"{prefix}{name}"
        if isinstance(value, torch.Tensor) or (
            isinstance(value, (bool, int, float)) and not isinstance(value, enum_types())
        ):
            yield path, value
        elif depth < 4 and (
            isinstance(value, dict)
            or (type(value).__module__.startswith("evotorch") and hasattr(value, "__dict__"))
        ):
            yield from _numeric_attrs(value, path + "/", depth + 1)


def enum_types() -> tuple[type, ...]:
    import enum

    return (enum.Enum,)


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        # the layout too: a transposed (column-major) matrix multiplies with other rounding
        return {"tensor": value.detach().cpu().numpy().copy(), "dtype": str(value.dtype),
                "device": str(value.device), "stride": np.asarray(value.stride(), np.int64)}
    return value


def _set_path(obj: Any, path: str, value: Any) -> None:
    *head, last = path.split("/")
    for name in head:
        obj = obj[name] if isinstance(obj, dict) else getattr(obj, name)
    if isinstance(value, dict) and "tensor" in value:
        dtype = getattr(torch, value["dtype"].removeprefix("torch."))
        data = torch.as_tensor(np.asarray(value["tensor"]), dtype=dtype)
        stride = [int(v) for v in np.asarray(value.get("stride", data.stride()))]
        out = torch.empty_strided(tuple(data.shape), tuple(stride), dtype=dtype,
                                  device=value["device"])
        value = out.copy_(data)
    if isinstance(obj, dict):
        obj[last] = value
    else:
        object.__setattr__(obj, last, value)


@registry.strategies.register("cmaes")
class CMAES(EvotorchStrategy):
    """CMA-ES (evotorch ``CMAES``); default popsize ``4 + floor(3 ln d)``."""

    algorithm = "cmaes"
    replays = True

    def _make_searcher(self):
        from evotorch.algorithms import CMAES as _CMAES

        return _CMAES(self.problem, **self._common_kwargs())

    def _popsize(self) -> int:
        return int(self.searcher.popsize)


@registry.strategies.register("snes")
class SNES(EvotorchStrategy):
    """Separable NES (evotorch ``SNES``)."""

    algorithm = "snes"

    def _make_searcher(self):
        from evotorch.algorithms import SNES as _SNES

        return _SNES(self.problem, **self._common_kwargs())


class PGPEParams(EvotorchParams):
    """PGPE needs its learning rates (evotorch has no defaults for them)."""

    popsize: int = Field(default=20, ge=2)
    center_learning_rate: float = Field(default=0.5, gt=0)
    stdev_learning_rate: float = Field(default=0.1, gt=0)
    optimizer: Literal["clipup", "adam", "sgd"] | None = "clipup"


@registry.strategies.register("pgpe")
class PGPE(EvotorchStrategy):
    """PGPE (evotorch ``PGPE``), ClipUp optimiser by default."""

    Params = PGPEParams
    algorithm = "pgpe"

    def _make_searcher(self):
        from evotorch.algorithms import PGPE as _PGPE

        p: PGPEParams = self.params  # type: ignore[assignment]
        kw = self._common_kwargs()
        kw.update(
            center_learning_rate=p.center_learning_rate,
            stdev_learning_rate=p.stdev_learning_rate,
            optimizer=p.optimizer,
        )
        return _PGPE(self.problem, **kw)
