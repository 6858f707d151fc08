"""Read-only commands over a run directory: status, top, show, lineage."""

from __future__ import annotations

import argparse
import json
import math

from rich.console import Console
from rich.table import Table


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("status", help="summary of a run: progress, best, failures, cost")
    s.add_argument("run")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_status)

    t = sub.add_parser("top", help="the best individuals of a run")
    t.add_argument("run")
    t.add_argument("-n", type=int, default=10, help="how many (default 10)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_top)

    w = sub.add_parser("show", help="one individual: genome, result, parents")
    w.add_argument("run")
    w.add_argument("id", type=int)
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=cmd_show)

    g = sub.add_parser("lineage", help="ancestry (or descendants) of an individual")
    g.add_argument("run")
    g.add_argument("id", type=int, nargs="?", help="individual id (or use --best)")
    g.add_argument("--best", action="store_true", help="the best individual of the run")
    g.add_argument("--descendants", action="store_true", help="children instead of parents")
    g.add_argument(
        "--depth",
        type=int,
        default=None,
        help="at most this many generations (default with --best: 8, unless --full)",
    )
    g.add_argument("--format", choices=["tree", "dot", "json", "html"], default="tree")
    g.add_argument(
        "--collapse",
        type=int,
        default=6,
        metavar="N",
        help="collapse single lines of descent longer than N into one line (default 6)",
    )
    g.add_argument("--full", action="store_true", help="never collapse (same as --collapse 0)")
    g.add_argument("-o", "--output", help="write to this file instead of the terminal")
    g.add_argument(
        "--diff",
        action="store_true",
        help="after the tree, the chain of first parents from the root with each step's "
        "score and its genome diff to the parent (code and prompts as text diffs)",
    )
    g.set_defaults(func=cmd_lineage)


def _open(path: str):
    from evosearch.store import RunStore

    return RunStore.open(path)


BEST_DEFAULT_DEPTH = 8


def cmd_status(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc
    import yaml

    store = _open(args.run)
    table = store.table(
        ["status", "score", "tokens_in", "tokens_out", "cost_usd", "generation", "operator"]
    )
    counts = {k: 0 for k in ("ok", "failed", "timeout", "invalid")}
    for row in pc.value_counts(table["status"]).to_pylist():
        counts[row["values"]] = row["counts"]
    cfg = yaml.safe_load(store.run_yaml)
    counters = store.manifest.get("counters", {})
    best = pc.max(table["score"]).as_py() if table.num_rows else None
    info = {
        "run": str(store.path),
        "name": cfg.get("name"),
        "strategy": cfg.get("strategy", {}).get("ref") or cfg.get("strategy", {}).get("name"),
        "fitness": cfg.get("fitness", {}).get("ref"),
        "budget": {k: v for k, v in cfg.get("budget", {}).items() if v is not None},
        "individuals": table.num_rows,
        "generations": counters.get("generation", 0),
        "parts": len(store.parts),
        "commits": counters.get("commits", 0),
        "status_counts": counts,
        "best_score": best,
        "best_id": counters.get("best_id"),
        "elapsed_seconds": round(counters.get("elapsed", 0.0), 2),
        "tokens_in": int(pc.sum(table["tokens_in"]).as_py() or 0),
        "tokens_out": int(pc.sum(table["tokens_out"]).as_py() or 0),
        "cost_usd": float(pc.sum(table["cost_usd"]).as_py() or 0.0),
        "updated_at": store.manifest.get("updated_at"),
    }
    if info["tokens_in"] or info["tokens_out"] or info["cost_usd"]:
        info["llm_by_operator"] = _llm_by_operator(table)
    if table.num_rows:  # what the last code evaluation's sandbox enforced (issue 12)
        from evosearch.sandbox.runner import isolation_in

        recent = store.table(["feedback"]).slice(max(0, table.num_rows - 50))["feedback"]
        found = (isolation_in(f) for f in reversed(recent.to_pylist()))
        if sandbox := next((f for f in found if f), None):
            info["sandbox"] = sandbox
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    out = _console()
    grid = Table.grid(padding=(0, 2))
    for k, v in info.items():
        if k == "llm_by_operator":
            v = "; ".join(
                f"{op}: n={t['n']} tokens={t['tokens_in']}/{t['tokens_out']} ${t['cost_usd']:.4g}"
                for op, t in v.items()
            )
        elif isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        grid.add_row(f"[bold]{k}[/]", str(v))
    out.print(grid)
    return 0


def _llm_by_operator(table) -> dict[str, dict[str, float]]:
    """LLM tokens and dollars per operator label (only operators that used any)."""
    sums = table.group_by("operator").aggregate(
        [("tokens_in", "sum"), ("tokens_out", "sum"), ("cost_usd", "sum"), ("operator", "count")]
    )
    out = {}
    for row in sorted(sums.to_pylist(), key=lambda r: str(r["operator"])):
        t_in, t_out = int(row["tokens_in_sum"] or 0), int(row["tokens_out_sum"] or 0)
        usd = float(row["cost_usd_sum"] or 0.0)
        if t_in or t_out or usd:
            n = int(row["operator_count"])
            out[str(row["operator"])] = {
                "n": n,
                "tokens_in": t_in,
                "tokens_out": t_out,
                "cost_usd": usd,
            }
    return out


def cmd_top(args: argparse.Namespace) -> int:
    from evosearch.store import top_k

    store = _open(args.run)
    rows = top_k(store, args.n).to_pylist()
    if args.json:
        print(json.dumps([_row_json(r) for r in rows], indent=1))
        return 0
    ok = _count_ok(store)
    title = f"top {len(rows)} of {store.num_individuals}"
    if len(rows) < args.n and ok < store.num_individuals:
        title += f" (only {ok} evaluated ok; failed ones are not ranked)"
    table = Table(title=title)
    for col in ("rank", "id", "score", "gen", "operator", "parents", "genome"):
        table.add_column(col, overflow="fold")
    from evosearch.store.schema import from_row

    for rank, r in enumerate(rows, 1):
        g = from_row(r, store.facts).genome
        table.add_row(
            str(rank),
            str(r["id"]),
            f"{r['score']:.6g}",
            str(r["generation"]),
            r["operator"],
            ",".join(map(str, r["parent_ids"])) or "-",
            g.summary(),
        )
    _console().print(table)
    return 0


def _count_ok(store) -> int:
    import pyarrow.compute as pc

    status = store.table(["status"])["status"]
    return int(pc.sum(pc.equal(status, "ok")).as_py() or 0)


def _console(**kw) -> Console:
    """A console that does not wrap at 80 columns when piped (logs, ``less``, ``grep``)."""
    import os

    console = Console(**kw)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=1000, soft_wrap=True, **kw)
    return console


def cmd_show(args: argparse.Namespace) -> int:
    store = _open(args.run)
    ind = store.get(args.id)
    res = ind.result
    data = {
        "id": ind.id,
        "generation": ind.generation,
        "island": ind.island,
        "operator": ind.operator,
        "operator_params": dict(ind.operator_params),
        "parent_ids": list(ind.parent_ids),
        "status": res.status.value,
        "score": None if math.isnan(res.score) else res.score,
        "metrics": dict(res.metrics),
        "descriptors": list(res.descriptors),
        "error": res.error,
        "feedback": res.feedback,
        "eval_seconds": res.eval_seconds,
        "cost": {
            "tokens_in": ind.cost.tokens_in,
            "tokens_out": ind.cost.tokens_out,
            "usd": ind.cost.usd,
        },
        "fingerprint": ind.genome.fingerprint(),
        "genome_kind": ind.genome.kind,
        "genome": ind.genome.to_json(),
    }
    if args.json:
        print(json.dumps(data, indent=1, default=str))
        return 0
    out = _console()
    out.print(f"[bold]individual #{ind.id}[/]  {ind.genome.summary()}")
    for k in (
        "status",
        "score",
        "generation",
        "operator",
        "parent_ids",
        "metrics",
        "descriptors",
        "eval_seconds",
        "cost",
        "fingerprint",
    ):
        out.print(f"  [bold]{k}[/]: {data[k]}", highlight=False)
    if data["operator_params"]:
        out.print(f"  [bold]operator_params[/]: {data['operator_params']}", highlight=False)
    for k in ("error", "feedback"):
        if data[k]:
            out.print(f"  [bold]{k}[/]:")
            out.print(_indent(data[k]), highlight=False, markup=False)
    out.print("  [bold]genome[/]:")
    out.print(_indent(genome_text(data["genome"])[:20000]), highlight=False, markup=False)
    return 0


def genome_text(genome: object) -> str:
    """A genome for reading: code as its files with their line breaks, text as text."""
    if isinstance(genome, dict) and isinstance(genome.get("files"), dict):
        parts = [f"entry: {genome.get('entry', '')}"]
        for path, text in sorted(genome["files"].items()):
            parts.append(f"--- {path} ---")
            parts.append(str(text).rstrip("\n"))
        return "\n".join(parts)
    if isinstance(genome, dict) and set(genome) == {"text"} and isinstance(genome["text"], str):
        return genome["text"]
    return json.dumps(genome, indent=1)


def cmd_lineage(args: argparse.Namespace) -> int:
    from evosearch.cli import CLIError
    from evosearch.store import best_id
    from evosearch.ui import lineage_render as render

    store = _open(args.run)
    if args.best:
        target = best_id(store)
        if target is None:
            raise CLIError(f"{args.run} has no individual with a valid score yet")
    elif args.id is not None:
        target = args.id
    else:
        raise CLIError("give an individual id or --best")
    if args.depth is not None and args.depth < 0:
        raise CLIError(f"--depth must be >= 0, got {args.depth}")
    depth = args.depth
    if depth is None and args.best and not args.full and args.format == "tree":
        depth = BEST_DEFAULT_DEPTH  # thousands of lines otherwise; --depth N / --full for more
    lin = render.collect(store, target, descendants=args.descendants, depth=depth)
    collapse = 0 if args.full else args.collapse
    if args.format == "tree":
        tree = render.to_rich_tree(lin, collapse)
        if not args.output:
            _console().print(tree)
            if lin.frontier and depth == BEST_DEFAULT_DEPTH and args.depth is None:
                print(f"(ancestry cut at {depth} generations; --depth N or --full for more)")
            if args.diff:
                print(chain_diffs(store, target))
            return 0
        with open(args.output, "w", encoding="utf-8") as f:
            Console(file=f, width=200, color_system=None).print(tree)
    else:
        text = {
            "json": lambda: json.dumps(render.to_json(lin), indent=1),
            "dot": lambda: render.to_dot(lin, collapse),
            "html": lambda: render.to_html(lin, store, collapse),
        }[args.format]()
        if not args.output:
            print(text)
            return 0
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    print(f"wrote {args.output} ({len(lin.nodes)} individuals)")
    return 0


def chain_diffs(store, target: int) -> str:
    """The first-parent chain from the root to ``target``, each step with its score and diff."""
    from evosearch.store import LineageIndex
    from evosearch.ui.diff import diff_as_text, genome_diff

    index = LineageIndex.load(store)
    chain = [target]
    while len(chain) < 10_000:
        parents = index.parents_of(chain[-1])
        if not len(parents):
            break
        chain.append(int(parents[0]))
    chain.reverse()
    lines = [f"\nchain of {len(chain)} steps from the root to #{target}:"]
    previous = None
    for ind_id in chain:
        ind = store.get(ind_id)
        score = "-" if ind.score != ind.score else f"{ind.score:.6g}"
        lines.append(f"\n=== #{ind.id}  score {score}  {ind.operator}  gen {ind.generation}")
        if previous is not None:
            body = diff_as_text(genome_diff(previous.genome.to_json(), ind.genome.to_json()))
            lines.append(body or "(no change to the genome)")
        previous = ind
    return "\n".join(lines)


def _row_json(r: dict) -> dict:
    r = dict(r)
    if isinstance(r["genome"], str):  # vector runs store the values as a list already
        r["genome"] = json.loads(r["genome"])
    if isinstance(r.get("fingerprint"), bytes):
        r["fingerprint"] = r["fingerprint"].hex()
    r["operator_params"] = json.loads(r["operator_params"] or "{}")
    r["metrics"] = dict(r["metrics"] or [])
    return r


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
