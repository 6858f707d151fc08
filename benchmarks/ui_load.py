"""First page load and lineage-tree expansion of ``evosearch ui`` on a 100,000-individual run.

Builds a synthetic run through ``RunStore.commit`` (100 generations of 1,000 vector genomes,
each child with one or two random parents from the previous generation, 2-D descriptors),
then measures, side by side in one process:

- **first page load**: every API call the page's first paint makes (summary, curves, map of
  elites, first table page, ancestry of the best), over HTTP against a fresh server (cold:
  nothing cached) and again (warm);
  baseline: a naive page that loads the whole table (every row, as JSON) and parses it;
- **tree expansion**: ancestry of a node of the last generation (depth 6, as the page asks)
  plus the click on it (its record and genome diff); baseline: the full lineage graph of the
  run (networkx over every row) then the same depth-6 ancestry;
- with Chromium installed, the same in a real headless browser: time from navigation to the
  page's ready flag vs ``fetch`` + ``JSON.parse`` of the naive full-table JSON.

Usage::

    nice -n 10 .venv/bin/python benchmarks/ui_load.py [--n 100000] [--gen-size 1000]
"""

from __future__ import annotations

import argparse
import http.server
import json
import pathlib
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's evosearch, not an installed one

from evosearch.genomes.vector import VectorGenome  # noqa: E402
from evosearch.individual import FitnessResult, Individual  # noqa: E402
from evosearch.store import RunStore  # noqa: E402
from evosearch.ui.server import make_server  # noqa: E402


def build_run(path: pathlib.Path, n: int, gen_size: int, seed: int = 0) -> None:
    """A synthetic run of ``n`` individuals in generations of ``gen_size`` (random parents)."""
    rng = np.random.default_rng(seed)
    store = RunStore.create(path, "name: ui-bench\nstrategy: {name: synthetic}\n")
    next_id = 0
    prev: np.ndarray | None = None
    for gen in range(n // gen_size):
        values = rng.normal(size=(gen_size, 16))
        ids = np.arange(next_id, next_id + gen_size)
        inds = []
        for k in range(gen_size):
            if prev is None:
                parents: tuple[int, ...] = ()
                op = "init"
            else:
                m = 1 + int(rng.random() < 0.5)
                parents = tuple(int(p) for p in rng.choice(prev, m, replace=False))
                op = "vector.sbx" if m == 2 else "vector.gaussian"
            v = values[k]
            score = -float(np.sum(v**2)) + gen * 0.1
            desc = (float(np.tanh(v[0])), float(np.tanh(v[1])))
            result = FitnessResult(score=score, descriptors=desc, metrics={"norm": -score})
            inds.append(
                Individual(int(ids[k]), VectorGenome(v), parents, op, generation=gen, result=result)
            )
        store.commit(inds, None, generation=gen)
        prev = ids
        next_id += gen_size
    store.close()


def get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as r:
        body = r.read()
    json.loads(body)
    return time.perf_counter() - t0, len(body)


def first_page(base: str) -> tuple[float, int, int]:
    """The API calls of the first paint, in the page's order; returns (s, bytes, best id)."""
    total_t, total_b = 0.0, 0
    for path in ("summary", "curves", "heatmap?x=0&y=1&bins=20", "individuals?limit=25"):
        t, b = get(base + "api/" + path)
        total_t, total_b = total_t + t, total_b + b
    with urllib.request.urlopen(base + "api/summary") as r:
        best = json.loads(r.read())["best"]["id"]
    t, b = get(f"{base}api/lineage/{best}?dir=ancestors&depth=6")
    return total_t + t, total_b + b, best


def tree_expansion(base: str, node: int) -> tuple[float, int]:
    t1, b1 = get(f"{base}api/lineage/{node}?dir=ancestors&depth=6")
    t2, b2 = get(f"{base}api/individual/{node}")
    return t1 + t2, b1 + b2


def naive_full_load(run: pathlib.Path) -> tuple[float, int]:
    """What a page without server-side aggregation needs: every row, as JSON, parsed."""
    t0 = time.perf_counter()
    store = RunStore.open(run)
    rows = store.table().to_pylist()
    body = json.dumps(rows, default=str).encode()
    json.loads(body)
    return time.perf_counter() - t0, len(body)


def naive_tree(run: pathlib.Path, node: int) -> float:
    """The full lineage graph of the run (networkx), then the depth-6 ancestry of ``node``."""
    from evosearch.store import lineage_graph

    t0 = time.perf_counter()
    graph = lineage_graph(RunStore.open(run))
    frontier, seen = {node}, {node}
    for _ in range(6):
        frontier = {p for c in frontier for p in graph.predecessors(c)} - seen
        seen |= frontier
    return time.perf_counter() - t0


def chromium(run: pathlib.Path, naive_json: pathlib.Path, deep: int) -> dict[str, float] | None:
    """Real headless Chromium: page ready vs fetch + JSON.parse of the naive full table."""
    chrome, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not chrome or not driver_bin:
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    profile = tempfile.mkdtemp()
    for flag in (
        "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run "
        "--disable-background-networking --disable-component-update --disable-sync "
        "--disable-dev-shm-usage --window-size=1280,1400"
    ).split() + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=Service(driver_bin))
    driver.set_script_timeout(600)
    out: dict[str, float] = {}
    server = make_server(str(run))
    server.start()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    handler = lambda *a, **k: Quiet(*a, directory=str(naive_json.parent), **k)  # noqa: E731
    naive = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=naive.serve_forever, daemon=True).start()
    try:
        for label in ("page_cold_s", "page_warm_s"):
            driver.get("about:blank")
            driver.get(server.url)
            WebDriverWait(driver, 600, poll_frequency=0.01).until(
                lambda d: d.execute_script("return document.body.dataset.ready")
            )
            # performance.now() at the ready flag: ms since navigation start
            out[label] = driver.execute_script("return window.evoFirstPaintMs") / 1000
        # tree expansion in the page: focus a deep node (fetch lineage + layout + render,
        # then fetch its record and render the diff), timed inside the page
        out["tree_click_s"] = (
            driver.execute_async_script(
                "const done = arguments[0]; const t0 = performance.now();"
                f"window.evoFocus({deep}).then(() => done(performance.now() - t0));"
            )
            / 1000
        )
        out["tree_nodes"] = driver.execute_script(
            "return document.querySelectorAll('#tree g.node').length"
        )
        port = naive.server_address[1]
        driver.get(f"http://127.0.0.1:{port}/")
        out["naive_fetch_parse_s"] = (
            driver.execute_async_script(
                "const done = arguments[0]; const t0 = performance.now();"
                f"fetch('/{naive_json.name}').then(r => r.json())"
                ".then(d => done(performance.now() - t0 + 0 * d.length));"
            )
            / 1000
        )
    finally:
        driver.quit()
        server.shutdown()
        naive.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--gen-size", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="reuse the run under .cache/")
    args = ap.parse_args()
    cache = ROOT / ".cache" / f"ui-bench-{args.n}-{args.gen_size}"
    tmp = pathlib.Path(tempfile.mkdtemp())
    run = cache if args.keep else tmp / "run"
    if not (run / "manifest.json").exists():
        t0 = time.perf_counter()
        build_run(run, args.n, args.gen_size)
        print(f"built {args.n} individuals in {time.perf_counter() - t0:.1f} s at {run}")
    deep = args.n - 1  # last generation: ancestry as deep as the run

    cold = []
    for _ in range(args.repeats):
        shutil.rmtree(run / "index", ignore_errors=True)  # no cached lineage index either
        server = make_server(str(run))
        server.start()
        cold.append(first_page(server.url))
        server.shutdown()
        server.server_close()
    server = make_server(str(run))
    server.start()
    first_page(server.url)
    warm = [first_page(server.url) for _ in range(args.repeats)]
    tree = [tree_expansion(server.url, deep - 17 * i) for i in range(args.repeats)]
    server.shutdown()
    server.server_close()

    naive = [naive_full_load(run) for _ in range(args.repeats)]
    naive_tree_s = [naive_tree(run, deep - 17 * i) for i in range(args.repeats)]
    naive_json = tmp / "full.json"
    naive_json.write_bytes(json.dumps(RunStore.open(run).table().to_pylist(), default=str).encode())
    browser = chromium(run, naive_json, deep)

    med = statistics.median
    page_cold, page_warm = med(c[0] for c in cold), med(w[0] for w in warm)
    naive_s, naive_b = med(x[0] for x in naive), naive[0][1]
    tree_s, naive_tree_med = med(t[0] for t in tree), med(naive_tree_s)
    print(f"\nrun: {args.n} individuals, {args.n // args.gen_size} parts, median of {args.repeats}")
    print(f"{'measure':44} {'evosearch ui':>14} {'naive full load':>16} {'ratio':>8}")
    rows = [
        ("first page load, cold server (s)", page_cold, naive_s),
        ("first page load, warm server (s)", page_warm, naive_s),
        ("first page load, bytes", cold[0][1], naive_b),
        ("tree expansion of a gen-99 node (s)", tree_s, naive_tree_med),
    ]
    if browser:
        rows += [
            (
                "Chromium: page ready, cold (s)",
                browser["page_cold_s"],
                browser["naive_fetch_parse_s"] + naive_s,
            ),
            (
                "Chromium: page ready, warm (s)",
                browser["page_warm_s"],
                browser["naive_fetch_parse_s"] + naive_s,
            ),
            (
                "Chromium: click deep node → tree + diff (s)",
                browser["tree_click_s"],
                naive_tree_med,
            ),
        ]
    for name, ours, base in rows:
        print(f"{name:44} {ours:14.3f} {base:16.3f} {base / ours:7.1f}x")
    if browser:
        print(
            f"(Chromium naive = server full-table JSON {naive_s:.2f} s + browser fetch+parse "
            f"{browser['naive_fetch_parse_s']:.2f} s; tree drawn with {browser['tree_nodes']} "
            f"nodes)"
        )
    else:
        print("(Chromium not installed: browser timings skipped)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
