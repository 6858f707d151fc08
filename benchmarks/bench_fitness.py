"""Fitness functions with a fixed cost, for executor benchmarks (importable by workers)."""

from __future__ import annotations

import time


def sleep_50ms(genome, ctx) -> float:
    """50 ms of waiting (I/O-like: an LLM call, a remote evaluation)."""
    time.sleep(0.05)
    return float(genome.values.sum())


def busy_50ms(genome, ctx) -> float:
    """50 ms of pure-Python CPU work (one core busy)."""
    end = time.perf_counter() + 0.05
    x = 0
    while time.perf_counter() < end:
        x += 1
    return float(genome.values.sum())


def noop(genome, ctx) -> float:
    """No work at all: what remains is the executor's overhead."""
    return 0.0
