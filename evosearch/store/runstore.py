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
Compaction (every ``compact_every`` commits and at close) writes the log's committed records
as a Parquet part, starts a new segment that carries the last state, and then replaces the
manifest; until that replace the old segment stays the source (``compact.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fcntl
import json
import os
import pathlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from evosearch.individual import Individual
from evosearch.store import codec, faults, schema
from evosearch.store.files import atomic_write_bytes, sha256_file
from evosearch.store.log import Record, SegmentWriter, read_segment

FORMAT = "evosearch-run/2"
_OLD_FORMATS = {"evosearch-run/1": "evosearch 0.1 (pickle checkpoints)"}
_CORE = ("individuals", "log", "index", "quarantine")


class StoreError(RuntimeError):
    """A run directory that is missing, locked, corrupted or not writable."""


class RunStore:
    """Read and append to one run directory.

    Use ``RunStore.create`` for a new run and ``RunStore.open`` for an existing one.
    Opening reads the manifest only; the log tail is read on first use (at once when
    writable, to drop a torn tail).

    Attributes:
        sync: fdatasync each commit (config ``store.fsync``).
        compact_every: Compact the log into a Parquet part every this many commits (0: only
            at close and on ``compact()``).
    """

    compact_every = 64

    def __init__(self, path: str | os.PathLike[str], *, writable: bool = False):
        self.path = pathlib.Path(path)
        self.writable = writable
        self.sync = True
        self.duplicates_dropped = 0
        self._lock_fd: int | None = None
        self._manifest = self._read_manifest()
        self.schema = schema.row_schema(self.facts)
        self._records: list[Record] | None = None
        self._torn = False
        self._writer: SegmentWriter | None = None
        self._ids: set[int] | None = None
        self._table_cache: tuple[Any, pa.Table] | None = None
        self._commits_since_compact = 0
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

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest, with the last commit's ``counters``, ``seq`` and ``checkpoint``.

        Those three come from the log (``checkpoint`` holds the commit's generation).
        """
        last = self._last_commit()
        return dict(
            self._manifest,
            counters=dict(last.counters) if last else {},
            seq=(last.seq if last else 0),
            checkpoint={"seq": last.seq, "generation": last.generation} if last else None,
        )

    @property
    def facts(self) -> dict[str, Any]:
        return dict(self._manifest.get("facts") or {})

    @property
    def counters(self) -> dict[str, Any]:
        last = self._last_commit()
        return dict(last.counters) if last else {}

    @property
    def run_yaml(self) -> str:
        return (self.path / "run.yaml").read_text()

    def refresh(self) -> None:
        """Re-read the manifest and log (for readers following a run that is still writing)."""
        if self.writable:
            return
        self._manifest = self._read_manifest()
        self._records = None
        self._ids = None

    def _read_manifest(self) -> dict[str, Any]:
        mpath = self.path / "manifest.json"
        if not self.path.is_dir():
            raise StoreError(f"no run directory at {self.path}")
        if not mpath.is_file():
            raise StoreError(f"{self.path} is not an evosearch run (no manifest.json)")
        try:
            manifest = json.loads(mpath.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(
                f"{mpath} is corrupted ({exc}); run 'evosearch repair {self.path}' to restore "
                "it from manifest.prev.json"
            ) from None
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if fmt in _OLD_FORMATS:
            raise StoreError(
                f"{self.path} was written in run format {fmt} by {_OLD_FORMATS[fmt]}; this "
                f"evosearch reads {FORMAT} only (re-run it with this version)"
            )
        if fmt != FORMAT:
            raise StoreError(f"{mpath}: unsupported format {fmt!r} (this evosearch reads {FORMAT})")
        return manifest

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

    # ----------------------------------------------------------------------- the log

    @property
    def records(self) -> list[Record]:
        """The complete records of the live log, in order (read once, then kept)."""
        if self._records is None:
            records: list[Record] = []
            self._torn = False
            for seg in self._manifest["log"]:
                p = self.path / seg
                if not p.exists():
                    raise StoreError(
                        f"log segment {seg} of {self.path} is missing; run "
                        f"'evosearch repair {self.path}'"
                    )
                _, recs, _, torn = read_segment(p)
                if records:  # several segments (a restored manifest): drop rows seen before
                    recs = _without_seen(records, recs)
                records.extend(recs)
                self._torn = self._torn or torn
            self._records = records
        return self._records

    def _last_commit_index(self) -> int:
        recs = self.records
        for i in range(len(recs) - 1, -1, -1):
            if recs[i].kind == "commit":
                return i
        return -1

    def _last_commit(self) -> Record | None:
        i = self._last_commit_index()
        return self.records[i] if i >= 0 else None

    def _committed_records(self) -> list[Record]:
        return self.records[: self._last_commit_index() + 1]

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
        if self.compact_every and self._commits_since_compact >= self.compact_every:
            self.compact()

    def append(self, rows: Any, *, generation: int = 0) -> None:
        """Durably append rows without state (steady state); ``uncommitted`` returns them."""
        self._require_writable()
        batch = self._new_only(self._as_table(rows, generation))
        if batch.num_rows == 0:
            return
        self._append(batch, kind="append", generation=generation)
        faults.point("after_wal_append")

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
        keep = np.ones(ids.size, bool)
        if ids.size:
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

    # ----------------------------------------------------------------------- reading

    def load_state(self) -> Any | None:
        """The state committed last (arrays back as numpy arrays), None before any commit."""
        last = self._last_commit()
        if last is None or last.state is None:
            return None
        try:
            return codec.decode(last.state)
        except ValueError as exc:
            raise StoreError(f"the state of commit {last.seq} is unreadable: {exc}") from None

    load_checkpoint = load_state

    def uncommitted(self) -> list[Individual]:
        """Rows appended (``append``) after the last commit, for ``Strategy.replay``."""
        recs = self.records[self._last_commit_index() + 1 :]
        if not recs:
            return []
        t = pa.Table.from_batches([r.rows for r in recs], schema=self.schema)
        return schema.from_table(t, self.facts)

    read_wal = uncommitted

    @property
    def parts(self) -> list[dict[str, Any]]:
        """The compacted Parquet parts (the log tail is not among them)."""
        return list(self._manifest["parts"])

    @property
    def num_individuals(self) -> int:
        return sum(p["rows"] for p in self._manifest["parts"]) + sum(
            r.rows.num_rows for r in self._committed_records()
        )

    @property
    def _max_id(self) -> int:
        if "_max_id_v" not in self.__dict__:
            m = max((p["max_id"] for p in self._manifest["parts"]), default=-1)
            self.__dict__["_max_id_v"] = max([m, *(_max_id(r.rows) for r in self.records)])
        return self.__dict__["_max_id_v"]

    @_max_id.setter
    def _max_id(self, value: int) -> None:
        self.__dict__["_max_id_v"] = value

    def tail_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The committed rows still in the log (not yet in a part)."""
        recs = self._committed_records()
        t = pa.Table.from_batches([r.rows for r in recs], schema=self.schema)
        return t.select(list(columns)) if columns is not None else t

    def read_part(
        self, part: Mapping[str, Any], columns: Sequence[str] | None = None, **kw: Any
    ) -> pa.Table:
        try:
            return pq.read_table(self.path / part["file"], columns=columns, **kw)
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(
                f"part {part['file']} of {self.path} is unreadable ({exc}); "
                f"run 'evosearch repair {self.path}'"
            ) from None

    def table(self, columns: Sequence[str] | None = None, *, start: int = 0) -> pa.Table:
        """All committed individuals as one pyarrow table, in commit order.

        Args:
            columns: Only these columns.
            start: Skip the first ``start`` rows (a cursor for readers following a run).

        Raises:
            StoreError: if a listed part is missing or unreadable.
        """
        key = (len(self._manifest["parts"]), self._last_commit_index(), len(self.records))
        cacheable = columns is None and start == 0
        if cacheable and self._table_cache and self._table_cache[0] == key:
            return self._table_cache[1]
        cols = list(columns) if columns is not None else None
        tables, offset = [], 0
        for p in self._manifest["parts"]:
            if offset + p["rows"] > start:
                t = self.read_part(p, cols)
                tables.append(t.slice(max(0, start - offset)))
            offset += p["rows"]
        tail = self.tail_table(cols)
        tables.append(tail.slice(max(0, start - offset)))
        sch = self.schema if cols is None else pa.schema([self.schema.field(c) for c in cols])
        table = pa.concat_tables([t.cast(sch) for t in tables]) if tables else sch.empty_table()
        if cacheable:
            self._table_cache = (key, table)
        return table

    def extra_table(
        self, name: str, schema_: pa.Schema | None = None, *, start: int = 0
    ) -> pa.Table:
        """A table committed through ``commit(tables=...)``, all its rows in commit order.

        Args:
            name: The table name (e.g. ``archive``, ``qd``).
            schema_: Schema of the empty table returned when nothing was committed yet.
            start: Skip the first ``start`` rows.

        Raises:
            StoreError: if a listed part is missing or unreadable.
        """
        tables = [self.read_part(p) for p in (self._manifest.get("tables") or {}).get(name, [])]
        tables += [r.tables[name] for r in self._committed_records() if name in r.tables]
        if not tables:
            return (schema_ or pa.schema([])).empty_table()
        return pa.concat_tables(tables, promote_options="permissive").slice(start)

    def iter_commits(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The committed rows, one table per commit, in commit order.

        For rebuilding an archive exactly as it was filled, commit by commit.
        """
        cols = list(columns) if columns is not None else None
        for p in self._manifest["parts"]:
            t = self.read_part(p, cols)
            offset = 0
            for n in p.get("commit_rows") or [p["rows"]]:
                yield t.slice(offset, n)
                offset += n
        batches: list[pa.RecordBatch] = []
        for r in self._committed_records():
            batches.append(r.rows)
            if r.kind == "commit":
                t = pa.Table.from_batches(batches, schema=self.schema)
                batches = []
                if t.num_rows:
                    yield t.select(cols) if cols is not None else t

    def individuals(self) -> list[Individual]:
        return schema.from_table(self.table(), self.facts)

    def committed_ids(self) -> set[int]:
        """Ids of every committed individual (read once, then kept up to date)."""
        if self._ids is None:
            from evosearch.store.queries import LineageIndex

            ids = LineageIndex(self).part_ids()
            ids.update(self.tail_table(["id"])["id"].to_pylist())
            self._ids = ids
        return self._ids

    def get(self, individual_id: int) -> Individual:
        """One individual by id (reads only the part that holds it, or the log tail).

        Raises:
            KeyError: if no committed individual has that id.
        """
        import pyarrow.compute as pc

        tail = self.tail_table()
        hit = tail.filter(pc.equal(tail["id"], individual_id))
        if hit.num_rows == 0:
            for p in self._manifest["parts"]:
                if p["min_id"] <= individual_id <= p["max_id"]:
                    hit = self.read_part(p, filters=[("id", "=", individual_id)])
                    if hit.num_rows:
                        break
        if hit.num_rows:
            return schema.from_row(hit.slice(0, 1).to_pylist()[0], self.facts)
        raise KeyError(f"no individual with id {individual_id} in {self.path}")

    def verify(self) -> list[str]:
        """Check every part against its checksum; return the problems found (empty if none)."""
        problems = []
        extra = [p for ps in (self._manifest.get("tables") or {}).values() for p in ps]
        for p in [*self._manifest["parts"], *extra]:
            f = self.path / p["file"]
            if not f.exists():
                problems.append(f"{p['file']}: missing")
            elif sha256_file(f) != p["sha256"]:
                problems.append(f"{p['file']}: checksum mismatch (corrupted)")
        for seg in self._manifest["log"]:
            if not (self.path / seg).exists():
                problems.append(f"{seg}: missing")
        return problems


def _without_seen(before: list[Record], recs: list[Record]) -> list[Record]:
    seen = {i for r in before for i in r.rows.column(0).to_pylist()}
    out = []
    for r in recs:
        ids = r.rows.column(0).to_pylist()
        if any(i in seen for i in ids):
            keep = pa.array([i not in seen for i in ids])
            r = dataclasses.replace(r, rows=r.rows.filter(keep))
        seen.update(ids)
        out.append(r)
    return out


def _max_id(batch: pa.RecordBatch) -> int:
    return int(batch.column(0).to_numpy().max()) if batch.num_rows else -1


def _empty(sch: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=sch)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _dump_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


__all__ = ["FORMAT", "RunStore", "StoreError"]
