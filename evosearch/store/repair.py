"""Repair a run whose manifest or parts are damaged.

``repair_manifest(path)`` restores an unreadable ``manifest.json`` from
``manifest.prev.json`` (the manifest before the last replace) plus the log segments written
since: nothing committed is lost, because the segments that manifest names are kept until
the next compaction, and parts it does not name are re-made from them.

``repair(store)`` drops only the damaged parts from the manifest and moves their files to
``RUN/quarantine/`` (nothing is deleted), so the rest of the run reads and resumes again.
The individuals those parts held are lost; the report names them (their ids when the file
still yields them, otherwise the id range the manifest recorded).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

from evosearch.store.files import atomic_write_bytes, fsync_dir, sha256_file
from evosearch.store.runstore import RunStore, StoreError, _dump_json, _now


@dataclasses.dataclass
class DroppedPart:
    """One part removed from the manifest.

    Attributes:
        file: Its path relative to the run directory (as the manifest listed it).
        problem: ``missing`` or ``checksum mismatch``.
        rows: Rows the manifest recorded for it.
        min_id: Smallest individual id it held.
        max_id: Largest individual id it held.
        ids: The exact ids, when the damaged file could still be read; else None.
        quarantined: Where the file was moved (None if it was missing).
    """

    file: str
    problem: str
    rows: int
    min_id: int
    max_id: int
    ids: list[int] | None
    quarantined: str | None


@dataclasses.dataclass
class RepairReport:
    """What ``repair`` found and did."""

    dropped: list[DroppedPart]
    kept_parts: int
    kept_rows: int
    dry_run: bool

    @property
    def lost_rows(self) -> int:
        return sum(p.rows for p in self.dropped)


def repair_manifest(path: str | os.PathLike[str], *, dry_run: bool = False) -> str | None:
    """Restore a damaged ``manifest.json`` from ``manifest.prev.json``.

    The restored manifest lists the previous manifest's parts and log segments plus every
    segment written after them; parts compacted since are orphans (their rows are in those
    segments) and the next writer deletes them.

    Returns:
        None when ``manifest.json`` is readable; else a line saying what was done.

    Raises:
        StoreError: if neither manifest can be read.
    """
    root = pathlib.Path(path)
    try:
        json.loads((root / "manifest.json").read_text())
        return None
    except FileNotFoundError:
        if not (root / "manifest.prev.json").exists():
            return None  # not a run; opening it reports that
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        prev = json.loads((root / "manifest.prev.json").read_text())
        log = list(prev["log"])
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise StoreError(
            f"{root}/manifest.json is damaged and manifest.prev.json cannot stand in ({exc})"
        ) from None
    first = max(_seg_number(s) for s in log)
    newer = sorted(
        (
            f"log/{f.name}"
            for f in (root / "log").glob("seg-*.arrows")
            if _seg_number(f.name) > first
        ),
        key=_seg_number,
    )
    prev["log"] = log + newer
    prev["next_part"] = max(
        [
            int(prev.get("next_part", 1)),
            *(_part_number(f.name) + 1 for f in (root / "individuals").glob("part-*.parquet")),
        ]
    )
    prev.setdefault("repairs", []).append(
        {"at": _now(), "manifest": "restored from manifest.prev.json"}
    )
    line = (
        f"manifest.json was damaged: restored from manifest.prev.json with "
        f"{len(prev['parts'])} parts and log segments {', '.join(prev['log'])}"
    )
    if dry_run:
        return "would have " + line
    try:
        damaged = root / "manifest.json"
        if damaged.exists():
            (root / "quarantine").mkdir(exist_ok=True)
            os.replace(damaged, root / "quarantine" / f"manifest.damaged-{os.getpid()}.json")
        atomic_write_bytes(root / "manifest.json", _dump_json(prev))
    except OSError as exc:
        raise StoreError(f"cannot repair {root}: {exc.strerror or exc}") from None
    return line


def _seg_number(name: str) -> int:
    return int(pathlib.Path(name).name.split("-")[1].split(".")[0])


def _part_number(name: str) -> int:
    return int(name.split("-")[1].split(".")[0])


def repair(store: RunStore, *, dry_run: bool = False) -> RepairReport:
    """Drop parts that are missing or fail their checksum; quarantine their files.

    Args:
        store: A run opened writable (holding the lock).
        dry_run: Only report what would be dropped.

    Returns:
        The report; ``dropped`` is empty when the run is intact.

    Raises:
        StoreError: if the store is read-only or the manifest cannot be rewritten.
    """
    if not store.writable:
        raise StoreError(f"{store.path} must be opened writable to repair it")
    keep, dropped = [], []
    for part in store.parts:
        path = store.path / part["file"]
        if not path.exists():
            problem = "missing"
        elif sha256_file(path) != part["sha256"]:
            problem = "checksum mismatch"
        else:
            keep.append(part)
            continue
        ids = _readable_ids(path) if problem != "missing" else None
        dropped.append(
            DroppedPart(
                file=part["file"],
                problem=problem,
                rows=int(part["rows"]),
                min_id=int(part["min_id"]),
                max_id=int(part["max_id"]),
                ids=ids,
                quarantined=None,
            )
        )
    report = RepairReport(dropped, len(keep), sum(int(p["rows"]) for p in keep), dry_run)
    if not dropped or dry_run:
        return report
    quarantine = store.path / "quarantine"
    try:
        quarantine.mkdir(exist_ok=True)
        for d in dropped:
            src = store.path / d.file
            if src.exists():
                dst = quarantine / os.path.basename(d.file)
                n = 1
                while dst.exists():
                    dst = quarantine / f"{os.path.basename(d.file)}.{n}"
                    n += 1
                os.replace(src, dst)
                d.quarantined = str(dst.relative_to(store.path))
        fsync_dir(quarantine)
        manifest = dict(store._manifest)
        manifest.update(
            parts=keep,
            repairs=[
                *manifest.get("repairs", []),
                {"at": _now(), "dropped": [dataclasses.asdict(d) for d in dropped]},
            ],
        )
        store._write_manifest(manifest)
    except OSError as exc:
        raise StoreError(f"cannot repair {store.path}: {exc.strerror or exc}") from None
    store._ids = None  # committed ids changed: re-read on demand
    store._table_cache = None
    store.__dict__.pop("_max_id_v", None)
    return report


def _readable_ids(path) -> list[int] | None:
    try:
        return sorted(pq.read_table(path, columns=["id"])["id"].to_pylist())
    except (OSError, pa.ArrowException):
        return None
