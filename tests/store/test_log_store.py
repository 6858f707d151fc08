"""The log-structured store: commits, torn tails, compaction crashes, facts, old formats."""

from __future__ import annotations

import json
import os
import random
import signal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from evosearch.genomes import VectorGenome
from evosearch.individual import FitnessResult, Individual
from evosearch.store import RunStore, StoreError, faults
from evosearch.store.queries import TOP_ROWS, LineageIndex, top_k
from evosearch.store.repair import repair_manifest

D = 4
FACTS = {"genome": {"kind": "vector", "dimension": D, "bounds": [[-5.0, 5.0]] * D}}


def rows(gen: int, n: int = 10) -> dict:
    rng = np.random.default_rng(gen)
    ids = np.arange(gen * n, gen * n + n)
    return {
        "id": ids,
        "genome": rng.uniform(-5, 5, size=(n, D)),
        "score": gen - rng.random(n),  # later generations score higher
        "parent_ids": [[int(i) - n] if gen else [] for i in ids],
        "operator": ["mutate" if gen else "init"] * n,
    }


def state(gen: int) -> dict:
    return {"gen": gen, "mean": np.full(D, float(gen)), "rng": {"s": 2**100 + gen}}


def fill(path, gens: int, *, compact_every: int = 0, **kw) -> RunStore:
    store = RunStore.create(path, "name: t\n", facts=FACTS, **kw)
    store.compact_every = compact_every
    for g in range(gens):
        store.commit(rows(g), state(g), generation=g, counters={"generation": g})
    return store


def ids(path) -> list[int]:
    return RunStore.open(path).table(["id"])["id"].to_pylist()


# ---------------------------------------------------------------- commits and reads


def test_every_write_path_stores_the_first_16_bytes_of_the_genomes_own_fingerprint(tmp_path):
    from evosearch.batch import Batch
    from evosearch.genomes import TextGenome

    values = np.random.default_rng(3).normal(size=(3, D))
    store = fill(tmp_path / "vec", 0)
    store.commit({"id": [0, 1, 2], "genome": values, "score": [1.0, 2.0, 3.0]}, {}, generation=0)
    stored = [fp.hex() for fp in store.table(["fingerprint"])["fingerprint"].to_pylist()]
    assert stored == [VectorGenome(v).fingerprint() for v in values]
    store.close()

    texts = [TextGenome("alpha"), TextGenome("beta"), TextGenome("gamma")]
    store = RunStore.create(tmp_path / "text", "name: t\n")
    store.commit(  # columns without a fingerprint
        {"id": [0], "genome": [json.dumps(texts[0].to_json())], "genome_kind": ["text"]},
        {},
        generation=0,
    )
    store.commit(  # individuals
        [Individual(id=1, genome=texts[1], result=FitnessResult(score=1.0))], {}, generation=1
    )
    batch, results = Batch.from_individuals(
        [Individual(id=2, genome=texts[2], result=FitnessResult(score=2.0))]
    )
    store.commit(batch.columns(results), {}, generation=2)  # the engine's batch path
    stored = [fp.hex() for fp in store.table(["fingerprint"])["fingerprint"].to_pylist()]
    assert stored == [t.fingerprint()[:32] for t in texts]
    store.close()


def test_a_vector_run_stores_genomes_as_fixed_size_lists_and_bounds_once(tmp_path):
    store = fill(tmp_path / "run", 3)
    store.close()
    part = pq.read_table(tmp_path / "run" / store.parts[0]["file"])
    assert part.schema.field("genome").type == pa.list_(pa.float64(), D)
    assert part.schema.field("fingerprint").type == pa.binary(16)
    reader = RunStore.open(tmp_path / "run")
    assert reader.facts == FACTS
    ind = reader.get(12)
    assert isinstance(ind.genome, VectorGenome) and ind.genome.low.tolist() == [-5.0] * D
    assert np.array_equal(ind.genome.values, rows(1)["genome"][2])
    assert bytes.fromhex(ind.genome.fingerprint()[:32]) == part["fingerprint"][12].as_py()


def test_individuals_dicts_and_tables_commit_to_the_same_columns(tmp_path):
    store = RunStore.create(tmp_path / "run", "x: 1\n", facts=FACTS)
    genome = VectorGenome(np.arange(D, dtype=float), -5.0, 5.0)
    store.commit(
        [Individual(id=0, genome=genome, result=FitnessResult(score=1.5))], {}, generation=0
    )
    store.commit({"id": [1], "genome": np.ones((1, D)), "score": [2.0]}, {}, generation=1)
    store.commit(store.table().slice(0, 2), {}, generation=1)  # all ids known: dropped
    assert store.duplicates_dropped == 2
    t = store.table()
    assert t["id"].to_pylist() == [0, 1] and t["score"].to_pylist() == [1.5, 2.0]
    assert t["fingerprint"][0].as_py() == bytes.fromhex(genome.fingerprint()[:32])
    assert t["status"].to_pylist() == ["ok", "ok"] and t["operator_params"][1].as_py() == "{}"
    with pytest.raises(ValueError, match="unknown row column.*'colour'.*allowed: id"):
        store.commit({"id": [2], "genome": np.ones((1, D)), "colour": [1]}, {}, generation=2)
    with pytest.raises(ValueError, match=r"'genome' must be a \[1, 4\] array"):
        store.commit({"id": [2], "genome": np.ones((1, D + 1))}, {}, generation=2)
    store.close()


def test_the_state_comes_back_with_arrays_rng_states_and_nesting():
    from evosearch.store import codec

    gen = np.random.default_rng(3)
    py = random.Random(4)
    st = {
        "version": 2,
        "arrays": [np.arange(6, dtype=np.int32).reshape(2, 3), np.zeros((0, 5)), np.array(2.5)],
        "scalars": (np.float32(1.25), np.int64(-7), np.bool_(True)),
        "rng": gen.bit_generator.state,
        "py_rng": py.getstate(),
        "special": [float("nan"), float("inf"), -0.0, None, b"\x00bytes"],
        "by_cell": {3: "a", (1, 2): [1.0]},
        "__dunder": "kept",
    }
    back = codec.decode(codec.encode(st))
    assert back["rng"] == st["rng"] and back["py_rng"] == st["py_rng"]
    again = np.random.default_rng()
    again.bit_generator.state = back["rng"]
    assert again.random() == gen.random()
    for a, b in zip(back["arrays"], st["arrays"]):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
        assert a.flags.writeable
    assert [type(v) for v in back["scalars"]] == [np.float32, np.int64, np.bool_]
    assert back["scalars"] == st["scalars"]
    assert np.isnan(back["special"][0]) and back["special"][1:] == st["special"][1:]
    assert back["by_cell"] == st["by_cell"] and back["__dunder"] == "kept"


def test_a_state_with_an_object_is_a_type_error_naming_its_key_path(tmp_path):
    store = RunStore.create(tmp_path / "run", "x: 1\n")
    with pytest.raises(TypeError, match=r"state\['strategy'\]\['searcher'\]: cannot store a"):
        store.commit([], {"strategy": {"searcher": object()}}, generation=0)
    assert store.load_state() is None  # nothing was written
    store.close()


def _count_part_reads(monkeypatch) -> list[str]:
    read: list[str] = []
    real = RunStore.read_part
    monkeypatch.setattr(
        RunStore,
        "read_part",
        lambda self, p, *a, **k: read.append(p["file"]) or real(self, p, *a, **k),
    )
    return read


def _expected_top(reader, k):
    full = (
        reader.table(["id", "score"])
        .to_pandas()
        .sort_values(["score", "id"], ascending=[False, True])
    )
    return full["id"].head(k).tolist()


def test_top_k_reads_no_parquet_part_when_the_index_holds_each_parts_best_rows(
    tmp_path, monkeypatch
):
    store = fill(tmp_path / "run", 6, compact_every=2)
    store.commit({"id": [1000], "genome": np.zeros((1, D)), "score": [5.0]}, {}, generation=6)
    store.close()
    reader = RunStore.open(tmp_path / "run")
    read = _count_part_reads(monkeypatch)
    best = top_k(reader, 3)
    assert read == []  # index/part-N.top.arrow answered it
    assert best["id"][0].as_py() == 1000
    assert best["id"].to_pylist() == _expected_top(reader, 3)
    assert best.schema.equals(reader.schema) and best["genome"][0].as_py() == [0.0] * D
    # the best-rows files are derived data: removed, top_k reads the parts and rewrites them
    for f in (tmp_path / "run" / "index").glob("*.top.arrow"):
        f.unlink()
    read.clear()
    assert top_k(RunStore.open(tmp_path / "run"), 3)["id"].to_pylist() == best["id"].to_pylist()
    assert len(read) == len(reader.parts)
    assert len(list((tmp_path / "run" / "index").glob("*.top.arrow"))) == len(reader.parts)


def test_top_k_beyond_the_indexed_rows_reads_only_the_parts_whose_max_score_can_win(
    tmp_path, monkeypatch
):
    store = fill(tmp_path / "run", 20, compact_every=2)
    store.commit({"id": [1000], "genome": np.zeros((1, D)), "score": [5.0]}, {}, generation=6)
    store.close()
    reader = RunStore.open(tmp_path / "run")
    k = TOP_ROWS + 1
    scores = reader.table(["score"])["score"].to_numpy()
    kth = np.sort(scores)[::-1][k - 1]
    can_win = [p["file"] for p in reader.parts if p["max_score"] >= kth]
    expected = _expected_top(reader, k)
    read = _count_part_reads(monkeypatch)
    best = top_k(reader, k)
    assert sorted(set(read)) == sorted(can_win) and len(can_win) < len(reader.parts)
    assert best["id"].to_pylist() == expected


def test_ancestry_walks_the_per_part_arrays_and_the_log_tail(tmp_path):
    store = fill(tmp_path / "run", 5, compact_every=2)  # 2 parts + 1 commit in the log
    index = LineageIndex(store)
    assert index.ancestors(43) == {33: 1, 23: 2, 13: 3, 3: 4}
    assert index.descendants(3) == {13: 1, 23: 2, 33: 3, 43: 4}
    assert (tmp_path / "run" / "index" / "part-000001.lineage").exists()
    store.close()


def test_appends_after_the_last_commit_are_uncommitted_until_a_commit(tmp_path):
    store = fill(tmp_path / "run", 1)
    store.append({"id": [10, 11], "genome": np.zeros((2, D)), "score": [1.0, 2.0]})
    assert [i.id for i in RunStore.open(tmp_path / "run").uncommitted()] == [10, 11]
    assert ids(tmp_path / "run") == list(range(10))
    store.commit({"id": [10, 11, 12], "genome": np.zeros((3, D))}, state(1), generation=1)
    assert store.duplicates_dropped == 2 and store.uncommitted() == []
    assert store.table(["id"])["id"].to_pylist() == list(range(13))
    store.close()


def test_opening_a_run_reads_no_part(tmp_path, monkeypatch):
    fill(tmp_path / "run", 4, compact_every=2).close()
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("read a part"))
    store = RunStore.open(tmp_path / "run", writable=True)
    assert store.load_state()["gen"] == 3 and store.num_individuals == 40
    store.commit(rows(4), state(4), generation=4, counters={"generation": 4})  # no id lookup
    assert store.counters == {"generation": 4}


# ---------------------------------------------------------------- torn tails


@pytest.mark.parametrize("damage", ["cut", "flip", "zeros"])
def test_a_torn_tail_is_dropped_on_open_and_the_run_continues(tmp_path, damage):
    store = fill(tmp_path / "run", 3)
    seg = tmp_path / "run" / store.manifest["log"][-1]
    store._close_writer()
    os.close(store._lock_fd)
    store._lock_fd = None  # as if killed: no compaction at close
    data = bytearray(seg.read_bytes())
    if damage == "cut":
        data = data[: len(data) - 100]
    elif damage == "flip":
        data[-50] ^= 0xFF
    else:
        data += bytes(4096)
    seg.write_bytes(bytes(data))

    reader = RunStore.open(tmp_path / "run")
    expect = 30 if damage == "zeros" else 20
    assert reader.num_individuals == expect
    assert reader.load_state()["gen"] == expect // 10 - 1
    writer = RunStore.open(tmp_path / "run", writable=True)  # drops the tail: a new segment
    assert writer.manifest["log"] != [store.manifest["log"][-1]]
    for g in range(expect // 10, 4):  # redo what the torn record held, then go on
        writer.commit(rows(g), state(g), generation=g)
    writer.close()
    assert ids(tmp_path / "run") == list(range(40))


def test_old_format_runs_are_refused_with_one_line_naming_the_version(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"format": "evosearch-run/1", "parts": []}))
    with pytest.raises(StoreError) as err:
        RunStore.open(run)
    msg = str(err.value)
    assert "\n" not in msg and "evosearch-run/1" in msg and "0.1" in msg
    proc = run_cli("status", run)
    assert proc.returncode == 2 and "evosearch-run/1" in proc.stderr


# ---------------------------------------------------------------- crashes in compaction

COMPACTION_POINTS = [
    "before_compact",
    "during_part_write",
    "after_part_write",
    "after_tables_write",
    "after_segment_write",
    "before_manifest_write",
    "after_manifest_write",
    "after_compact",
    "during_log_append",
]


def _child(path, point: str, background: bool) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            faults._counts.clear()
            os.environ[faults.ENV] = f"{point}:1"
            store = RunStore.open(path, writable=True)
            store.compact_every = 2
            store.background_compaction = background
            for g in range(3, 6):
                store.commit(rows(g), state(g), generation=g, tables={"qd": pa.table({"g": [g]})})
            store.close()  # waits for a compaction running on the worker thread
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("background", [False, True], ids=["inline", "worker"])
@pytest.mark.parametrize("point", COMPACTION_POINTS)
def test_a_kill_during_compaction_loses_nothing_and_duplicates_nothing(
    tmp_path, point, background
):
    path = tmp_path / "run"
    store = fill(path, 3, compact_every=2)
    store.close()
    assert _child(path, point, background) == -signal.SIGKILL
    reader = RunStore.open(path)
    got = reader.table(["id"])["id"].to_pylist()
    done = reader.load_state()["gen"]  # the last durable commit
    assert got == list(range(10 * (done + 1)))  # every commit up to it, once, in order
    assert reader.extra_table("qd", pa.schema([("g", pa.int64())]))["g"].to_pylist() == list(
        range(3, done + 1)
    )
    writer = RunStore.open(path, writable=True)
    for g in range(done + 1, 7):
        writer.commit(rows(g), state(g), generation=g)
    writer.close()
    assert ids(path) == list(range(70))
    assert not [f for f in path.rglob(".*") if f.is_file()]  # no temp file left
    assert RunStore.open(path).verify() == []


# ---------------------------------------------------------------- a damaged manifest


def test_repair_restores_a_damaged_manifest_from_the_previous_one(tmp_path):
    path = tmp_path / "run"
    store = fill(path, 7, compact_every=3)  # parts at 3 and 6, one commit in the log
    store._close_writer()
    os.close(store._lock_fd)
    store._lock_fd = None
    (path / "manifest.json").write_text('{"format": "evosearch-run/2", "parts": [')
    with pytest.raises(StoreError, match="manifest.json is corrupted.*evosearch repair"):
        RunStore.open(path)
    proc = run_cli("repair", path)
    assert proc.returncode == 0, proc.stderr
    assert "restored from manifest.prev.json" in proc.stdout
    assert ids(path) == list(range(70))
    assert RunStore.open(path).load_state()["gen"] == 6
    writer = RunStore.open(path, writable=True)
    writer.commit(rows(7), state(7), generation=7)
    writer.close()
    assert ids(path) == list(range(80))
    assert repair_manifest(path) is None  # intact now
