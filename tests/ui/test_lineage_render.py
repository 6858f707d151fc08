"""``evosearch lineage``: tree, DOT, JSON and HTML renderings on small hand-built runs."""

from __future__ import annotations

import json
import re
import types

import pytest

from evosearch.cli import main
from evosearch.store import RunStore
from evosearch.ui import lineage_render as render

pytest_plugins = ["ui_runs"]  # the small hand-built runs (fixtures)


@pytest.fixture
def lineage(capsys):
    """``evosearch lineage ARGS`` in this process (fast); ``cli`` runs it in a subprocess."""

    def run(*args):
        code = main(["lineage", *map(str, args)])
        out = capsys.readouterr()
        return types.SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return run


def test_tree_shows_score_and_operator_on_every_node(small_run, cli):
    out = cli("lineage", small_run, "9")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("#9 score - failed")
    for n, score, op in [(7, "7", "vector.gaussian"), (4, "4", "vector.sbx"), (0, "0", "init")]:
        line = next(x for x in lines if f"#{n} " in x)
        assert f"score {score}" in line and op in line
    assert sum("#" in x for x in lines) == 6  # 9, its parents 4 and 7, their parents 0, 1, 3


def test_descendants_and_depth(small_run, lineage):
    out = lineage(small_run, "3", "--descendants", "--depth", "1", "--format", "json")
    data = json.loads(out.stdout)
    assert data["direction"] == "descendants"
    assert {n["id"] for n in data["nodes"]} == {3, 6, 7}
    assert {n["id"]: n["more"] for n in data["nodes"]} == {3: False, 6: False, 7: True}
    assert {(e["parent"], e["child"]) for e in data["edges"]} == {(3, 6), (3, 7)}


def test_best_and_operator_params_in_the_label(small_run, lineage):
    out = lineage(small_run, "--best")
    assert out.stdout.splitlines()[0].startswith("#8 score 9")
    assert "vector.gaussian(sigma=0.1)" in out.stdout.splitlines()[0]


def test_a_thousand_deep_ancestry_collapses_to_a_few_lines(chain_run, lineage):
    out = lineage(chain_run, "999")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "… 998 more in a single line of descent (gen 1–998, vector.gaussian×998" in text
    assert len(out.stdout.splitlines()) <= 5
    assert "#0 score 0" in text
    full = lineage(chain_run, "10", "--full")
    assert len(full.stdout.splitlines()) == 11


def test_collapse_keeps_branching_nodes(small_run):
    with RunStore.open(small_run) as store:
        lin = render.collect(store, 9)
    assert render.chains(lin, 1) == {}  # 9 has two parents: nothing is a single line
    with RunStore.open(small_run) as store:
        lin = render.collect(store, 13)  # 13 ← 12 ← 11 ← 10
    assert render.chains(lin, 3) == {13: [12, 11]}
    assert render.chains(lin, 4) == {}


def test_dot_is_a_graph_with_every_edge(small_run, lineage):
    out = lineage(small_run, "9", "--format", "dot")
    dot = out.stdout
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    for edge in ("n0 -> n4;", "n1 -> n4;", "n3 -> n7;", "n4 -> n9;", "n7 -> n9;"):
        assert edge in dot
    assert 'n9 [label="#9\\nscore -\\nvector.sbx\\ngen 2", style=bold, color=red];' in dot


def test_dot_collapsed_chain_is_one_dashed_node(chain_run, lineage):
    dot = lineage(chain_run, "999", "--format", "dot").stdout
    assert "n0 -> c999 -> n999;" in dot
    assert dot.count("[label=") == 3


def test_html_is_self_contained_and_escapes_data(small_run, tmp_path, lineage):
    out = tmp_path / "lineage.html"
    res = lineage(small_run, "13", "--format", "html", "-o", out)
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//|@import|url\(", html)  # offline
    assert "window.EvoTree" in html
    # the genome of #12 holds a <script> tag: inside the page it is JSON-escaped
    assert "<script>window.__evo_pwned" not in html
    assert "\\u003cscript\\u003ewindow.__evo_pwned" in html
    start = html.index('id="lineage-data">') + len('id="lineage-data">')
    data = json.loads(html[start : html.index("</script>", start)])
    assert {n["id"] for n in data["nodes"]} == {10, 11, 12, 13}
    diff = data["details"]["12"]["diff"]
    assert [d["path"] for d in diff] == ["recipe.k", "recipe.new", "text"]


def test_unknown_id_is_a_one_line_error(small_run, cli):
    res = cli("lineage", small_run, "4242")
    assert res.returncode == 2
    assert res.stderr.strip() == "evosearch: error: no individual with id 4242"


def test_html_collapses_a_long_chain_into_one_node(chain_run, tmp_path, lineage):
    out = tmp_path / "chain.html"
    assert lineage(chain_run, "999", "--format", "html", "-o", out).returncode == 0
    html = out.read_text()
    start = html.index('id="lineage-data">') + len('id="lineage-data">')
    data = json.loads(html[start : html.index("</script>", start)])
    nodes = {n["id"]: n for n in data["nodes"]}
    assert sorted(nodes) == [-1000, 0, 999]
    assert nodes[999]["parents"] == [-1000] and nodes[-1000]["parents"] == [0]
    assert nodes[-1000]["collapsed"] == 998
    assert sorted(data["details"]) == ["0", "999"]
    full = tmp_path / "full.html"
    assert lineage(chain_run, "999", "--format", "html", "--full", "-o", full).returncode == 0
    assert full.stat().st_size > out.stat().st_size
