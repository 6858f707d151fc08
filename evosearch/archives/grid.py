"""MAP-Elites on a regular grid (pyribs ``GridArchive`` does the binning and statistics)."""

from __future__ import annotations

from pydantic import Field
from pydantic.dataclasses import dataclass
from ribs.archives import GridArchive as RibsGridArchive

from evosearch import registry
from evosearch.archives.cells import CellArchive, check_ranges
from evosearch.archives.descriptors import DescriptorSpec
from evosearch.plugin_params import STATEFUL


@registry.archives.register("grid")
@dataclass(config=STATEFUL)
class GridArchive(CellArchive):
    """One elite per cell of a grid of ``prod(dims)`` cells over ``ranges``.

    Cells are numbered row-major over ``dims`` (pyribs' ``index_of``). Descriptors outside
    ``ranges`` are clipped into the edge cells; see ``cells.py`` for the insertion rules.

    Attributes:
        dims: Bins per descriptor dimension.
        ranges: ``(low, high)`` per dimension.
        qd_offset: Subtracted from scores in the QD-score (keep scores above it).
        descriptors: Where descriptors come from (evaluator or text embedding).
    """

    dims: list[int] = Field(min_length=1)
    ranges: list[tuple[float, float]] = Field(min_length=1)
    qd_offset: float = 0.0
    descriptors: DescriptorSpec = DescriptorSpec()

    def __post_init__(self) -> None:
        if any(d < 1 for d in self.dims):
            raise ValueError(f"dims: every entry must be >= 1, got {self.dims}")
        check_ranges(self.ranges, len(self.dims), "ranges")
        archive = RibsGridArchive(
            solution_dim=0,
            dims=self.dims,
            ranges=self.ranges,
            qd_score_offset=self.qd_offset,
            extra_fields={"individual_id": ((), "int64")},
        )
        self._setup(archive, int(archive.cells), len(self.dims))
