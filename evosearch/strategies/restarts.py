"""Restarts for distribution strategies that converge or break numerically (IPOP-style).

A CMA-ES left running on a problem it has solved shrinks its step size until the covariance
update stops being positive-definite, and evotorch raises from inside its update. Instead of
a traceback, the strategy restarts: a fresh search distribution from a new random centre with
the population multiplied by ``restart_popsize_factor`` (IPOP, Auger & Hansen 2005). Each
restart is recorded on the first generation after it: those rows carry the operator
``restart`` and ``operator_params`` ``{restart, reason, popsize, algorithm}``. Once
``restarts`` restarts are spent, the strategy reports ``converged`` and the engine stops the
run cleanly with ``stopped_by: converged``.

The convergence test is Hansen's ``tolx`` (every coordinate's step below ``tolx`` times the
initial step size) plus a non-finite distribution; a numerical error raised by the algorithm
is a third reason.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pydantic
import torch
from pydantic import Field

RESTART_OPERATOR = "restart"


class RestartParams(pydantic.BaseModel):
    """Restart parameters shared by the evotorch strategies.

    Attributes:
        restarts: How many restarts at most; then the run stops with ``stopped_by: converged``
            (0: never restart, stop at the first convergence).
        restart_popsize_factor: Population growth per restart (IPOP; 1 keeps it).
        tolx: Converged when every coordinate's step size is below ``tolx * stdev_init``.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    restarts: int = Field(default=9, ge=0)
    restart_popsize_factor: float = Field(default=2.0, ge=1.0)
    tolx: float = Field(default=1e-11, gt=0)


def step_sizes(searcher: Any) -> np.ndarray | None:
    """Each coordinate's current step size, or None when the searcher does not expose it."""
    try:
        if hasattr(searcher, "sigma") and hasattr(searcher, "C"):
            cov = torch.as_tensor(searcher.C).detach().to(torch.float64)
            diag = cov if cov.ndim == 1 else torch.diagonal(cov)
            sigma = float(torch.as_tensor(searcher.sigma))
            return sigma * np.sqrt(np.abs(diag.cpu().numpy()))
        stdev = searcher.status["stdev"]
        return np.abs(np.asarray(torch.as_tensor(stdev).detach().cpu().numpy(), np.float64))
    except (AttributeError, KeyError, TypeError, RuntimeError):
        return None


def convergence_reason(strategy: Any) -> str | None:
    """Why the strategy's distribution has converged (or broken), or None if it has not."""
    steps = step_sizes(strategy.searcher)
    if steps is None:
        return None
    try:
        center = strategy.center
    except Exception:  # noqa: BLE001 - a distribution that cannot report its mean is broken
        return "non-finite distribution"
    if not (np.all(np.isfinite(steps)) and np.all(np.isfinite(center))):
        return "non-finite distribution"
    if float(steps.max()) < strategy.params.tolx * strategy.params.stdev_init:
        return f"step size below tolx ({float(steps.max()):.3g})"
    return None


def numerical_reason(error: BaseException) -> str:
    """One line naming a numerical failure of the algorithm."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"numerical error: {text[:160]}"


def restart_or_stop(strategy: Any, reason: str, *, force: bool = False) -> None:
    """Restart ``strategy`` with a fresh, larger distribution, or mark it converged.

    Sets ``strategy.converged`` (a reason string) when no restart is left; otherwise
    rebuilds the searcher and labels the next batch with the ``restart`` operator.
    ``force`` rebuilds even then (a generation already asked for must still be sampled;
    the engine stops after it).
    """
    done = int(getattr(strategy, "restarts_done", 0))
    params = strategy.params
    if done >= params.restarts:
        strategy.converged = reason
        if not force:
            return
    factor = 1.0 if done >= params.restarts else params.restart_popsize_factor
    popsize = max(2, int(math.ceil(strategy._popsize() * factor)))
    center = strategy.rng.uniform(params.low, params.high, size=params.dimension)
    strategy.params = params.model_copy(
        update={"popsize": popsize, "center_init": [float(c) for c in center]}
    )
    with torch.random.fork_rng():
        torch.random.set_rng_state(strategy._torch_state)
        strategy.searcher = strategy._make_searcher()
        strategy._torch_state = torch.random.get_rng_state()
    strategy.restarts_done = done + 1
    strategy.restart_event = {
        "restart": done + 1,
        "reason": reason,
        "popsize": popsize,
        "algorithm": f"evotorch.{strategy.algorithm}",
    }


def take_event(strategy: Any) -> dict[str, Any] | None:
    """The pending restart record for the next batch's rows (cleared once taken)."""
    event = getattr(strategy, "restart_event", None)
    strategy.restart_event = None
    return event
