"""Fault injection for crash tests: kill this process at a named point of a commit.

Set ``EVOSEARCH_FAULT=POINT:N`` (several as ``POINT:N,POINT:M``) and the process sends itself
``SIGKILL`` the ``N``-th time it reaches ``POINT``. Unset, ``point()`` costs one dict lookup.

Points, in the order a commit passes them (``RunStore.commit``):

``before_part_write``
    nothing of this commit is on disk yet.
``during_part_write``
    the part's temp file is written but only half of it survives (a torn write).
``after_part_write``
    the part is under its final name, not yet listed by the manifest.
``before_checkpoint_write`` / ``during_checkpoint_write`` / ``after_checkpoint_write``
    the same three phases for the checkpoint.
``before_manifest_write`` / ``after_manifest_write``
    around the atomic manifest replace (the commit point).
``after_wal_append``
    a steady-state result is fsynced into the write-ahead log.
"""

from __future__ import annotations

import os
import pathlib
import signal

ENV = "EVOSEARCH_FAULT"

POINTS = (
    "before_part_write",
    "during_part_write",
    "after_part_write",
    "before_checkpoint_write",
    "during_checkpoint_write",
    "after_checkpoint_write",
    "before_manifest_write",
    "after_manifest_write",
    "after_wal_append",
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


def _target(spec: str, name: str) -> int | None:
    found = None
    for item in spec.split(","):
        key, _, nth = item.strip().partition(":")
        if key not in POINTS:
            raise ValueError(f"{ENV}: unknown fault point {key!r}; known: {', '.join(POINTS)}")
        if key == name:
            found = int(nth or 1)
    return found
