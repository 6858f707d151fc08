"""Attacks that got out of the old sandbox (issue 12), each with the outcome asserted.

Every attack changes nothing outside its sandbox: the /proc/sys write rewrites the value
already there, the fork bomb stops itself after 2 s, the memory hog is bounded by the
cgroup and, per process, by RLIMIT_AS; the disk filler writes into the sandbox's tmpfs.
"""

import json
import os
import pathlib
import sys
import tempfile

import pytest

from evosearch.fitness.base import FitnessContext
from evosearch.genomes.code import CodeGenome
from evosearch.individual import Status
from evosearch.sandbox.runner import Collect, SandboxLimits, run_sandboxed
from evosearch.tasks.code_evaluator import code_sandbox
from evosearch.tasks.coding import check_task, task_list

EVALUATOR = """
import evosearch_eval
value = evosearch_eval.load_entry()()
evosearch_eval.report(float(value), {"value": float(value)}, "ran fine")
"""
LIMITS = SandboxLimits(timeout=30)


def evaluate(tmp_path, main: str, **limits):
    script = tmp_path / "evaluator.py"
    script.write_text(EVALUATOR)
    params = {"evaluator": str(script), "limits": {"timeout": 30, **limits}}
    return code_sandbox(CodeGenome({"main.py": main}), FitnessContext(params=params))


def test_links_to_a_secret_and_to_proc_environ_are_refused_and_never_read(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("planted-secret-7f3a")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-engine-key-9c1d")
    code = (
        "import os\n"
        f"os.symlink({str(secret)!r}, 'task/secret.txt')\n"
        "os.symlink('/proc/self/environ', 'task/x.txt')\n"
        "os.symlink('/proc/1/environ', 'task/y.txt')\n"
        "os.mkfifo('task/fifo')\n"
        "os.makedirs('task/sub')\n"
        "os.symlink('/proc/self', 'task/sub/proc')\n"
        "open('task/ok.txt', 'w').write('fine')\n"
    )
    r = run_sandboxed(
        {"a.py": code, "task/TASK.md": "x"},
        [sys.executable, "a.py"],
        LIMITS,
        collect=Collect(root="task"),
    )
    assert r.returncode == 0, r.stderr
    assert set(r.files) == {"TASK.md", "ok.txt"}
    for name in ("secret.txt", "x.txt", "y.txt", "sub/proc"):
        assert "symbolic link" in r.refused[name]
    assert "named pipe" in r.refused["fifo"]
    blob = repr(r)
    assert "planted-secret-7f3a" not in blob and "sk-engine-key-9c1d" not in blob
    listed = run_sandboxed(  # links inside a listed path are refused too
        {"a.py": code + "os.symlink('/etc', 'task/d')\n", "task/TASK.md": "x"},
        [sys.executable, "a.py"],
        LIMITS,
        collect=Collect(root="task", paths=("x.txt", "d/passwd", "ok.txt")),
    )
    assert set(listed.files) == {"ok.txt"}
    assert "symbolic link" in listed.refused["d/passwd"]


def test_a_proc_sys_write_is_refused(tmp_path):
    code = (
        "def run():\n"
        "    path = '/proc/sys/vm/swappiness'\n"
        "    value = open(path).read()\n"
        "    try:\n"
        "        with open(path, 'w') as f:\n"
        "            f.write(value)  # the value already there: a failure changes nothing\n"
        "    except OSError as exc:\n"
        "        print('refused:', exc)\n"
        "        return 0\n"
        "    return 1\n"
    )
    r = evaluate(tmp_path, code)
    assert r.status is Status.OK and r.score == 0.0, r.error
    assert "refused:" in r.feedback


def test_files_outside_the_work_dir_are_not_there(tmp_path):
    planted = tmp_path / "planted.txt"
    planted.write_text("do-not-read-me")
    project = pathlib.Path(__file__).resolve().parents[2]
    paths = [str(planted), str(project / "pyproject.toml"), "/etc/shadow", "/root", "/home"]
    paths += [str(project / ".git"), os.getcwd()]
    code = (
        "import os\n"
        "def run():\n"
        f"    seen = [p for p in {paths!r} if os.path.exists(p)]\n"
        "    print('seen', seen)\n"
        "    return len(seen)\n"
    )
    r = evaluate(tmp_path, code)
    assert r.status is Status.OK, r.error
    # /root holds only the interpreter's bound prefix when the engine's Python lives there
    assert r.score <= 1.0 and "do-not-read-me" not in r.feedback
    assert "pyproject" not in r.feedback.split("seen")[1].splitlines()[0]


def test_a_forged_result_line_and_exit_0_scores_nothing(tmp_path):
    forged = json.dumps({"score": 1e9, "metrics": {}, "feedback": "forged"})
    code = f"import os\ndef run():\n    print({forged!r}, flush=True)\n    os._exit(0)\n"
    r = evaluate(tmp_path, code)
    assert r.status is Status.FAILED and r.score != 1e9
    assert "ended without answering (exit 0)" in r.error


def test_exit_0_in_a_humaneval_solution_is_not_solved():
    (task,) = task_list("humaneval", 1, 0)
    solution = "import os\nos._exit(0)\n"
    solved, out = check_task(task, {"solution.py": solution}, LIMITS)
    assert not solved and "ended without answering" in out
    at_call = task.files["solution.py"].replace("    pass\n", "    import os; os._exit(0)\n")
    assert not check_task(task, {"solution.py": at_call}, LIMITS)[0]


def test_a_fork_bomb_is_capped_for_the_whole_tree(tmp_path):
    code = (
        "import os, time\n"
        "def run():\n"
        "    stop = time.time() + 2\n"
        "    made = failed = 0\n"
        "    while time.time() < stop:\n"
        "        try:\n"
        "            pid = os.fork()\n"
        "        except OSError:\n"
        "            failed += 1\n"
        "            time.sleep(0.01)\n"
        "            continue\n"
        "        if pid == 0:\n"
        "            time.sleep(max(0.0, stop - time.time()))\n"
        "            os._exit(0)\n"
        "        made += 1\n"
        "    print('made', made, 'failed', failed)\n"
        "    return made\n"
    )
    r = evaluate(tmp_path, code, processes=64)
    assert r.status is Status.OK, r.error
    assert r.score < 64 and "failed 0" not in r.feedback
    assert "64 processes" in r.feedback


def test_memory_is_limited_for_the_whole_tree(tmp_path):
    r = run_sandboxed({}, ["/usr/bin/true"], LIMITS)
    if "whole tree" not in r.isolation["limits"]:
        pytest.skip(f"no cgroup here ({r.isolation['limits']}); per-process limits only")
    code = (
        "import os, time\n"
        "def run():\n"
        "    kids = []\n"
        "    for _ in range(4):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            block = bytearray(1536 * 2**20)\n"
        "            for i in range(0, len(block), 4096):\n"
        "                block[i] = 1  # touch every page\n"
        "            time.sleep(3)\n"
        "            os._exit(0)\n"
        "        kids.append(pid)\n"
        "    codes = [os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) for k in kids]\n"
        "    print('exit codes', codes)\n"
        "    return sum(c == 0 for c in codes)\n"
    )
    r = evaluate(tmp_path, code, memory_mb=2048, timeout=60)
    assert r.status is Status.OK, r.error
    assert r.score <= 1  # at most one 1.5 GB process fits in 2 GB
    assert "-9" in r.feedback  # the others were killed by the OOM killer


def test_the_disk_quota_holds_for_all_files_together(tmp_path):
    code = (
        "def run():\n"
        "    written = 0\n"
        "    for i in range(40):\n"
        "        try:\n"
        "            with open(f'f{i}.bin', 'wb') as f:\n"
        "                f.write(b'x' * 15 * 2**20)\n"
        "            written += 15\n"
        "        except OSError as exc:\n"
        "            print('stopped:', exc)\n"
        "            break\n"
        "    return written\n"
    )
    r = evaluate(tmp_path, code, disk_mb=64, file_size_mb=16)
    assert r.status is Status.OK, r.error
    assert r.score < 64 and "No space left on device" in r.feedback


PROXY_FLOOD = """
import json, os, pathlib, threading
import scripted_backend
from evosearch.sandbox.llm_proxy import LLMProxy

scripted_backend.register()  # the test-only backend (tests/ is on PYTHONPATH)


def peak_mb():
    return int(pathlib.Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024


pathlib.Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident size
llm = {"name": "scripted", "params": {"responses": ["ok"]}}
with LLMProxy(llm, max_requests=4) as proxy:
    req_w, resp_r = proxy.fds
    before = peak_mb()
    chunk = b"x" * (1 << 20)
    hi = [{"role": "user", "content": "hi"}]
    bad = [{"messages": hi, "temperature": "nan"}, {"messages": hi, "max_tokens": -5},
           {"messages": hi, "stop": [1]}, {"messages": hi}]

    def flood():
        for _ in range(400):  # one 400 MB line, no newline until the end
            os.write(req_w, chunk)
        os.write(req_w, b"\\n")
        for b in bad:
            os.write(req_w, (json.dumps(b) + "\\n").encode())

    writer = threading.Thread(target=flood)
    writer.start()
    answers = os.fdopen(os.dup(resp_r), "rb")
    got = [json.loads(answers.readline()) for _ in range(4)]  # the 400 MB line consumed
    grown = peak_mb() - before  # (before the valid request loads the backend's modules)
    got.append(json.loads(answers.readline()))
    writer.join()
    print(json.dumps({"got": got, "grown": grown, "requests": proxy.requests}))
"""


def test_a_400_mb_proxy_line_is_refused_without_buffering_it():
    """In a fresh interpreter, so the peak resident size is the proxy's alone."""
    import subprocess

    from conftest import REPO_ROOT, subprocess_env

    env = subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "tests"), env["PYTHONPATH"]])
    proc = subprocess.run(
        [sys.executable, "-c", PROXY_FLOOD], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    got = out["got"]
    assert "request over" in got[0]["error"]
    assert "temperature" in got[1]["error"] and "max_tokens" in got[2]["error"]
    assert "stop" in got[3]["error"] and got[4]["text"] == "ok"
    assert out["grown"] < 100, f"the engine grew by {out['grown']:.0f} MB"
    assert out["requests"] == 1


SECRET_PATH = pathlib.Path(tempfile.gettempdir()) / "evosearch-test-planted-secret.txt"
LEAK = (
    '<tool name="run"><command>ln -s /proc/self/environ agent/env.txt; '
    f"ln -s {SECRET_PATH} agent/secret.txt; ln -s /proc/1/environ agent/init.txt; "
    "mkfifo agent/pipe.txt</command></tool>\n"
    '<tool name="edit_file"><path>agent/loop.py</path>'
    "<old>def run_agent(root, task, max_steps=6,</old>"
    "<new>def run_agent(root, task, max_steps=8,</new></tool>\n<done/>"
)


def respond_leaking(request):
    """A scripted model whose self-modification leaves links to secrets in the agent."""
    from dgm_helpers import DIAGNOSIS

    text = request.messages[-1].content
    if "Diagnose why the agent failed" in text:
        return DIAGNOSIS
    if "Improve that code as described below" in text:
        return LEAK
    return "<done/>"


def test_a_dgm_child_never_stores_what_its_links_point_to(tmp_path, monkeypatch):
    from dgm_helpers import dgm_config

    from evosearch import Engine
    from evosearch.llm.pool import clear_backends
    from evosearch.store import RunStore

    clear_backends()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-engine-key-9c1d")
    SECRET_PATH.write_text("planted-secret-7f3a")
    try:
        cfg = dgm_config("test_sandbox_escapes:respond_leaking", generations=2, stages=[1])
        Engine.create(cfg, tmp_path / "run").run()
    finally:
        SECRET_PATH.unlink()
        clear_backends()
    rows = RunStore.open(tmp_path / "run").table().to_pylist()
    child = next(r for r in rows if r["operator"] == "dgm.self_improve")
    params = json.loads(child["operator_params"])
    assert params["changed_files"] == ["agent/loop.py"]
    refused = params["refused_files"]
    for name in ("agent/env.txt", "agent/secret.txt", "agent/init.txt"):
        assert "symbolic link" in refused[name]
    assert "named pipe" in refused["agent/pipe.txt"]
    assert set(json.loads(child["genome"])["files"]) == set(json.loads(rows[0]["genome"])["files"])
    everything = repr(rows)
    assert "planted-secret-7f3a" not in everything and "sk-engine-key-9c1d" not in everything


def test_no_capabilities_and_no_nested_user_namespace():
    code = (
        "import subprocess\n"
        "status = open('/proc/self/status').read().splitlines()\n"
        "print([s for s in status if s.startswith(('CapEff', 'CapPrm', 'CapAmb', 'Uid'))])\n"
        "p = subprocess.run(['unshare', '-U', 'true'], capture_output=True, text=True)\n"
        "print('unshare exit', p.returncode)\n"
    )
    r = run_sandboxed({"a.py": code}, [sys.executable, "a.py"], LIMITS)
    assert r.returncode == 0, r.stderr
    for cap in ("CapEff", "CapPrm", "CapAmb"):  # (printed as a list: tabs show as \\t)
        assert f"{cap}:\\t0000000000000000" in r.stdout
    assert "Uid:\\t65534\\t65534\\t65534\\t65534" in r.stdout
    assert "unshare exit 1" in r.stdout
    assert r.isolation["nested user namespaces"] == "disabled"


def test_status_shows_what_the_sandbox_enforced(tmp_path):
    from code_run_helpers import code_run_config, rewrite
    from conftest import run_cli

    from evosearch import Engine
    from evosearch.llm.pool import clear_backends

    clear_backends()
    cfg = code_run_config(tmp_path, [rewrite(5)])
    cfg["budget"] = {"generations": 1}
    Engine.create(cfg, tmp_path / "run").run()
    clear_backends()
    proc = run_cli("status", tmp_path / "run", "--json")
    assert proc.returncode == 0, proc.stderr
    sandbox = json.loads(proc.stdout)["sandbox"]
    assert sandbox.startswith("sandbox: bubblewrap") and "limits: memory 2048 MB" in sandbox


def test_without_bubblewrap_a_code_run_refuses_to_start(tmp_path, monkeypatch):
    from code_run_helpers import code_run_config

    from evosearch import Engine
    from evosearch.sandbox import runner as sandbox

    sandbox.bwrap_path.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
            Engine.create(code_run_config(tmp_path, ["x"]), tmp_path / "run")
    finally:
        sandbox.bwrap_path.cache_clear()
    assert not (tmp_path / "run").exists()
    (tmp_path / "trusted").mkdir()
    cfg = code_run_config(tmp_path / "trusted", ["x"])
    cfg["fitness"]["params"]["sandbox"] = "none"
    Engine.create(cfg, tmp_path / "run")  # trusted code: allowed, and every result says so
    r = code_sandbox(
        CodeGenome({"main.py": "def run():\n    return 2\n"}),
        FitnessContext(params=cfg["fitness"]["params"]),
    )
    assert r.score == 2.0 and "sandbox: none (trusted code" in r.feedback
