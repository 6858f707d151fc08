"""MAP-Elites insertion rules for the grid and CVT archives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from archive_helpers import ind
from ribs.archives import GridArchive as RibsGrid

from evosearch import registry
from evosearch.archives.cvt import CVTArchive
from evosearch.archives.grid import GridArchive
from evosearch.archives.population import AddStatus
from evosearch.archives.tables import Event

NEW, IMPROVED, NOT = AddStatus.NEW, AddStatus.IMPROVED, AddStatus.NOT_ADDED


def grid() -> GridArchive:
    return GridArchive(dims=[4, 4], ranges=[(0.0, 1.0), (0.0, 1.0)])


def cvt() -> CVTArchive:
    return CVTArchive(cells=8, ranges=[(0.0, 1.0), (0.0, 1.0)], samples=400, seed=1)


def events(archive) -> list[tuple]:
    return [(e.individual_id, str(e.event), e.other_id) for e in archive.drain_events()]


@pytest.mark.parametrize("make", [grid, cvt])
def test_better_replaces_and_logs_eviction(make):
    a = make()
    assert a.add([ind(0, 1.0, (0.1, 0.1))]) == [NEW]
    assert a.add([ind(1, 2.0, (0.12, 0.1))]) == [IMPROVED]
    assert [m.id for m in a.members()] == [1]
    assert events(a) == [(0, "new", None), (1, "improved", 0), (0, "evicted", 1)]


@pytest.mark.parametrize("make", [grid, cvt])
def test_worse_is_rejected_and_tie_keeps_incumbent(make):
    a = make()
    a.add([ind(0, 1.0, (0.1, 0.1))])
    assert a.add([ind(1, 0.5, (0.1, 0.1)), ind(2, 1.0, (0.11, 0.1))]) == [NOT, NOT]
    assert [m.id for m in a.members()] == [0]
    assert events(a) == [(0, "new", None)]


@pytest.mark.parametrize("make", [grid, cvt])
def test_nan_scores_and_bad_descriptors_are_rejected(make):
    a = make()
    batch = [
        ind(0, math.nan, (0.1, 0.1)),
        ind(1, 1.0, ()),  # missing
        ind(2, 1.0, (0.5,)),  # wrong length
        ind(3, 1.0, (math.inf, 0.5)),  # not finite
        ind(4, 1.0, (math.nan, 0.5)),
    ]
    assert a.add(batch) == [NOT] * 5
    assert len(a) == 0 and a.stats().archive_size == 0


def test_descriptors_outside_the_ranges_are_clipped_to_edge_cells():
    a = grid()
    assert a.add([ind(0, 1.0, (-5.0, 0.1)), ind(1, 1.0, (7.0, 7.0))]) == [NEW, NEW]
    assert a.elite_of(0).id == 0  # (x bin 0, y bin 0)
    assert a.elite_of(15).id == 1  # last cell, row-major


def test_within_a_batch_insertion_is_one_by_one_in_order():
    a = grid()
    statuses = a.add(
        [
            ind(0, 1.0, (0.1, 0.1)),
            ind(1, 3.0, (0.1, 0.1)),
            ind(2, 3.0, (0.1, 0.1)),  # tie with 1: kept out
            ind(3, 2.0, (0.1, 0.1)),  # worse than 1
            ind(4, 5.0, (0.9, 0.9)),
        ]
    )
    assert statuses == [NEW, IMPROVED, NOT, NOT, NEW]
    assert events(a) == [
        (0, "new", None),
        (1, "improved", 0),
        (0, "evicted", 1),
        (4, "new", None),
    ]
    assert sorted(m.id for m in a.members()) == [1, 4]


@pytest.mark.parametrize("make", [grid, cvt])
def test_batching_does_not_change_the_archive(make):
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=300).astype(float)  # many ties
    pts = rng.uniform(-0.2, 1.2, size=(300, 2))
    inds = [ind(i, s, tuple(p)) for i, (s, p) in enumerate(zip(scores, pts))]
    whole, single = make(), make()
    s1 = whole.add(inds)
    s2 = [s for i in inds for s in single.add([i])]
    assert s1 == s2
    assert events(whole) == events(single)
    assert [m.id for m in whole.members()] == [m.id for m in single.members()]


def test_grid_stats_are_pyribs_statistics():
    a = GridArchive(dims=[5, 5], ranges=[(0.0, 1.0), (0.0, 1.0)], qd_offset=-10.0)
    ref = RibsGrid(solution_dim=0, dims=[5, 5], ranges=[(0, 1), (0, 1)], qd_score_offset=-10.0)
    rng = np.random.default_rng(3)
    pts, scores = rng.uniform(0, 1, (100, 2)), rng.normal(size=100)
    a.add([ind(i, float(s), tuple(p)) for i, (s, p) in enumerate(zip(scores, pts))])
    ref.add(np.zeros((100, 0)), scores, pts)
    st, rs = a.stats(), ref.stats
    assert st.archive_size == rs.num_elites
    assert st.coverage == pytest.approx(float(rs.coverage))
    assert st.qd_score == pytest.approx(float(rs.qd_score))
    assert st.best == pytest.approx(float(rs.obj_max))
    assert a.members()[0].score <= st.best
    assert next(m for m in a.members() if m.id == st.best_id).score == st.best


def test_cvt_centroids_are_reproducible_from_the_seed():
    assert np.array_equal(cvt().centroids, cvt().centroids)
    other = CVTArchive(cells=8, ranges=[(0.0, 1.0), (0.0, 1.0)], samples=400, seed=2)
    assert not np.array_equal(cvt().centroids, other.centroids)


def test_bad_grid_params_name_the_key():
    entry = registry.archives.get("grid")
    with pytest.raises(registry.RegistryError, match="ranges"):
        entry.create({"dims": [3, 3], "ranges": [[0, 1]]}, key="strategy.params.archive.params")
    with pytest.raises(registry.RegistryError, match="ranges.0"):
        entry.create({"dims": [3], "ranges": [[1, 0]]}, key="strategy.params.archive.params")


def test_events_record_cells_and_scores():
    a = grid()
    a.add([ind(7, 1.5, (0.6, 0.3))])
    (e,) = a.drain_events()
    assert (e.event, e.cell, e.score) == (Event.NEW, 2 * 4 + 1, 1.5)
