"""Reading a run directory: the manifest, the live log and the compacted parts (DESIGN §5).

``RunReader`` is everything ``RunStore`` does without writing: opening reads the manifest
only; the log is read on first use; parts are read when a query needs them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evosearch.individual import Individual
from evosearch.store import codec, schema
from evosearch.store.files import sha256_file
from evosearch.store.log import Record, read_segment

FORMAT = "evosearch-run/2"
_OLD_FORMATS = {"evosearch-run/1": "evosearch 0.1 (pickle checkpoints)"}


class StoreError(RuntimeError):
    """A run directory that is missing, locked, corrupted or not writable."""


class RunReader:
    """Read one run directory (``RunStore`` adds the writing).

    Attributes:
        path: The run directory.
        writable: Whether this object holds the run's lock and may append.
        schema: The row schema of the run (from its facts).
    """

    def __init__(self, path: str | os.PathLike[str], *, writable: bool = False):
        self.path = pathlib.Path(path)
        self.writable = writable
        self._manifest = self._read_manifest()
        self.schema = schema.row_schema(self.facts)
        self._records: list[Record] | None = None
        self._torn = False
        self._ids: set[int] | None = None
        self._table_cache: tuple[Any, pa.Table] | None = None

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
