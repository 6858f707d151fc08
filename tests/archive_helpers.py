"""Tiny individuals for archive tests."""

from __future__ import annotations

import math

import numpy as np

from evosearch.genomes.vector import VectorGenome
from evosearch.individual import FitnessResult, Individual, Status
from evosearch.strategies.archive import ArchiveStrategy


def ind(
    i: int,
    score: float,
    desc: tuple[float, ...] = (),
    *,
    parents: tuple[int, ...] = (),
    island: int = 0,
    generation: int = 0,
    genome: tuple[float, ...] | None = None,
) -> Individual:
    """Individual ``i`` with that score and descriptors (NaN score: a failed evaluation)."""
    if math.isnan(score):
        result = FitnessResult.failure(Status.FAILED, "boom").with_(descriptors=desc)
    else:
        result = FitnessResult(score=score, descriptors=desc)
    return Individual(
        id=i,
        genome=VectorGenome(np.array(genome if genome is not None else (float(i),))),
        parent_ids=parents,
        generation=generation,
        island=island,
        result=result,
    )



class RenamedArchiveStrategy(ArchiveStrategy):
    """``ArchiveStrategy`` under another name (configs name it by reference)."""
