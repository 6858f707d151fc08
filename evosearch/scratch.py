"""Per-run scratch directories under the system temp directory, created only when used.

The engine reserves ``<tmp>/evosearch-scratch-<pid>-<random>`` and removes it when the run
closes; the directory exists only once an evaluator asks for ``ctx.scratch``, so a run whose
evaluators never use it leaves nothing behind even when killed. A run that was killed
(``kill -9``) after creating one leaves it; the next run sweeps those whose process is gone.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import tempfile

PREFIX = "evosearch-scratch-"


def reserve() -> str:
    """A fresh, unpredictable scratch path for this process (not created); sweeps stale ones."""
    sweep_stale()
    name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
    return str(pathlib.Path(tempfile.gettempdir()) / name)


def sweep_stale() -> list[pathlib.Path]:
    """Remove scratch directories of this user whose engine process no longer exists."""
    removed = []
    for path in pathlib.Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid_text = path.name[len(PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            if path.is_symlink() or path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
