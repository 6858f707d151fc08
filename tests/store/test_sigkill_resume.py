"""``kill -9`` a real ``evosearch run`` mid-generation, then resume.

Checked after every kill: each individual committed before it is still there unchanged,
every Parquet file on disk reads, the manifest's checksums hold; and the resumed run reaches
the budget. Generational runs on the serial executor even resume to the very run an
uninterrupted one produces.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO_ROOT, archive_config, sphere_config, subprocess_env

from evosearch import Engine
from evosearch.store import TIMING_COLUMNS, RunStore


def start(cfg_path: pathlib.Path, *args: str) -> subprocess.Popen:
    env = subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(REPO_ROOT / "tests")])
    return subprocess.Popen(
        [sys.executable, "-m", "evosearch", *args, "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_blocked(proc: subprocess.Popen, marker: pathlib.Path, limit: float = 240) -> None:
    """Wait until the fitness blocks at the marked individual, then SIGKILL the run."""
    deadline = time.monotonic() + limit
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"run ended before {marker.name}: {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{marker.name} never appeared")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def committed_rows(run: pathlib.Path) -> dict[int, dict]:
    """Rows listed by the manifest, by id; and every Parquet file on disk must read."""
    for f in (run / "individuals").glob("*.parquet"):
        pq.read_table(f)  # raises on a torn file
    store = RunStore.open(run)
    assert store.verify() == []
    return {r["id"]: r for r in store.table().to_pylist()}


def assert_kept(before: dict[int, dict], after: dict[int, dict]) -> None:
    assert set(before) <= set(after)
    assert all(after[i] == row for i, row in before.items())


def without_timing(rows: dict[int, dict]) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in TIMING_COLUMNS} for _, r in sorted(rows.items())
    ]


def fitness(markers: pathlib.Path, block_at: list[int]) -> dict:
    params = {"sleep": 0.005, "markers": str(markers), "block_at": block_at}
    return {"ref": "helper_fitness:slow_sphere", "params": params, "timeout": 900}


@pytest.mark.slow
def test_a_killed_generational_run_resumes_to_the_uninterrupted_result(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    run = tmp_path / "run"
    cfg = sphere_config(budget={"generations": 5}, fitness=fitness(markers, [2, 21]))
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))

    # kill 1: in the first generation, before anything is committed
    kill_when_blocked(
        start(cfg_path, "run", str(cfg_path), "--out", str(run)), markers / "blocked-2"
    )
    assert committed_rows(run) == {}
    assert json.loads((run / "manifest.json").read_text())["parts"] == []

    # kill 2: resumed, then killed in generation 3 (ids 18..23) at its fourth individual
    kill_when_blocked(start(cfg_path, "resume", str(run)), markers / "blocked-21")
    before = committed_rows(run)
    assert sorted(before) == list(range(18))

    summary = Engine.resume(run).run()
    assert summary.generations == 5 and summary.evaluations == 30
    after = committed_rows(run)
    assert sorted(after) == list(range(30))
    assert_kept(before, after)
    assert not list(run.glob("individuals/.*")) and not list(run.glob("log/.*"))

    reference = tmp_path / "reference"
    Engine.create({**cfg, "fitness": fitness(markers, [])}, reference).run()
    assert without_timing(after) == without_timing(committed_rows(reference))


@pytest.mark.slow
def test_a_killed_steady_state_run_replays_its_write_ahead_log(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    run = tmp_path / "run"
    cfg = archive_config(
        mode="steady_state", budget={"evaluations": 40}, fitness=fitness(markers, [12, 29])
    )
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))

    # kill 1: ids 0..7 committed as a part, 8..11 only in the WAL, 12 in flight
    kill_when_blocked(
        start(cfg_path, "run", str(cfg_path), "--out", str(run)), markers / "blocked-12"
    )
    before = committed_rows(run)
    assert sorted(before) == list(range(8))
    wal = RunStore.open(run).read_wal()
    assert [i.id for i in wal] == [8, 9, 10, 11]

    # kill 2: the resume replays the WAL into a part, then dies with 29 in flight
    kill_when_blocked(start(cfg_path, "resume", str(run)), markers / "blocked-29")
    middle = committed_rows(run)
    assert_kept(before, middle)
    assert {8, 9, 10, 11} <= set(middle)
    for ind in wal:
        assert middle[ind.id]["genome"] == json.dumps(ind.genome.to_json(), sort_keys=True)
        assert middle[ind.id]["score"] == ind.score
    in_wal = [i.id for i in RunStore.open(run).read_wal()]
    assert set(middle) | set(in_wal) == set(range(29)) and not set(middle) & set(in_wal)

    summary = Engine.resume(run).run()
    assert summary.evaluations == 40
    after = committed_rows(run)
    assert sorted(after) == list(range(40))
    assert_kept(middle, after)
    assert all(r["status"] == "ok" for r in after.values())
