"""CVT-MAP-Elites: cells are the Voronoi regions of centroids from pyribs' k-means."""

from __future__ import annotations

from pydantic import Field
from pydantic.dataclasses import dataclass
from ribs.archives import CVTArchive as RibsCVTArchive
from ribs.archives import k_means_centroids

from evosearch import registry
from evosearch.archives.cells import CellArchive, check_ranges
from evosearch.archives.descriptors import DescriptorSpec
from evosearch.plugin_params import STATEFUL


@registry.archives.register("cvt")
@dataclass(config=STATEFUL)
class CVTArchive(CellArchive):
    """One elite per centroid (``cells`` of them) of a centroidal Voronoi tessellation.

    Centroids come from ``ribs.archives.k_means_centroids`` on ``samples`` uniform points
    drawn with ``seed`` (same seed, same cells: the archive can be rebuilt). Descriptors
    outside ``ranges`` fall in the nearest cell; see ``cells.py`` for the insertion rules.

    Attributes:
        cells: Number of centroids.
        ranges: ``(low, high)`` per descriptor dimension.
        samples: Uniform samples for k-means.
        seed: Seed of the samples and of k-means.
        qd_offset: Subtracted from scores in the QD-score.
        descriptors: Where descriptors come from.
    """

    cells: int = Field(ge=1)
    ranges: list[tuple[float, float]] = Field(min_length=1)
    samples: int = Field(default=20_000, ge=1)
    seed: int = 0
    qd_offset: float = 0.0
    descriptors: DescriptorSpec = DescriptorSpec()

    def __post_init__(self) -> None:
        check_ranges(self.ranges, len(self.ranges), "ranges")
        if self.samples < self.cells:
            raise ValueError(f"samples ({self.samples}) must be >= cells ({self.cells})")
        centroids, _ = k_means_centroids(
            centroids=self.cells, ranges=self.ranges, samples=self.samples, seed=self.seed
        )
        archive = RibsCVTArchive(
            solution_dim=0,
            centroids=centroids,
            ranges=self.ranges,
            qd_score_offset=self.qd_offset,
            extra_fields={"individual_id": ((), "int64")},
        )
        self._setup(archive, self.cells, len(self.ranges))

    @property
    def centroids(self):
        """The ``(cells, dims)`` centroid array."""
        return self._ribs.centroids
