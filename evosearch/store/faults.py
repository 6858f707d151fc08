"""Fault injection for crash tests: kill this process at a named point of a commit.

Set ``EVOSEARCH_FAULT=POINT:N`` (several as ``POINT:N,POINT:M``) and the process sends itself
``SIGKILL`` the ``N``-th time it reaches ``POINT``. Unset, ``point()`` costs one dict lookup.

Points, in the order a commit passes them (``RunStore.commit``):

``before_log_append``
    nothing of this record is on disk yet.
``during_log_append``
    half of the record's bytes are written (a torn write), then the kill.
``after_log_append``
    the record is appended and fdatasync'ed: the commit is durable.
``after_wal_append``
    the same, for a steady-state ``append`` (rows without state).

and the order compaction passes them (``RunStore.compact``; the log stays the source until
the manifest names the new part):

``before_compact``
    nothing of the compaction is on disk yet.
``during_part_write`` / ``after_part_write``
    the Parquet part's temp file is half written (torn) / the part is under its final name.
``after_tables_write``
    the extra tables' parts are written.
``after_segment_write``
    the new log segment (the carried state + trailing appends) is written.
``before_manifest_write`` / ``after_manifest_write``
    around the atomic manifest replace (the commit point of the compaction).
``after_compact``
    the segments no manifest needs any more are deleted.
"""

from __future__ import annotations

import os
import pathlib
import signal

ENV = "EVOSEARCH_FAULT"

POINTS = (
    "before_log_append",
    "during_log_append",
    "after_log_append",
    "after_wal_append",
    "before_compact",
    "during_part_write",
    "after_part_write",
    "after_tables_write",
    "after_segment_write",
    "before_manifest_write",
    "after_manifest_write",
    "after_compact",
)

_counts: dict[str, int] = {}


def point(name: str, torn: pathlib.Path | None = None) -> None:
    """Mark a named point; kill the process here if ``EVOSEARCH_FAULT`` says so.

    Args:
        name: One of ``POINTS``.
        torn: A file to truncate to half its size before dying (a torn write).
    """
    spec = os.environ.get(ENV)
    if not spec:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == _target(spec, name):
        if torn is not None and torn.exists():
            with open(torn, "r+b") as fh:
                fh.truncate(torn.stat().st_size // 2)
        os.kill(os.getpid(), signal.SIGKILL)


def wants(name: str) -> bool:
    """True when the next ``point(name)`` will kill (to prepare a torn write first)."""
    spec = os.environ.get(ENV)
    return bool(spec) and _counts.get(name, 0) + 1 == _target(spec, name)


def _target(spec: str, name: str) -> int | None:
    found = None
    for item in spec.split(","):
        key, _, nth = item.strip().partition(":")
        if key not in POINTS:
            raise ValueError(f"{ENV}: unknown fault point {key!r}; known: {', '.join(POINTS)}")
        if key == name:
            found = int(nth or 1)
    return found
