"""A cgroup per sandbox: memory and process count for the whole process tree.

Created under the engine's own cgroup when the engine may (usually: as root; v1 with the
``memory`` and ``pids`` controllers mounted, or v2 with them enabled). The sandbox's init
joins it through descriptors of ``cgroup.procs`` that the engine opened, so every process of
the sandbox is inside before any untrusted code runs. ``create`` returns None where no cgroup
can be made; the caller then falls back to rlimits and says so.
"""

from __future__ import annotations

import os
import pathlib
import signal
import time
import uuid

ROOT = pathlib.Path("/sys/fs/cgroup")


def _own_path(controller: str) -> str:
    """This process's cgroup path for ``controller`` (``""``: the v2 unified hierarchy)."""
    try:
        lines = pathlib.Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(",") or (controller == "" and names == ""):
            return path
    return "/"


class Cgroup:
    """One sandbox's cgroup (v1: a directory per controller; v2: one directory)."""

    def __init__(self, dirs: dict[str, pathlib.Path], version: int):
        self.dirs = dirs
        self.version = version

    @classmethod
    def create(cls, memory_mb: int, processes: int) -> Cgroup | None:
        name = f"evosearch-{uuid.uuid4().hex[:12]}"
        if (ROOT / "memory").is_dir() and (ROOT / "pids").is_dir():
            dirs = {}
            try:
                for ctl in ("memory", "pids"):
                    dirs[ctl] = _make(ROOT / ctl, _own_path(ctl), name)
                _write(dirs["memory"] / "memory.limit_in_bytes", memory_mb * 2**20)
                try:  # no swap either, where swap accounting exists
                    _write(dirs["memory"] / "memory.memsw.limit_in_bytes", memory_mb * 2**20)
                except OSError:
                    pass
                _write(dirs["pids"] / "pids.max", processes)
                return cls(dirs, 1)
            except OSError:
                cls(dirs, 1).remove()
                return None
        if (ROOT / "cgroup.controllers").is_file():
            try:
                d = _make(ROOT, _own_path(""), name)
            except OSError:
                return None
            group = cls({"memory": d, "pids": d}, 2)
            try:
                _write(d / "memory.max", memory_mb * 2**20)
                _write(d / "pids.max", processes)
                try:
                    _write(d / "memory.swap.max", 0)
                except OSError:
                    pass
                return group
            except OSError:
                group.remove()
                return None
        return None

    def describe(self) -> str:
        return f"cgroup v{self.version}"

    def procs_fds(self) -> list[int]:
        """Descriptors of ``cgroup.procs`` the sandbox's init writes ``0`` to (to join)."""
        unique = dict.fromkeys(self.dirs.values())
        return [os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for d in unique]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for d in dict.fromkeys(self.dirs.values()):
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def kill(self, settle: float = 5.0) -> None:
        """SIGKILL every process in the group and wait until it is empty."""
        deadline = time.monotonic() + settle
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def stats(self) -> dict[str, float]:
        """Peak memory (MB), OOM kills and refused forks, as far as the version says."""
        out: dict[str, float] = {}
        mem, pids = self.dirs["memory"], self.dirs["pids"]
        peak = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            out["peak_memory_mb"] = int((mem / peak).read_text()) / 2**20
        except (OSError, ValueError):
            pass
        events = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (mem / events).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    out["oom_kills"] = float(value)
        except (OSError, ValueError):
            pass
        try:
            for line in (pids / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    out["forks_refused"] = float(value)
        except (OSError, ValueError):
            pass
        return out

    def remove(self) -> None:
        self.kill()
        for d in dict.fromkeys(self.dirs.values()):
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def _make(mount: pathlib.Path, own: str, name: str) -> pathlib.Path:
    base = mount / own.lstrip("/")
    if not base.is_dir():  # a cgroup namespace: our cgroup is the mount's root
        base = mount
    d = base / name
    d.mkdir()
    return d


def _write(path: pathlib.Path, value: int) -> None:
    with open(path, "w") as f:
        f.write(str(value))
