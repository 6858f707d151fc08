"""The ``evosearch`` command end to end: run, inspect, resume.

``run``, ``status``, ``lineage`` and ``resume`` go through real subprocesses; the other
read-only commands are called in-process through ``evosearch.cli.main`` (same code, no
interpreter start-up per call).
"""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import archive_config, run_cli

from evosearch.cli import main
from evosearch.store import LineageIndex, RunStore, best_id


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    def call(*args) -> Result:
        rc = main([str(a) for a in args])
        out = capsys.readouterr()
        return Result(rc, out.out, out.err)

    return call


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    cfg = tmp / "archive.yaml"
    cfg.write_text(yaml.safe_dump(archive_config()))
    proc = run_cli("run", cfg, "--out", tmp / "run", "--set", "budget.generations=3")
    assert proc.returncode == 0, proc.stderr
    return tmp / "run", proc


def test_run_prints_the_summary_and_how_to_inspect(run):
    path, proc = run
    assert f"run        {path}" in proc.stdout
    assert "budget reached (generations)" in proc.stdout
    assert "evaluated  24 individuals in 3 generations" in proc.stdout
    assert f"evosearch lineage {path} --best" in proc.stdout
    assert RunStore.open(path).num_individuals == 24


def test_status_reports_counts_and_best(run, cli):
    path, _ = run
    proc = run_cli("status", path, "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["individuals"] == 24 and info["generations"] == 3 and info["commits"] == 3
    assert info["status_counts"] == {"ok": 24, "failed": 0, "timeout": 0, "invalid": 0}
    assert info["best_id"] == best_id(RunStore.open(path))
    human = cli("status", path)
    assert "individuals" in human.stdout and "24" in human.stdout


def test_top_lists_the_best_first(run, cli):
    path, _ = run
    proc = cli("top", path, "-n", "3", "--json")
    rows = json.loads(proc.stdout)
    assert len(rows) == 3
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert rows[0]["id"] == best_id(RunStore.open(path))
    table = cli("top", path, "-n", "3")
    assert table.returncode == 0 and "top 3 of 24" in table.stdout


def test_show_prints_one_individual(run, cli):
    path, _ = run
    target = best_id(RunStore.open(path))
    data = json.loads(cli("show", path, str(target), "--json").stdout)
    assert data["id"] == target and data["status"] == "ok"
    assert len(data["genome"]["values"]) == 3
    assert cli("show", path, str(target)).stdout.startswith(f"individual #{target}")


def test_show_of_an_unknown_id_is_one_line(run, cli):
    path, _ = run
    proc = cli("show", path, "999")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"evosearch: error: no individual with id 999 in {path}"


def test_lineage_formats(run, cli):
    path, _ = run
    store = RunStore.open(path)
    target = best_id(store)
    ancestors = LineageIndex.load(store).ancestors(target)
    data = json.loads(run_cli("lineage", path, "--best", "--format", "json").stdout)
    assert data["root"] == target and data["direction"] == "ancestors"
    assert {n["id"] for n in data["nodes"]} == {target, *ancestors}
    assert all(n["distance"] == ancestors.get(n["id"], 0) for n in data["nodes"])
    dot = cli("lineage", path, str(target), "--format", "dot").stdout
    assert dot.startswith("digraph lineage {") and f"n{target} [label=" in dot
    assert dot.count(" -> ") == len(data["edges"])
    tree = cli("lineage", path, str(target)).stdout
    assert f"#{target} score" in tree


def test_lineage_depth_and_descendants(run, cli):
    path, _ = run
    index = LineageIndex.load(RunStore.open(path))
    near = json.loads(cli("lineage", path, "--best", "--depth", "1", "--format", "json").stdout)
    assert {n["distance"] for n in near["nodes"]} <= {0, 1}
    root = 0
    down = json.loads(cli("lineage", path, str(root), "--descendants", "--format", "json").stdout)
    assert {n["id"] for n in down["nodes"]} == {root, *index.descendants(root)}
    assert down["direction"] == "descendants"


def test_lineage_without_an_id_is_an_error(run, cli):
    proc = cli("lineage", run[0])
    assert proc.returncode == 2 and "give an individual id or --best" in proc.stderr


def test_resume_extends_the_budget(run, tmp_path):
    path, _ = run
    proc = run_cli("resume", path, "--set", "budget.generations=5", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "evaluated  40 individuals in 5 generations" in proc.stdout
    store = RunStore.open(path)
    assert store.table(["id"])["id"].to_pylist() == list(range(40))
    again = run_cli("resume", path, "--set", "strategy.name=ga")
    assert again.returncode == 2 and "resume only accepts budget overrides" in again.stderr


def test_inspecting_a_missing_run_is_one_line(tmp_path, cli):
    proc = cli("status", tmp_path / "nothing")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"evosearch: error: no run directory at {tmp_path / 'nothing'}"
