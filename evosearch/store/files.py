"""Crash-safe file primitives: write to a temp name, fsync, rename, fsync the directory."""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import Callable

from evosearch.store import faults


def fsync_dir(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: pathlib.Path,
    write: Callable[[pathlib.Path], None],
    *,
    fault: str | None = None,
    sync: bool = True,
) -> None:
    """Produce ``path`` atomically: ``write(tmp)`` then fsync, rename and fsync the directory.

    A crash at any point leaves either the old file or the new one, never a torn file.

    Args:
        path: The final name.
        write: Writes the content to the temp path it is given.
        fault: Name of the fault-injection phase (``during_<fault>`` fires after ``write``).
        sync: fsync the file and the directory. Without it the write is still atomic when
            the process is killed (the page cache survives it), but not durable across a
            power loss or kernel crash.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        if fault:
            faults.point(f"during_{fault}", torn=tmp)
        if sync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    if sync:
        fsync_dir(path.parent)


def atomic_write_bytes(
    path: pathlib.Path, data: bytes, *, fault: str | None = None, sync: bool = True
) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data), fault=fault, sync=sync)


def sha256_file(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
