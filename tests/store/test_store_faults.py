"""Damaged parts, full disks, read-only run directories, a second writer, duplicate rows."""

import contextlib
import errno
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from conftest import REPO_ROOT, run_cli, sphere_config, subprocess_env

import evosearch.store.log as log_mod
from evosearch.engine import Engine
from evosearch.store import RunStore, StoreError, faults

FAST = {"fitness": {"ref": "sphere", "params": {"shift": 1.0, "device": "cpu"}}}


def make_run(path, generations=5):
    Engine.create(sphere_config(budget={"generations": generations}, **FAST), path).run()
    return path


def ids_of(path):
    return sorted(RunStore.open(path).table(["id"])["id"].to_pylist())


def test_a_corrupted_part_stops_resume_and_repair_quarantines_only_that_part(tmp_path, monkeypatch):
    monkeypatch.setattr(RunStore, "compact_every", 1)  # one part per generation
    run = make_run(tmp_path / "run")
    part = run / "individuals" / "part-000003.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))

    with pytest.raises(StoreError, match=r"part-000003.*checksum mismatch.*evosearch repair"):
        Engine.resume(run)
    proc = run_cli("resume", run)
    assert proc.returncode == 2 and "damaged part" in proc.stderr

    proc = run_cli("repair", run)
    assert proc.returncode == 0, proc.stderr
    assert "part-000003.parquet (checksum mismatch) -> quarantine/part-000003.parquet" in (
        proc.stdout
    )
    lost = list(range(12, 18))  # generation 2 of 6 individuals
    assert "lost ids: " + ", ".join(map(str, lost)) in proc.stdout or "ids in 12..17" in (
        proc.stdout
    )
    assert (run / "quarantine" / "part-000003.parquet").exists()
    assert ids_of(run) == [i for i in range(30) if i not in lost]
    assert RunStore.open(run).verify() == []

    Engine.resume(run, budget_overrides=["budget.generations=6"]).run()
    assert ids_of(run) == [i for i in range(36) if i not in lost]


def test_repair_of_an_intact_run_changes_nothing(tmp_path):
    run = make_run(tmp_path / "run", generations=2)
    before = (run / "manifest.json").read_bytes()
    proc = run_cli("repair", run)
    assert proc.returncode == 0 and "nothing to do" in proc.stdout
    assert (run / "manifest.json").read_bytes() == before


def test_a_full_disk_during_a_commit_is_a_clear_error_and_loses_nothing(tmp_path, monkeypatch):
    real_write = log_mod.os.write
    calls = []

    def write_until_full(fd, data):
        if "/log/seg-" in os.readlink(f"/proc/self/fd/{fd}"):
            calls.append(fd)
        if len(calls) == 4:  # schema, two commits, then half of the third commit
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(log_mod.os, "write", write_until_full)
    monkeypatch.setattr(RunStore, "compact_every", 0)
    run = tmp_path / "run"
    with pytest.raises(StoreError, match="No space left on device.*intact"):
        Engine.create(sphere_config(**FAST), run).run()
    monkeypatch.undo()
    assert ids_of(run) == list(range(12))  # the two commits before the disk filled
    assert not [p for p in (run / "individuals").iterdir() if p.name.startswith(".")]
    Engine.resume(run).run()
    assert ids_of(run) == list(range(30))


@contextlib.contextmanager
def tmpfs(size: str):
    where = tempfile.mkdtemp(prefix="evosearch-tmpfs-")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", where], capture_output=True
    )
    if proc.returncode != 0:
        os.rmdir(where)
        pytest.skip(f"mounting a tmpfs needs root or CAP_SYS_ADMIN: {proc.stderr.decode()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", where], check=False)
        os.rmdir(where)


def test_a_real_full_tmpfs_stops_the_run_with_every_commit_intact():
    with tmpfs("160k") as disk:
        run = os.path.join(disk, "run")
        with pytest.raises(StoreError, match="No space left on device"):
            make_run(run, generations=10_000)
        store = RunStore.open(run)
        assert store.verify() == []
        n = store.num_individuals
        assert n >= 6 and n % 6 == 0 and ids_of(run) == list(range(n))


def test_a_read_only_remounted_run_refuses_to_resume_and_keeps_its_data():
    with tmpfs("4m") as disk:
        run = make_run(os.path.join(disk, "run"), generations=2)
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        with pytest.raises(StoreError, match="cannot write to .*Read-only file system"):
            Engine.resume(run)
        assert ids_of(run) == list(range(12))


def resume_as_nobody(run: str) -> tuple[int, str]:
    """``evosearch resume RUN`` in a forked child of this process, as uid/gid 65534 if root.

    The child has already imported evosearch (and the modules ``resume`` needs), so the test
    does not depend on where the checkout lives: ``nobody`` need not read it.
    """
    from evosearch import cli, engine, preflight  # noqa: F401 - imported before the fork
    from evosearch.cli import run as _run  # noqa: F401

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, run the command, report through the pipe
        code = 70
        try:
            os.close(read)
            sys.stderr = open(write, "w", closefd=False)  # noqa: SIM115 - pytest replaced it
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            code = cli.main(["resume", run])
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read, encoding="utf-8", errors="replace") as pipe:
        err = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


def test_a_read_only_run_directory_is_a_clear_error_for_a_non_root_user():
    base = tempfile.mkdtemp(prefix="evosearch-ro-")
    try:
        os.chmod(base, 0o755)
        run = make_run(os.path.join(base, "run"), generations=2)
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(run):
                for name in [*dirs, *files]:
                    os.chown(os.path.join(root, name), 65534, 65534)
            os.chown(run, 65534, 65534)
        subprocess.run(["chmod", "-R", "a-w", run], check=True)
        code, err = resume_as_nobody(run)
        assert code == 2, err
        assert err.startswith(f"evosearch: error: cannot write to {run}: Permission"), err
        assert ids_of(run) == list(range(12))
    finally:
        subprocess.run(["chmod", "-R", "u+w", base], check=False)
        shutil.rmtree(base, ignore_errors=True)


def lock_is_held(run) -> bool:
    fd = os.open(os.path.join(run, "run.lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_second_process_resuming_the_same_run_is_refused(tmp_path):
    run = tmp_path / "run"
    cfg = sphere_config(fitness={"ref": "fault_fitness:hang_soft", "params": {"device": "cpu"}})
    Engine.create(cfg, run).close()  # a run with no commit yet: its first evaluation hangs
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")]))
    first = subprocess.Popen(
        [sys.executable, "-m", "evosearch", "resume", str(run), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not lock_is_held(run):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        second = run_cli("resume", run)
        assert second.returncode == 2
        assert "being written by another process (run.lock is held)" in second.stderr
    finally:
        first.kill()
        first.wait()
    assert not lock_is_held(run)  # the kernel drops the lock of a killed writer


def test_a_commit_never_writes_a_second_row_for_an_id(tmp_path):
    run = make_run(tmp_path / "run", generations=1)
    store = RunStore.open(run, writable=True)
    again = store.individuals()[:3]
    store.commit(again + again[:1], {"state": 1}, generation=1)
    store.close()
    assert ids_of(run) == list(range(6))
    assert store.duplicates_dropped == 4


def test_an_unknown_fault_point_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(faults.ENV, "after_lunch:1")
    with pytest.raises(ValueError, match="unknown fault point 'after_lunch'"):
        faults.point("before_part_write")
