"""Circle packing: place 26 circles in the unit square, maximising the sum of their radii.

The evaluator calls ``run()`` and checks that every circle lies inside the square and that
no two overlap. This starting point puts the circles on a grid-like pattern and shrinks the
radii until the packing is valid; evolution is expected to find far better constructions
(the best known sum is about 2.635).
"""

import numpy as np

N = 26


def construct_centers(n: int = N) -> np.ndarray:
    """Centres on a 5 x 5 grid plus one extra circle in a gap."""
    ticks = (np.arange(5) + 0.5) / 5
    grid = np.array([(x, y) for y in ticks for x in ticks])
    extra = np.array([[0.2, 0.2]])
    return np.vstack([grid, extra])[:n]


def largest_radii(centers: np.ndarray) -> np.ndarray:
    """The largest radii for fixed centres: limited by the walls, then pairwise halving."""
    radii = np.minimum.reduce([centers[:, 0], centers[:, 1], 1 - centers[:, 0], 1 - centers[:, 1]])
    for i in range(len(centers)):
        for j in range(i + 1, len(centers)):
            d = float(np.linalg.norm(centers[i] - centers[j]))
            if radii[i] + radii[j] > d:
                scale = d / (radii[i] + radii[j])
                radii[i] *= scale
                radii[j] *= scale
    return radii


def run():
    """Return ``(centers, radii)``: arrays of shape (26, 2) and (26,)."""
    centers = construct_centers()
    return centers, largest_radii(centers)
