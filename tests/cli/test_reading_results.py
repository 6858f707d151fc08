"""Reading results and the edges around them (issue 14, items 5 and 6), through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, subprocess_env

from evosearch.cli import export as export_cli
from evosearch.cli import main
from evosearch.genomes.code import CodeGenome
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import FitnessResult, Individual, Status
from evosearch.store import RunStore


@pytest.fixture
def code_run(tmp_path):
    program = {"main.py": "def run():\n    return 1\n", "util.py": "X = 2\n"}
    with RunStore.create(tmp_path / "code", "name: code\n") as store:
        store.commit(
            [
                Individual(0, CodeGenome(program), result=FitnessResult(score=1.0)),
                Individual(
                    1,
                    CodeGenome(program),
                    parent_ids=(0,),
                    result=FitnessResult.failure(Status.FAILED, "SyntaxError: [bold] here"),
                ),
            ],
            None,
            generation=0,
        )
    return tmp_path / "code"


def test_show_prints_labels_not_markup_and_code_as_files(code_run, capsys):
    assert main(["show", str(code_run), "1"]) == 0
    out = capsys.readouterr().out
    assert "[bold]" not in out.replace("SyntaxError: [bold] here", "")
    assert "  error:\n    SyntaxError: [bold] here" in out  # the error text itself verbatim
    assert "--- main.py ---\n    def run():\n        return 1" in out
    assert "\\n" not in out


def test_piped_output_is_not_wrapped_at_80_columns(code_run):
    env = subprocess_env()
    env.pop("COLUMNS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "evosearch", "status", str(code_run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    run_line = next(line for line in proc.stdout.splitlines() if line.startswith("run "))
    assert run_line.rstrip().endswith(str(code_run))  # a long path stays on one line


def test_top_says_why_it_shows_fewer_rows_than_asked(code_run, capsys):
    assert main(["top", str(code_run), "-n", "16"]) == 0
    assert "top 1 of 2 (only 1 evaluated ok; failed ones are not ranked)" in capsys.readouterr().out


def test_lineage_best_has_a_default_depth(tmp_path, capsys):
    with RunStore.create(tmp_path / "chain", "name: chain\n") as store:
        chain = [
            Individual(
                i,
                VectorGenome([float(i)]),
                parent_ids=(i - 1,) if i else (),
                operator="vector.gaussian" if i else "init",
                generation=i,
                result=FitnessResult(score=float(i)),
            )
            for i in range(300)
        ]
        store.commit(chain, None, generation=299)
    assert main(["lineage", str(tmp_path / "chain"), "--best", "--full"]) == 0
    full = capsys.readouterr().out
    assert main(["lineage", str(tmp_path / "chain"), "--best"]) == 0
    short = capsys.readouterr().out
    assert len(short.splitlines()) < 20 < len(full.splitlines())
    assert "ancestry cut at 8 generations; --depth N or --full for more" in short


def test_a_failed_export_leaves_no_partial_directory(code_run, tmp_path, monkeypatch):
    def half_then_fail(ind, run_cfg, out, args):
        out.mkdir(parents=True, exist_ok=True)
        (out / "main.py").write_text("half")
        raise OSError("disk full")

    monkeypatch.setitem(export_cli.EXPORTERS, "code", f"{__name__}:_failing_exporter")
    monkeypatch.setattr(sys.modules[__name__], "_failing_exporter", half_then_fail, raising=False)
    out = tmp_path / "exported"
    with pytest.raises(OSError, match="disk full"):
        main(["export", str(code_run), "0", "--to", str(out)])
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []
    monkeypatch.undo()
    assert main(["export", str(code_run), "0", "--to", str(out)]) == 0
    assert (out / "main.py").read_text() == "def run():\n    return 1\n"


def test_demo_runs_from_any_directory_and_reports_errors_on_stderr(tmp_path):
    env = subprocess_env(EVOSEARCH_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "evosearch.demo", "--config", "missing.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("evosearch demo: error: missing.yaml not found")
    from evosearch import demo

    assert demo.find_config(None) == REPO_ROOT / "examples" / "model-merge.yaml"
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert demo.find_config(None) == REPO_ROOT / "examples" / "model-merge.yaml"
    finally:
        os.chdir(here)


def test_lineage_prints_an_individual_in_full_before_marking_it_repeated(tmp_path, capsys):
    # a diamond: #3 has parents #1 and #2, both children of #0
    parents = {0: (), 1: (0,), 2: (0,), 3: (1, 2)}
    with RunStore.create(tmp_path / "d", "name: d\n") as store:
        store.commit(
            [
                Individual(i, VectorGenome([float(i)]), parent_ids=p, generation=len(p) and i,
                           operator="init" if not p else "x", result=FitnessResult(score=i))
                for i, p in parents.items()
            ],
            None,
            generation=3,
        )
    assert main(["lineage", str(tmp_path / "d"), "3", "--full"]) == 0
    out = capsys.readouterr().out
    assert out.count("#0 score") == 1 and "#0 (repeated" in out
    assert out.index("#0 score") < out.index("#0 (repeated")
