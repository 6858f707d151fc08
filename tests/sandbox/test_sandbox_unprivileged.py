"""The escapes of issue 12 against a normal-user engine (uid 65534, no cgroup, no root).

The engine is a fresh process started as uid 65534 on the system Python (``/usr/bin/python3``,
the same 3.11 as the venv) with this checkout and every ``site-packages`` directory of this
interpreter on ``PYTHONPATH`` (the venv's own, and any directory a ``.pth`` file adds): a
venv's interpreter may be a link into a directory uid 65534 cannot enter, the packages are
plain readable files. Its files live in a temp dir it owns, removed afterwards.
"""

import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"

SCRIPT = r'''
import json, os, sys
from evosearch.fitness.base import FitnessContext
from evosearch.tasks.code_evaluator import code_sandbox
from evosearch.tasks.coding import check_task, task_list
from evosearch.sandbox.runner import Collect, SandboxLimits, run_sandboxed
from evosearch.genomes.code import CodeGenome

home = sys.argv[1]
secret = os.path.join(home, "secret.txt")
evaluator = os.path.join(home, "evaluator.py")
out = {"uid": os.getuid()}


def evaluate(main, **limits):
    params = {"evaluator": evaluator, "limits": {"timeout": 30, **limits}}
    r = code_sandbox(CodeGenome({"main.py": main}), FitnessContext(params=params))
    return {"status": r.status.value, "score": r.score, "error": r.error, "feedback": r.feedback}


out["good"] = evaluate("import os\ndef run():\n    print('uid', os.getuid())\n    return 3\n")
out["sysctl"] = evaluate(
    "def run():\n    p = '/proc/sys/vm/swappiness'\n    v = open(p).read()\n    try:\n"
    "        open(p, 'w').write(v)\n    except OSError as e:\n        print('refused', e)\n"
    "        return 0\n    return 1\n")
paths = [secret, home, "/home"]
out["outside"] = evaluate(
    f"import os\ndef run():\n    return sum(os.path.exists(p) for p in {paths!r})\n")
forged = json.dumps({"score": 1e9})
out["forged"] = evaluate(f"import os\ndef run():\n    print({forged!r})\n    os._exit(0)\n")
out["forkbomb"] = evaluate(
    "import os, time\ndef run():\n    stop = time.time() + 2\n    made = failed = 0\n"
    "    while time.time() < stop:\n        try:\n            pid = os.fork()\n"
    "        except OSError:\n            failed += 1\n            time.sleep(0.01)\n"
    "            continue\n        if pid == 0:\n"
    "            time.sleep(max(0, stop - time.time()))\n"
    "            os._exit(0)\n        made += 1\n    print('made', made, 'failed', failed)\n"
    "    return made\n", processes=64)
out["disk"] = evaluate(
    "def run():\n    n = 0\n    for i in range(40):\n        try:\n"
    "            open(f'f{i}', 'wb').write(b'x' * 15 * 2**20)\n            n += 15\n"
    "        except OSError as e:\n            print('stopped', e)\n            break\n"
    "    return n\n", disk_mb=64, file_size_mb=16)
links = run_sandboxed(
    {"a.py": f"import os\nos.symlink({secret!r}, 'task/s')\n"
             "os.symlink('/proc/self/environ', 'task/e')\n",
     "task/TASK.md": "x"},
    [sys.executable, "a.py"], SandboxLimits(timeout=30), collect=Collect(root="task"))
out["links"] = {"files": sorted(links.files), "refused": links.refused, "blob": repr(links)}
(task,) = task_list("humaneval", 1, 0)
out["humaneval_exit0"] = check_task(task, {"solution.py": "import os\nos._exit(0)\n"},
                                    SandboxLimits(timeout=30))[0]
print(json.dumps(out))
'''

EVALUATOR = """
import evosearch_eval
value = evosearch_eval.load_entry()()
evosearch_eval.report(float(value), {"value": float(value)}, "ran fine")
"""


def _open_to_others(path: pathlib.Path) -> bool:
    """Whether a user with no relation to the owner can reach ``path`` and list it."""
    if not path.exists():
        return True  # a path entry that is not there imports nothing
    mode = path.stat().st_mode
    if not (mode & stat.S_IROTH and mode & stat.S_IXOTH):
        return False
    return all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start an engine as uid 65534")
def test_the_escapes_are_contained_for_a_normal_user_engine():
    if not os.access(SYSTEM_PYTHON, os.X_OK) or shutil.which("bwrap") is None:
        pytest.skip("needs /usr/bin/python3 and bwrap")
    deps = [p for p in sys.path if p.endswith("site-packages")]
    hidden = [str(p) for p in (ROOT, *deps) if not _open_to_others(pathlib.Path(p))]
    if hidden:  # e.g. a clone in a `mktemp -d` directory (0700), or a venv under /root
        pytest.skip(
            f"a normal-user engine cannot import this checkout: uid 65534 cannot enter {hidden}"
        )
    home = tempfile.mkdtemp(prefix="evosearch-unpriv-")
    try:
        os.chown(home, 65534, 65534)
        for name, text in (("evaluator.py", EVALUATOR), ("secret.txt", "planted-7f3a")):
            (pathlib.Path(home) / name).write_text(text)
            os.chown(pathlib.Path(home) / name, 65534, 65534)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "PYTHONPATH": ":".join([str(ROOT), *deps]),
            "OPENAI_API_KEY": "sk-engine-key-9c1d",
        }
        proc = subprocess.run(
            [SYSTEM_PYTHON, "-c", SCRIPT, home],
            user=65534,
            group=65534,
            extra_groups=[],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["uid"] == 65534
    good = out["good"]
    assert good["status"] == "ok" and good["score"] == 3.0, good
    assert "your uid 65534 outside" in good["feedback"]
    assert "per process (RLIMIT_AS, no cgroup)" in good["feedback"]
    assert out["sysctl"]["score"] == 0.0 and "refused" in out["sysctl"]["feedback"]
    assert out["outside"]["status"] == "ok" and out["outside"]["score"] == 0.0
    assert out["forged"]["status"] == "failed" and out["forged"]["score"] != 1e9
    bomb = out["forkbomb"]
    assert bomb["status"] == "ok" and bomb["score"] < 64 and "failed 0" not in bomb["feedback"]
    assert out["disk"]["score"] < 64 and "No space left" in out["disk"]["feedback"]
    links = out["links"]
    assert links["files"] == ["TASK.md"] and set(links["refused"]) == {"s", "e"}
    assert "planted-7f3a" not in links["blob"] and "sk-engine-key-9c1d" not in links["blob"]
    assert out["humaneval_exit0"] is False


