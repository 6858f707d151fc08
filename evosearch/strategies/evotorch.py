"""evotorch's CMA-ES, SNES and PGPE behind evosearch's ask/tell interface.

evotorch's searchers evaluate inside ``step()``. ``EvotorchStrategy`` runs that ``step()`` in
a short-lived helper thread whose ``Problem._evaluate_batch`` hands the sampled population to
``ask()`` and blocks until ``tell()`` supplies the scores; the update then runs in evotorch's
own code. Exactly one thread runs at a time, so runs stay deterministic; between generations
no thread exists, so the strategy pickles for checkpoints.
"""

from __future__ import annotations

import logging
import queue
import threading
import warnings
from typing import Any, Literal

import numpy as np
import pydantic
import torch
from evotorch import Problem
from pydantic import Field

from evosearch import registry
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Individual
from evosearch.strategies import restarts
from evosearch.strategies.base import Offspring, Strategy

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


class _Abort(BaseException):
    """Unwinds the helper thread when the strategy is discarded mid-generation."""


_CHANNELS: dict[str, tuple[queue.Queue, queue.Queue]] = {}


def _new_channel() -> str:
    import uuid

    key = uuid.uuid4().hex
    _CHANNELS[key] = (queue.Queue(), queue.Queue())
    return key


class HandoffProblem(Problem):
    """An evotorch ``Problem`` whose evaluation is answered through a channel by ``tell``."""

    channel: str = ""

    def _evaluate_batch(self, batch):  # called inside searcher.step(), in the helper thread
        asks, tells = _CHANNELS[self.channel]
        asks.put(batch.values.detach().clone())
        evals = tells.get()
        if evals is None:
            raise _Abort()
        batch.set_evals(evals)


def _make_problem(params: EvotorchParams, seed: int, channel: str) -> HandoffProblem:
    problem = HandoffProblem(
        "max",
        solution_length=params.dimension,
        initial_bounds=(params.low, params.high),
        dtype=torch.float64,
        seed=seed,
    )
    problem.channel = channel
    return problem


class EvotorchStrategy(Strategy):
    """Base of the evotorch-backed strategies (generational)."""

    Params = EvotorchParams
    algorithm: str = ""

    def __init__(self, params: EvotorchParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        torch_seed = int(rng.integers(0, 2**31 - 1))
        self._torch_state = torch.Generator().manual_seed(torch_seed).get_state()
        with torch.random.fork_rng():
            torch.random.set_rng_state(self._torch_state)
            self._channel = _new_channel()
            self.problem = _make_problem(params, torch_seed, self._channel)
            self.searcher = self._make_searcher()
            self._torch_state = torch.random.get_rng_state()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._values: torch.Tensor | None = None

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

    def _run_step(self) -> None:
        try:
            with torch.random.fork_rng():
                torch.random.set_rng_state(self._torch_state)
                self.searcher.step()
                self._torch_state = torch.random.get_rng_state()
        except _Abort:
            pass
        except BaseException as exc:  # surfaced to the caller of ask/tell
            self._error = exc
            _CHANNELS[self._channel][0].put(None)

    def _ask(self, n: int) -> list[Offspring]:
        self._error = None
        self._thread = threading.Thread(target=self._run_step, daemon=True, name="evotorch-step")
        self._thread.start()
        values = _CHANNELS[self._channel][0].get()
        if values is None:
            self._thread.join()
            if not isinstance(self._error, Exception) or getattr(self, "restart_event", None):
                raise RuntimeError(f"evotorch {self.algorithm} failed: {self._error}") from (
                    self._error
                )
            restarts.restart_or_stop(self, restarts.numerical_reason(self._error), force=True)
            return self._ask(n)  # the fresh distribution samples this generation
        self._values = values
        label = f"evotorch.{self.algorithm}"
        event = restarts.take_event(self)
        if event is not None:
            return [Offspring(VectorGenome(v.numpy()), (), "restart", event) for v in values]
        return [Offspring(VectorGenome(v.numpy()), (), label) for v in values]

    def _tell(self, individuals: list[Individual]) -> None:
        scores = np.array([i.score for i in sorted(individuals, key=lambda i: i.id)])
        valid = scores[np.isfinite(scores)]
        # evotorch cannot rank NaN: failed evaluations rank below the worst valid one.
        floor = (valid.min() - 1.0 - abs(valid.min())) if valid.size else -1e30
        scores = np.where(np.isfinite(scores), scores, floor)
        _CHANNELS[self._channel][1].put(torch.as_tensor(scores, dtype=torch.float64))
        self._thread.join()
        self._thread = None
        self._values = None
        if isinstance(self._error, Exception):  # evotorch's update broke numerically
            restarts.restart_or_stop(self, restarts.numerical_reason(self._error))
        elif self._error is not None:
            raise RuntimeError(f"evotorch {self.algorithm} failed: {self._error}") from self._error
        elif reason := restarts.convergence_reason(self):
            restarts.restart_or_stop(self, reason)

    def __getstate__(self) -> dict[str, Any]:
        if self._thread is not None:
            raise RuntimeError("cannot checkpoint an evotorch strategy between ask() and tell()")
        state = dict(self.__dict__)
        state["_thread"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._channel = _new_channel()  # a copy must not share the original's channel
        self.problem.channel = self._channel

    def __del__(self) -> None:
        thread = getattr(self, "_thread", None)
        if thread is not None and thread.is_alive():
            _CHANNELS[self._channel][1].put(None)
        _CHANNELS.pop(getattr(self, "_channel", ""), None)

    @property
    def center(self) -> np.ndarray:
        """The current mean of the search distribution."""
        for attr in ("m", "_get_mu"):
            m = getattr(self.searcher, attr, None)
            if m is not None:
                m = m() if callable(m) else m
                return np.asarray(torch.as_tensor(m).detach().cpu().numpy(), dtype=np.float64)
        return np.asarray(self.searcher.status["center"], dtype=np.float64)


@registry.strategies.register("cmaes")
class CMAES(EvotorchStrategy):
    """CMA-ES (evotorch ``CMAES``); default popsize ``4 + floor(3 ln d)``."""

    algorithm = "cmaes"

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
