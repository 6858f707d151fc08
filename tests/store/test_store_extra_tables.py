"""Extra tables (archive membership, QD metrics) commit atomically with the individuals."""

from __future__ import annotations

import os

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
        assert s.extra_table("archive")["x"].to_pylist() == [1, 2, 3]  # from the log
        s.compact()
        assert s.extra_table("archive")["x"].to_pylist() == [1, 2, 3]  # from the parts
        assert [p["generation"] for p in s.manifest["tables"]["archive"]] == [1]
        assert s.manifest["tables"]["qd"][0]["file"] == "qd/part-000001.parquet"
        assert s.verify() == []
    (tmp_path / "r" / "qd" / "part-000001.parquet").write_bytes(b"junk")
    assert RunStore.open(tmp_path / "r").verify() == [
        "qd/part-000001.parquet: checksum mismatch (corrupted)"
    ]


def test_a_crash_before_the_manifest_leaves_no_listed_table_and_the_orphan_goes(
    tmp_path, monkeypatch
):
    s = RunStore.create(tmp_path / "r", "name: r\n")
    s.commit([ind(0, 1.0)], {}, generation=0, tables={"archive": tab(1)})
    real = runstore.atomic_write_bytes

    def fail_manifest(path, data, **kwargs):
        if path.name == "manifest.json":
            raise OSError(28, "No space left on device")
        real(path, data, **kwargs)

    monkeypatch.setattr(runstore, "atomic_write_bytes", fail_manifest)
    with pytest.raises(StoreError, match="the log still holds everything"):
        s.compact()
    monkeypatch.undo()
    assert (tmp_path / "r" / "archive" / "part-000001.parquet").exists()  # not yet listed
    s._close_writer()
    os.close(s._lock_fd)
    s._lock_fd = None
    with RunStore.open(tmp_path / "r", writable=True) as again:
        assert not (tmp_path / "r" / "archive" / "part-000001.parquet").exists()
        assert again.extra_table("archive")["x"].to_pylist() == [1]  # from the log


def test_table_names_that_would_clash_are_refused(tmp_path):
    with RunStore.create(tmp_path / "r", "name: r\n") as s:
        with pytest.raises(ValueError, match="individuals"):
            s.commit([], {}, generation=0, tables={"individuals": tab(1)})
