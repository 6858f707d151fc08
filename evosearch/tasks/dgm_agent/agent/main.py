"""Entry point: ``solve(task_dir)`` works on the task described in ``task_dir/TASK.md``."""

import os
import sys

if __package__ in (None, ""):  # run as a script: make ``agent`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from agent.loop import run_agent  # noqa: E402


def solve(task_dir):
    """Solve the task in ``task_dir`` (reads TASK.md, edits files there)."""
    with open(os.path.join(task_dir, "TASK.md")) as fh:
        task = fh.read()
    listing = "\n".join(sorted(
        os.path.relpath(os.path.join(d, f), task_dir)
        for d, _, files in os.walk(task_dir) for f in files
        if "/tmp" not in d and not f.endswith(".pyc")
    ))
    prompt = f"{task}\n\nFiles in the task directory:\n{listing}"
    return run_agent(task_dir, prompt)


if __name__ == "__main__":
    print(solve(sys.argv[1] if len(sys.argv) > 1 else "."))
