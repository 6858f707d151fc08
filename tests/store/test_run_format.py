"""The run directory is readable with no evosearch code (pandas, polars, DuckDB,
pyarrow.dataset, JSON) once compacted."""

from __future__ import annotations

import json
import pathlib

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO_ROOT, archive_config

from evosearch import Engine
from evosearch.store import SCHEMA, RunStore


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("fmt") / "run"
    Engine.create(archive_config(budget={"generations": 3}), path).run()
    return path


def test_pandas_reads_the_individuals_directory(run):
    pd = pytest.importorskip("pandas")  # not an evosearch dependency
    df = pd.read_parquet(run / "individuals")
    assert list(df.columns) == SCHEMA.names
    assert sorted(df["id"]) == list(range(24))
    best = df.sort_values("score", ascending=False).iloc[0]
    assert json.loads(best["genome"])["values"] and best["status"] == "ok"


def test_pyarrow_dataset_reads_and_filters(run):
    dataset = ds.dataset(run / "individuals", format="parquet")
    assert dataset.schema.names == SCHEMA.names
    ok = dataset.to_table(filter=ds.field("status") == "ok", columns=["id", "score", "parent_ids"])
    assert ok.num_rows == 24
    children = ok.filter(ds.field("id") >= 8)
    assert all(len(p) == 2 for p in children["parent_ids"].to_pylist())


def test_polars_reads_the_individuals_directory(run):
    pl = pytest.importorskip("polars")
    df = pl.read_parquet(run / "individuals" / "*.parquet")
    assert df.columns == SCHEMA.names and sorted(df["id"].to_list()) == list(range(24))
    best = df.sort("score", descending=True).row(0, named=True)
    assert best["status"] == "ok" and len(best["fingerprint"]) == 16


def test_duckdb_queries_the_individuals_directory(run):
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    n, best = con.execute(
        f"SELECT count(*), max(score) FROM read_parquet('{run}/individuals/*.parquet') "
        "WHERE status = 'ok'"
    ).fetchone()
    assert n == 24 and best <= 0
    parents = con.execute(
        f"SELECT len(parent_ids) FROM read_parquet('{run}/individuals/*.parquet') WHERE id >= 8"
    ).fetchall()
    assert {p for (p,) in parents} == {2}


def test_the_manifest_lists_parts_with_checksums(run):
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["format"] == "evosearch-run/2"
    # compacted at close: one part holding the three commits, with its score range
    assert [p["commit_rows"] for p in manifest["parts"]] == [[8, 8, 8]]
    assert manifest["parts"][0]["max_score"] <= 0
    total = 0
    for part in manifest["parts"]:
        table = pq.read_table(run / part["file"])
        assert table.num_rows == part["rows"]
        assert table["id"].to_pylist() == list(range(part["min_id"], part["max_id"] + 1))
        total += part["rows"]
    assert total == RunStore.open(run).num_individuals == 24
    assert yaml.safe_load((run / "run.yaml").read_text())["seed"] == 5


def test_the_run_format_doc_describes_every_column():
    doc = (REPO_ROOT / "docs" / "run-format.md").read_text()
    missing = [name for name in SCHEMA.names if f"| `{name}` |" not in doc]
    assert not missing, f"docs/run-format.md lacks columns {missing}"
