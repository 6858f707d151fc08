"""Containment of sandboxed code evaluation: every escape attempt ends as a readable status."""

import os
import pathlib
import socket
import uuid

import pytest

from evosearch.fitness.base import FitnessContext
from evosearch.genomes.code import CodeGenome
from evosearch.individual import Status
from evosearch.sandbox.runner import SandboxLimits, run_sandboxed
from evosearch.tasks.code_evaluator import code_sandbox

EVALUATOR = """
import evosearch_eval
value = evosearch_eval.load_entry()()
evosearch_eval.report(float(value), {"value": float(value)}, "ran fine")
"""


def evaluate(tmp_path, main: str, evaluator: str = EVALUATOR, **params):
    script = tmp_path / "evaluator.py"
    script.write_text(evaluator)
    limits = {"timeout": 10, **params.pop("limits", {})}
    ctx = FitnessContext(params={"evaluator": str(script), "limits": limits, **params}, seed=7)
    return code_sandbox(CodeGenome({"main.py": main}), ctx)


def survivors(marker: str) -> list[int]:
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_a_good_program_scores_and_reports_its_isolation(tmp_path):
    r = evaluate(tmp_path, "def run():\n    print('hello from the candidate')\n    return 3\n")
    assert r.status is Status.OK and r.score == 3.0 and r.metrics["value"] == 3.0
    assert "ran fine" in r.feedback and "hello from the candidate" in r.feedback
    assert "sandbox: bubblewrap" in r.feedback and "namespaces: user, pid" in r.feedback


def test_an_infinite_loop_is_killed_on_the_wall_clock_limit(tmp_path):
    r = evaluate(tmp_path, "def run():\n    while True:\n        pass\n", limits={"timeout": 1})
    assert r.status is Status.TIMEOUT
    assert r.error == "killed after the 1s wall-clock limit"


def test_a_cpu_hog_hits_the_cpu_limit(tmp_path):
    r = evaluate(
        tmp_path,
        "def run():\n    while True:\n        pass\n",
        limits={"timeout": 20, "cpu_seconds": 1},
    )
    assert r.status is Status.FAILED  # the candidate's process died; the evaluator says so
    assert "SIGXCPU: CPU time limit exceeded" in r.error


SPAWNER = """
import subprocess, sys, time
def run():
    code = "import time; time.sleep(300)"
    subprocess.Popen([sys.executable, "-c", code, "{marker}"])
    subprocess.Popen([sys.executable, "-c", code, "{marker}"], start_new_session=True)
    time.sleep(0.5)
    {tail}
"""


@pytest.mark.parametrize(
    ("tail", "status", "limit"),
    # The returning parent gets a limit no loaded machine reaches (booting the sandbox and
    # three interpreters used to race 3 s); the hanging one needs a limit to be killed by.
    [("while True: pass", Status.TIMEOUT, 5), ("return 1", Status.OK, 120)],
    ids=["parent-hangs", "parent-returns"],
)
def test_child_processes_never_survive_the_evaluation(tmp_path, tail, status, limit):
    marker = f"evosearch-test-{uuid.uuid4().hex}"
    main = SPAWNER.format(marker=marker, tail=tail)
    r = evaluate(tmp_path, main, limits={"timeout": limit})
    assert r.status is status, r.error
    left = survivors(marker)
    for pid in left:  # never leave a sleeper behind, whatever the outcome
        os.kill(pid, 9)
    assert left == []  # PID namespace: even the setsid() child dies with the namespace


def test_a_memory_hog_fails_with_a_memory_error(tmp_path):
    main = "def run():\n    block = bytearray(4 * 1024**3)\n    return len(block)\n"
    r = evaluate(tmp_path, main, limits={"memory_mb": 256})
    assert r.status is Status.FAILED
    assert r.error == "memory limit (256 MB) exceeded"
    assert "MemoryError" in r.feedback


def test_writes_outside_the_work_dir_fail(tmp_path):
    outside = tmp_path / "outside" / "pwned.txt"
    outside.parent.mkdir()
    main = (
        "def run():\n"
        "    open('inside.txt', 'w').write('ok')\n"
        f"    open({str(outside)!r}, 'w').write('escaped')\n"
        "    return 1\n"
    )
    r = evaluate(tmp_path, main)
    assert r.status is Status.FAILED and not outside.exists()
    assert "No such file or directory" in r.error or "Read-only file system" in r.error


def test_the_parents_secret_environment_is_not_visible(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOSEARCH_TEST_SECRET", "hunter2")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    main = (
        "import os\n"
        "def run():\n"
        "    print('ENV', sorted(os.environ))\n"
        "    leaked = [k for k in ('EVOSEARCH_TEST_SECRET', 'OPENAI_API_KEY') if k in os.environ]\n"
        "    return len(leaked)\n"
    )
    r = evaluate(tmp_path, main)
    assert r.status is Status.OK and r.score == 0.0
    assert "hunter2" not in r.feedback and "EVOSEARCH_TEST_SECRET" not in r.feedback


def test_network_connections_fail(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    main = (
        "import socket\n"
        "def run():\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')\n"
        "    return 1\n"
    )
    try:
        r = evaluate(tmp_path, main)
        try:
            server.accept()
            got_through = True
        except BlockingIOError:
            got_through = False
    finally:
        server.close()
    assert r.status is Status.FAILED and not got_through  # the sandbox's own loopback only
    assert "Connection refused" in r.error or "Network is unreachable" in r.error


def test_staged_evaluation_skips_stage_two_below_the_threshold(tmp_path):
    evaluator = (
        "import evosearch_eval\n"
        "job = evosearch_eval.job()\n"
        "value = evosearch_eval.load_entry()()\n"
        "if job['stage'] == 1:\n"
        "    evosearch_eval.report(value, {'cheap': value}, 'stage one')\n"
        "else:\n"
        "    evosearch_eval.report(100 + value, {'full': 1.0}, 'stage two')\n"
    )
    low = evaluate(tmp_path, "def run():\n    return 0.2\n", evaluator, thresholds=[0.5])
    assert low.status is Status.OK and low.score == 0.2
    assert low.metrics == {"stage1.cheap": 0.2, "cheap": 0.2, "stage": 1.0}
    assert "stopped after stage 1: score 0.2 < 0.5" in low.feedback
    assert "stage two" not in low.feedback
    high = evaluate(tmp_path, "def run():\n    return 0.7\n", evaluator, thresholds=[0.5])
    assert high.score == 100.7 and high.metrics["stage"] == 2.0
    assert high.metrics["stage1.cheap"] == 0.7 and high.metrics["full"] == 1.0


def test_bad_evaluator_outcomes_are_readable_statuses(tmp_path):
    crash = evaluate(tmp_path, "def run():\n    raise ValueError('boom')\n")
    assert crash.status is Status.FAILED
    assert crash.error == "evaluator exited with code 1: ValueError: boom"
    silent = evaluate(tmp_path, "def run():\n    return 1\n", "print('no result here')\n")
    assert silent.status is Status.INVALID
    assert "sent no verdict" in silent.error and "no result here" in silent.feedback


def test_output_is_truncated_and_the_work_dir_removed(tmp_path):
    main = "def run():\n    print('x' * 50000)\n    return 1\n"
    r = run_sandboxed(
        {"main.py": main + "run()\n"},
        [os.sys.executable, "{workdir}/main.py"],
        SandboxLimits(timeout=10, output_chars=1000),
    )
    assert r.returncode == 0 and len(r.stdout) < 1100 and "characters cut" in r.stdout


def test_evaluator_params_are_validated_with_key_paths(tmp_path):
    with pytest.raises(ValueError, match="fitness.params.evaluator: file not found"):
        code_sandbox(CodeGenome({"main.py": "x"}), FitnessContext(params={"evaluator": "nope.py"}))
    with pytest.raises(ValueError, match="fitness.params.limits.timeout"):
        evaluate(tmp_path, "def run(): return 1\n", limits={"timeout": -1})
