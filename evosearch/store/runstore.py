"""``RunStore``: the run directory on disk (DESIGN §5).

::

    RUN/
      run.yaml                 resolved config, versions, seed (written once)
      manifest.json            committed parts + checksums + current checkpoint; atomic replace
      individuals/part-*.parquet   one immutable file per commit (a generation, or N results)
      wal-*.arrows             steady-state results not yet in a part (Arrow IPC stream)
      checkpoints/*.pkl        strategy + RNG state at a commit
      run.lock                 held by the one process writing the run

The manifest is the single commit point: a part and its checkpoint are written under their
final names first (temp → fsync → rename), then the manifest that lists them replaces the old
one. A crash before that leaves orphans that readers ignore and the next writer removes.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import pathlib
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evosearch.individual import Individual
from evosearch.store import faults, schema
from evosearch.store.files import atomic_write, atomic_write_bytes, sha256_file

FORMAT = "evosearch-run/1"


class StoreError(RuntimeError):
    """A run directory that is missing, locked, corrupted or not writable."""


class RunStore:
    """Read and append to one run directory.

    Use ``RunStore.create`` for a new run and ``RunStore.open`` for an existing one.
    Readers trust only what ``manifest.json`` lists.
    """

    def __init__(self, path: str | os.PathLike[str], *, writable: bool = False):
        self.path = pathlib.Path(path)
        self.writable = writable
        self.sync = True  # fsync commits (config ``store.fsync``)
        self._lock_fd: int | None = None
        self._manifest = self._read_manifest()
        self._table_cache: tuple[int, pa.Table] | None = None
        self._wal_writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._wal_file: Any = None
        self._ids: set[int] | None = None
        self.duplicates_dropped = 0
        if writable:
            self._acquire_lock()
            self._remove_orphans()

    # ----------------------------------------------------------------------- lifecycle

    @classmethod
    def create(cls, path: str | os.PathLike[str], run_yaml: str) -> RunStore:
        """Create a new run directory.

        Raises:
            StoreError: if ``path`` already holds a run or cannot be written.
        """
        path = pathlib.Path(path)
        if (path / "manifest.json").exists():
            raise StoreError(f"{path} already holds a run; use 'evosearch resume {path}'")
        try:
            (path / "individuals").mkdir(parents=True, exist_ok=True)
            (path / "checkpoints").mkdir(exist_ok=True)
            atomic_write_bytes(path / "run.yaml", run_yaml.encode())
            manifest = {
                "format": FORMAT,
                "created_at": _now(),
                "seq": 0,
                "parts": [],
                "checkpoint": None,
                "wal": None,
                "counters": {},
            }
            atomic_write_bytes(path / "manifest.json", _dump_json(manifest))
        except OSError as exc:
            raise StoreError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
        return cls(path, writable=True)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, writable: bool = False) -> RunStore:
        return cls(path, writable=writable)

    def close(self) -> None:
        self._close_wal()
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
        return self._manifest

    @property
    def run_yaml(self) -> str:
        return (self.path / "run.yaml").read_text()

    def refresh(self) -> None:
        """Re-read the manifest (for readers following a run that is still writing)."""
        self._manifest = self._read_manifest()

    def _read_manifest(self) -> dict[str, Any]:
        mpath = self.path / "manifest.json"
        if not self.path.is_dir():
            raise StoreError(f"no run directory at {self.path}")
        if not mpath.is_file():
            raise StoreError(f"{self.path} is not an evosearch run (no manifest.json)")
        try:
            manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(f"{mpath} is corrupted: {exc}") from None
        if manifest.get("format") != FORMAT:
            raise StoreError(f"{mpath}: unsupported format {manifest.get('format')!r}")
        return manifest

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

    def _remove_orphans(self) -> None:
        """Delete files a crash left behind that no manifest entry references."""
        listed = {p["file"] for p in self._manifest["parts"]}
        if self._manifest.get("checkpoint"):
            listed.add(self._manifest["checkpoint"]["file"])
        if self._manifest.get("wal"):
            listed.add(self._manifest["wal"])
        tables = self._manifest.get("tables") or {}
        listed.update(p["file"] for parts in tables.values() for p in parts)
        for d in self.path.glob("*/"):  # extra tables: only their own part files
            if d.name not in ("individuals", "checkpoints"):
                for f in [*d.glob("part-*.parquet"), *d.glob(".part-*.parquet.tmp-*")]:
                    if f"{d.name}/{f.name}" not in listed:
                        f.unlink(missing_ok=True)
        for sub in ("individuals", "checkpoints"):
            for f in (self.path / sub).glob("*"):
                rel = f"{sub}/{f.name}"
                if rel not in listed and (
                    f.name.startswith(".") or f.suffix in (".parquet", ".pkl")
                ):
                    f.unlink(missing_ok=True)
        for f in self.path.glob("wal-*.arrows"):
            if f.name not in listed:
                f.unlink(missing_ok=True)

    # ----------------------------------------------------------------------- writing

    def commit(
        self,
        individuals: Sequence[Individual],
        state: Any,
        *,
        generation: int,
        counters: dict[str, Any] | None = None,
        tables: Mapping[str, pa.Table] | None = None,
    ) -> None:
        """Durably commit a batch of evaluated individuals with the state after them.

        Writes the part and the checkpoint under their final names, then replaces the
        manifest (the commit point), then starts a fresh WAL. ``tables`` (name → table, e.g.
        archive membership and QD metrics) are written as ``NAME/part-SEQ.parquet`` and listed
        under ``manifest["tables"][NAME]`` in the same commit; read them with ``extra_table``.

        Raises:
            StoreError: if the store is read-only or the disk refuses the write; nothing
                already committed is touched.
        """
        self._require_writable()
        for name in tables or {}:
            if not name.isidentifier() or name in ("individuals", "checkpoints"):
                raise ValueError(f"bad extra table name {name!r} (a plain name, not a core one)")
        individuals = self._new_only(individuals)
        seq = int(self._manifest["seq"]) + 1
        manifest = dict(self._manifest)
        parts = list(manifest["parts"])
        try:
            if individuals:
                part_rel = f"individuals/part-{seq:06d}.parquet"
                table = schema.to_table(individuals)
                faults.point("before_part_write")
                atomic_write(
                    self.path / part_rel,
                    lambda tmp: pq.write_table(table, tmp, compression="zstd"),
                    fault="part_write",
                    **self._sync,
                )
                faults.point("after_part_write")
                parts.append(
                    {
                        "file": part_rel,
                        "rows": table.num_rows,
                        "bytes": (self.path / part_rel).stat().st_size,
                        "sha256": sha256_file(self.path / part_rel),
                        "min_id": min(i.id for i in individuals),
                        "max_id": max(i.id for i in individuals),
                        "generation": generation,
                    }
                )
            extra = {k: list(v) for k, v in (manifest.get("tables") or {}).items()}
            for name, tab in (tables or {}).items():
                (self.path / name).mkdir(exist_ok=True)
                rel = f"{name}/part-{seq:06d}.parquet"
                atomic_write(
                    self.path / rel, lambda tmp, t=tab: pq.write_table(t, tmp), **self._sync
                )
                extra.setdefault(name, []).append(
                    {
                        "file": rel,
                        "rows": tab.num_rows,
                        "bytes": (self.path / rel).stat().st_size,
                        "sha256": sha256_file(self.path / rel),
                        "generation": generation,
                    }
                )
            ckpt_rel = f"checkpoints/{seq:06d}.pkl"
            blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
            faults.point("before_checkpoint_write")
            atomic_write_bytes(self.path / ckpt_rel, blob, fault="checkpoint_write", **self._sync)
            faults.point("after_checkpoint_write")
            old_ckpt = manifest.get("checkpoint")
            old_wal = manifest.get("wal")
            manifest.update(
                seq=seq,
                parts=parts,
                checkpoint={"file": ckpt_rel, "sha256": _sha256(blob), "generation": generation},
                wal=None,
                tables=extra,
                counters=dict(counters or {}),
                updated_at=_now(),
            )
            faults.point("before_manifest_write")
            atomic_write_bytes(self.path / "manifest.json", _dump_json(manifest), **self._sync)
        except OSError as exc:
            raise StoreError(
                f"cannot commit to {self.path}: {exc.strerror or exc} "
                f"(everything committed before is intact)"
            ) from None
        self._manifest = manifest
        if self._ids is not None:
            self._ids.update(i.id for i in individuals)
        faults.point("after_manifest_write")
        self._close_wal()
        if old_ckpt:  # keep only the newest checkpoint; parts are never deleted
            (self.path / old_ckpt["file"]).unlink(missing_ok=True)
        if old_wal:
            (self.path / old_wal).unlink(missing_ok=True)

    def committed_ids(self) -> set[int]:
        """Ids of every individual in a committed part (read once, then kept up to date)."""
        if self._ids is None:
            self._ids = set(self.table(["id"])["id"].to_pylist()) if self.parts else set()
        return self._ids

    def _new_only(self, individuals: Sequence[Individual]) -> list[Individual]:
        """Drop rows whose individual id is already committed (or repeated in the batch).

        This is what makes a retried or duplicated evaluation unable to add a second row.
        """
        seen = self.committed_ids()
        fresh: list[Individual] = []
        batch: set[int] = set()
        for ind in individuals:
            if ind.id in seen or ind.id in batch:
                self.duplicates_dropped += 1
                continue
            batch.add(ind.id)
            fresh.append(ind)
        return fresh

    def append_wal(self, individuals: Sequence[Individual]) -> None:
        """Append evaluated individuals to the write-ahead log (steady-state mode).

        The WAL is an Arrow IPC stream flushed and fsynced per batch. Only what the manifest's
        ``wal`` names is read back, so a torn tail costs at most the batch being written.
        """
        self._require_writable()
        if not individuals:
            return
        try:
            if self._wal_writer is None:
                name = f"wal-{int(self._manifest['seq']) + 1:06d}.arrows"
                self._wal_file = open(self.path / name, "wb")  # noqa: SIM115
                self._wal_writer = pa.ipc.new_stream(self._wal_file, schema.SCHEMA)
                manifest = dict(self._manifest, wal=name)
                atomic_write_bytes(self.path / "manifest.json", _dump_json(manifest), **self._sync)
                self._manifest = manifest
            for batch in schema.to_table(individuals).to_batches():
                self._wal_writer.write_batch(batch)
            self._wal_file.flush()
            if self.sync:
                os.fsync(self._wal_file.fileno())
        except OSError as exc:
            raise StoreError(
                f"cannot append to the write-ahead log of {self.path}: {exc.strerror or exc} "
                "(everything committed before is intact)"
            ) from None
        faults.point("after_wal_append")

    def read_wal(self) -> list[Individual]:
        """The individuals in the current WAL, up to its last complete batch."""
        name = self._manifest.get("wal")
        if not name or not (self.path / name).exists():
            return []
        batches = []
        try:
            with pa.ipc.open_stream(self.path / name) as reader:
                while True:
                    try:
                        batches.append(reader.read_next_batch())
                    except StopIteration:
                        break
        except (pa.ArrowInvalid, OSError):
            pass  # torn tail after a crash: keep the complete batches
        if not batches:
            return []
        rows = schema.from_table(pa.Table.from_batches(batches, schema=schema.SCHEMA))
        seen: set[int] = set()
        return [i for i in rows if not (i.id in seen or seen.add(i.id))]

    def _close_wal(self) -> None:
        if self._wal_writer is not None:
            try:
                self._wal_writer.close()
                self._wal_file.close()
            except OSError:
                pass
            self._wal_writer = None
            self._wal_file = None

    @property
    def _sync(self) -> dict[str, bool]:
        # passed only when off, so the write helpers keep their default call signature
        return {} if self.sync else {"sync": False}

    def _require_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"{self.path} was opened read-only")

    # ----------------------------------------------------------------------- reading

    def load_checkpoint(self) -> Any | None:
        """The state saved with the last commit, or None before the first commit.

        Raises:
            StoreError: if the checkpoint is missing or does not match its checksum.
        """
        ckpt = self._manifest.get("checkpoint")
        if not ckpt:
            return None
        path = self.path / ckpt["file"]
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"checkpoint {path} unreadable: {exc.strerror or exc}") from None
        if _sha256(blob) != ckpt["sha256"]:
            raise StoreError(f"checkpoint {path} does not match its checksum (corrupted)")
        return pickle.loads(blob)

    @property
    def parts(self) -> list[dict[str, Any]]:
        return list(self._manifest["parts"])

    @property
    def num_individuals(self) -> int:
        return sum(p["rows"] for p in self._manifest["parts"])

    def table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """All committed individuals as one pyarrow table, in commit order.

        Raises:
            StoreError: if a listed part is missing or unreadable.
        """
        parts = self._manifest["parts"]
        cacheable = columns is None
        if cacheable and self._table_cache and self._table_cache[0] == len(parts):
            return self._table_cache[1]
        tables = []
        for p in parts:
            try:
                tables.append(pq.read_table(self.path / p["file"], columns=columns))
            except (OSError, pa.ArrowException) as exc:
                raise StoreError(
                    f"part {p['file']} of {self.path} is unreadable ({exc}); "
                    f"run 'evosearch repair {self.path}'"
                ) from None
        if not tables:
            fields = [schema.SCHEMA.field(c) for c in columns] if columns else schema.SCHEMA
            table = pa.schema(fields).empty_table()
        else:
            table = pa.concat_tables(tables)
        if cacheable:
            self._table_cache = (len(parts), table)
        return table

    def extra_table(self, name: str, schema_: pa.Schema | None = None) -> pa.Table:
        """A table committed through ``commit(tables=...)``, all its parts in commit order.

        Args:
            name: The table name (e.g. ``archive``, ``qd``).
            schema_: Schema of the empty table returned when nothing was committed yet.

        Raises:
            StoreError: if a listed part is missing or unreadable.
        """
        parts = (self._manifest.get("tables") or {}).get(name, [])
        tables = []
        for p in parts:
            try:
                tables.append(pq.read_table(self.path / p["file"]))
            except (OSError, pa.ArrowException) as exc:
                raise StoreError(f"part {p['file']} of {self.path} is unreadable ({exc})") from None
        if not tables:
            return (schema_ or pa.schema([])).empty_table()
        return pa.concat_tables(tables)

    def individuals(self) -> list[Individual]:
        return schema.from_table(self.table())

    def get(self, individual_id: int) -> Individual:
        """One individual by id (reads only the part that holds it).

        Raises:
            KeyError: if no committed individual has that id.
        """
        import pyarrow.compute as pc

        for p in self._manifest["parts"]:
            if p["min_id"] <= individual_id <= p["max_id"]:
                t = pq.read_table(self.path / p["file"])
                t = t.filter(pc.equal(t["id"], individual_id))
                if t.num_rows:
                    return schema.from_row(t.to_pylist()[0])
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
        return problems


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _dump_json(obj: Any) -> bytes:
    # compact on purpose: with indent, json falls back to its pure-Python encoder, and the
    # manifest (one entry per part) is rewritten at every commit
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _sha256(blob: bytes) -> str:
    import hashlib

    return hashlib.sha256(blob).hexdigest()


__all__ = ["FORMAT", "RunStore", "StoreError"]
