"""Novelty: k-nearest-neighbour scores, the novelty archive and selector."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from archive_helpers import ind

from evosearch.archives.novelty import NoveltyArchive, NoveltySelector, knn_novelty
from evosearch.archives.population import AddStatus


def test_knn_novelty_is_the_mean_distance_to_the_k_nearest():
    ref = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [10.0, 10.0]])
    assert knn_novelty([[0.0, 0.0]], ref, 2) == pytest.approx([1.5])  # (0 + 3) / 2
    assert knn_novelty([[0.0, 0.0]], ref, 3) == pytest.approx([7 / 3])
    assert knn_novelty([[1.0, 1.0]], ref[:1], 5) == pytest.approx([math.sqrt(2)])  # fewer
    assert knn_novelty([[1.0, 1.0]], np.empty((0, 2)), 3)[0] == math.inf


def test_knn_novelty_can_exclude_each_point_itself():
    pts = np.array([[0.0], [1.0], [3.0]])
    assert knn_novelty(pts, pts, 1, exclude_self=True) == pytest.approx([1.0, 1.0, 2.0])


def test_novelty_archive_keeps_only_novel_individuals():
    a = NoveltyArchive(k=1, threshold=0.5, dims=2)
    st = a.add(
        [
            ind(0, 1.0, (0.0, 0.0)),  # empty archive: infinitely novel
            ind(1, 1.0, (0.1, 0.0)),  # 0.1 from 0: rejected
            ind(2, 1.0, (1.0, 0.0)),  # 0.9 from 1... from 0: 1.0
            ind(3, math.nan, (5.0, 5.0)),
            ind(4, 1.0, ()),
        ]
    )
    assert st == [AddStatus.NEW, AddStatus.NOT_ADDED, AddStatus.NEW] + [AddStatus.NOT_ADDED] * 2
    assert a.novelty[2] == pytest.approx(1.0)
    assert [m.id for m in a.members()] == [0, 2]


def test_novelty_selector_prefers_isolated_individuals():
    pool = [ind(i, 0.0, (0.0 + 0.01 * i, 0.0)) for i in range(5)] + [ind(9, 0.0, (5.0, 5.0))]
    picks = NoveltySelector(k=2, tournament=6)(pool, 200, np.random.default_rng(0))
    assert Counter(p.id for p in picks).most_common(1)[0][0] == 9
