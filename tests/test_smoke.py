from conftest import run_cli, sphere_config

from evosearch import Engine


def test_a_tiny_run_stores_every_individual(tmp_path):
    summary = Engine.create(sphere_config(), tmp_path / "run").run()
    assert summary.evaluations == 30
    assert summary.best is not None and summary.best.score <= 0


def test_cli_reports_missing_config_in_one_line(tmp_path):
    proc = run_cli("run", tmp_path / "missing.yaml")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"evosearch: error: config file not found: {tmp_path / 'missing.yaml'}"
    ]
