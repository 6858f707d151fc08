"""``evosearch ui RUN`` as a command: prints its URL, serves the page, errors in one line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

from conftest import subprocess_env

pytest_plugins = ["ui_runs"]  # the small hand-built runs (fixtures)


def test_ui_command_serves_the_run_on_localhost(small_run):
    proc = subprocess.Popen(
        [sys.executable, "-m", "evosearch", "ui", str(small_run), "--port", "0"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("evosearch ui: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/summary", timeout=30) as r:
            assert json.loads(r.read())["individuals"] == 14
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ui_on_a_busy_port_or_missing_run_is_a_one_line_error(small_run, tmp_path, cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = cli("ui", small_run, "--port", port)
    assert res.returncode == 2
    assert res.stderr.startswith(f"evosearch: error: cannot listen on 127.0.0.1:{port}")
    res = cli("ui", tmp_path / "nope")
    assert res.returncode == 2 and "no run directory" in res.stderr
