"""The agent's tools: view a file, edit it by exact replacement, write it, run a command."""

import os
import subprocess

MAX_OUTPUT = 4000


def _inside(root, path):
    full = os.path.realpath(os.path.join(root, path))
    if not (full == os.path.realpath(root) or full.startswith(os.path.realpath(root) + os.sep)):
        raise ValueError(f"path {path!r} is outside the task directory")
    return full


def view_file(root, path):
    """The file's text with line numbers (or the directory listing)."""
    full = _inside(root, path)
    if os.path.isdir(full):
        return "\n".join(sorted(os.listdir(full)))
    with open(full) as fh:
        lines = fh.read().splitlines()
    text = "\n".join(f"{i + 1:4d} {line}" for i, line in enumerate(lines))
    return text[:MAX_OUTPUT]


def edit_file(root, path, old, new):
    """Replace the single exact occurrence of ``old`` with ``new``."""
    full = _inside(root, path)
    with open(full) as fh:
        text = fh.read()
    count = text.count(old)
    if count != 1:
        return f"error: the old text occurs {count} times in {path}; it must occur exactly once"
    with open(full, "w") as fh:
        fh.write(text.replace(old, new, 1))
    return f"edited {path}"


def write_file(root, path, content):
    """Create or overwrite a file."""
    full = _inside(root, path)
    os.makedirs(os.path.dirname(full) or ".", exist_ok=True)
    with open(full, "w") as fh:
        fh.write(content)
    return f"wrote {path} ({len(content)} characters)"


def run(root, command, timeout=30):
    """Run a shell command in the task directory; return exit code and output."""
    try:
        proc = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"error: command timed out after {timeout}s"
    out = (proc.stdout + proc.stderr)[-MAX_OUTPUT:]
    return f"exit code {proc.returncode}\n{out}"
