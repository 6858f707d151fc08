"""The DGM archive (keep-all, keep-better) and the DGM parent-selection rule."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from archive_helpers import ind

from evosearch.archives.dgm import DGMArchive, DGMSelector, dgm_probabilities
from evosearch.archives.population import AddStatus, Population
from evosearch.strategies.archive import ArchiveParams, ArchiveStrategy


def test_dgm_probabilities_on_a_hand_made_archive():
    # sigmoid(10(a-0.5)) / (1+n): 0.5/1, 0.99330715/2, 0.00669285/4, NaN -> 0
    p = dgm_probabilities([0.5, 1.0, 0.0, math.nan], [0, 1, 3, 0])
    w = np.array([0.5, 0.9933071490757153 / 2, 0.0066928509242848554 / 4, 0.0])
    assert p == pytest.approx(w / w.sum(), abs=1e-12)
    assert p == pytest.approx([0.500838, 0.497486, 0.001676, 0.0], abs=1e-6)


def test_more_children_lower_the_probability_and_nothing_reaches_zero():
    p = dgm_probabilities([0.8, 0.8, 0.8], [0, 4, 99])
    assert p[0] / p[1] == pytest.approx(5.0) and p[0] / p[2] == pytest.approx(100.0)
    assert (p > 0).all()
    assert dgm_probabilities([math.nan, math.nan], [0, 0]) == pytest.approx([0.5, 0.5])


def test_selector_counts_children_among_the_pool_or_from_told_counts():
    pool = [ind(0, 0.6), ind(1, 0.6, parents=(0,)), ind(2, 0.6, parents=(0,))]
    sel = DGMSelector(children="archive")
    draws = Counter(i.id for i in sel(pool, 6000, np.random.default_rng(0)))
    # node 0 has two children -> weight 1/3 of the others'
    assert draws[0] / 6000 == pytest.approx(1 / 7, abs=0.02)
    told = DGMSelector()(pool, 6000, np.random.default_rng(0), child_counts={1: 9})
    draws = Counter(i.id for i in told)
    assert draws[1] / 6000 == pytest.approx(0.1 / 2.1, abs=0.02)


def test_keep_all_keeps_every_valid_agent_and_never_evicts():
    a = DGMArchive()
    st = a.add([ind(0, 0.5), ind(1, 0.1, parents=(0,)), ind(2, math.nan, parents=(0,))])
    assert st == [AddStatus.NEW, AddStatus.NEW, AddStatus.NOT_ADDED]
    assert [m.id for m in a.members()] == [0, 1]
    assert all(str(e.event) == "new" for e in a.drain_events())


def test_keep_better_needs_the_root_score_minus_leeway():
    a = DGMArchive(mode="keep_better", leeway=0.1)
    st = a.add([ind(0, 0.5), ind(1, 0.41, parents=(0,)), ind(2, 0.39, parents=(0,))])
    assert st == [AddStatus.NEW, AddStatus.NEW, AddStatus.NOT_ADDED]


def test_archive_strategy_passes_told_child_counts_to_the_dgm_selector():
    params = ArchiveParams.model_validate(
        {
            "batch_size": 4,
            "init": {"ref": "vector.uniform", "params": {"dimension": 2}},
            "selector": {"ref": "dgm.score_child_prop"},
            "operators": [{"ref": "vector.gaussian"}],
            "archive": {"ref": "dgm", "params": {"mode": "keep_better", "leeway": 0.0}},
        }
    )
    s = ArchiveStrategy(params, rng=np.random.default_rng(0))
    batch = s.ask()
    s.tell([b.with_result(ind(b.id, 0.9).result) for b in batch])
    kids = s.ask()
    s.tell([k.with_result(ind(k.id, 0.0).result) for k in kids])  # rejected by keep_better
    assert [m.id for m in s.archive.members()] == [0, 1, 2, 3]
    told = Counter(p for k in kids for p in k.parent_ids)
    assert s.child_counts() == told  # counted although the children are not in the archive


def test_population_hall_of_fame_and_events():
    pop = Population(size=2, hall_of_fame=2)
    pop.add([ind(0, 1.0), ind(1, 3.0), ind(2, 2.0), ind(3, math.nan)])
    assert [m.id for m in pop.members()] == [1, 2]
    assert [h.id for h in pop.hall()] == [1, 2]
    ev = [(e.individual_id, str(e.event), e.other_id) for e in pop.drain_events()]
    assert ev == [(0, "new", None), (1, "new", None), (2, "improved", 0), (0, "evicted", 2)]
    assert pop.add([ind(4, 2.0)]) == [AddStatus.NOT_ADDED]  # tie keeps the older one
