"""``map_elites``: MAP-Elites on vectors, whole batches as arrays (pyribs' GaussianEmitter loop).

Each generation draws ``batch_size`` parents uniformly (with replacement) from the archive's
elites, adds ``N(0, sigma^2)`` to every coordinate and clips to the bounds; before the
archive holds anything it samples around ``x0`` instead. Evaluated batches go into a
``grid`` or ``cvt`` archive through ``add_columns`` (scores, descriptors and vectors as
arrays), so a generation costs a few array operations, not one object per individual.

The archive is a function of the stored rows: checkpoints leave it out and ``restore``
rebuilds it, as for ``ArchiveStrategy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pydantic
from pydantic import Field

from evosearch import registry
from evosearch.batch import Batch, Results
from evosearch.config import PluginConfig
from evosearch.individual import Individual
from evosearch.strategies.base import Strategy, box_bounds, box_facts


class MapElitesParams(pydantic.BaseModel):
    """Parameters of ``map_elites``.

    Attributes:
        dimension: Vector length.
        low, high: Box bounds (children are clipped into them).
        batch_size: Children per generation.
        sigma: Gaussian mutation step.
        x0: Centre of the first batch (a number for every coordinate, or a list).
        archive: A cell archive (``grid`` or ``cvt``) with evaluator descriptors.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    dimension: int = Field(ge=1)
    low: float = -5.0
    high: float = 5.0
    batch_size: int = Field(default=64, ge=1)
    sigma: float = Field(default=0.1, gt=0)
    x0: float | list[float] = 0.0
    archive: PluginConfig


@registry.strategies.register("map_elites")
class MapElites(Strategy):
    """Vectorised MAP-Elites over a ``grid``/``cvt`` archive (generational)."""

    Params = MapElitesParams
    vectorized = True
    rebuilt_attrs = ("archive", "low", "high", "x0")

    def __init__(self, params: MapElitesParams, *, rng: np.random.Generator):
        super().__init__(rng=rng)
        self.params = params
        d = params.dimension
        self.low, self.high = box_bounds(d, params.low, params.high)
        self.x0 = np.broadcast_to(np.asarray(params.x0, dtype=np.float64), (d,)).copy()
        self.archive = registry.archives.get(params.archive.name).create(
            params.archive.params, key="strategy.params.archive.params"
        )
        if not hasattr(self.archive, "add_columns"):
            raise registry.RegistryError(
                f"strategy.params.archive: map_elites needs a cell archive (grid, cvt), "
                f"not {params.archive.name!r}"
            )
        if self.archive.descriptors.source != "evaluator":
            raise registry.RegistryError(
                "strategy.params.archive.params.descriptors.source: map_elites takes the "
                "evaluator's descriptors ('evaluator')"
            )

    @property
    def batch_size(self) -> int:
        return self.params.batch_size

    def facts(self) -> dict[str, Any]:
        return box_facts(self.low, self.high)

    def members(self) -> list[Individual]:
        return self.archive.members()

    def _ask_batch(self, n: int) -> Batch:
        p = self.params
        holders = self.archive._holder
        occupied = np.flatnonzero(holders >= 0)
        noise = self.rng.normal(0.0, p.sigma, size=(n, p.dimension))
        if occupied.size == 0 or self.archive._genomes is None:
            x = self.x0 + noise
            parents = None
            op = "init"
        else:
            cells = occupied[self.rng.integers(0, occupied.size, size=n)]
            x = self.archive._genomes[cells] + noise
            parents = holders[cells][:, None].copy()
            op = "vector.gaussian"
        np.clip(x, self.low, self.high, out=x)
        x.setflags(write=False)
        return Batch(np.empty(0, np.int64), 0, x, parents, op, self.low, self.high,
                     None if parents is None else {"sigma": p.sigma})

    def _tell_batch(self, batch: Batch, results: Results) -> None:
        desc = results.descriptor_array(self.archive._dims)
        self.archive.add_columns(batch.ids, results.score, desc,
                                 genomes=np.asarray(batch.genomes),
                                 bounds=(self.low, self.high))

    def restore(self, store: Any) -> None:
        """Rebuild the archive from the run's committed rows (after a resume)."""
        table = store.table(["id", "genome", "score", "descriptors", "status"])
        ids = np.asarray(table["id"].to_numpy(), dtype=np.int64)
        genomes = _genome_array(table["genome"], self.params.dimension)
        scores = np.asarray(table["score"].to_numpy(zero_copy_only=False), dtype=np.float64)
        ok = np.asarray([s == "ok" for s in table["status"].to_pylist()])
        scores = np.where(ok, scores, np.nan)
        k = self.archive._dims
        desc = np.full((len(ids), k), np.nan)
        for i, row in enumerate(table["descriptors"].to_pylist()):
            if row is not None and len(row) == k:
                desc[i] = row
        order = np.argsort(ids, kind="stable")
        self.archive.add_columns(ids[order], scores[order], desc[order],
                                 genomes=genomes[order], bounds=(self.low, self.high))
        self.archive.drain_events()


def _genome_array(column, dimension: int) -> np.ndarray:
    """Stored genomes as ``[N, D]`` (a fixed-size-list column, or JSON strings)."""
    import json

    import pyarrow as pa

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_fixed_size_list(column.type):
        return np.asarray(column.flatten().to_numpy(), dtype=np.float64).reshape(-1, dimension)
    rows = [json.loads(g)["values"] for g in column.to_pylist()]
    return np.asarray(rows, dtype=np.float64).reshape(-1, dimension)
