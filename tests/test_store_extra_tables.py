"""Extra tables (archive membership, QD metrics) commit atomically with the individuals."""

from __future__ import annotations

import pyarrow as pa
import pytest
from archive_helpers import ind

from evosearch.store import runstore
from evosearch.store.runstore import RunStore, StoreError

T = pa.schema([("x", pa.int64())])


def tab(*xs: int) -> pa.Table:
    return pa.table({"x": list(xs)}, schema=T)


def test_tables_are_listed_in_the_manifest_and_read_in_commit_order(tmp_path):
    with RunStore.create(tmp_path / "r", "name: r\n") as s:
        assert s.extra_table("archive", T).num_rows == 0
        s.commit([ind(0, 1.0)], {}, generation=0, tables={"archive": tab(1, 2)})
        s.commit([ind(1, 1.0)], {}, generation=1, tables={"archive": tab(3), "qd": tab(9)})
        assert s.extra_table("archive")["x"].to_pylist() == [1, 2, 3]
        assert [p["generation"] for p in s.manifest["tables"]["archive"]] == [0, 1]
        assert s.manifest["tables"]["qd"][0]["file"] == "qd/part-000002.parquet"
        assert s.verify() == []
    (tmp_path / "r" / "qd" / "part-000002.parquet").write_bytes(b"junk")
    assert RunStore.open(tmp_path / "r").verify() == [
        "qd/part-000002.parquet: checksum mismatch (corrupted)"
    ]


def test_a_crash_before_the_manifest_leaves_no_listed_table_and_the_orphan_goes(
    tmp_path, monkeypatch
):
    s = RunStore.create(tmp_path / "r", "name: r\n")
    s.commit([ind(0, 1.0)], {}, generation=0, tables={"archive": tab(1)})
    real = runstore.atomic_write_bytes

    def fail_manifest(path, data):
        if path.name == "manifest.json":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(runstore, "atomic_write_bytes", fail_manifest)
    with pytest.raises(StoreError, match="everything committed before is intact"):
        s.commit([ind(1, 1.0)], {}, generation=1, tables={"archive": tab(2)})
    monkeypatch.undo()
    s.close()
    assert (tmp_path / "r" / "archive" / "part-000002.parquet").exists()
    with RunStore.open(tmp_path / "r", writable=True) as again:
        assert again.extra_table("archive")["x"].to_pylist() == [1]
        assert not (tmp_path / "r" / "archive" / "part-000002.parquet").exists()


def test_table_names_that_would_clash_are_refused(tmp_path):
    with RunStore.create(tmp_path / "r", "name: r\n") as s:
        with pytest.raises(ValueError, match="individuals"):
            s.commit([], {}, generation=0, tables={"individuals": tab(1)})
