"""Reports on a run: progress after each commit, and the summary ``Engine.run`` returns."""

from __future__ import annotations

import dataclasses
import math
import pathlib
from collections.abc import Callable

from evosearch.individual import Individual


@dataclasses.dataclass
class Progress:
    """A snapshot of a running run, passed to progress callbacks after each commit."""

    generation: int
    evaluations: int
    best_score: float
    best_id: int | None
    elapsed: float
    evals_per_second: float
    fraction_done: float
    tokens: int
    failed: int
    status_counts: dict[str, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def snapshot(
        cls,
        *,
        generation: int,
        evaluations: int,
        best: Individual | None,
        elapsed: float,
        fraction_done: float,
        tokens: int,
        failed: int,
        status_counts: dict[str, int],
    ) -> Progress:
        """A report of these counts (the rate and best score derived from them)."""
        return cls(
            generation=generation,
            evaluations=evaluations,
            best_score=math.nan if best is None else best.score,
            best_id=None if best is None else best.id,
            elapsed=elapsed,
            evals_per_second=evaluations / elapsed if elapsed > 0 else 0.0,
            fraction_done=fraction_done,
            tokens=tokens,
            failed=failed,
            status_counts=dict(status_counts),
        )


#: What ``Engine.run`` calls after each commit.
ProgressCallback = Callable[[Progress], None]


@dataclasses.dataclass
class RunSummary:
    """What ``Engine.run`` returns."""

    run_dir: pathlib.Path
    generations: int
    evaluations: int
    best: Individual | None
    elapsed: float
    stopped_by: str
    status_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    stop_reason: str = ""  # why an infrastructure or convergence stop happened
