"""Islands: routing by island, ring migration of the top 10% every K generations."""

from __future__ import annotations

import numpy as np
from archive_helpers import ind

from evosearch.archives.islands import Islands
from evosearch.config import PluginConfig
from evosearch.strategies.archive import ArchiveParams, ArchiveStrategy


def islands(n=3, k=2, size=50) -> Islands:
    return Islands(
        islands=n,
        migrate_every=k,
        archive=PluginConfig(ref="population", params={"size": size, "hall_of_fame": 0}),
    )


def fill(a: Islands, per_island: int, generation: int = 0) -> None:
    """Island k gets ids k*100 .. with scores k*100 + j (best = highest id)."""
    a.add(
        [
            ind(k * 100 + j, float(k * 100 + j), island=k, generation=generation)
            for k in range(a.islands)
            for j in range(per_island)
        ]
    )


def ids(a: Islands, k: int) -> set[int]:
    return {m.id for m in a.members(island=k)}


def test_individuals_go_to_their_island():
    a = islands()
    fill(a, 3)
    assert ids(a, 0) == {0, 1, 2} and ids(a, 2) == {200, 201, 202}
    assert {e.island for e in a.drain_events() if e.individual_id == 201} == {2}


def test_ring_migration_sends_the_top_ten_percent_to_the_next_island():
    a = islands()
    fill(a, 20)  # 10% of 20 = 2 migrants per island
    a.drain_events()
    assert a.migrate() == 6
    assert ids(a, 1) - set(range(100, 120)) == {18, 19}  # from island 0
    assert ids(a, 2) - set(range(200, 220)) == {118, 119}  # from island 1
    assert ids(a, 0) - set(range(0, 20)) == {218, 219}  # ring: last -> first
    moved = {(e.individual_id, e.island) for e in a.drain_events()}
    assert moved == {(18, 1), (19, 1), (118, 2), (119, 2), (218, 0), (219, 0)}


def test_at_least_one_migrant_and_rounding_up():
    a = islands(n=2)
    fill(a, 5)  # ceil(0.5) = 1
    a.migrate()
    assert ids(a, 1) - set(range(100, 105)) == {4}
    b = islands(n=2)
    fill(b, 11)  # ceil(1.1) = 2
    b.migrate()
    assert ids(b, 1) - set(range(100, 111)) == {9, 10}


def test_migration_skips_genomes_the_destination_already_holds():
    a = islands(n=2)
    a.add([ind(0, 5.0, island=0, genome=(1.0,)), ind(1, 1.0, island=1, genome=(1.0,))])
    assert a.migrate() == 0  # both islands already hold the other's genome
    assert ids(a, 0) == {0} and ids(a, 1) == {1}
    b = islands(n=2)
    b.add([ind(0, 5.0, island=0, genome=(1.0,)), ind(1, 1.0, island=1, genome=(2.0,))])
    assert b.migrate() == 2


def test_migration_happens_every_k_generations():
    a = islands(n=2, k=3)
    for g in range(7):
        a.add([ind(10 * g + k, float(g), island=k, generation=g) for k in range(2)])
    assert a.migrations == 2  # before generations 3 and 6
    b = islands(n=2, k=3)
    b.add([ind(k, 1.0, island=k, generation=2) for k in range(2)])
    assert b.migrations == 0


def test_archive_strategy_spreads_init_and_keeps_children_on_their_island():
    params = ArchiveParams.model_validate(
        {
            "batch_size": 6,
            "init": {"ref": "vector.uniform", "params": {"dimension": 2}},
            "operators": [{"ref": "vector.gaussian"}],
            "archive": {"ref": "islands", "params": {"islands": 3, "migrate_every": 100}},
        }
    )
    s = ArchiveStrategy(params, rng=np.random.default_rng(1))
    first = s.ask()
    assert [i.island for i in first] == [0, 1, 2, 0, 1, 2]
    s.tell([i.with_result(ind(i.id, float(i.id)).result) for i in first])
    kids = s.ask()
    home = {i.id: i.island for i in first}
    for k in kids:
        assert all(home[p] == k.island for p in k.parent_ids)
    assert {k.island for k in kids} == {0, 1, 2}


def test_batching_does_not_change_the_islands():
    batch = [
        ind(i, float((i * 7) % 11), island=i % 3, generation=i // 6, genome=(float(i % 5),))
        for i in range(30)
    ]
    whole, single = islands(size=4), islands(size=4)
    s1 = whole.add(batch)
    s2 = [s for b in batch for s in single.add([b])]
    assert s1 == s2 and whole.migrations == single.migrations == 2
    for k in range(3):
        assert ids(whole, k) == ids(single, k)
    key = sorted((e.island, e.individual_id, str(e.event)) for e in whole.drain_events())
    assert key == sorted((e.island, e.individual_id, str(e.event)) for e in single.drain_events())
