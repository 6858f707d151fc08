"""Archive state is a pure function of the stored individuals; membership and QD tables."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import subprocess_env

from evosearch.archives.rebuild import archive_config, cell_layout, rebuild_archive
from evosearch.archives.tables import ARCHIVE_SCHEMA, QD_SCHEMA
from evosearch.config import PluginConfig, load_config
from evosearch.engine import Engine
from evosearch.store import schema
from evosearch.store.runstore import RunStore, StoreError

GRID = {"ref": "grid", "params": {"dims": [8, 8], "ranges": [[-12, 12], [-12, 12]]}}
ARCHIVES = {
    "grid": GRID,
    "cvt": {"ref": "cvt", "params": {"cells": 20, "ranges": [[-12, 12]] * 2, "samples": 400}},
    "islands": {
        "ref": "islands",
        "params": {"islands": 3, "migrate_every": 2, "fraction": 0.2, "archive": GRID},
    },
    "dgm": {"ref": "dgm", "params": {"mode": "keep_better", "leeway": 0.5}},
    "novelty": {"ref": "novelty", "params": {"k": 3, "threshold": 1.0}},
    "population": {"ref": "population", "params": {"size": 6}},
}


def commits_of(store: RunStore):
    """The committed individuals of a run, one list per commit (what a strategy replays)."""
    return (schema.from_table(t, store.facts) for t in store.iter_commits())


def arm_config(archive: dict, generations: int = 6) -> dict:
    return {
        "name": "arm",
        "seed": 11,
        "budget": {"generations": generations},
        "fitness": {"ref": "arm"},
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 10,
                "init": {
                    "ref": "vector.uniform",
                    "params": {"dimension": 6, "low": -3.14, "high": 3.14},
                },
                "selector": {"ref": "uniform"},
                "operators": [{"ref": "vector.gaussian", "params": {"sigma": 0.3}}],
                "archive": archive,
            },
        },
    }


def snapshot(archive) -> dict:
    """What must be equal between two archives: members (per island) and statistics."""
    if hasattr(archive, "island"):
        members = [[m.id for m in archive.members(island=k)] for k in range(archive.islands)]
    else:
        members = [m.id for m in archive.members()]
    return {"members": members, "stats": archive.stats()}


def members_from_events(store: RunStore) -> set[tuple[int, int]]:
    """(island, id) of the members, replaying the append-only membership table."""
    state: dict[tuple[int, int], str] = {}
    for row in store.extra_table("archive", ARCHIVE_SCHEMA).to_pylist():
        state[(row["island"], row["individual_id"])] = row["event"]
    return {k for k, ev in state.items() if ev != "evicted"}


@pytest.mark.parametrize("name", sorted(ARCHIVES))
def test_rebuilt_archive_equals_the_live_one_and_the_tables(tmp_path, name):
    cfg = arm_config(ARCHIVES[name])
    engine = Engine.create(cfg, tmp_path / "run")
    engine.run()
    live = engine.strategy.archive
    with RunStore.open(tmp_path / "run") as store:
        assert "archive" not in store.load_checkpoint()["strategy"]["attrs"]  # rebuilt on resume
        rebuilt = rebuild_archive(commits_of(store), load_config(cfg))
        assert snapshot(rebuilt) == snapshot(live)
        islands = getattr(live, "islands", 1)
        expected = {(k, m.id) for k in range(islands) for m in _members(live, k, islands)}
        assert members_from_events(store) == expected
        qd = store.extra_table("qd", QD_SCHEMA)
        assert qd.num_rows == sum(len(p["commit_rows"]) for p in store.parts) == 6
        assert qd["evaluations"].to_pylist() == [10 * g for g in range(1, 7)]
        last = qd.to_pylist()[-1]
        assert last["archive_size"] == live.stats().archive_size
        assert last["best"] == live.stats().best
        assert store.verify() == []


def _members(archive, k, islands):
    return archive.members(island=k) if islands > 1 else archive.members()


def test_killed_run_rebuilds_and_resumes_to_the_uninterrupted_archive(tmp_path):
    cfg = arm_config(ARCHIVES["islands"], generations=100_000)
    path = tmp_path / "arm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evosearch", "run", str(path), "--out", str(killed), "--quiet"],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(StoreError):
                if RunStore.open(killed).manifest["seq"] >= 3:  # three commits in the log
                    break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]

    with RunStore.open(killed) as store:  # the archive at the kill, as the killed run wrote it
        committed = store.manifest["checkpoint"]["generation"] + 1
        rebuilt = rebuild_archive(commits_of(store), load_config(cfg))
        assert members_from_events(store) == {
            (k, m.id) for k in range(3) for m in rebuilt.members(island=k)
        }
        last = store.extra_table("qd").to_pylist()[-1]
        assert (last["archive_size"], last["qd_score"], last["best_id"]) == (
            rebuilt.stats().archive_size,
            rebuilt.stats().qd_score,
            rebuilt.stats().best_id,
        )

    target = committed + 3
    resumed = Engine.resume(killed, budget_overrides=[f"budget.generations={target}"])
    assert snapshot(resumed.strategy.archive) == snapshot(rebuilt)  # resume rebuilt it
    resumed.run()
    straight = Engine.create(arm_config(ARCHIVES["islands"], target), tmp_path / "straight")
    straight.run()
    assert snapshot(resumed.strategy.archive) == snapshot(straight.strategy.archive)
    with RunStore.open(killed) as a, RunStore.open(tmp_path / "straight") as b:
        assert a.table(["id", "score", "island"]).equals(b.table(["id", "score", "island"]))
        assert a.extra_table("archive").equals(b.extra_table("archive"))
        assert a.extra_table("qd").equals(b.extra_table("qd"))
        rebuilt = rebuild_archive(commits_of(a), load_config(cfg))
        assert snapshot(rebuilt) == snapshot(straight.strategy.archive)


def test_cell_layout_tells_where_cells_lie():
    assert cell_layout(GRID) == {"kind": "grid", "dims": [8, 8], "ranges": [[-12, 12]] * 2}
    cvt = cell_layout(ARCHIVES["islands"] | {"params": {"archive": ARCHIVES["cvt"]}})
    assert cvt["kind"] == "cvt" and len(cvt["centroids"]) == 20
    assert cell_layout(ARCHIVES["dgm"]) is None


def _run_config(ref: str, params: dict) -> dict:
    strategy = {"ref": ref, "params": params}
    return {"name": "t", "budget": {"generations": 1}, "fitness": "sphere", "strategy": strategy}


def test_the_default_archive_comes_from_the_strategy_params_not_its_name():
    params = {"init": {"ref": "vector.uniform"}, "operators": [{"ref": "vector.gaussian"}]}
    renamed = "archive_helpers:RenamedArchiveStrategy"
    default = load_config(_run_config(renamed, params))
    assert archive_config(default) == PluginConfig(ref="population")
    named = load_config(_run_config(renamed, params | {"archive": GRID}))
    assert archive_config(named) == PluginConfig.model_validate(GRID)
    cmaes = load_config(_run_config("cmaes", {"dimension": 2}))
    with pytest.raises(ValueError, match="strategy 'cmaes' keeps no archive"):
        archive_config(cmaes)


def test_steady_state_runs_persist_membership_and_rebuild(tmp_path):
    cfg = arm_config(ARCHIVES["grid"], generations=4) | {
        "mode": "steady_state",
        "store": {"commit_every": 7},
    }
    engine = Engine.create(cfg, tmp_path / "run")
    engine.run()
    live = engine.strategy.archive
    with RunStore.open(tmp_path / "run") as store:
        assert snapshot(rebuild_archive(commits_of(store), load_config(cfg))) == snapshot(live)
        assert members_from_events(store) == {(0, m.id) for m in live.members()}
        assert store.extra_table("qd")["evaluations"].to_pylist()[-1] == 40
