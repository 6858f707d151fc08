"""Archive state from the run directory, and the tables written at each commit.

The archive is a pure function of the stored, ordered individuals and the archive config
(DESIGN §5): ``rebuild_archive`` replays the committed individuals, part by part, into a
fresh archive. ``archive_tables`` turns what an archive did since the last commit into the
``archive`` and ``qd`` tables (``tables.py``) that ``RunStore.commit`` writes.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from evosearch import registry
from evosearch.archives.tables import ARCHIVE_TABLE, QD_TABLE, events_table, qd_table
from evosearch.config import PluginConfig, RunConfig
from evosearch.store import schema
from evosearch.store.runstore import RunStore


def archive_config(config: RunConfig | PluginConfig | dict[str, Any]) -> PluginConfig:
    """The archive plugin config of a run config (``strategy.params.archive``).

    Raises:
        ValueError: if the run's strategy has no archive.
    """
    if isinstance(config, PluginConfig):
        return config
    if isinstance(config, dict):
        return PluginConfig.model_validate(config)
    archive = config.strategy.params.get("archive")
    if config.strategy.name != "archive" and archive is None:
        raise ValueError(f"strategy {config.strategy.name!r} keeps no archive")
    return PluginConfig.model_validate(archive or {"ref": "population"})


def build_archive(config: RunConfig | PluginConfig | dict[str, Any]):
    """A fresh, empty archive from a run config or an archive plugin config."""
    cfg = archive_config(config)
    return registry.archives.get(cfg.name).create(cfg.params, key="strategy.params.archive")


def rebuild_archive(store: RunStore, config: RunConfig | PluginConfig | dict[str, Any]):
    """Replay the committed individuals of ``store`` (commit order) into a fresh archive.

    Args:
        store: An open run directory (the WAL is not replayed; only committed parts).
        config: The run config (or the archive plugin config).

    Returns:
        The archive, with its event log drained.
    """
    archive = build_archive(config)
    for table in store.iter_commits():
        archive.add(schema.from_table(table, store.facts))
    archive.drain_events()
    return archive


def archive_tables(archive: Any, *, generation: int, evaluations: int) -> dict[str, pa.Table]:
    """The membership events since the last call, and the QD metrics now, as tables.

    Returns ``{}`` for a strategy without an archive. Drains the archive's event log.
    """
    if archive is None:
        return {}
    columnar = getattr(archive, "drain_events_table", None)  # cell archives: no objects
    if columnar is not None:
        events = columnar(generation)
    else:
        events = events_table(archive.drain_events(), generation)
    stats = archive.stats()
    return {
        ARCHIVE_TABLE: events,
        QD_TABLE: qd_table(stats, generation=generation, evaluations=evaluations),
    }


def cell_layout(config: RunConfig | PluginConfig | dict[str, Any]) -> dict[str, Any] | None:
    """Where the cells of a run's archive lie, for heat-maps (None without cells).

    Returns:
        ``{"kind": "grid", "dims": [...], "ranges": [[lo, hi], ...]}`` (cell ``c`` is the
        row-major flat index over ``dims``), or ``{"kind": "cvt", "ranges": ...,
        "centroids": [[...], ...]}`` (cell ``c`` is centroid ``c``). Islands of cell
        archives have the layout of one island.
    """
    cfg = archive_config(config)
    if cfg.name == "islands":
        inner = cfg.params.get("archive") or {"ref": "population"}
        return cell_layout(PluginConfig.model_validate(inner))
    if cfg.name not in ("grid", "cvt"):
        return None
    archive = build_archive(cfg)
    ranges = [[float(lo), float(hi)] for lo, hi in archive.ranges]
    if cfg.name == "grid":
        return {"kind": "grid", "dims": list(archive.dims), "ranges": ranges}
    return {"kind": "cvt", "ranges": ranges, "centroids": archive.centroids.tolist()}
