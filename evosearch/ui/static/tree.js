/* Lineage tree layout and SVG rendering, shared by the web page and `lineage --format html`.
   Data is only ever written with textContent / setAttribute: never as HTML. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";

  function svgEl(tag, attrs) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  // Colour for a score in [lo, hi] (viridis-like ramp); grey when there is no score.
  function scoreColor(s, lo, hi) {
    if (s === null || s === undefined || !isFinite(s)) return "#ccc";
    const t = hi > lo ? (s - lo) / (hi - lo) : 1;
    const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
    const c = stops[i].map((v, j) => Math.round(v + f * (stops[i + 1][j] - v)));
    return "rgb(" + c.join(",") + ")";
  }

  // Layers by shortest distance from the root along parent (or child) links.
  function layers(nodes, root, direction) {
    const kids = new Map();
    for (const n of nodes.values()) {
      for (const p of n.parents || []) {
        if (!nodes.has(p)) continue;
        if (!kids.has(p)) kids.set(p, []);
        kids.get(p).push(n.id);
      }
    }
    const next = direction === "ancestors"
      ? (id) => (nodes.get(id).parents || []).filter((p) => nodes.has(p))
      : (id) => kids.get(id) || [];
    const depth = new Map([[root, 0]]);
    let frontier = [root];
    while (frontier.length) {
      const nxt = [];
      for (const id of frontier) for (const o of next(id)) {
        if (!depth.has(o)) { depth.set(o, depth.get(id) + 1); nxt.push(o); }
      }
      frontier = nxt;
    }
    return { depth, kids };
  }

  function layout(nodes, root, direction) {
    const { depth, kids } = layers(nodes, root, direction);
    let maxD = 0;
    for (const d of depth.values()) maxD = Math.max(maxD, d);
    const cols = [];
    for (let d = 0; d <= maxD; d++) cols.push([]);
    for (const [id, d] of depth) cols[d].push(id);
    const pos = new Map();
    // order each column by the mean position of its already-placed neighbours (barycentre)
    cols[0].forEach((id, i) => pos.set(id, i));
    for (let d = 1; d <= maxD; d++) {
      const key = (id) => {
        const n = nodes.get(id);
        const nb = (direction === "ancestors" ? (kids.get(id) || []) : (n.parents || []))
          .filter((o) => depth.get(o) === d - 1);
        return nb.length ? nb.reduce((a, o) => a + pos.get(o), 0) / nb.length : 1e9;
      };
      const keyed = cols[d].map((id) => [key(id), id]);
      keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      cols[d] = keyed.map((k) => k[1]);
      cols[d].forEach((id, i) => pos.set(id, i));
    }
    return { cols, depth, maxD };
  }

  /* Render `graph` = {root, direction, nodes: Map(id -> node)} into `svg`.
     opts: {selected, onSelect(id), onExpand(id)} */
  function render(svg, graph, opts) {
    opts = opts || {};
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const nodes = graph.nodes;
    if (!nodes.has(graph.root)) return;
    const { cols, depth, maxD } = layout(nodes, graph.root, graph.direction);
    const dx = 96, dy = 46, pad = 30;
    const tallest = Math.max(...cols.map((c) => c.length));
    const W = pad * 2 + maxD * dx, H = pad * 2 + (tallest - 1) * dy;
    svg.setAttribute("width", Math.max(W, 200));
    svg.setAttribute("height", Math.max(H, 80));
    svg.setAttribute("viewBox", "0 0 " + Math.max(W, 200) + " " + Math.max(H, 80));
    const xy = new Map();
    cols.forEach((col, d) => {
      const off = (tallest - col.length) * dy / 2;
      // ancestors: the root on the right, time flows left to right
      const x = graph.direction === "ancestors" ? pad + (maxD - d) * dx : pad + d * dx;
      col.forEach((id, i) => xy.set(id, [x, pad + off + i * dy]));
    });
    let lo = Infinity, hi = -Infinity;
    for (const id of depth.keys()) {
      const s = nodes.get(id).score;
      if (s !== null && s !== undefined && isFinite(s)) { lo = Math.min(lo, s); hi = Math.max(hi, s); }
    }
    const edges = svgEl("g", { class: "edges" });
    for (const id of depth.keys()) {
      for (const p of nodes.get(id).parents || []) {
        if (!xy.has(p)) continue;
        const [x1, y1] = xy.get(p), [x2, y2] = xy.get(id);
        const mx = (x1 + x2) / 2;
        edges.appendChild(svgEl("path", {
          class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
        }));
      }
    }
    svg.appendChild(edges);
    const g = svgEl("g", { class: "nodes" });
    for (const id of depth.keys()) {
      const n = nodes.get(id);
      const [x, y] = xy.get(id);
      let cls = "node";
      if (n.more) cls += " more";
      if (id === graph.root) cls += " root";
      if (id === opts.selected) cls += " selected";
      const ng = svgEl("g", { class: cls, "data-id": id, transform: `translate(${x},${y})` });
      if (n.collapsed) ng.setAttribute("class", cls + " collapsed");
      ng.appendChild(svgEl("circle", { r: id === graph.root ? 9 : 7, fill: n.collapsed ? "#fff" : scoreColor(n.score, lo, hi) }));
      const label = svgEl("text", { x: 0, y: -11, "text-anchor": "middle" });
      label.textContent = n.collapsed ? "⋯" : "#" + id;
      ng.appendChild(label);
      const title = svgEl("title", {});
      const sc = n.score === null || n.score === undefined ? "-" : String(parseFloat(Number(n.score).toPrecision(4)));
      title.textContent = n.collapsed ? n.label : `#${id} score ${sc} ${n.operator || ""} gen ${n.generation}` +
        (n.status && n.status !== "ok" ? " " + n.status : "");
      ng.appendChild(title);
      const op = svgEl("text", { x: 0, y: 19, "text-anchor": "middle" });
      op.textContent = n.collapsed ? n.collapsed + " more" : sc;
      ng.appendChild(op);
      ng.addEventListener("click", () => opts.onSelect && opts.onSelect(id));
      ng.addEventListener("dblclick", () => opts.onExpand && opts.onExpand(id));
      g.appendChild(ng);
    }
    svg.appendChild(g);
  }


  function el(tag, attrs) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, String(attrs[k]));
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "-";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(parseFloat(v.toPrecision(6)));
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  /* Render a genome diff (list of entries from evosearch.ui.diff.genome_diff). */
  function renderDiff(diff) {
    const box = el("div", { class: "diffs" });
    if (!diff || !diff.length) { box.appendChild(el("p", { class: "note" }, "no change to the genome")); return box; }
    for (const d of diff) {
      const item = el("div", { class: "diff", "data-type": d.type });
      item.appendChild(el("div", { class: "path" }, (d.path || "(genome)") + "  " + d.type));
      if (d.type === "text") {
        for (const [tag, line] of d.lines) {
          const cls = tag === "+" ? "add" : tag === "-" ? "del" : tag === "@" ? "hunk" : "ctx";
          item.appendChild(el("div", { class: "diff-line " + cls }, (tag === "@" ? "" : tag + " ") + line));
        }
      } else if (d.type === "vector") {
        item.appendChild(el("div", { class: "note" },
          `${d.changed} of ${d.size} coordinates changed, L2 distance ${fmt(d.l2)}`));
        const t = el("table", {}, el("tr", {}, el("th", {}, "index"), el("th", {}, "parent"),
          el("th", {}, "child"), el("th", {}, "delta")));
        for (const [i, a, b] of d.deltas) {
          const delta = (typeof a === "number" && typeof b === "number") ? b - a : null;
          t.appendChild(el("tr", { class: "diff-line" }, el("td", {}, i), el("td", {}, fmt(a)), el("td", {}, fmt(b)),
            el("td", { class: delta > 0 ? "pos" : "neg" }, delta === null ? "" : (delta > 0 ? "+" : "") + fmt(delta))));
        }
        item.appendChild(t);
      } else if (d.type === "added") {
        item.appendChild(el("div", { class: "diff-line add" }, "+ " + fmt(d.new)));
      } else if (d.type === "removed") {
        item.appendChild(el("div", { class: "diff-line del" }, "- " + fmt(d.old)));
      } else {
        item.appendChild(el("div", { class: "diff-line del" }, "- " + fmt(d.old)));
        item.appendChild(el("div", { class: "diff-line add" }, "+ " + fmt(d.new)));
      }
      box.appendChild(item);
    }
    return box;
  }

  /* Append an individual's error, feedback, diff to its parent and genome to ``box``. */
  function renderRecordTail(box, d) {
    if (d.error) { box.appendChild(el("h3", {}, "error")); box.appendChild(el("pre", { class: "error" }, d.error)); }
    if (d.feedback) { box.appendChild(el("h3", {}, "feedback")); box.appendChild(el("pre", { class: "feedback" }, d.feedback)); }
    box.appendChild(el("h3", {}, d.diff_against === null ? "diff: no parent" : `diff to parent #${d.diff_against}`));
    const diffBox = el("div", { id: "diff" });
    if (d.diff) diffBox.appendChild(renderDiff(d.diff));
    box.appendChild(diffBox);
    box.appendChild(el("h3", {}, "genome"));
    box.appendChild(el("pre", { id: "genome" }, JSON.stringify(d.genome, null, 1)));
  }

  window.EvoTree = { render, scoreColor, svgEl, el, fmt, renderDiff, renderRecordTail };
})();
