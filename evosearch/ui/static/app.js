/* The evosearch run page. Every piece of run data is written with textContent (via el()),
   never innerHTML, so a genome holding markup shows as text. */
(function () {
  "use strict";
  const T = window.EvoTree, el = T.el, fmt = T.fmt, svgEl = T.svgEl;
  const $ = (id) => document.getElementById(id);
  const state = {
    seq: null, summary: null, selected: null, offset: 0, limit: 25,
    graph: { root: null, direction: "ancestors", nodes: new Map() }, hm: null,
  };
  window.evoState = state;

  async function api(path) {
    const r = await fetch("/api/" + path, { cache: "no-store" });
    const data = await r.json();
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  // ----------------------------------------------------------------- line charts
  function lineChart(svg, xs, series, opts) {
    clear(svg);
    const [W, H] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
    const m = { l: 46, r: 8, t: 8, b: 20 };
    const ys = series.flatMap((s) => s.values).filter((v) => v !== null && isFinite(v));
    if (!xs.length || !ys.length) {
      const t = svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" });
      t.textContent = opts.empty || "no data yet";
      svg.appendChild(t);
      return;
    }
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y0 === y1) { y0 -= 1; y1 += 1; }
    const [x0, x1] = [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1 : Math.max(...xs)];
    const sx = (x) => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r);
    const sy = (y) => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
    svg.appendChild(svgEl("line", { class: "axis", x1: m.l, y1: H - m.b, x2: W - m.r, y2: H - m.b }));
    svg.appendChild(svgEl("line", { class: "axis", x1: m.l, y1: m.t, x2: m.l, y2: H - m.b }));
    for (const [v, y] of [[y1, sy(y1)], [y0, sy(y0)]]) {
      const t = svgEl("text", { x: m.l - 3, y: y + 3, "text-anchor": "end" });
      t.textContent = Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(parseFloat(v.toPrecision(3)));
      svg.appendChild(t);
    }
    // ends anchored inwards, the axis name centred between them: they never overlap
    for (const [x, anchor] of [[x0, "start"], [x1, "end"]]) {
      const t = svgEl("text", { x: sx(x), y: H - 6, "text-anchor": anchor }); t.textContent = fmt(x); svg.appendChild(t);
    }
    const t = svgEl("text", { x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle", class: "xlabel" });
    t.textContent = opts.xlabel || ""; svg.appendChild(t);
    for (const s of series) {
      let d = "", pen = false;
      s.values.forEach((v, i) => {
        if (v === null || !isFinite(v)) { pen = false; return; }
        d += (pen ? "L" : "M") + sx(xs[i]).toFixed(1) + "," + sy(v).toFixed(1);
        pen = true;
      });
      svg.appendChild(svgEl("path", { class: "line " + s.cls, d, stroke: s.color }));
    }
  }

  async function loadCurves() {
    const c = await api("curves");
    const series = [
      { name: "best", values: c.best, color: "#2a6fdb", cls: "best" },
      { name: "mean", values: c.mean, color: "#e08a1e", cls: "mean" },
      { name: "best so far", values: c.best_so_far, color: "#2a2", cls: "sofar" },
    ];
    lineChart($("fitness"), c.generation, series, { xlabel: "generation" });
    const legend = clear($("fitness-legend"));
    for (const s of series) {
      const span = legend.appendChild(el("span", {}, "— " + s.name));
      span.style.color = s.color;
    }
    if (c.qd) {
      $("qd-note").textContent = "source: " + c.qd.source;
      const hasCov = c.qd.coverage.some((v) => v !== null);
      lineChart($("coverage"), c.qd.generation, [{ values: hasCov ? c.qd.coverage : c.qd.archive_size, color: "#6639ba", cls: "coverage" }],
        { xlabel: hasCov ? "coverage" : "archive size" });
      lineChart($("qdscore"), c.qd.generation, [{ values: c.qd.qd_score, color: "#b8336a", cls: "qd" }], { xlabel: "QD score" });
    } else {
      $("qd-note").textContent = "no descriptors in this run: no QD curves";
      clear($("coverage")); clear($("qdscore"));
    }
    const gen = $("hm-gen"), last = c.generation.length ? c.generation[c.generation.length - 1] : 0;
    const follow = Number(gen.value) >= Number(gen.max);
    gen.max = last;
    if (follow) gen.value = last;
    $("hm-gen-label").textContent = " " + gen.value;
  }

  // ----------------------------------------------------------------- heat-map
  async function loadHeatmap() {
    const q = `heatmap?x=${$("hm-x").value || 0}&y=${$("hm-y").value || 1}&bins=${$("hm-bins").value}&gen=${$("hm-gen").value}`;
    const h = await api(q);
    state.hm = h;
    const cv = $("heatmap"), ctx = cv.getContext("2d");
    ctx.clearRect(0, 0, cv.width, cv.height);
    ctx.fillStyle = "#f0f0f0"; ctx.fillRect(0, 0, cv.width, cv.height);
    cv.dataset.cells = String(h.cells.length);
    if (!h.cells.length) { $("hm-note").textContent = h.reason || "empty"; return; }
    const scores = h.cells.map((c) => c[2]);
    const lo = Math.min(...scores), hi = Math.max(...scores);
    const [bx, by] = h.shape;
    const cw = cv.width / bx, ch = cv.height / by;
    for (const [ix, iy, s] of h.cells) {
      ctx.fillStyle = T.scoreColor(s, lo, hi);
      ctx.fillRect(ix * cw, cv.height - (iy + 1) * ch, Math.ceil(cw), Math.ceil(ch));
    }
    colourScale(lo, hi);
    const b = h.bounds;
    $("hm-note").textContent = `${h.filled} of ${bx * by} cells filled · source: ${h.source} · ` +
      `x ∈ [${fmt(b[0][0])}, ${fmt(b[0][1])}], y ∈ [${fmt(b[1][0])}, ${fmt(b[1][1])}] · score ${fmt(lo)} … ${fmt(hi)}`;
  }

  function colourScale(lo, hi) {  // the legend of the map's colours: worst … best score
    const cv = $("hm-scale"), ctx = cv.getContext("2d");
    for (let i = 0; i < cv.width; i++) {
      ctx.fillStyle = T.scoreColor(lo + (hi - lo) * i / Math.max(1, cv.width - 1), lo, hi);
      ctx.fillRect(i, 0, 1, cv.height);
    }
    $("hm-scale-lo").textContent = fmt(lo);
    $("hm-scale-hi").textContent = fmt(hi);
  }

  function heatmapClick(ev) {
    const h = state.hm;
    if (!h || !h.cells.length) return;
    const cv = $("heatmap"), r = cv.getBoundingClientRect();
    const ix = Math.floor((ev.clientX - r.left) / r.width * h.shape[0]);
    const iy = h.shape[1] - 1 - Math.floor((ev.clientY - r.top) / r.height * h.shape[1]);
    const cell = h.cells.find((c) => c[0] === ix && c[1] === iy);
    if (cell) focus(cell[3]);
  }

  function dimOptions(dims) {
    for (const [id, def] of [["hm-x", 0], ["hm-y", 1]]) {
      const s = $(id);
      if (s.options.length === dims) continue;
      const keep = s.value;
      clear(s);
      for (let i = 0; i < dims; i++) s.appendChild(el("option", { value: i }, "d" + i));
      s.value = keep !== "" && Number(keep) < dims ? keep : String(Math.min(def, Math.max(dims - 1, 0)));
    }
  }

  // ----------------------------------------------------------------- table
  async function loadTable() {
    const p = await api(`individuals?offset=${state.offset}&limit=${state.limit}&sort=${$("tbl-sort").value}`);
    const body = clear(document.querySelector("#table tbody"));
    for (const r of p.rows) {
      const tr = el("tr", { "data-id": r.id }, el("td", {}, r.id), el("td", {}, r.generation),
        el("td", {}, fmt(r.score)), el("td", {}, r.status), el("td", {}, r.operator));
      tr.addEventListener("click", () => focus(r.id));
      body.appendChild(tr);
    }
    $("tbl-pos").textContent = ` ${p.total ? p.offset + 1 : 0}–${p.offset + p.rows.length} of ${p.total} `;
    state.total = p.total;
  }

  // ----------------------------------------------------------------- lineage tree
  function direction() { return document.querySelector("input[name=dir]:checked").value; }

  async function loadTree(root) {
    const dir = direction();
    const data = await api(`lineage/${root}?dir=${dir}&depth=${$("tree-depth").value}`);
    state.graph = { root, direction: dir, nodes: new Map(data.nodes.map((n) => [n.id, n])) };
    $("tree-root").textContent = `${dir} of #${root}` + (data.truncated ? " (truncated: double-click dashed nodes)" : "");
    drawTree();
  }

  async function expand(id) {
    if (!state.graph.nodes.has(id)) return;
    const data = await api(`lineage/${id}?dir=${state.graph.direction}&depth=${$("tree-depth").value}`);
    const nodes = state.graph.nodes;
    for (const n of data.nodes) {
      const old = nodes.get(n.id);
      // fully fetched in either request: nothing more to show
      nodes.set(n.id, old ? { ...n, more: old.more && n.more } : n);
    }
    if (state.graph.direction === "ancestors") {
      for (const n of nodes.values()) n.more = (n.parents || []).some((p) => !nodes.has(p));
    }
    drawTree();
  }

  function drawTree() {
    T.render($("tree"), state.graph, { selected: state.selected, onSelect: select, onExpand: expand });
  }

  // ----------------------------------------------------------------- detail
  function idLinks(ids) {
    const span = el("span");
    if (!ids.length) span.appendChild(document.createTextNode("-"));
    for (const id of ids) {
      const a = el("a", { "data-id": id }, "#" + id);
      a.addEventListener("click", () => focus(id));
      span.appendChild(a);
    }
    return span;
  }

  async function select(id) {
    state.selected = id;
    drawTree();
    const d = await api("individual/" + id);
    if (state.selected !== id) return;
    $("detail-title").textContent = `#${d.id}  ${d.summary}`;
    const box = clear($("detail"));
    box.dataset.id = String(d.id);
    const dl = el("dl");
    const row = (k, v) => { dl.appendChild(el("dt", {}, k)); dl.appendChild(el("dd", {}, v)); };
    row("score", fmt(d.score)); row("status", d.status); row("generation", d.generation);
    row("island", d.island);
    row("operator", d.operator + (Object.keys(d.operator_params).length ? " " + JSON.stringify(d.operator_params) : ""));
    row("parents", idLinks(d.parent_ids)); row("children", idLinks(d.children));
    row("metrics", Object.keys(d.metrics).length ? JSON.stringify(d.metrics) : "-");
    row("descriptors", d.descriptors.length ? JSON.stringify(d.descriptors) : "-");
    row("eval seconds", fmt(d.eval_seconds));
    row("cost", `${d.tokens_in} in / ${d.tokens_out} out tokens, $${fmt(d.cost_usd)}`);
    row("genome", `${d.genome_kind} · fingerprint ${String(d.fingerprint).slice(0, 12)}`);
    box.appendChild(dl);
    T.renderRecordTail(box, d);
  }

  async function focus(id) {
    if (!state.graph.nodes.has(id)) await loadTree(id);
    await select(id);
  }

  // ----------------------------------------------------------------- polling
  async function poll(first) {
    let s;
    try { s = await api("summary"); } catch (e) { $("live").className = ""; $("live").title = String(e); return; }
    $("live").className = "on";
    $("live").title = "last commit " + (s.updated_at || "-");
    if (s.seq === state.seq && !first) return;
    state.seq = s.seq; state.summary = s;
    $("title").textContent = s.name || "evosearch";
    const c = s.status_counts;
    $("meta").textContent = `${s.strategy || ""} on ${s.fitness || ""} · ${s.individuals} individuals · ` +
      `${s.generations} generations · ok ${c.ok} · failed ${c.failed} · timeout ${c.timeout} · invalid ${c.invalid} · best ` +
      (s.best ? `#${s.best.id} = ${fmt(s.best.score)}` : "-");
    dimOptions(s.descriptor_dims);
    const jobs = [loadCurves().then(loadHeatmap), loadTable()];
    if (first && s.best) jobs.push(loadTree(s.best.id));
    await Promise.all(jobs);
  }

  function wire() {
    $("heatmap").addEventListener("click", heatmapClick);
    for (const id of ["hm-x", "hm-y", "hm-bins"]) $(id).addEventListener("change", loadHeatmap);
    $("hm-gen").addEventListener("input", () => { $("hm-gen-label").textContent = " " + $("hm-gen").value; loadHeatmap(); });
    $("tbl-sort").addEventListener("change", () => { state.offset = 0; loadTable(); });
    $("tbl-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadTable(); });
    $("tbl-next").addEventListener("click", () => {
      if (state.offset + state.limit < (state.total || 0)) { state.offset += state.limit; loadTable(); }
    });
    for (const r of document.querySelectorAll("input[name=dir]")) r.addEventListener("change", () => state.graph.root !== null && loadTree(state.graph.root));
    $("tree-depth").addEventListener("change", () => state.graph.root !== null && loadTree(state.graph.root));
    $("tree-best").addEventListener("click", () => state.summary && state.summary.best && focus(state.summary.best.id).then(() => loadTree(state.summary.best.id)));
  }

  window.evoFocus = focus;  // for scripted use (benchmarks)
  wire();
  poll(true).then(() => {
    document.body.dataset.ready = "1";
    window.evoFirstPaintMs = performance.now();
  }, (e) => { document.body.dataset.ready = "error"; $("meta").textContent = "error: " + e.message; });
  setInterval(() => poll(false).catch(() => {}), 2000);
})();
