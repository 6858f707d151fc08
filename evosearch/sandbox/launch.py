"""One sandboxed run, step by step: the bwrap command line, the start, the kill, the report.

Used by ``sandbox.run_sandboxed``; see its module for what the sandbox guarantees.
"""

from __future__ import annotations

import json
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

from evosearch.sandbox import runner as sb
from evosearch.sandbox.cgroup import Cgroup

_BOOT_SOURCE = sb._BOOT.read_text()


class Launch:
    def __init__(self, limits: sb.SandboxLimits, mode: str, nonce: str):
        if mode not in ("bwrap", "none"):
            raise ValueError(f"sandbox: unknown mode {mode!r}; allowed: bwrap, none")
        self.limits, self.mode, self.nonce = limits, mode, nonce
        self.root = root = os.geteuid() == 0
        self.bwrap = sb.bwrap_path() if mode == "bwrap" else ""
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="evosearch-sandbox-"))
        self.close_after_start: list[int] = []
        self.keep: list[int] = []
        self.cgroup: Cgroup | None = None
        if mode == "bwrap" and root:
            self.cgroup = Cgroup.create(limits.memory_mb, limits.processes)
        self.child_pid = 0
        self.timed_out = False
        self.seconds = 0.0

    # ---------------------------------------------------------------- set-up
    def prepare(self, blobs, argv, env, trusted, collect, pass_fds) -> None:
        bwrap = self.mode == "bwrap"
        work = sb.WORK if bwrap else str(self.tmp / "work")
        tdir = sb.TRUSTED if bwrap else str(self.tmp / "trusted")
        if not bwrap:
            os.makedirs(work)
            os.makedirs(tdir)
            for name, text in trusted.items():
                (pathlib.Path(tdir) / name).write_text(text)

        def sub(s: str) -> str:
            return s.replace("{workdir}", work).replace("{trusted}", tdir)

        exe, binds, python_path = sb.interpreter_binds(argv[0])
        extra_env = {k: sub(v) for k, v in (env or {}).items()}
        self.report_fd = self._memfd("report", keep=True)
        child_fds = list(pass_fds)
        if self.nonce:
            self.verdict_fd = self._memfd("verdict", keep=True)
            child_fds.append(self.verdict_fd)
            extra_env.update(EVOSEARCH_VERDICT_FD=str(self.verdict_fd), EVOSEARCH_NONCE=self.nonce)
        lim = self.limits
        rlimits = {
            "RLIMIT_AS": lim.memory_mb * 2**20,
            "RLIMIT_CPU": lim.cpu_seconds or int(lim.timeout) + 1,
            "RLIMIT_FSIZE": lim.file_size_mb * 2**20,
            "RLIMIT_NOFILE": lim.open_files,
            "RLIMIT_CORE": 0,
        }
        if bwrap and self.cgroup is None:  # counted per user namespace: this sandbox only
            rlimits["RLIMIT_NPROC"] = lim.processes
        cg_fds = self.cgroup.procs_fds() if self.cgroup else []
        self.close_after_start += cg_fds
        spec = {
            "work": work,
            "files": blobs,
            "argv": [exe, *map(sub, argv[1:])],
            "env": sb.scrubbed_env(extra_env, work, python_path),
            "cwd": work,
            "rlimits": rlimits,
            "drop_uid": sb.NOBODY if bwrap and self.root else None,
            "cgroup_fds": cg_fds,
            "report_fd": self.report_fd,
            "child_fds": child_fds,
            "collect": None if collect is None else dict(collect.__dict__),
        }
        spec_fd = self._memfd("spec", marshal.dumps(spec))
        boot_exe = os.path.realpath(sys.executable)
        boot = [boot_exe, "-I", "-S", "-c", _BOOT_SOURCE, str(spec_fd)]
        if not bwrap:
            boot[0] = sys.executable
            self.argv = boot
            self.fds = [spec_fd, self.report_fd, *cg_fds, *child_fds]
            self.describe = {"sandbox": "none (trusted code: no namespaces, engine's uid)"}
            self._describe_limits(rlimits)
            return
        args = [self.bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
        args += ["--unshare-cgroup-try", "--die-with-parent"]
        args += ["--new-session", "--as-pid-1", "--hostname", "sandbox"]
        if not lim.network:
            args.append("--unshare-net")
        if not self.root:  # (with --userns-block-fd bwrap cannot also disable user namespaces)
            args += ["--uid", str(sb.NOBODY), "--gid", str(sb.NOBODY), "--disable-userns"]
        args += sb.system_binds()
        parents: set[str] = set()
        for d in binds:
            args += ["--ro-bind", d, d]
            parents.update(str(p) for p in pathlib.Path(d).parents if str(p) != "/")
        for p in sorted(parents - set(binds)):  # bwrap copies e.g. /root's 0700 otherwise
            args += ["--chmod", "0755", p]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(16 * 2**20), "--tmpfs", "/dev/shm"]
        args += ["--size", str(lim.disk_mb * 2**20), "--tmpfs", sb.WORK]
        for name, text in trusted.items():
            fd = self._memfd("trusted", text.encode())
            args += ["--perms", "0444", "--ro-bind-data", str(fd), f"{sb.TRUSTED}/{name}"]
        args += ["--remount-ro", "/", "--chdir", sb.WORK, "--clearenv"]
        self.info_r, info_w = os.pipe()
        self.close_after_start.append(info_w)
        args += ["--info-fd", str(info_w)]
        if self.root:  # the engine writes the uid map: 65534 inside is 65534 outside
            block_r, self.block_w = os.pipe()
            self.close_after_start.append(block_r)
            args += ["--userns-block-fd", str(block_r)]
            # for the init's one write of max_user_namespaces = 0; its uid drop clears it
            args += ["--cap-add", "CAP_SYS_RESOURCE"]
        self.argv = [*args, "--", *boot]
        self.fds = [spec_fd, self.report_fd, *cg_fds, *child_fds, *self.close_after_start]
        ns = "user, pid, mount, ipc, uts, cgroup" + ("" if lim.network else ", network")
        where = "65534 outside too" if self.root else f"your uid {os.getuid()} outside"
        self.describe = {
            "sandbox": "bubblewrap",
            "namespaces": ns,
            "uid": f"65534 in the sandbox ({where}), no capabilities",
            "fs": f"read-only binds; /work tmpfs {lim.disk_mb} MB; /proc fresh, no /sys",
        }
        self._describe_limits(rlimits)

    def _describe_limits(self, rlimits: dict) -> None:
        lim = self.limits
        if self.cgroup is not None:
            tree = f"memory {lim.memory_mb} MB and {lim.processes} processes for the whole tree"
            tree += f" ({self.cgroup.describe()})"
        elif "RLIMIT_NPROC" in rlimits:
            tree = f"memory {lim.memory_mb} MB per process (RLIMIT_AS, no cgroup), "
            tree += f"{lim.processes} processes (RLIMIT_NPROC in the user namespace)"
        else:
            tree = f"memory {lim.memory_mb} MB per process (RLIMIT_AS), processes not limited"
        disk = f"disk {lim.disk_mb} MB (tmpfs)" if self.mode == "bwrap" else "disk not limited"
        self.describe["limits"] = (
            f"{tree}; cpu {rlimits['RLIMIT_CPU']} s, file {lim.file_size_mb} MB per process; "
            f"{disk}; wall {lim.timeout:g} s"
        )

    def _memfd(self, name: str, data: bytes = b"", keep: bool = False) -> int:
        fd = sb._memfd(name, data)
        (self.keep if keep else self.close_after_start).append(fd)
        return fd

    # ---------------------------------------------------------------- run
    def start(self) -> None:
        self.out = open(self.tmp / "stdout", "wb+")
        self.err = open(self.tmp / "stderr", "wb+")
        self.t0 = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.tmp,
                env={"PATH": "/usr/bin:/bin"},
                stdin=subprocess.DEVNULL,
                stdout=self.out,
                stderr=self.err,
                start_new_session=True,
                pass_fds=tuple(dict.fromkeys(self.fds)),
            )
        finally:
            for fd in self.close_after_start:
                _close(fd)
            self.close_after_start = []
        if self.mode == "none":
            self.child_pid = self.proc.pid
            return
        info = self._read_info()
        self.child_pid = int(info.get("child-pid", 0))
        if self.root:
            if self.child_pid:
                for name in ("uid_map", "gid_map"):
                    try:
                        with open(f"/proc/{self.child_pid}/{name}", "w") as f:
                            f.write(f"0 0 1\n{sb.NOBODY} {sb.NOBODY} 1\n")
                    except OSError:
                        pass  # bwrap then fails to set up; its message says why
            _close(self.block_w)

    def _read_info(self) -> dict:
        data = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.info_r], [], [], 1.0)
            if not ready:
                continue
            chunk = os.read(self.info_r, 4096)
            if not chunk:
                break
            data += chunk
            try:
                return json.loads(data)
            except ValueError:
                continue
        return {}

    def wait(self) -> None:
        try:
            self.timed_out = not sb._wait_pid(self.proc, self.limits.timeout)
        finally:  # also on KeyboardInterrupt: never leave the sandbox behind
            self.seconds = time.perf_counter() - self.t0
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if self.timed_out and self.child_pid:
                sb._kill(self.child_pid)  # the namespace's init: everything in it dies
            self.proc.wait()
            deadline = time.monotonic() + 5
            while self.child_pid and sb._alive(self.child_pid) and time.monotonic() < deadline:
                time.sleep(0.002)
            if self.cgroup is not None:
                self.cgroup.kill()

    def result(self) -> sb.SandboxResult:
        report = {}
        try:
            report = marshal.loads(sb._read_fd(self.report_fd))
        except (EOFError, ValueError, TypeError):
            pass
        if not isinstance(report, dict):
            report = {}
        verdicts = ()
        if self.nonce:
            verdicts = sb.parse_verdicts(sb._read_fd(self.verdict_fd, 2**20), self.nonce)
        stats = self.cgroup.stats() if self.cgroup else {}
        code = report.get("returncode")
        isolation = dict(self.describe)
        if "nested_userns" in report:
            isolation["nested user namespaces"] = str(report["nested_userns"])
        elif self.mode == "bwrap" and not self.root:
            isolation["nested user namespaces"] = "disabled"
        if "setup_error" in report:
            isolation["setup"] = str(report["setup_error"])
        self.out.flush()
        self.err.flush()
        stderr = (self.tmp / "stderr").read_bytes()
        if not report and not self.timed_out and self.proc.returncode:
            code = self.proc.returncode  # bwrap itself failed: its message is in stderr
        return sb.SandboxResult(
            returncode=None if self.timed_out else code,
            stdout=sb._truncate((self.tmp / "stdout").read_bytes(), self.limits.output_chars),
            stderr=sb._truncate(stderr, self.limits.output_chars),
            seconds=self.seconds,
            timed_out=self.timed_out,
            isolation=isolation,
            files=dict(report.get("files") or {}),
            refused=dict(report.get("refused") or {}),
            verdicts=verdicts,
            stats=stats,
        )

    def cleanup(self) -> None:
        for fd in self.close_after_start + self.keep:
            _close(fd)
        for f in ("out", "err"):
            if hasattr(self, f):
                getattr(self, f).close()
        if getattr(self, "info_r", None) is not None:
            _close(self.info_r)
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass

