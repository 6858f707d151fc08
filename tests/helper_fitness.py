"""Misbehaving and slow fitness functions for tests, named in configs as ``helper_fitness:NAME``.

Plain functions (no ``@fitness`` decorator): the tests import this module both in-process
(``tests`` is on pytest's ``pythonpath``) and in subprocesses (``tests`` added to
``PYTHONPATH``), and a decorator would register it twice under two module names.
"""

from __future__ import annotations

import math
import os
import pathlib
import signal
import time

import numpy as np

from evosearch.individual import FitnessResult


def _sphere(genome) -> float:
    return -float(np.dot(genome.values, genome.values))


def raises(genome, ctx):
    raise ValueError(f"deliberate failure for individual {ctx.individual_id}")


def hangs(genome, ctx):
    time.sleep(float(ctx.params.get("sleep", 60)))
    return 0.0


def hangs_ignoring_alarm(genome, ctx):
    """A hang the soft (SIGALRM) limit cannot stop, like code stuck inside C."""
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(float(ctx.params.get("sleep", 60)))
    return 0.0


def returns_nan(genome, ctx):
    return math.nan


def returns_inf(genome, ctx):
    return -math.inf


def returns_string(genome, ctx):
    return "very good"


def returns_none(genome, ctx):
    return None


def returns_unknown_keys(genome, ctx):
    return {"score": 1.0, "accuracy": 0.5}


def returns_result(genome, ctx):
    return FitnessResult(score=_sphere(genome), metrics={"norm": float(len(genome))})


def batched_wrong_length(genomes, ctx):
    return [0.0] * (len(genomes) + 1)


batched_wrong_length.__evosearch_meta__ = {"batched": True}


def batched_sphere(genomes, ctx):
    return [_sphere(g) for g in genomes]


batched_sphere.__evosearch_meta__ = {"batched": True}


def every_third_fails(genome, ctx):
    """Raise for ids divisible by 3, NaN for ids = 1 mod 3, the sphere otherwise."""
    if ctx.individual_id % 3 == 0:
        raise RuntimeError("boom")
    if ctx.individual_id % 3 == 1:
        return math.nan
    return _sphere(genome)


def slow_sphere(genome, ctx):
    """The sphere after a short sleep; blocks once at the ids in ``params.block_at``.

    For each id in ``block_at`` it creates ``<markers>/blocked-<id>`` and then sleeps for a
    long time, so a test can wait for the marker and kill the process at that exact point.
    When the marker already exists (the resumed run) it does not block again.
    """
    time.sleep(float(ctx.params.get("sleep", 0.01)))
    markers = ctx.params.get("markers")
    if markers and ctx.individual_id in ctx.params.get("block_at", []):
        marker = pathlib.Path(markers) / f"blocked-{ctx.individual_id}"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(600)
    return _sphere(genome)


def dies(genome, ctx):
    """The worker process dies (like a segfault or an OOM kill)."""
    os._exit(13)


def llm_down(genome, ctx):
    """Asks a real ``openai`` backend on a port nothing listens on (a server that went away)."""
    from evosearch.individual import Status
    from evosearch.llm.base import LLMRequest
    from evosearch.llm.pool import backend_from_config

    llm = {
        "name": "openai",
        "params": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_retries": 0},
    }
    completion = backend_from_config(llm).generate([LLMRequest.from_prompt("hi")])[0]
    if completion.ok:
        return _sphere(genome)
    return FitnessResult.failure(Status.FAILED, f"every LLM request failed: {completion.error}")
