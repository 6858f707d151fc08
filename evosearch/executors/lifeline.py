"""Worker processes die with the engine that started them.

A ``kill -9`` of the engine gives it no chance to shut its pool down; without help, loky's
workers (and, on a GPU box, the models they hold in GPU memory) live on. ``pool_kwargs()``
gives a pool an initializer that, in each worker, asks Linux for ``SIGKILL`` when the
process's parent dies (``prctl(PR_SET_PDEATHSIG)``) and starts a watchdog thread that exits
once the worker's parent is no longer the engine (the portable fallback, and the guard for a
worker whose spawning thread, not process, ended first: ``PDEATHSIG`` is per thread, so it is
only armed when the worker was started by the engine's main thread).
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from typing import Any

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5


def pool_kwargs() -> dict[str, Any]:
    """``initializer``/``initargs`` for a loky pool whose workers follow this process."""
    main = threading.current_thread() is threading.main_thread()
    return {"initializer": follow_parent, "initargs": (os.getpid(), main)}


def follow_parent(engine_pid: int, arm_pdeathsig: bool = True) -> None:
    """Worker initializer: die when ``engine_pid`` is gone (see the module docstring)."""
    if os.getppid() != engine_pid:  # the engine died while this worker started
        os._exit(1)
    if arm_pdeathsig:
        _pdeathsig()
        if os.getppid() != engine_pid:  # died between the check and prctl
            os._exit(1)
    thread = threading.Thread(
        target=_watch, args=(engine_pid,), name="evosearch-lifeline", daemon=True
    )
    thread.start()


def _pdeathsig() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog does the job
        pass


def _watch(engine_pid: int) -> None:
    while os.getppid() == engine_pid:
        time.sleep(POLL_SECONDS)
    os._exit(1)
