"""Crash-safe file primitives: write to a temp name, fsync, rename, fsync the directory."""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import Callable


def fsync_dir(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: pathlib.Path, write: Callable[[pathlib.Path], None], *, sync: bool = True
) -> None:
    """Produce ``path`` atomically: ``write(tmp)`` then fsync, rename and fsync the directory.

    A crash at any point leaves either the old file or the new one, never a torn file.
    With ``sync=False`` the fsyncs are skipped: still atomic when the process is killed
    (the page cache survives it), but not durable across a power loss or kernel crash.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
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


def atomic_write_bytes(path: pathlib.Path, data: bytes, *, sync: bool = True) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data), sync=sync)


def sha256_file(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
