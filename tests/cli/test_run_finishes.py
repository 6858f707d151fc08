"""Every run finishes or fails loudly (issue 14), through the ``evosearch`` command.

CMA-ES restarts instead of a traceback; missing LLM backends stop a run before it writes
anything; failures show in the summary and the exit code; Ctrl-C reports what was committed;
``--out`` and ``resume --set`` refuse what would mislead; workers die with a killed engine.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pyarrow.compute as pc
import pytest
import yaml
from conftest import REPO_ROOT, sphere_config, subprocess_env

from evosearch.store import RunStore

TESTS = str(pathlib.Path(__file__).resolve().parents[1])


def _env():
    return subprocess_env(PYTHONPATH=os.pathsep.join([str(REPO_ROOT), TESTS]))


def _write(tmp_path, cfg, name="run.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def _cli(*args, cwd=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "evosearch", *map(str, args)],
        env=_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------------ item 1: CMA-ES restarts
@pytest.mark.slow
def test_cmaes_5000_generations_on_a_shifted_sphere_finish_with_restarts_recorded(tmp_path):
    # It used to die at generation 1406 with evotorch's "linalg.cholesky ... not positive-
    # definite". A restart keeps the population (factor 1) so 5,000 generations stay cheap.
    cfg = sphere_config(
        budget={"generations": 5000},
        fitness={"ref": "sphere", "params": {"shift": 1.5}},
        strategy={
            "name": "cmaes",
            "params": {
                "dimension": 4,
                "popsize": 8,
                "restarts": 1000,
                "restart_popsize_factor": 1.0,
            },
        },
        store={"generations_per_commit": 250},
    )
    proc = _cli("run", _write(tmp_path, cfg), "--out", tmp_path / "run", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "evaluated  40000 individuals in 5000 generations" in proc.stdout
    table = RunStore.open(tmp_path / "run").table(["operator", "generation", "operator_params"])
    restarts = table.filter(pc.equal(table["operator"], "restart"))
    generations = sorted(set(restarts["generation"].to_pylist()))
    assert len(generations) >= 5  # converged (tolx) again and again, restarted each time
    assert '"restart": 1' in restarts["operator_params"][0].as_py()


def test_cmaes_without_restarts_stops_cleanly_as_converged(tmp_path):
    cfg = sphere_config(
        budget={"generations": 3000},
        fitness={"ref": "sphere", "params": {"shift": 1.5}},
        strategy={"name": "cmaes", "params": {"dimension": 4, "popsize": 8, "restarts": 0}},
        store={"generations_per_commit": 100},
    )
    proc = _cli("run", _write(tmp_path, cfg), "--out", tmp_path / "run", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "converged, no restart left (step size below tolx" in proc.stdout
    status = _cli("status", tmp_path / "run", "--json")
    assert status.returncode == 0


# ------------------------------------------------------------------ item 2: backends first
@pytest.mark.parametrize(
    ("example", "names"),
    [
        ("circle-packing", "models/coder"),
        ("prompt-evolution", "models/instruct"),
        ("dgm", "http://localhost:8000/v1"),
    ],
)
def test_llm_examples_without_their_model_fail_at_once_and_write_nothing(
    tmp_path, example, names
):
    out = tmp_path / "out"
    proc = _cli("run", REPO_ROOT / "examples" / f"{example}.yaml", "--out", out, cwd=REPO_ROOT)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evosearch: error: "), proc.stderr
    assert names in lines[0] and "transformers serve" in lines[0]
    assert not out.exists()


def test_an_unreachable_llm_mid_run_stops_the_run_with_one_line(tmp_path):
    cfg = sphere_config(
        budget={"generations": 50},
        fitness={"ref": "helper_fitness:llm_down"},
    )
    proc = _cli("run", _write(tmp_path, cfg), "--out", tmp_path / "run")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "stopped: infrastructure failure (every LLM request failed:" in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("evosearch: error: the last evaluations all failed the same way")
    info = RunStore.open(tmp_path / "run")
    assert info.num_individuals < 50 * 6  # stopped long before the budget


# ------------------------------------------------------------------ item 3: failures visible
def test_a_run_where_every_evaluation_failed_shows_counts_and_exits_non_zero(tmp_path):
    cfg = sphere_config(fitness={"ref": "helper_fitness:raises"}, budget={"generations": 3})
    proc = _cli("run", _write(tmp_path, cfg), "--out", tmp_path / "run")
    assert proc.returncode == 1, proc.stderr
    assert "outcomes   0 ok, 18 failed, 0 timeout, 0 invalid" in proc.stdout
    assert "no evaluation succeeded (18 evaluated)" in proc.stderr


def test_piped_progress_is_a_plain_line_with_counts_and_eta(tmp_path):
    cfg = sphere_config(fitness={"ref": "helper_fitness:every_third_fails"})
    proc = _cli("run", _write(tmp_path, cfg), "--out", tmp_path / "run")
    assert proc.returncode == 0, proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("gen ")][-1]
    assert "ok 10  failed 10  timeout 0  invalid 10" in line and "ETA " in line
    assert "\x1b[" not in proc.stderr  # no terminal control codes in a log
    assert "outcomes   10 ok, 10 failed, 0 timeout, 10 invalid" in proc.stdout


# ------------------------------------------------------------------ item 4: Ctrl-C
def test_ctrl_c_summary_reports_what_was_committed(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    cfg = sphere_config(
        budget={"generations": 20},
        fitness={
            "ref": "helper_fitness:slow_sphere",
            "params": {"sleep": 0.0, "markers": str(markers), "block_at": [30]},
        },
        store={"generations_per_commit": 2},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "evosearch", "run", _write(tmp_path, cfg), "--out", tmp_path / "r"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not (markers / "blocked-30").exists():  # generations 0-4 done, 0-3 committed
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    store = RunStore.open(tmp_path / "r")
    assert store.num_individuals == 24
    assert "evaluated  24 individuals in 4 generations" in out
    best = store.table(["id"])["id"].to_pylist()
    reported = int(out.split("best       #")[1].split()[0])
    assert reported in best


# ------------------------------------------------------------------ item 6: edges
def test_run_out_into_a_directory_that_is_not_a_run_is_refused(tmp_path):
    target = tmp_path / "photos"
    target.mkdir()
    (target / "holiday.jpg").write_bytes(b"x")
    proc = _cli("run", _write(tmp_path, sphere_config()), "--out", target)
    assert proc.returncode == 2
    assert "is not a run" in proc.stderr
    assert sorted(p.name for p in target.iterdir()) == ["holiday.jpg"]


def test_resume_with_a_budget_below_the_current_generation_is_refused(tmp_path):
    proc = _cli("run", _write(tmp_path, sphere_config()), "--out", tmp_path / "run", "--quiet")
    assert proc.returncode == 0, proc.stderr
    proc = _cli("resume", tmp_path / "run", "--set", "budget.generations=2")
    assert proc.returncode == 2
    assert "budget.generations=2 is below what the run has already done (5 generations)" in (
        proc.stderr
    )
    again = _cli("resume", tmp_path / "run", "--set", "budget.generations=6", "--quiet")
    assert again.returncode == 0, again.stderr  # the refusal left the run intact


def test_a_run_leaves_no_scratch_directory_behind(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    cfg = sphere_config(executor={"name": "processes", "workers": 2})
    proc = subprocess.run(
        [sys.executable, "-m", "evosearch", "run", _write(tmp_path, cfg), "--out", tmp_path / "r"],
        env={**_env(), "TMPDIR": str(scratch)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in scratch.iterdir() if p.name.startswith("evosearch-scratch-")] == []


# ------------------------------------------------------------------ item 7: orphaned workers
def _children(pid: int) -> set[int]:
    kids = set()
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.add(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not pathlib.Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_kill_9_of_the_engine_leaves_no_worker_alive(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    cfg = sphere_config(
        fitness={
            "ref": "helper_fitness:slow_sphere",
            # every id of generation 0: each worker blocks at the first row it gets, whether
            # the executor sends rows one by one or in one chunk per worker
            "params": {"sleep": 0.0, "markers": str(markers), "block_at": list(range(6))},
            "timeout": 900,
        },
        executor={"name": "processes", "workers": 2},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "evosearch", "run", _write(tmp_path, cfg), "--out", tmp_path / "r"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bound = time.monotonic() + 300  # a bound on a hang, not a timing assertion
        while len(list(markers.iterdir())) < 2:  # both workers are inside an evaluation
            assert proc.poll() is None and time.monotonic() < bound
            time.sleep(0.05)
        workers = {int(m.read_text()) for m in markers.iterdir()}
        family = _children(proc.pid) | workers
        assert len(workers) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 120  # a bound on a hang, not a timing assertion
        while any(_alive(p) for p in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in family if _alive(p)] == []
    finally:
        proc.kill()
