"""The web page's JSON API, without a browser: aggregation, paging, lineage, details, errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from evosearch.ui.data import RunView
from evosearch.ui.diff import genome_diff, text_diff
from evosearch.ui.server import make_server

pytest_plugins = ["ui_runs"]  # the small hand-built runs (fixtures)


@pytest.fixture
def api(small_run):
    server = make_server(str(small_run))
    server.start()

    def get(path: str):
        try:
            with urllib.request.urlopen(server.url + path.lstrip("/"), timeout=10) as r:
                body = r.read()
                return r.status, r.headers, body
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def get_json(path: str):
        code, _, body = get(path)
        return code, json.loads(body)

    get.json = get_json
    yield get
    server.shutdown()
    server.server_close()


def test_server_binds_to_localhost_by_default(small_run):
    server = make_server(str(small_run))
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.server_address[1] > 0
    finally:
        server.server_close()


def test_index_and_static_files_are_served_with_a_strict_policy(api):
    code, headers, body = api("/")
    assert code == 200 and b"/static/app.js" in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    for name in ("app.js", "tree.js", "style.css"):
        assert api(f"/static/{name}")[0] == 200
    assert api("/static/../data.py")[0] == 404


def test_summary_and_curves_are_aggregated_per_generation(api):
    code, s = api.json("/api/summary")
    assert code == 200
    assert s["individuals"] == 14 and s["generations"] == 4
    assert s["status_counts"] == {"ok": 12, "failed": 1, "timeout": 0, "invalid": 1}
    assert s["best"]["id"] == 8 and s["best"]["score"] == 9.0
    _, c = api.json("/api/curves")
    assert c["generation"] == [0, 1, 2, 3]
    assert c["count"] == [4, 4, 2, 4] and c["failed"] == [0, 0, 1, 1]
    assert c["best"] == [3.0, 7.0, 9.0, 3.0]
    assert c["mean"] == [1.5, 5.5, 9.0, 2.0]
    assert c["best_so_far"] == [3.0, 7.0, 9.0, 9.0]
    assert c["qd"]["generation"] == [0, 1, 2]  # generation 3 has no descriptors
    assert c["qd"]["coverage"] == [4 / 400, 8 / 400, 9 / 400]


def test_heatmap_keeps_the_best_of_each_cell(api):
    _, h = api.json("/api/heatmap?x=0&y=1&bins=4")
    assert h["bounds"] == [[0.0, 0.95], [0.0, 0.9]]
    cells = {(c[0], c[1]): (c[2], c[3]) for c in h["cells"]}
    # #0, #4 and #5 share cell (0, 3): the best, #5, holds it; #8 beats #3 in (3, 0)
    assert cells == {
        (0, 3): (5.0, 5),
        (1, 2): (1.0, 1),
        (2, 1): (2.0, 2),
        (3, 0): (9.0, 8),
        (0, 2): (6.0, 6),
        (1, 1): (7.0, 7),
    }
    _, early = api.json("/api/heatmap?bins=4&gen=0")
    assert sorted(c[3] for c in early["cells"]) == [0, 1, 2, 3]


def test_individuals_are_paged_and_sorted(api):
    _, p = api.json("/api/individuals?offset=0&limit=3&sort=score")
    assert p["total"] == 14 and [r["id"] for r in p["rows"]] == [8, 7, 6]
    _, p = api.json("/api/individuals?offset=12&limit=3&sort=score")
    assert [r["id"] for r in p["rows"]] == [9, 13]  # no score: last
    _, p = api.json("/api/individuals?sort=id&gen=1")
    assert [r["id"] for r in p["rows"]] == [4, 5, 6, 7]
    _, p = api.json("/api/individuals?status=invalid")
    assert [r["id"] for r in p["rows"]] == [13]


def test_lineage_is_bounded_and_marks_nodes_with_more(api):
    _, t = api.json("/api/lineage/9?depth=1")
    assert {n["id"] for n in t["nodes"]} == {9, 4, 7}
    more = {n["id"]: n["more"] for n in t["nodes"]}
    assert more == {9: False, 4: True, 7: True}
    _, t = api.json("/api/lineage/9?limit=4")
    assert len(t["nodes"]) == 4 and t["truncated"]
    _, t = api.json("/api/lineage/3?dir=descendants&depth=")
    assert {n["id"] for n in t["nodes"]} == {3, 6, 7, 8, 9}


@pytest.mark.parametrize("direction", ["ancestors", "descendants"])
@pytest.mark.parametrize(("depth", "limit"), [(None, 300), (1, 300), (None, 3), (2, 2), (0, 5)])
def test_the_page_lineage_is_the_store_index_walk(small_run, direction, depth, limit):
    view = RunView(str(small_run))
    index = view.lineage_index()
    walk = index.ancestors if direction == "ancestors" else index.descendants
    root = 9 if direction == "ancestors" else 3
    full = walk(root, depth)
    cut = walk(root, depth, limit=limit - 1)
    assert list(cut) == list(full)[: limit - 1], "the limit keeps the nearest relatives"
    t = view.lineage(root, direction, depth, limit)
    assert {n["id"]: n["distance"] for n in t["nodes"]} == {root: 0, **cut}
    assert t["truncated"] == (len(full) > limit - 1)


def test_individual_detail_has_genome_feedback_and_a_diff_to_its_parent(api):
    _, d = api.json("/api/individual/12")
    assert d["operator"] == "llm.rewrite" and d["parent_ids"] == [11] and d["children"] == [13]
    assert d["feedback"].startswith("<script>")
    assert d["diff_against"] == 11
    text = next(e for e in d["diff"] if e["path"] == "text")
    assert ["-", "Be very brief."] in text["lines"]
    _, d = api.json("/api/individual/9?against=5")
    assert d["diff_against"] == 5 and d["status"] == "failed" and d["score"] is None
    assert d["error"] == "boom"


def test_bad_requests_are_clear_json_errors(api):
    assert api.json("/api/individual/999") == (404, {"error": "no individual with id 999"})
    code, err = api.json("/api/lineage/1?dir=sideways")
    assert code == 400 and "dir must be" in err["error"]
    code, err = api.json("/api/heatmap?bins=many")
    assert code == 400 and "'bins'" in err["error"]
    assert api.json("/api/nothing")[0] == 404
    # documented 400s (issue 14): a descriptor index the run does not have, an unknown sort
    code, err = api.json("/api/heatmap?x=5")
    assert code == 400 and "descriptor indices 0..1" in err["error"]
    code, err = api.json("/api/individuals?sort=bogus")
    assert code == 400 and "sort must be 'score' or 'id'" in err["error"]
    assert api.json("/api/individuals?status=broken")[0] == 400


def test_page_has_a_colour_scale_and_separate_outcome_counts(api):
    assert 'id="hm-scale"' in api("/")[2].decode()
    js = api("/static/app.js")[2].decode()
    assert "invalid ${c.invalid}" in js and "colourScale(lo, hi)" in js


def test_view_follows_new_commits(small_run):
    from evosearch.genomes.vector import VectorGenome
    from evosearch.individual import FitnessResult, Individual
    from evosearch.store import RunStore

    view = RunView(str(small_run), refresh_interval=0)
    assert view.summary()["individuals"] == 14
    with RunStore.open(small_run, writable=True) as store:
        child = Individual(
            14, VectorGenome([1.0]), parent_ids=(8,), generation=4, result=FitnessResult(score=50.0)
        )
        store.commit([child], None, generation=4)
    s = view.summary()
    assert s["individuals"] == 15 and s["best"]["id"] == 14
    assert view.lineage(14)["nodes"][-1]["parents"] == [8]
    assert view.curves()["best"][-1] == 50.0


def test_genome_diff_by_kind_of_value():
    assert genome_diff({"a": 1}, {"a": 1}) == []
    vec = genome_diff({"values": [1.0, 2.0, 3.0]}, {"values": [1.0, 2.5, 3.0]})
    assert vec == [
        {
            "path": "values",
            "type": "vector",
            "size": 3,
            "changed": 1,
            "l2": 0.5,
            "deltas": [[1, 2.0, 2.5]],
        }
    ]
    recipe = genome_diff({"models": {"a": 0.5, "b": 0.5}}, {"models": {"a": 0.7, "c": 0.3}})
    assert recipe == [
        {"path": "models.a", "type": "value", "old": 0.5, "new": 0.7},
        {"path": "models.b", "type": "removed", "old": 0.5},
        {"path": "models.c", "type": "added", "new": 0.3},
    ]
    files = genome_diff(
        {"files": [{"p": "x.py", "src": "a\nb\n"}]}, {"files": [{"p": "x.py", "src": "a\nc\n"}]}
    )
    assert [e["path"] for e in files] == ["files[0].src"]
    assert text_diff("a\nb", "a\nc") == [
        ["@", "@@ -1,2 +1,2 @@"],
        [" ", "a"],
        ["-", "b"],
        ["+", "c"],
    ]
    assert genome_diff([1, 2], [1, 2, 3]) == [
        {"path": "", "type": "value", "old": [1, 2], "new": [1, 2, 3]}
    ]


def test_map_elites_run_shows_its_archive_cells_and_qd_table(grid_run):
    from evosearch.archives.tables import ARCHIVE_SCHEMA
    from evosearch.store import RunStore

    view = RunView(str(grid_run))
    assert view.summary()["has_membership"] is True
    h = view.heatmap()
    assert h["source"] == "archive (grid membership)"
    assert h["shape"] == [10, 10] and h["bounds"] == [[-4.0, 4.0], [-4.0, 4.0]]
    # the cells are exactly the archive's current elites, from the membership events
    with RunStore.open(grid_run) as store:
        events = store.extra_table("archive", ARCHIVE_SCHEMA).to_pylist()
    holder = {}
    for e in events:
        if e["event"] in ("new", "improved"):
            holder[e["cell"]] = (e["score"], e["individual_id"])
    assert {(c[0] * 10 + c[1]): (c[2], c[3]) for c in h["cells"]} == holder
    c = view.curves()
    assert c["qd"]["source"] == "archive QD table"
    assert c["qd"]["coverage"][-1] == len(holder) / 100
    early = view.heatmap(generation=0)
    assert 0 < early["filled"] <= h["filled"]


def test_one_descriptor_gives_a_strip_and_qd_curves(tmp_path):
    from evosearch.genomes.vector import VectorGenome
    from evosearch.individual import FitnessResult, Individual
    from evosearch.store import RunStore

    with RunStore.create(tmp_path / "r", "name: one\n") as store:
        inds = [
            Individual(
                i,
                VectorGenome([i]),
                generation=i // 2,
                result=FitnessResult(score=float(i), descriptors=(i / 5,)),
            )
            for i in range(6)
        ]
        store.commit(inds, None, generation=2)
    view = RunView(str(tmp_path / "r"))
    qd = view.curves()["qd"]
    assert qd["archive_size"] == [2, 4, 6] and qd["coverage"] == [0.1, 0.2, 0.3]
    assert view.heatmap(bins=5)["filled"] == 5  # 6 individuals, the top bin holds 4 and 5
