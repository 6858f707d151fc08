"""On-disk format of archive membership and QD metrics (DESIGN §5).

Both tables are written beside ``individuals/`` in the same atomic manifest commit as the
individuals they describe, one immutable Parquet part per commit::

    RUN/archive/part-000012.parquet   membership events of commit 12 (ARCHIVE_SCHEMA)
    RUN/qd/part-000012.parquet        one row of QD metrics for commit 12 (QD_SCHEMA)

and are listed in ``manifest.json`` under ``tables.archive`` / ``tables.qd`` (each entry:
``file``, ``rows``, ``bytes``, ``sha256``, ``generation``). Readers trust only the manifest.

Membership is an append-only event log: an individual entering a cell (or slot) is ``new``
or ``improved`` (it displaced ``other_id``); the displaced individual gets an ``evicted`` row
(with ``other_id`` = the one that displaced it). No row is ever deleted, so the members at any
point are the individuals whose last event is ``new``/``improved``. This format is stable:
``evosearch ui`` and ``evosearch lineage`` read it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa

ARCHIVE_TABLE = "archive"
QD_TABLE = "qd"


class Event(enum.StrEnum):
    """A membership change in an archive."""

    NEW = "new"  # entered an empty cell / free slot
    IMPROVED = "improved"  # replaced ``other_id`` in its cell / slot
    EVICTED = "evicted"  # left the archive, displaced by ``other_id`` (or by migration: null)


ARCHIVE_SCHEMA = pa.schema(
    [
        pa.field("generation", pa.int32(), nullable=False),  # generation of the commit
        pa.field("individual_id", pa.int64(), nullable=False),
        pa.field("event", pa.string(), nullable=False),  # Event value
        pa.field("cell", pa.int64()),  # grid/CVT cell index (row-major for grids); null if none
        pa.field("island", pa.int32()),  # island of the sub-archive (0 without islands)
        pa.field("other_id", pa.int64()),  # improved: the evicted one; evicted: the replacer
        pa.field("score", pa.float64()),  # the individual's score
    ],
    metadata={"format": "evosearch-archive/1"},
)

QD_SCHEMA = pa.schema(
    [
        pa.field("generation", pa.int32(), nullable=False),
        pa.field("evaluations", pa.int64(), nullable=False),  # individuals told so far
        pa.field("archive_size", pa.int64(), nullable=False),  # current members
        pa.field("num_cells", pa.int64()),  # null for archives without cells
        pa.field("coverage", pa.float64()),  # archive_size / num_cells; null without cells
        pa.field("qd_score", pa.float64()),  # sum over members of (score - qd_offset)
        pa.field("norm_qd_score", pa.float64()),  # qd_score / num_cells (ribs' definition)
        pa.field("best", pa.float64()),  # best member score (null when empty)
        pa.field("best_id", pa.int64()),
        pa.field("mean", pa.float64()),  # mean member score
    ],
    metadata={"format": "evosearch-qd/1"},
)


class MembershipEvent(NamedTuple):
    """One row of the archive table (before the generation is stamped)."""

    individual_id: int
    event: Event
    cell: int | None = None
    island: int = 0
    other_id: int | None = None
    score: float = math.nan


@dataclass(frozen=True)
class QDStats:
    """QD metrics of an archive at one moment (one row of the qd table, less counters)."""

    archive_size: int
    num_cells: int | None
    coverage: float | None
    qd_score: float
    norm_qd_score: float | None
    best: float | None
    best_id: int | None
    mean: float | None


def events_table(events: Sequence[MembershipEvent], generation: int) -> pa.Table:
    """Membership events as an ``ARCHIVE_SCHEMA`` table stamped with ``generation``."""
    return pa.table(
        {
            "generation": [generation] * len(events),
            "individual_id": [e.individual_id for e in events],
            "event": [str(e.event) for e in events],
            "cell": [e.cell for e in events],
            "island": [e.island for e in events],
            "other_id": [e.other_id for e in events],
            "score": [None if math.isnan(e.score) else e.score for e in events],
        },
        schema=ARCHIVE_SCHEMA,
    )


def qd_table(stats: QDStats, *, generation: int, evaluations: int) -> pa.Table:
    """One ``QD_SCHEMA`` row."""
    row = {"generation": generation, "evaluations": evaluations, **stats.__dict__}
    return pa.Table.from_pylist([row], schema=QD_SCHEMA)
