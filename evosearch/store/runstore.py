"""``RunStore``: the run directory on disk (DESIGN §5).

::

    RUN/
      run.yaml                 resolved config, versions, seed (written once)
      manifest.json            facts, Parquet parts (id range, min/max score, sha256), live log
      manifest.prev.json       the manifest before the last replace (``repair`` falls back to it)
      log/seg-NNNNNN.arrows    Arrow IPC stream: one checksummed record batch per commit
      individuals/part-NNNNNN.parquet   immutable zstd Parquet, compacted from the log
      NAME/part-NNNNNN.parquet extra tables (archive events, QD metrics), compacted likewise
      index/part-NNNNNN.*      lineage arrays indexed by id (memory-mapped), best rows
      run.lock                 held by the one process writing the run

A commit is ONE append to the live log segment (rows + encoded state + extra tables in one
record batch) and one ``fdatasync``: the complete, checksummed record is the commit point.
Compaction (every ``compact_every`` commits, on a worker thread, and at close) writes the
committed records as a Parquet part, then a new segment and the manifest (``compact.py``).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from evosearch.individual import Individual
from evosearch.store import codec, faults, schema
from evosearch.store.files import atomic_write_bytes
from evosearch.store.log import Record, SegmentWriter
from evosearch.store.reading import FORMAT, RunReader, StoreError, _max_id

_CORE = ("individuals", "log", "index", "quarantine")


class RunStore(RunReader):
    """Read and append to one run directory (the reading is ``RunReader``'s).

    Use ``RunStore.create`` for a new run and ``RunStore.open`` for an existing one.
    Opening reads the manifest only; the log tail is read on first use (at once when
    writable, to drop a torn tail).

    Attributes:
        sync: fdatasync each commit (config ``store.fsync``).
        compact_every: Compact the log into a Parquet part every this many commits (0: only
            at close and on ``compact()``).
        background_compaction: Write those parts on a worker thread while commits go on
            (``compact()`` and ``close()`` always finish the work before they return).
    """

    compact_every = 64
    background_compaction = True

    def __init__(self, path: str | os.PathLike[str], *, writable: bool = False):
        super().__init__(path, writable=writable)
        self.sync = True
        self.duplicates_dropped = 0
        self._lock_fd: int | None = None
        self._writer: SegmentWriter | None = None
        self._commits_since_compact = 0
        self._pending: Any = None  # a compaction.Background whose parts are being written
        if writable:
            self._acquire_lock()
            from evosearch.store.compact import open_for_writing

            open_for_writing(self)

    # ----------------------------------------------------------------------- lifecycle

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        run_yaml: str,
        facts: Mapping[str, Any] | None = None,
    ) -> RunStore:
        """Create a new run directory.

        Args:
            path: The run directory.
            run_yaml: The resolved config (written once to ``run.yaml``).
            facts: Run-wide JSON facts, stored once (e.g. ``{"genome": {"kind": "vector",
                "dimension": 10, "bounds": [[-5, 5], ...]}}``: the genome column is then
                ``fixed_size_list<float64>[10]``).

        Raises:
            StoreError: if ``path`` already holds a run or cannot be written.
        """
        path = pathlib.Path(path)
        if (path / "manifest.json").exists():
            raise StoreError(f"{path} already holds a run; use 'evosearch resume {path}'")
        facts = json.loads(json.dumps(dict(facts or {})))  # JSON only, a private copy
        dim = schema.vector_dimension(facts)
        if dim is not None and dim < 1:
            raise ValueError(f"facts.genome.dimension must be >= 1, got {dim}")
        try:
            (path / "log").mkdir(parents=True, exist_ok=True)
            (path / "individuals").mkdir(exist_ok=True)
            atomic_write_bytes(path / "run.yaml", run_yaml.encode())
            seg = "log/seg-000001.arrows"
            SegmentWriter(path / seg, schema.row_schema(facts)).close()
            manifest = {
                "format": FORMAT,
                "created_at": _now(),
                "updated_at": _now(),
                "facts": facts,
                "parts": [],
                "tables": {},
                "log": [seg],
                "next_seq": 1,
                "next_part": 1,
            }
            blob = _dump_json(manifest)
            atomic_write_bytes(path / "manifest.prev.json", blob)
            atomic_write_bytes(path / "manifest.json", blob)
        except OSError as exc:
            raise StoreError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
        return cls(path, writable=True)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, writable: bool = False) -> RunStore:
        return cls(path, writable=writable)

    def close(self) -> None:
        """Compact what the log holds (writable stores) and release the lock."""
        if self.writable and self._lock_fd is not None:
            try:
                self.compact()
            except StoreError:
                pass  # e.g. a full disk: the log still holds every commit
            finally:
                self._close_writer()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------- manifest

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        """Replace the manifest (the old one is kept as manifest.prev.json first)."""
        manifest["updated_at"] = _now()
        old = (self.path / "manifest.json").read_bytes()
        atomic_write_bytes(self.path / "manifest.prev.json", old, **self._sync)
        faults.point("before_manifest_write")
        atomic_write_bytes(self.path / "manifest.json", _dump_json(manifest), **self._sync)
        self._manifest = manifest
        faults.point("after_manifest_write")

    def _acquire_lock(self) -> None:
        try:
            fd = os.open(self.path / "run.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"{self.path} is being written by another process (run.lock is held); "
                "stop that process first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    # ----------------------------------------------------------------------- writing

    def commit(
        self,
        rows: Any,
        state: Any,
        *,
        generation: int,
        counters: dict[str, Any] | None = None,
        tables: Mapping[str, pa.Table] | None = None,
    ) -> None:
        """Durably commit rows with the state after them: one log append, one fdatasync.

        Args:
            rows: ``Sequence[Individual]``, a ``pa.Table``/``pa.RecordBatch`` in the run's row
                schema, or a ``dict`` of columns (see ``schema.columns_to_table``). Rows whose
                id is already stored are dropped.
            state: A plain nested dict (``codec``); ``load_state`` returns it.
            generation: The generation committed.
            counters: Engine counters (JSON).
            tables: Extra tables (name → table, e.g. archive events and QD metrics), read
                back with ``extra_table``.

        Raises:
            StoreError: if the store is read-only or the disk refuses the write; nothing
                already committed is touched.
            TypeError: if ``state`` holds a value that cannot be stored (names its key path).
            ValueError: for rows that do not fit the run's schema, or a bad table name.
        """
        self._require_writable()
        for name in tables or {}:
            if not name.isidentifier() or name in _CORE or name == "checkpoints":
                raise ValueError(f"bad extra table name {name!r} (a plain name, not a core one)")
        blob = codec.encode(state)
        batch = self._new_only(self._as_table(rows, generation))
        self._append(
            batch,
            kind="commit",
            generation=generation,
            state=blob,
            counters=counters,
            tables=dict(tables or {}),
        )
        faults.point("after_log_append")
        self._commits_since_compact += 1
        if self._pending is not None and self._pending.done():
            self._finish_pending()
        if self.compact_every and self._commits_since_compact >= self.compact_every:
            self._auto_compact()

    def _auto_compact(self) -> None:
        from evosearch.store.compact import Background

        if not self.background_compaction:
            self.compact()
            return
        self._finish_pending()  # one compaction at a time
        self._commits_since_compact = 0
        if Background.wanted(self):
            self._pending = Background(self)

    def _finish_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.finish(self)

    def append(self, rows: Any, *, generation: int = 0) -> None:
        """Durably append rows without state (steady state); ``uncommitted`` returns them."""
        self._require_writable()
        batch = self._new_only(self._as_table(rows, generation))
        if batch.num_rows == 0:
            return
        self._append(batch, kind="append", generation=generation)
        faults.point("after_wal_append")
        if self._pending is not None and self._pending.done():
            self._finish_pending()

    def append_wal(self, individuals: Sequence[Individual]) -> None:
        """Alias of ``append`` (the steady-state write-ahead log of format 1)."""
        gen = max((i.generation for i in individuals), default=0)
        self.append(individuals, generation=gen)

    def _append(self, batch: pa.RecordBatch, **kw: Any) -> None:
        records = self.records
        seq = int(self._manifest["next_seq"]) + len(records)
        if records:
            seq = max(seq, records[-1].seq + 1)
        try:
            if self._writer is None:
                self._writer = SegmentWriter(
                    self.path / self._manifest["log"][-1], self.schema, sync=self.sync
                )
            self._writer.sync = self.sync
            self._writer.append(batch, seq=seq, **kw)
        except OSError as exc:
            raise StoreError(
                f"cannot commit to {self.path}: {exc.strerror or exc} "
                "(everything committed before is intact)"
            ) from None
        records.append(
            Record(
                seq,
                kw["kind"],
                kw["generation"],
                batch,
                kw.get("state"),
                dict(kw.get("counters") or {}),
                dict(kw.get("tables") or {}),
                -1,
            )
        )
        if self._ids is not None:
            self._ids.update(batch.column(0).to_numpy().tolist())
        self._max_id = max(self._max_id, _max_id(batch))
        self._table_cache = None

    def _as_table(self, rows: Any, generation: int) -> pa.Table:
        if isinstance(rows, pa.RecordBatch):
            rows = pa.Table.from_batches([rows])
        if isinstance(rows, pa.Table):
            if rows.schema.names != self.schema.names:
                missing = [c for c in self.schema.names if c not in rows.schema.names]
                if missing:
                    return schema.columns_to_table(
                        {c: rows[c] for c in rows.schema.names},
                        self.schema,
                        generation=generation,
                        facts=self.facts,
                    )
                rows = rows.select(self.schema.names)
            try:
                return rows.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValueError(f"rows do not fit the run's schema: {exc}") from None
        if isinstance(rows, Mapping):
            return schema.columns_to_table(
                rows, self.schema, generation=generation, facts=self.facts
            )
        return schema.to_table(rows, self.schema)

    def _new_only(self, table: pa.Table) -> pa.RecordBatch:
        """Drop rows whose id is already stored (or repeated in the batch).

        This is what makes a retried or duplicated evaluation unable to add a second row.
        Ids above every stored id need no lookup (the common case).
        """
        ids = table.column("id").to_numpy()
        if ids.size == 0:
            return _empty(self.schema)
        keep = np.ones(ids.size, bool)
        if not (ids[0] > self._max_id and bool(np.all(ids[1:] > ids[:-1]))):  # else all new
            _, first = np.unique(ids, return_index=True)
            if first.size != ids.size:
                keep[:] = False
                keep[first] = True
            if ids.min() <= self._max_id:
                stored = self.committed_ids() | self._uncommitted_ids()
                keep &= np.fromiter((i not in stored for i in ids.tolist()), bool, ids.size)
        dropped = int(ids.size - keep.sum())
        if dropped:
            self.duplicates_dropped += dropped
            table = table.filter(pa.array(keep))
        return table.combine_chunks().to_batches()[0] if table.num_rows else _empty(self.schema)

    def _uncommitted_ids(self) -> set[int]:
        return {
            i
            for r in self.records[self._last_commit_index() + 1 :]
            for i in r.rows.column(0).to_pylist()
        }

    def compact(self) -> bool:
        """Turn the log's committed records into a Parquet part (see ``compact.py``).

        Returns:
            True when a part or a new segment was written.
        """
        self._require_writable()
        from evosearch.store.compact import compact

        self._finish_pending()
        self._commits_since_compact = 0
        return compact(self)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @property
    def _sync(self) -> dict[str, bool]:
        return {} if self.sync else {"sync": False}

    def _require_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"{self.path} was opened read-only")

    @property
    def _max_id(self) -> int:
        if "_max_id_v" not in self.__dict__:
            m = max((p["max_id"] for p in self._manifest["parts"]), default=-1)
            self.__dict__["_max_id_v"] = max([m, *(_max_id(r.rows) for r in self.records)])
        return self.__dict__["_max_id_v"]

    @_max_id.setter
    def _max_id(self, value: int) -> None:
        self.__dict__["_max_id_v"] = value


def _empty(sch: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=sch)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _dump_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


__all__ = ["FORMAT", "RunStore", "StoreError"]
