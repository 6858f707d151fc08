"""The planar robotic arm repertoire domain (pyribs' ``arm_repertoire`` tutorial).

A genome holds the joint angles of an arm of ``len(genome)`` links (all of length
``link_length`` unless ``link_lengths`` is given). The score is ``-variance(angles)`` (smooth
postures are better; the optimum 0 is any straight-ish arm) and the descriptors are the end
effector's ``(x, y)`` position. Batched: one numpy evaluation for a whole population.
"""

from __future__ import annotations

import numpy as np

from evosearch.fitness.base import FitnessContext, fitness
from evosearch.genomes.vector import VectorGenome


def arm_simulate(angles: np.ndarray, link_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Objectives ``(n,)`` and end-effector positions ``(n, 2)`` for ``(n, dof)`` angles.

    The same computation as pyribs' tutorial ``simulate`` (``-np.var`` of the angles,
    forward kinematics by cumulative sums of the angles).
    """
    angles = np.atleast_2d(angles)
    objective = -np.var(angles, axis=1)
    theta = np.cumsum(angles, axis=1)
    x = np.sum(link_lengths[None] * np.cos(theta), axis=1)
    y = np.sum(link_lengths[None] * np.sin(theta), axis=1)
    return objective, np.stack([x, y], axis=1)


@fitness("arm", batched=True)
def arm(genomes: list[VectorGenome], ctx: FitnessContext) -> dict[str, np.ndarray]:
    """Arm repertoire: score ``-var(angles)``, descriptors = end-effector ``(x, y)``.

    Params: ``link_length`` (default 1.0) or ``link_lengths`` (one per joint).
    Returns columns (``score`` ``[N]``, ``descriptors`` ``[N, 2]``): no object per row.
    """
    values = getattr(genomes, "values", None)  # a vector batch's [N, D] array
    angles = values if values is not None else np.stack([g.values for g in genomes])
    dof = angles.shape[1]
    lengths = np.asarray(
        ctx.params.get("link_lengths", [float(ctx.params.get("link_length", 1.0))] * dof),
        dtype=np.float64,
    )
    if lengths.shape != (dof,):
        raise ValueError(f"fitness.params.link_lengths: expected {dof} lengths, got {lengths}")
    objective, pos = arm_simulate(angles, lengths)
    return {"score": objective, "descriptors": pos}
