"""A run imports only what its config names: a GA on a sphere never imports the heavy stacks.

Each check runs in a fresh interpreter, so modules imported by other tests do not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

# What a deap GA on a sphere has no use for (torch included: the GA does not use it).
HEAVY = ("torch", "evotorch", "ribs", "ray", "gymnasium", "transformers", "mergekit", "sklearn")

GA_SPHERE = {
    "name": "ga-sphere",
    "seed": 3,
    "budget": {"generations": 2},
    "fitness": "sphere",
    "strategy": {"ref": "ga", "params": {"population_size": 8, "dimension": 3}},
}

REPORT = (
    "import atexit, json, sys\n"
    f"HEAVY = {HEAVY!r}\n"
    "atexit.register(lambda: print('IMPORTED ' + json.dumps(\n"
    "    [m for m in HEAVY if m in sys.modules])))\n"
)


def _imported(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", REPORT + code],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("IMPORTED ")][-1]
    return json.loads(line.removeprefix("IMPORTED "))


def test_import_evosearch_imports_nothing_heavy():
    assert _imported("import evosearch\n") == []


def test_a_ga_sphere_run_through_the_api_imports_nothing_heavy(tmp_path):
    code = (
        "from evosearch import Engine\n"
        f"summary = Engine.create({GA_SPHERE!r}, {str(tmp_path / 'run')!r}).run()\n"
        "assert summary.best is not None\n"
    )
    assert _imported(code) == []


def test_evosearch_run_on_a_ga_sphere_config_imports_nothing_heavy(tmp_path):
    config = tmp_path / "ga.yaml"
    config.write_text(yaml.safe_dump(GA_SPHERE))
    code = (
        "import sys\n"
        "from evosearch.cli import main\n"
        f"sys.argv = ['evosearch', 'run', {str(config)!r}, '--out', "
        f"{str(tmp_path / 'run')!r}, '--quiet']\n"
        "rc = main()\n"
        "assert not rc, rc\n"
    )
    assert _imported(code) == []
    assert (tmp_path / "run").is_dir()
