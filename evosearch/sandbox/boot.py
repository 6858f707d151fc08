"""Sandbox init: PID 1 inside the bubblewrap sandbox, before and after the untrusted code.

Run by bubblewrap as ``python -I -S -c <this file> SPEC_FD`` (``--as-pid-1``); imports
nothing from evosearch (the project is not visible in the sandbox). It:

1. reads the spec (a ``marshal`` dict) from the memfd ``SPEC_FD``;
2. joins the run's cgroups (file descriptors the engine opened), drops to the sandbox uid
   when it starts as root of the sandbox's user namespace, and makes itself non-dumpable, so
   the untrusted code (same uid) can neither ptrace it nor open its descriptors;
3. writes the candidate's files into the work dir (the size-limited tmpfs);
4. forks the command with the resource limits and only the descriptors meant for it;
5. when the command exits, kills every other process of the namespace, then collects files
   out of the work dir as data: regular files only, opened relative to directory
   descriptors with ``O_NOFOLLOW``, with size and count caps; links and special files are
   refused with a reason;
6. writes its report (exit status, files, refusals) to the report memfd, which no other
   process of the sandbox ever holds.
"""

import marshal
import os
import resource
import stat
import sys

WORK = "/work"  # replaced by spec["work"] (sandbox: none runs in a host temp dir)
_SKIP_DIRS = ("__pycache__",)


def _prctl(option, value):
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError, ImportError):
        return -1


def _read_all(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def no_nested_user_namespaces():
    """As root of the sandbox's user namespace: allow no user namespace inside it.

    The limit is per user namespace and only its root may set it; after the uid drop
    nothing in the sandbox can raise it again. Returns what held, for the record.
    """
    try:
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
        return "disabled"
    except OSError as exc:
        return f"allowed ({exc.strerror})"


def write_files(files):
    for rel, data in files.items():
        path = os.path.join(WORK, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def _open_dir(parent_fd, name):
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)


def collect(spec):
    """Files of ``spec['root']`` (relative to the work dir) as ``{rel: bytes}`` + refusals."""
    files, refused = {}, {}
    budget = {"files": spec["max_files"], "bytes": spec["max_bytes"]}
    try:
        root_fd = os.open(WORK, os.O_RDONLY | os.O_DIRECTORY)
        for part in filter(None, spec["root"].split("/")):
            fd = _open_dir(root_fd, part)
            os.close(root_fd)
            root_fd = fd
    except OSError as exc:
        return files, {spec["root"]: f"not a directory: {exc.strerror}"}
    try:
        if spec["paths"] is None:
            _walk(root_fd, "", files, refused, budget, spec)
        else:
            for rel in spec["paths"]:
                _take(root_fd, rel, files, refused, budget, spec)
    finally:
        os.close(root_fd)
    return files, refused


def _walk(dir_fd, prefix, files, refused, budget, spec):
    for name in sorted(os.listdir(dir_fd)):
        rel = prefix + name
        if not prefix and name in spec["skip_top"] or name in _SKIP_DIRS:
            continue
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            try:
                sub = _open_dir(dir_fd, name)
            except OSError as exc:
                refused[rel] = f"cannot open directory: {exc.strerror}"
                continue
            try:
                _walk(sub, rel + "/", files, refused, budget, spec)
            finally:
                os.close(sub)
        else:
            _take(dir_fd, name, files, refused, budget, spec, shown=rel)


def _take(dir_fd, rel, files, refused, budget, spec, shown=None):
    shown = shown or rel
    parts = [p for p in rel.split("/") if p]
    if not parts or any(p in ("..", ".") for p in parts):
        refused[shown] = "not a plain relative path"
        return
    fds = []
    try:
        fd = dir_fd
        for part in parts[:-1]:
            fd = _open_dir(fd, part)
            fds.append(fd)
        st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        kind = _kind(st.st_mode)
        if kind != "regular file":
            refused[shown] = f"refused: a {kind}, only regular files are collected"
            return
        if budget["files"] <= 0:
            refused[shown] = f"refused: more than {spec['max_files']} files"
            return
        if st.st_size > min(spec["file_bytes"], budget["bytes"]):
            refused[shown] = f"refused: {st.st_size} bytes is over the size cap"
            return
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
        f = os.open(parts[-1], flags, dir_fd=fd)
        try:
            if not stat.S_ISREG(os.fstat(f).st_mode):  # swapped between stat and open
                refused[shown] = "refused: not a regular file when opened"
                return
            data = os.read(f, spec["file_bytes"] + 1)
        finally:
            os.close(f)
        if len(data) > spec["file_bytes"]:
            refused[shown] = "refused: grew over the size cap while read"
            return
        files[shown] = data
        budget["files"] -= 1
        budget["bytes"] -= len(data)
    except FileNotFoundError:
        pass  # a listed file the code did not leave: nothing to collect
    except OSError as exc:
        reason = "a symbolic link in the path" if exc.errno in (40, 20) else exc.strerror
        refused[shown] = f"refused: {reason}"
    finally:
        for fd in fds:
            os.close(fd)


def _kind(mode):
    for test, name in (
        (stat.S_ISREG, "regular file"),
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "directory"),
    ):
        if test(mode):
            return name
    return "special file"


def child(spec):
    if spec["drop_uid"] is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("500")  # the OOM killer picks the candidate, not this init
        except OSError:
            pass
    for name, value in spec["rlimits"].items():
        hard = value + 1 if name == "RLIMIT_CPU" else value  # soft: SIGXCPU, hard: SIGKILL
        resource.setrlimit(getattr(resource, name), (value, hard))
    if os.getpid() != 1:  # sandbox: none: a group of its own, killed as one afterwards
        os.setpgid(0, 0)
    keep = sorted(spec["child_fds"])
    low = 3
    for fd in [*keep, 1 << 16]:  # nothing of bwrap's or ours reaches the command
        if fd >= low:
            os.closerange(low, min(fd, 1 << 16))
        low = max(low, fd + 1)
    for fd in keep:
        os.set_inheritable(fd, True)
    os.chdir(spec["cwd"])
    os.execve(spec["argv"][0], spec["argv"], spec["env"])


def main():
    global WORK
    spec_fd = int(sys.argv[1])
    spec = marshal.loads(_read_all(spec_fd))
    os.close(spec_fd)
    WORK = spec["work"]
    report_fd = spec["report_fd"]
    for fd in spec["cgroup_fds"]:  # join the run's cgroups while still allowed to
        os.write(fd, b"0")
        os.close(fd)
    report = {"returncode": 126}
    uid = spec["drop_uid"]
    if uid is not None:  # root of the sandbox's user namespace: keep nothing of it
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("-1000")
        except OSError:
            pass
        report["nested_userns"] = no_nested_user_namespaces()
        os.chown(WORK, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        _prctl(1, 9)  # PR_SET_PDEATHSIG: a uid change cleared --die-with-parent's
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: the code (same uid) cannot ptrace us or open our fds
    os.umask(0o022)
    try:
        write_files(spec["files"])
        os.makedirs(os.path.join(WORK, "tmp"), exist_ok=True)
    except OSError as exc:
        report["setup_error"] = f"writing the files failed: {exc}"
        os.write(report_fd, marshal.dumps(report))
        sys.exit(126)
    keep = set(spec["child_fds"])
    for fd in (report_fd,):
        os.set_inheritable(fd, False)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(report_fd)
            child(spec)
        except BaseException as exc:  # noqa: BLE001 - report any setup failure, then exit
            os.write(2, f"sandbox setup failed: {type(exc).__name__}: {exc}\n".encode())
        os._exit(126)
    for fd in keep:
        try:
            os.close(fd)
        except OSError:
            pass
    status = 0
    while True:  # as PID 1 we reap orphans too; stop when our child is done
        try:
            done, st = os.wait()
        except ChildProcessError:
            break
        if done == pid:
            status = st
            break
    try:  # everything else in the namespace (background children); never outside one
        os.kill(-1 if os.getpid() == 1 else -pid, 9)
    except OSError:
        pass
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    code = os.waitstatus_to_exitcode(status)
    report["returncode"] = 128 - code if code < 0 else code
    if spec["collect"] is not None:
        report["files"], report["refused"] = collect(spec["collect"])
    os.write(report_fd, marshal.dumps(report))
    os.close(report_fd)
    sys.exit(0)


if __name__ == "__main__":
    main()
