"""Run untrusted (user or LLM-written) code outside the engine process, contained.

``run_sandboxed`` runs a command under bubblewrap (``bwrap``, Debian ``bubblewrap``):

- new user, pid, net, ipc, uts, cgroup and mount namespaces; uid 65534 inside and (for a
  root engine) outside too; no capabilities; no nested user namespaces;
- a minimal root of read-only binds: ``/usr`` (system programs and libraries), the
  interpreter and the ``sys.path`` directories it needs (never the project, the run
  directory or ``/root``/``/home`` as such); a fresh ``/proc`` (``/proc/sys`` read-only), no
  ``/sys``; trusted files (the evaluator, the test harness) read-only under ``/evosearch``;
- the work dir ``/work`` the only writable place: a tmpfs of ``disk_mb``;
- whole-tree limits: a cgroup (memory, process count) where the engine can create one,
  else rlimits under the sandbox's user namespace; always CPU time, file size, open files,
  address space per process and the wall-clock kill;
- a scrubbed environment; the sandbox's init (``boot.py``) reports the exit status
  and collects files out of the work dir as data on a descriptor no other process holds.

``sandbox="none"`` (trusted code only) runs the same init in a host temp dir, without
namespaces; the result says so. Every result lists what was enforced.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ENV_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
NOBODY = 65534
WORK, TRUSTED = "/work", "/evosearch"
INSTALL_HINT = (
    "code evaluation needs bubblewrap (bwrap): install it with `apt-get install bubblewrap` "
    "(Debian/Ubuntu) or `dnf install bubblewrap`, or set `sandbox: none` for trusted code"
)
_BOOT = pathlib.Path(__file__).with_name("boot.py")
#: The stdlib-only helper evaluators import as ``evosearch_eval`` (copied into the sandbox).
EVALUATOR_API = pathlib.Path(__file__).with_name("evaluator_api.py")
_PROJECT = pathlib.Path(__file__).resolve().parents[2]
SandboxMode = Literal["bwrap", "none"]


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing (or cannot create namespaces here)."""


class SandboxLimits(BaseModel):
    """Limits of one sandboxed run.

    Attributes:
        timeout: Wall-clock seconds before the whole sandbox is killed.
        memory_mb: Memory of the whole process tree (cgroup); also each process's address
            space (``RLIMIT_AS``), the backstop where no cgroup can be made.
        cpu_seconds: CPU time per process (``RLIMIT_CPU``); default ``timeout`` + 1.
        file_size_mb: Largest file a process may write (``RLIMIT_FSIZE``), stdout included.
        disk_mb: Size of the work dir's tmpfs: every byte written in the sandbox, together.
        open_files: Open file descriptors per process (``RLIMIT_NOFILE``).
        processes: Processes of the whole tree (cgroup ``pids.max``; else ``RLIMIT_NPROC``
            in the sandbox's user namespace).
        network: Allow network access (default: a private network namespace, no network).
        output_chars: stdout and stderr kept per stream (head and tail).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(default=30.0, gt=0)
    memory_mb: int = Field(default=2048, ge=64)
    cpu_seconds: int | None = Field(default=None, ge=1)
    file_size_mb: int = Field(default=64, ge=1)
    disk_mb: int = Field(default=256, ge=8)
    open_files: int = Field(default=256, ge=16)
    processes: int = Field(default=256, ge=4)
    network: bool = False
    output_chars: int = Field(default=4000, ge=100)


@dataclasses.dataclass(frozen=True)
class Collect:
    """Files to take out of the work dir after the run (regular files only, capped)."""

    root: str = ""
    paths: tuple[str, ...] | None = None  # None: every regular file under root
    max_files: int = 200
    max_bytes: int = 8 * 2**20
    file_bytes: int = 512_000
    skip_top: tuple[str, ...] = ("tmp",)


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """What happened to one sandboxed run.

    Attributes:
        returncode: Exit code (128 + signal number when killed by a signal; None when it
            was killed on its wall-clock limit or the sandbox could not report).
        stdout, stderr: Captured output, truncated to the limit (head and tail).
        seconds: Wall time.
        timed_out: The wall-clock limit was hit and the sandbox killed.
        isolation: What containment was applied (sandbox, namespaces, uid, fs, limits).
        files: Collected files (relative path → bytes), when asked to collect.
        refused: Files not collected, with the reason (links, devices, over the caps).
        verdicts: Records the trusted side wrote on the verdict channel (nonce checked).
        stats: Peak memory, OOM kills, refused forks (where a cgroup measured them).
    """

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    isolation: dict[str, str]
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    refused: dict[str, str] = dataclasses.field(default_factory=dict)
    verdicts: tuple[dict, ...] = ()
    stats: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def verdict(self) -> dict | None:
        return self.verdicts[-1] if self.verdicts else None

    def describe_isolation(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.isolation.items())


@functools.cache
def bwrap_path() -> str:
    """The bwrap executable, after one probe that it can create its namespaces here.

    Raises:
        SandboxUnavailable: with one line saying how to install it (or why it fails).
    """
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        raise SandboxUnavailable(INSTALL_HINT)
    probe = subprocess.run(
        [path, "--unshare-all", *system_binds(), "--", "/usr/bin/true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        raise SandboxUnavailable(f"bwrap cannot create a sandbox here: {probe.stderr.strip()}")
    return path


def system_binds() -> list[str]:
    """The bwrap arguments for ``/usr`` and the top-level links into it (merged /usr)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{link}"):
            args += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            args += ["--ro-bind", f"/{link}", f"/{link}"]
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"):
        args += ["--ro-bind-try", path, path]
    return args


def require_sandbox(mode: str = "bwrap") -> None:
    """Fail early (one line) when code evaluation cannot be contained as configured."""
    if mode == "bwrap":
        bwrap_path()


def scrubbed_env(extra: Mapping[str, str] | None, home: str, python_path: str) -> dict[str, str]:
    """An environment from the allowlist, with ``HOME``/``TMPDIR`` in the work dir."""
    env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    env.update(
        PATH="/usr/local/bin:/usr/bin:/bin",
        HOME=home,
        TMPDIR=os.path.join(home, "tmp"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    if python_path:
        env["PYTHONPATH"] = python_path
    env.update(extra or {})
    return env


def run_sandboxed(
    files: Mapping[str, str | bytes],
    argv: list[str],
    limits: SandboxLimits,
    *,
    env: Mapping[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
    trusted_files: Mapping[str, str] | None = None,
    collect: Collect | None = None,
    verdict: bool = False,
    mode: SandboxMode = "bwrap",
) -> SandboxResult:
    """Run ``argv`` in a fresh sandbox holding ``files`` in its work dir.

    Args:
        files: Relative path → content, written into the work dir (paths must be safe).
        argv: The command; ``{workdir}``/``{trusted}`` in an argument become the work dir
            and the read-only directory of ``trusted_files``.
        limits: Resource and time limits.
        env: Extra environment variables (on top of the scrubbed allowlist); ``{workdir}``
            and ``{trusted}`` are replaced as in ``argv``.
        pass_fds: Extra descriptors the command inherits (e.g. the pipes of an LLM proxy).
        trusted_files: Name → text, read-only for everything in the sandbox.
        collect: Files to take out of the work dir afterwards (as data, capped).
        verdict: Open the verdict channel: ``EVOSEARCH_VERDICT_FD`` and ``EVOSEARCH_NONCE``
            go to the command only (``evosearch_eval`` takes them and hides them from the
            candidate); records with the nonce come back in ``verdicts``.
        mode: ``bwrap`` (default) or ``none`` (trusted code: no namespaces, no uid change).

    Returns:
        The outcome; never raises for anything the code does.

    Raises:
        SandboxUnavailable: when ``mode`` is ``bwrap`` and bubblewrap is missing.
    """
    from evosearch.genomes.code import check_path
    from evosearch.sandbox import launch

    blobs = {check_path(p): t.encode() if isinstance(t, str) else t for p, t in files.items()}
    nonce = secrets.token_hex(16) if verdict else ""
    run = launch.Launch(limits, mode, nonce)
    try:
        run.prepare(blobs, argv, env, trusted_files or {}, collect, pass_fds)
        run.start()
        run.wait()
        return run.result()
    finally:
        run.cleanup()


def isolation_in(feedback: str | None) -> str | None:
    """The sandbox record a code evaluation left in its feedback (``sandbox: ...``), if any.

    ``code.sandbox`` ends its feedback with the line; ``dgm.coding`` keeps it under the
    ``"sandbox"`` key of its JSON feedback.
    """
    if not feedback:
        return None
    if feedback.lstrip().startswith("{"):
        try:
            data = json.loads(feedback)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("sandbox"), str):
            return data["sandbox"]
    for line in reversed(feedback.splitlines()):
        if line.startswith("sandbox: "):
            return line
    return None


def parse_verdicts(data: bytes, nonce: str, limit: int = 64) -> tuple[dict, ...]:
    """The verdict records carrying ``nonce`` (one JSON object per line)."""
    out = []
    for line in data.decode("utf-8", errors="replace").splitlines()[-limit:]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and secrets.compare_digest(
            str(record.pop("nonce", "")), nonce
        ):
            out.append(record)
    return tuple(out)


def interpreter_binds(executable: str) -> tuple[str, list[str], str]:
    """(executable inside, directories to bind read-only, PYTHONPATH) for a command.

    The engine's own interpreter always enters (the sandbox's init runs on it) as its real
    file, with its prefix and the site-packages directories of its ``sys.path`` (never
    the project, the current directory or a script's directory); another program gets its
    prefix bound when it lives outside ``/usr``.
    """
    real = os.path.realpath(shutil.which(executable) or executable)
    engine, dirs, python_path = _engine_binds()
    if real == engine:
        return real, dirs, python_path
    prefix = str(pathlib.Path(real).parent.parent)
    extra = [] if real.startswith("/usr/") or prefix in dirs else [prefix]
    return real, dirs + extra, ""


@functools.cache
def _engine_binds() -> tuple[str, list[str], str]:
    hidden = [str(_PROJECT), os.getcwd()]
    base = os.path.realpath(sys.base_prefix)
    dirs = [base]
    extra = []
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        entry = os.path.realpath(entry)
        if any(entry == h or entry.startswith(h + "/") for h in hidden):
            continue
        if entry.startswith(base + "/"):
            continue
        if os.path.basename(entry) in ("site-packages", "dist-packages"):
            dirs.append(entry)
            extra.append(entry)
    keep: list[str] = []
    for d in sorted(set(dirs), key=len):
        if d == "/usr" or d.startswith("/usr/") or any(d.startswith(k + "/") for k in keep):
            continue
        keep.append(d)
    return os.path.realpath(sys.executable), keep, ":".join(dict.fromkeys(extra))


def _truncate(data: bytes, limit: int) -> str:
    text = data.decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


def _memfd(name: str, data: bytes = b"") -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC) if hasattr(os, "memfd_create") else None
    if fd is None:  # not Linux: an unlinked temp file does the same
        fd, path = tempfile.mkstemp(prefix=f"evosearch-{name}-")
        os.unlink(path)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)  # bwrap's --ro-bind-data reads from the current offset
    return fd


def _read_fd(fd: int, limit: int = 64 * 2**20) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks, total = [], 0
    while total < limit and (chunk := os.read(fd, min(1 << 20, limit - total))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _wait_pid(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait for the process to exit (True) or ``timeout`` to pass (False), via a pidfd."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"

