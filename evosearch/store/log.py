"""The commit log: Arrow IPC stream segments, one checksummed record batch per record.

A segment ``log/seg-NNNNNN.arrows`` is a plain Arrow IPC stream (``pyarrow.ipc.open_stream``
reads it) with the run's row schema. Each record batch is one record, with custom metadata:

``es.seq``       record number (increasing over the run)
``es.kind``      ``commit`` (rows + state: the commit point of a commit) or ``append``
                 (steady-state rows without state)
``es.gen``       the commit's generation
``es.state``     the encoded state (``codec``), commits only
``es.counters``  engine counters (JSON), commits only
``es.tables``    JSON list of extra table names; ``es.t.NAME`` the table as IPC stream bytes
``es.crc``       crc32 of the batch's IPC serialisation and every other metadata value

Records are appended by a single ``os.write`` and one ``fdatasync``. A record cut short by a
crash, or one whose checksum does not match, ends the segment: it and anything after it are
dropped (``read_segment`` reports where the good part ends).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import zlib
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from evosearch.store import faults


@dataclasses.dataclass
class Record:
    """One log record.

    Attributes:
        seq: Record number.
        kind: ``commit`` or ``append``.
        generation: The generation it was committed at.
        rows: The rows (a record batch with the row schema).
        state: Encoded state bytes (commits only).
        counters: Engine counters (commits only).
        tables: Extra tables committed with it.
        end: Byte offset in the segment where this record ends.
    """

    seq: int
    kind: str
    generation: int
    rows: pa.RecordBatch
    state: bytes | None
    counters: dict[str, Any]
    tables: dict[str, pa.Table]
    end: int


def _crc(batch: pa.RecordBatch, meta: Mapping[str, bytes]) -> int:
    crc = zlib.crc32(memoryview(batch.serialize()))
    for key in sorted(meta):
        if key != "es.crc":
            crc = zlib.crc32(key.encode() + b"=" + meta[key], crc)
    return crc


def _table_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


class SegmentWriter:
    """Appends records to one segment; each ``append`` is durable when it returns."""

    def __init__(self, path: pathlib.Path, schema: pa.Schema, *, sync: bool = True):
        self.path = path
        self.schema = schema
        self.sync = sync
        self._schema_msg = schema.serialize().to_pybytes()
        new = not path.exists() or path.stat().st_size == 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if new:
            os.write(self._fd, self._schema_msg)
            if sync:
                os.fdatasync(self._fd)

    def append(
        self,
        rows: pa.RecordBatch,
        *,
        seq: int,
        kind: str,
        generation: int,
        state: bytes | None = None,
        counters: Mapping[str, Any] | None = None,
        tables: Mapping[str, pa.Table] | None = None,
    ) -> None:
        meta: dict[str, bytes] = {
            "es.seq": str(seq).encode(),
            "es.kind": kind.encode(),
            "es.gen": str(generation).encode(),
        }
        if state is not None:
            meta["es.state"] = state
            meta["es.counters"] = json.dumps(dict(counters or {}), sort_keys=True).encode()
        if tables:
            meta["es.tables"] = json.dumps(sorted(tables)).encode()
            for name, t in tables.items():
                meta[f"es.t.{name}"] = _table_bytes(t)
        meta["es.crc"] = str(_crc(rows, meta)).encode()
        sink = pa.BufferOutputStream()
        writer = pa.ipc.new_stream(sink, self.schema)
        writer.write_batch(rows, custom_metadata=meta)
        data = memoryview(sink.getvalue())[len(self._schema_msg) :]
        faults.point("before_log_append")
        if faults.wants("during_log_append"):
            os.write(self._fd, data[: len(data) // 2])  # a torn write, then the kill
            faults.point("during_log_append")
        size = os.fstat(self._fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if self.sync:
                os.fdatasync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):  # leave no partial record behind
                os.ftruncate(self._fd, size)
            raise

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None  # type: ignore[assignment]


def read_segment(path: pathlib.Path) -> tuple[pa.Schema | None, list[Record], int, bool]:
    """The complete records of a segment.

    Returns:
        ``(schema, records, good_end, torn)``: ``good_end`` is the byte offset where the last
        good record ends; ``torn`` is True when bytes after it were dropped (a cut-off or
        corrupt record).
    """
    size = path.stat().st_size
    if size == 0:
        return None, [], 0, False
    source = pa.memory_map(str(path))
    records: list[Record] = []
    try:
        reader = pa.ipc.open_stream(source)
    except (pa.ArrowInvalid, OSError):
        return None, [], 0, True
    good = source.tell()
    schema = reader.schema
    while True:
        try:
            batch, meta = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        except (pa.ArrowInvalid, OSError):
            break
        raw = {k.decode(): v for k, v in (meta or {}).items()}
        try:
            if int(raw["es.crc"]) != _crc(batch, raw):
                break
            tables = {}
            for name in json.loads(raw.get("es.tables", b"[]")):
                with pa.ipc.open_stream(pa.py_buffer(raw[f"es.t.{name}"])) as r:
                    tables[name] = r.read_all()
            end = source.tell()
            records.append(
                Record(
                    seq=int(raw["es.seq"]),
                    kind=raw["es.kind"].decode(),
                    generation=int(raw["es.gen"]),
                    rows=batch,
                    state=raw.get("es.state"),
                    counters=json.loads(raw.get("es.counters", b"{}")),
                    tables=tables,
                    end=end,
                )
            )
        except (KeyError, ValueError, pa.ArrowInvalid):
            break
        good = end
    return schema, records, good, good < size
