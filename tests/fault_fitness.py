"""Fitness functions that misbehave on purpose, for the fault tests (importable by workers)."""

from __future__ import annotations

import os
import pathlib
import signal
import time

from evosearch.fitness.base import fitness

SETUP_CALLS = 0


def score(genome, ctx) -> float:
    return -float((genome.values**2).sum())


def crash_once(genome, ctx) -> float:
    """SIGKILL the worker on the first attempt of each individual, succeed on the retry."""
    marker = pathlib.Path(ctx.params["marker_dir"]) / f"{ctx.individual_id}-{ctx.seed}"
    if not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return score(genome, ctx)


def crash_always(genome, ctx) -> float:
    os.kill(os.getpid(), signal.SIGKILL)
    return 0.0


def raises(genome, ctx) -> float:
    raise ValueError(f"cannot score genome {genome.summary()}")


def hang_soft(genome, ctx) -> float:
    """Sleep in Python: the soft limit (SIGALRM) interrupts it."""
    time.sleep(float(ctx.params.get("seconds", 60)))
    return 0.0


def hang_hard(genome, ctx) -> float:
    """Ignore SIGALRM, then sleep: only the executor's hard kill ends it."""
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(float(ctx.params.get("seconds", 60)))
    return 0.0


def _load_pool(ctx):
    global SETUP_CALLS
    SETUP_CALLS += 1
    return {"pid": os.getpid(), "weights": [1.0, 2.0]}


@fitness("i8_resident_probe", setup=_load_pool)
def resident_probe(genome, ctx) -> dict:
    """Report which process evaluated and how often its resource was set up."""
    return {
        "score": score(genome, ctx),
        "metrics": {"pid": float(ctx.resource["pid"]), "setups": float(SETUP_CALLS)},
    }


def _broken_setup(ctx):
    raise RuntimeError("model file not found")


@fitness("i8_broken_setup_probe", setup=_broken_setup)
def broken_setup_probe(genome, ctx) -> float:
    return 0.0
