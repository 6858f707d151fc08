"""Archive state from the committed individuals, and the tables written at each commit.

The archive is a pure function of the stored, ordered individuals and the archive config
(DESIGN §5): ``rebuild_archive`` replays the committed individuals, commit by commit, into a
fresh archive (the caller reads them from the run directory: this package knows no store).
``archive_tables`` turns what an archive did since the last commit into the ``archive`` and
``qd`` tables (``tables.py``) that the store writes at each commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from evosearch import registry
from evosearch.archives.tables import ARCHIVE_TABLE, QD_TABLE, events_table, qd_table
from evosearch.config import PluginConfig, RunConfig
from evosearch.individual import Individual


def archive_config(config: RunConfig | PluginConfig | dict[str, Any]) -> PluginConfig:
    """The archive plugin config of a run config (``strategy.params.archive``).

    Without ``strategy.params.archive``, the archive the strategy keeps by default: the
    default of the ``archive`` field of its ``Params`` (the strategy is looked up by name).

    Raises:
        ValueError: if the run's strategy has no archive.
    """
    if isinstance(config, PluginConfig):
        return config
    if isinstance(config, dict):
        return PluginConfig.model_validate(config)
    archive = config.strategy.params.get("archive")
    if archive is None:
        archive = _default_archive(config.strategy.name)
    if archive is None:
        raise ValueError(f"strategy {config.strategy.name!r} keeps no archive")
    return PluginConfig.model_validate(archive)


def _default_archive(strategy: str) -> Any:
    """The default of the strategy's ``Params.archive`` field, or None without one."""
    params = getattr(registry.strategies.get(strategy).obj, "Params", None)
    field = (getattr(params, "model_fields", None) or {}).get("archive")
    if field is None or field.is_required():
        return None
    return field.get_default(call_default_factory=True)


def build_archive(config: RunConfig | PluginConfig | dict[str, Any]):
    """A fresh, empty archive from a run config or an archive plugin config."""
    cfg = archive_config(config)
    return registry.archives.get(cfg.name).create(cfg.params, key="strategy.params.archive")


def rebuild_archive(
    commits: Iterable[Sequence[Individual]], config: RunConfig | PluginConfig | dict[str, Any]
):
    """Replay committed individuals, one batch per commit in commit order, into a fresh archive.

    Args:
        commits: The individuals of each commit (a run directory's committed parts; the WAL
            is not replayed).
        config: The run config (or the archive plugin config).

    Returns:
        The archive, with its event log drained.
    """
    archive = build_archive(config)
    for individuals in commits:
        archive.add(list(individuals))
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
