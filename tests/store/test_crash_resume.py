"""SIGKILL the engine at random commit phases of one run, resume each time, lose nothing."""

import os
import signal
import traceback

import numpy as np
from conftest import archive_config

from evosearch import registry
from evosearch.engine import Engine
from evosearch.store import RunStore, faults
from evosearch.store.schema import to_table

KILLS = 20
COMMIT_EVERY = 3
COMPACT_EVERY = 2  # the store compacts its log every 2 commits: kills land in compaction too
MAX_NTH = 3
# A kill at the N-th passage of a point lets a round commit at most COMPACT_EVERY * N
# batches plus a partial one, so this budget cannot be reached before the 20th kill.
BUDGET = KILLS * MAX_NTH * COMMIT_EVERY * COMPACT_EVERY + 20


def run_child(run_dir, config, fault):
    """Run (or resume) the engine in a forked child process; return its exit code."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 1
        try:
            faults._counts.clear()
            os.environ.pop(faults.ENV, None)
            if fault:
                os.environ[faults.ENV] = fault
            engine = Engine.create(config, run_dir) if config else Engine.resume(run_dir)
            engine.run()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def durable_rows(run_dir):
    """Every evaluation the run can recover: committed rows plus the uncommitted appends."""
    store = RunStore.open(run_dir)
    try:
        wal = store.read_wal()
        table = store.table()
        if wal:
            import pyarrow as pa

            table = pa.concat_tables([table, to_table(wal, store.schema)])
    finally:
        store.close()
    return [
        (r["id"], r["fingerprint"], r["status"], r["score"], r["operator"])
        for r in table.select(["id", "fingerprint", "status", "score", "operator"]).to_pylist()
    ]


def test_twenty_sigkills_at_random_commit_phases_lose_no_committed_evaluation(
    tmp_path, monkeypatch
):
    registry.load_builtins()  # import plugins once, before forking children
    monkeypatch.setattr(RunStore, "compact_every", COMPACT_EVERY)
    rng = np.random.default_rng(8)
    run_dir = tmp_path / "run"
    config = archive_config(
        mode="steady_state",
        budget={"evaluations": BUDGET},
        fitness={"ref": "sphere", "params": {"device": "cpu"}},
        executor="serial",
        store={"commit_every": COMMIT_EVERY},
    )
    durable: dict[int, tuple] = {}
    hit = set()
    for kill in range(KILLS):
        point = faults.POINTS[int(rng.integers(len(faults.POINTS)))]
        fault = f"{point}:{int(rng.integers(1, MAX_NTH + 1))}"
        code = run_child(run_dir, config if kill == 0 else None, fault)
        assert code == -signal.SIGKILL, f"kill {kill} at {fault} did not happen (exit {code})"
        hit.add(point)
        for row in durable_rows(run_dir):
            assert durable.setdefault(row[0], row) == row, f"id {row[0]} changed after {fault}"
    assert run_child(run_dir, None, None) == 0

    final = durable_rows(run_dir)
    ids = [r[0] for r in final]
    assert len(ids) == len(set(ids)) == BUDGET  # no duplicate row, budget reached
    assert set(durable.values()) <= set(final)  # everything durable before a kill survived
    assert RunStore.open(run_dir).verify() == []
    assert len(hit) >= 8  # the seeded draw covers most phases (log append, compaction steps)
    assert hit & {"during_part_write", "after_segment_write", "before_manifest_write"}
