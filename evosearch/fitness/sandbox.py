"""Run untrusted (user or LLM-written) code outside the engine process, contained.

``run_sandboxed`` writes files into a fresh temp work directory and runs a command there in
a subprocess that:

- starts its own session/process group (``start_new_session``) and, when ``unshare`` works,
  its own PID, mount and network namespaces: the whole tree dies with it (PID 1 of the
  namespace), every mount but the work dir is read-only, and there is no network;
- drops to the ``nobody`` uid when the engine runs as root;
- has resource limits: address space, CPU seconds, file size, open files, processes;
- sees a scrubbed environment (an allowlist: no API keys or tokens of the parent);
- is killed as a group on its wall-clock limit.

Which isolation was applied is probed once per process (falling back gracefully) and
reported with every result. stdout/stderr go to files outside the work dir and come back
truncated.
"""

from __future__ import annotations

import dataclasses
import functools
import marshal
import os
import pathlib
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
NOBODY = 65534
_BOOT = pathlib.Path(__file__).with_name("sandbox_boot.py")


class SandboxLimits(BaseModel):
    """Limits of one sandboxed run.

    Attributes:
        timeout: Wall-clock seconds before the process group is killed.
        memory_mb: Address-space limit (``RLIMIT_AS``); allocations beyond fail.
        cpu_seconds: CPU-time limit (``RLIMIT_CPU``); default ``timeout`` + 1.
        file_size_mb: Largest file the code may write (``RLIMIT_FSIZE``), stdout included.
        open_files: Open file descriptors (``RLIMIT_NOFILE``).
        processes: Processes of the sandbox uid (``RLIMIT_NPROC``; only when a dedicated
            uid is used, since the count is per user).
        network: Allow network access (default: a private network namespace, no network).
        output_chars: stdout and stderr kept per stream (head and tail).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(default=30.0, gt=0)
    memory_mb: int = Field(default=2048, ge=64)
    cpu_seconds: int | None = Field(default=None, ge=1)
    file_size_mb: int = Field(default=64, ge=1)
    open_files: int = Field(default=256, ge=16)
    processes: int = Field(default=256, ge=1)
    network: bool = False
    output_chars: int = Field(default=4000, ge=100)


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """What happened to one sandboxed run.

    Attributes:
        returncode: Exit code (128 + signal number when killed by a signal; None when it
            was killed on its wall-clock limit).
        stdout: Captured standard output, truncated to the limit (head and tail).
        stderr: Captured standard error, truncated the same way.
        seconds: Wall time.
        timed_out: The wall-clock limit was hit and the group killed.
        isolation: What containment was applied (namespaces, fs, uid, limits).
    """

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    isolation: dict[str, str]
    workdir: str = ""  # set when the run was asked to keep its work dir

    def describe_isolation(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.isolation.items())


@functools.cache
def isolation_prefix(network: bool = False) -> tuple[tuple[str, ...], str]:
    """The ``unshare`` prefix that works here (probed once) and its description.

    Tries PID + mount (+ network) namespaces, as root or through a user namespace, then
    less; falls back to no namespaces (rlimits, process group and env scrubbing still apply).
    """
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return (), "none (no unshare)"
    net = () if network else ("--net",)
    user = () if os.geteuid() == 0 else ("--map-root-user",)
    candidates = [
        (user + ("--mount", "--pid", "--fork", "--kill-child", "--mount-proc") + net, "pid, mount"),
        (user + ("--mount", "--pid", "--fork", "--kill-child") + net, "pid, mount"),
        (user + ("--pid", "--fork", "--kill-child") + net, "pid"),
        (user + net, ""),
    ]
    for flags, label in candidates:
        cmd = (unshare, *flags)
        try:
            probe = subprocess.run([*cmd, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            names = ", ".join(filter(None, [label, "" if network else "network"]))
            return cmd, f"namespaces: {names or 'none'}"
    return (), "none (unshare not permitted)"


def scrubbed_env(extra: Mapping[str, str] | None, home: str) -> dict[str, str]:
    """An environment from the allowlist, with ``HOME``/``TMPDIR`` in the work dir."""
    env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        HOME=home,
        TMPDIR=os.path.join(home, "tmp"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    env.update(extra or {})
    return env


def run_sandboxed(
    files: Mapping[str, str],
    argv: list[str],
    limits: SandboxLimits,
    *,
    env: Mapping[str, str] | None = None,
    keep_dir: bool = False,
    pass_fds: tuple[int, ...] = (),
) -> SandboxResult:
    """Write ``files`` into a fresh work dir and run ``argv`` there, contained.

    Args:
        files: Relative path → text, written under the work dir (paths must be safe).
        argv: The command; ``{workdir}`` in an argument is replaced by the work dir.
        limits: Resource and time limits.
        env: Extra environment variables (on top of the scrubbed allowlist); ``{workdir}``
            in a value is replaced by the work dir.
        keep_dir: Leave the work dir in place and return its path in ``workdir`` (the
            caller removes its parent when done).
        pass_fds: Extra file descriptors the code inherits (e.g. the pipes of an LLM proxy).

    Returns:
        The outcome; never raises for anything the code does.
    """
    from evosearch.genomes.code import check_path

    root = pathlib.Path(tempfile.mkdtemp(prefix="evosearch-sandbox-"))
    work = root / "work"
    (work / "tmp").mkdir(parents=True)
    for path, text in files.items():
        target = work / check_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    prefix, ns_label = isolation_prefix(limits.network)
    drop = None
    linux = sys.platform.startswith("linux")  # capabilities and prctl are Linux-only
    if os.geteuid() == 0 and linux:
        drop = "uid" if _usable_by_others(shutil.which(argv[0]) or argv[0]) else "caps"
    elif "--map-root-user" in prefix:  # root inside a user namespace: keep no capabilities
        drop = "caps"
    uid = NOBODY if drop == "uid" else None
    if uid is not None:
        root.chmod(0o711)  # the sandbox uid may enter its work dir, not list our files
        for p in [work, *work.rglob("*")]:
            os.chown(p, uid, uid, follow_symlinks=False)
    rlimits = {
        "RLIMIT_AS": limits.memory_mb * 2**20,
        "RLIMIT_CPU": limits.cpu_seconds or int(limits.timeout) + 1,
        "RLIMIT_FSIZE": limits.file_size_mb * 2**20,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_CORE": 0,
    }
    if uid is not None:
        rlimits["RLIMIT_NPROC"] = limits.processes
    read_fd, write_fd = os.pipe()
    spec = {
        "workdir": str(work),
        "argv": [a.replace("{workdir}", str(work)) for a in argv],
        "env": {
            k: v.replace("{workdir}", str(work)) for k, v in scrubbed_env(env, str(work)).items()
        },
        "limits": rlimits,
        "uid": uid,
        "drop": drop,
        "readonly_fs": "mount" in ns_label,
        "report_fd": write_fd,
    }
    out_path, err_path = root / "stdout", root / "stderr"
    start = time.perf_counter()
    timed_out = False
    with _private(out_path) as out, _private(err_path) as err:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-I", "-S", str(_BOOT), marshal.dumps(spec).hex()],
            cwd=work,
            env=spec["env"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            pass_fds=(write_fd, *pass_fds),
        )
        os.close(write_fd)
        try:
            timed_out = not _wait(proc, limits.timeout)
        finally:  # also on EvaluationTimeout or KeyboardInterrupt: never leave the group
            _kill_group(proc)
    seconds = time.perf_counter() - start
    report = _read_report(read_fd)
    isolation = {"namespaces": ns_label.removeprefix("namespaces: ")}
    for key, value in report.items():
        isolation[key] = ",".join(value) if isinstance(value, list) else str(value)
    result = SandboxResult(
        returncode=None if timed_out else proc.returncode,
        stdout=_truncate(out_path.read_bytes(), limits.output_chars),
        stderr=_truncate(err_path.read_bytes(), limits.output_chars),
        seconds=seconds,
        timed_out=timed_out,
        isolation=isolation,
        workdir=str(work) if keep_dir else "",
    )
    if not keep_dir:
        shutil.rmtree(root, ignore_errors=True)
    return result


@functools.cache
def _usable_by_others(executable: str) -> bool:
    """Whether an unprivileged uid can run this program (and read its library, for ours)."""
    import sysconfig

    paths = [os.path.realpath(executable)]
    if paths[0] == os.path.realpath(sys.executable):
        paths += [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]]
    for path in paths:
        p = pathlib.Path(path)
        for d in [p, *p.parents]:
            try:
                mode = d.stat().st_mode
            except OSError:
                return False
            if not mode & 0o001 and d.is_dir() or not mode & 0o004 and not d.is_dir() and d == p:
                return False
    return True


def _private(path: pathlib.Path):
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _wait(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait for the process to exit (True) or ``timeout`` to pass (False).

    Uses a pidfd where the OS has one: ``Popen.wait(timeout)`` polls with sleeps of up to
    50 ms, which would add that much latency to every evaluation.
    """
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


def _kill_group(proc: subprocess.Popen, settle: float = 5.0) -> None:
    """SIGKILL the whole group and wait until its members are gone.

    The namespace's PID 1 is in the group; the kernel kills everything else in the
    namespace (``setsid()`` escapees included) while PID 1 exits, so waiting for the group
    to empty means waiting for the namespace to be torn down.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    deadline = time.monotonic() + settle
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.005)


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process of process group ``pgid`` remains."""
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _read_report(fd: int) -> dict:
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    try:
        report = marshal.loads(b"".join(chunks))
    except (EOFError, ValueError, TypeError):
        return {}
    return report if isinstance(report, dict) else {}


def _truncate(data: bytes, limit: int) -> str:
    text = data.decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"
