"""Sandbox bootstrap: runs (as PID 1 of a fresh namespace when available) before user code.

Executed as a script (``python -I -S sandbox_boot.py SPEC``, the spec a hex-encoded
``marshal`` dict: no ``json``/``re`` import, which costs ~20 ms per evaluation); imports
nothing from evosearch. It makes every mount read-only except the work directory (in its own mount
namespace), then forks a child that drops to an unprivileged uid, applies resource limits,
closes the report pipe and execs the evaluator. The parent reports what isolation it applied
on the report pipe, reaps every process and exits with the child's status (128 + signal
when it was killed by one).
"""

import ctypes
import marshal
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": 1024,
    "nodiratime": 2048,
    "relatime": 1 << 21,
}
_KEEP_WRITABLE = ("/proc", "/sys", "/dev")  # kernel filesystems and device nodes


def _mount(libc, source, target, flags):
    src = source.encode() if source else None
    if libc.mount(src, target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _mounts():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            point = parts[4].encode().decode("unicode_escape")
            yield point, parts[5].split(",")


def readonly_except(workdir):
    """Make every mount read-only in this mount namespace except ``workdir``."""
    libc = ctypes.CDLL(None, use_errno=True)
    _mount(libc, None, "/", MS_REC | MS_PRIVATE)
    _mount(libc, workdir, workdir, MS_BIND | MS_REC)
    failed = []
    for point, opts in list(_mounts()):
        inside = point == workdir or point.startswith(workdir.rstrip("/") + "/")
        kernel = any(point == k or point.startswith(k + "/") for k in _KEEP_WRITABLE)
        if inside or (kernel and not point.startswith(("/dev/shm", "/dev/mqueue"))):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for opt in opts:
            flags |= _FLAGS.get(opt, 0)
        try:
            _mount(libc, None, point, flags)
        except OSError:
            failed.append(point)
    return failed


def drop_capabilities():
    """Stay uid 0 but without any capability, now and after exec (no remount, no ptrace)."""
    libc = ctypes.CDLL(None, use_errno=True)
    cap = 0
    while libc.prctl(24, cap, 0, 0, 0) == 0:  # PR_CAPBSET_DROP until EINVAL
        cap += 1
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL
    # SECBIT_NOROOT | NOROOT_LOCKED | NO_CAP_AMBIENT_RAISE | its lock: root gains nothing on exec
    if libc.prctl(28, 1 | 2 | 64 | 128, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECUREBITS failed")


def child(spec, report_fd):
    os.close(report_fd)
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # Linux only
    if prctl is not None:
        prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: setuid binaries gain nothing
    drop = spec.get("drop")
    if drop == "uid":
        uid = spec["uid"]
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    elif drop == "caps":
        drop_capabilities()
    for name, value in spec["limits"].items():
        res = getattr(resource, name)
        hard = value + 1 if name == "RLIMIT_CPU" else value  # soft: SIGXCPU, hard: SIGKILL
        resource.setrlimit(res, (value, hard))
    os.chdir(spec["workdir"])
    argv = spec["argv"]
    os.execve(argv[0], argv, spec["env"])


def main():
    spec = marshal.loads(bytes.fromhex(sys.argv[1]))
    report_fd = spec["report_fd"]
    report = {"fs": "none", "uid": "unchanged", "limits": sorted(spec["limits"])}
    if spec.get("readonly_fs"):
        try:
            failed = readonly_except(spec["workdir"])
            report["fs"] = "read-only except work dir" + (f" (not: {failed})" if failed else "")
        except OSError as exc:
            report["fs"] = f"none ({exc})"
    if spec.get("drop") == "uid":
        report["uid"] = f"dropped to {spec['uid']}"
    elif spec.get("drop") == "caps":
        report["uid"] = "0 without capabilities"
    pid = os.fork()
    if pid == 0:
        try:
            child(spec, report_fd)
        except BaseException as exc:  # noqa: BLE001 - report any setup failure, then exit
            os.write(2, f"sandbox setup failed: {type(exc).__name__}: {exc}\n".encode())
        os._exit(126)
    os.write(report_fd, marshal.dumps(report))
    os.close(report_fd)
    while True:  # as PID 1 we also reap orphans; stop when our child is done
        try:
            done, status = os.wait()
        except ChildProcessError:
            sys.exit(126)
        if done == pid:
            break
    code = os.waitstatus_to_exitcode(status)
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
