"""Rendering a lineage (ancestry or descendants of one individual): rich tree, DOT, JSON, HTML.

Every node carries its score, status, operator and generation. Long single lines of descent
(a chain where each node has exactly one relative in the walked direction, and that relative
only one) collapse to one summary line in the tree and DOT renderings, so a 1,000-deep
ancestry prints in a few lines instead of a 4,000-column staircase.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from evosearch.store.queries import LineageIndex
from evosearch.store.runstore import RunStore

DEFAULT_COLLAPSE = 6
HTML_DETAIL_LIMIT = 500


@dataclasses.dataclass
class Lineage:
    """The individuals related to ``root`` in one direction.

    Attributes:
        root: The individual the lineage is about.
        direction: ``ancestors`` or ``descendants``.
        nodes: id → ``{score, status, operator, operator_params, generation, parents}``.
        distance: id → number of generations from the root along the walk (root = 0).
        frontier: Ids whose relatives were cut off by ``depth``.
    """

    root: int
    direction: str
    nodes: dict[int, dict[str, Any]]
    distance: dict[int, int]
    frontier: set[int]

    def next_of(self, node: int) -> list[int]:
        """Relatives of ``node`` one step further from the root, within the lineage."""
        if self.direction == "ancestors":
            rel = self.nodes[node]["parents"]
        else:
            rel = self._children().get(node, [])
        return sorted(r for r in rel if r in self.nodes)

    def prev_count(self, node: int) -> int:
        """How many nodes of the lineage have ``node`` as their next relative."""
        if self.direction == "ancestors":
            return len(self._children().get(node, []))
        return sum(1 for p in self.nodes[node]["parents"] if p in self.nodes)

    def _children(self) -> dict[int, list[int]]:
        if not hasattr(self, "_kids"):
            kids: dict[int, list[int]] = collections.defaultdict(list)
            for n, d in self.nodes.items():
                for p in d["parents"]:
                    if p in self.nodes:
                        kids[p].append(n)
            self._kids = kids
        return self._kids


def collect(
    store: RunStore, root: int, *, descendants: bool = False, depth: int | None = None
) -> Lineage:
    """Walk the lineage of ``root`` with the run's ``LineageIndex`` and read node attributes.

    Raises:
        KeyError: if ``root`` is not in the run.
    """
    index = LineageIndex.load(store)
    walk = index.descendants if descendants else index.ancestors
    related = walk(root, depth)
    distance = {root: 0, **related}
    cols = ["id", "parent_ids", "score", "status", "operator", "operator_params", "generation"]
    table = store.table(cols)
    table = table.filter(pc.is_in(table["id"], pa.array(sorted(distance), pa.int64())))
    nodes = {}
    for r in table.to_pylist():
        nodes[r["id"]] = {
            "score": r["score"],
            "status": r["status"],
            "operator": r["operator"],
            "operator_params": json.loads(r["operator_params"] or "{}"),
            "generation": r["generation"],
            "parents": list(r["parent_ids"] or []),
        }
    step = index.children_of if descendants else index.parents_of
    frontier = {n for n in nodes if any(int(o) not in distance for o in step(n).tolist())}
    return Lineage(root, "descendants" if descendants else "ancestors", nodes, distance, frontier)


# --------------------------------------------------------------------------- chains


def chains(lin: Lineage, collapse: int) -> dict[int, list[int]]:
    """Linear runs longer than ``collapse`` nodes, keyed by their first node.

    A run is a sequence ``n0 → n1 → ... → nk`` (in the walked direction) where every node
    but the last has exactly one next relative and every node but the first is reached only
    from its predecessor. The value is the *hidden* middle ``n1 .. n(k-1)``; the renderers
    show ``n0``, one summary line, then continue from ``nk``.
    """
    if collapse <= 0:
        return {}
    out: dict[int, list[int]] = {}
    for start in lin.nodes:
        nxt = lin.next_of(start)
        # a run starts where the previous node is not itself a linear link into it
        if len(nxt) != 1 or lin.prev_count(nxt[0]) != 1:
            continue
        if start != lin.root and lin.prev_count(start) == 1 and _is_link(lin, _prev(lin, start)):
            continue
        run = [start]
        node = start
        while True:
            nxt = lin.next_of(node)
            if len(nxt) != 1 or lin.prev_count(nxt[0]) != 1:
                break
            node = nxt[0]
            run.append(node)
        if len(run) > max(collapse, 2):
            out[start] = run[1:-1]
    return out


def _prev(lin: Lineage, node: int) -> int:
    if lin.direction == "ancestors":
        return lin._children()[node][0]
    return next(p for p in lin.nodes[node]["parents"] if p in lin.nodes)


def _is_link(lin: Lineage, node: int) -> bool:
    nxt = lin.next_of(node)
    return len(nxt) == 1 and lin.prev_count(nxt[0]) == 1


def chain_summary(lin: Lineage, hidden: list[int]) -> str:
    """One line describing a collapsed run of nodes."""
    gens = [lin.nodes[n]["generation"] for n in hidden]
    scores = [s for n in hidden if (s := lin.nodes[n]["score"]) is not None]
    ops = collections.Counter(lin.nodes[n]["operator"] for n in hidden)
    op_text = ", ".join(f"{op}×{k}" for op, k in ops.most_common(3))
    if len(ops) > 3:
        op_text += ", ..."
    score_text = f"scores {_num(min(scores))}…{_num(max(scores))}" if scores else "no scores"
    return (
        f"… {len(hidden)} more in a single line of descent "
        f"(gen {min(gens)}–{max(gens)}, {op_text}, {score_text})"
    )


# --------------------------------------------------------------------------- renderers


def label(lin: Lineage, n: int, markup: bool = True) -> str:
    """``#id score S op(params) gen G [status]`` for one node."""
    d = lin.nodes[n]
    score = _num(d["score"]) if d["score"] is not None else "-"
    op = d["operator"] or "?"
    if d["operator_params"]:
        params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(d["operator_params"].items()))
        op = f"{op}({params})"
    status = "" if d["status"] == "ok" else f" {d['status']}"
    more = " …" if n in lin.frontier else ""
    if not markup:
        return f"#{n} score {score}{status} {op} gen {d['generation']}{more}"
    status = f" [red]{d['status']}[/]" if status else ""
    more = " [dim](more beyond --depth)[/]" if more else ""
    return (
        f"[bold]#{n}[/] score [green]{score}[/]{status}  "
        f"[cyan]{_escape(op)}[/] [dim]gen {d['generation']}[/]{more}"
    )


def to_rich_tree(lin: Lineage, collapse: int = DEFAULT_COLLAPSE):
    """A ``rich.tree.Tree`` of the lineage, long linear runs collapsed."""
    from rich.tree import Tree

    hidden = chains(lin, collapse)
    tree = Tree(label(lin, lin.root))
    seen: set[int] = set()
    # Pre-order, a node marked seen only when its own entry is printed: an individual
    # reached by two paths is printed in full first, then "(repeated)" where it comes again.
    stack: list[tuple[int, Any]] = [(lin.root, None)]
    while stack:
        node, parent = stack.pop()
        if node in seen:
            parent.add(f"[dim]#{node} (repeated: reached by another path, shown above)[/]")
            continue
        seen.add(node)
        branch = tree if parent is None else parent.add(label(lin, node))
        if node in hidden:
            run = hidden[node]
            seen.update(run)
            branch = branch.add(f"[dim]{chain_summary(lin, run)}[/]")
            node = run[-1]
        for other in reversed(lin.next_of(node)):
            stack.append((other, branch))
    return tree


def to_dot(lin: Lineage, collapse: int = DEFAULT_COLLAPSE) -> str:
    """Graphviz DOT (edges parent → child); collapsed runs become one dashed node."""
    hidden = chains(lin, collapse)
    skip = {n for run in hidden.values() for n in run}
    lines = ["digraph lineage {", "  rankdir=BT;", '  node [shape=box, fontname="monospace"];']
    for n in sorted(lin.nodes):
        if n in skip:
            continue
        d = lin.nodes[n]
        score = _num(d["score"]) if d["score"] is not None else "-"
        style = ", style=bold" if n == lin.root else ""
        if d["status"] != "ok":
            style += ", color=red"
        text = f"#{n}\\nscore {score}\\n{_dot_escape(d['operator'] or '?')}\\ngen {d['generation']}"
        lines.append(f'  n{n} [label="{text}"{style}];')
    for start, run in hidden.items():
        text = _dot_escape(chain_summary(lin, run))
        lines.append(f'  c{start} [label="{text}", style=dashed];')
    edges = []
    for n in sorted(lin.nodes):
        for p in lin.nodes[n]["parents"]:
            if p in lin.nodes and p not in skip and n not in skip:
                edges.append(f"  n{p} -> n{n};")
    for start, run in hidden.items():
        after = lin.next_of(run[-1])[0]  # the first node shown after the hidden run
        a, b = (after, start) if lin.direction == "ancestors" else (start, after)
        edges.append(f"  n{a} -> c{start} -> n{b};")
    lines.extend(sorted(edges))
    lines.append("}")
    return "\n".join(lines)


def to_json(lin: Lineage) -> dict[str, Any]:
    """Every node (never collapsed) with its distance, and every edge inside the lineage."""
    return {
        "root": lin.root,
        "direction": lin.direction,
        "nodes": [
            {"id": n, **lin.nodes[n], "distance": lin.distance.get(n, 0), "more": n in lin.frontier}
            for n in sorted(lin.nodes)
        ],
        "edges": [
            {"parent": p, "child": n}
            for n in sorted(lin.nodes)
            for p in lin.nodes[n]["parents"]
            if p in lin.nodes
        ],
    }


def to_html(lin: Lineage, store: RunStore, collapse: int = DEFAULT_COLLAPSE) -> str:
    """A self-contained HTML page (no network): the interactive tree and node details.

    Long single lines of descent collapse into one node (as in the terminal tree). Details
    (genome, metrics, feedback, diff to the first parent) are embedded for up to
    ``HTML_DETAIL_LIMIT`` shown nodes nearest the root.
    """
    from evosearch.ui.diff import genome_diff
    from evosearch.ui.records import records

    data = to_json(lin)
    hidden = chains(lin, collapse)
    if hidden:
        data["nodes"] = _collapsed_nodes(lin, data["nodes"], hidden)
        data["edges"] = [
            {"parent": p, "child": n["id"]} for n in data["nodes"] for p in n["parents"]
        ]
    for node in data["nodes"]:
        node["score"] = _finite(node["score"])
    shown = [n["id"] for n in data["nodes"] if n["id"] in lin.nodes]
    near = sorted(shown, key=lambda n: (lin.distance.get(n, 0), n))[:HTML_DETAIL_LIMIT]
    wanted = set(near)
    wanted.update(lin.nodes[n]["parents"][0] for n in near if lin.nodes[n]["parents"])
    recs = records(store, sorted(wanted))
    details = {}
    for n in near:
        rec = recs.get(n)
        if rec is None:
            continue
        parents = rec["parent_ids"]
        parent = recs.get(parents[0]) if parents else None
        rec["diff_against"] = parents[0] if parents else None
        rec["diff"] = genome_diff(parent["genome"], rec["genome"]) if parent else None
        details[str(n)] = rec
    data["details"] = details
    data["run"] = str(store.path)
    payload = json.dumps(data, default=str, allow_nan=False)
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    static = resources.files("evosearch.ui").joinpath("static")
    template = static.joinpath("lineage.html").read_text()
    return (
        template.replace("/*STYLE*/", static.joinpath("style.css").read_text())
        .replace("/*TREE_JS*/", static.joinpath("tree.js").read_text())
        .replace("/*DATA*/", payload)
    )


def _collapsed_nodes(
    lin: Lineage, nodes: list[dict[str, Any]], hidden: dict[int, list[int]]
) -> list[dict[str, Any]]:
    """JSON nodes with each hidden run replaced by one node of id ``-(first + 1)``."""
    skip = {n for run in hidden.values() for n in run}
    by_id = {n["id"]: dict(n) for n in nodes if n["id"] not in skip}
    for start, run in hidden.items():
        after = lin.next_of(run[-1])[0]
        sid = -(start + 1)
        gens = [lin.nodes[n]["generation"] for n in run]
        by_id[sid] = {
            "id": sid,
            "collapsed": len(run),
            "label": chain_summary(lin, run),
            "score": None,
            "status": "ok",
            "operator": "",
            "operator_params": {},
            "generation": min(gens),
            "distance": lin.distance.get(run[0], 0),
            "more": False,
            "parents": [after] if lin.direction == "ancestors" else [start],
        }
        child = start if lin.direction == "ancestors" else after
        first = run[0] if lin.direction == "ancestors" else run[-1]
        by_id[child]["parents"] = [sid if p == first else p for p in by_id[child]["parents"]]
    return sorted(by_id.values(), key=lambda n: n["id"])


def _num(v: float) -> str:
    return f"{v:.6g}"


def _finite(v: Any) -> Any:
    return v if not isinstance(v, float) or math.isfinite(v) else None


def _short(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else v
    return text if len(text) <= 24 else text[:21] + "..."


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
