// discover report: renders the JSON blob of report.py into plots, a table and a search tree.
// Hand-written (no library) so the page stays small and opens offline; everything that could be
// large (table rows, tree levels) is rendered on demand.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  performance.mark("report-data-parsed");
  const C = D.campaign, E = D.evaluations, N = D.nodes, G = D.edges, S = D.statuses;
  const OBJ = C.objective, MIN = OBJ.direction === "min";
  const STATUS_COLOURS = { ok: "#2b8a3e", infeasible: "#e08a00", failed: "#c92a2a", timeout: "#7048e8" };
  const statusColour = (s) => STATUS_COLOURS[S[s]] || "#555";
  const nEval = E.id.length, nNode = N.key.length;
  const rowOfId = new Map(E.id.map((id, i) => [id, i]));

  // ---------------------------------------------------------------- helpers
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const fmt = (v, digits) => {  // a number to `digits` significant digits, without trailing zeros
    if (v === null || v === undefined) return "\u2013";
    if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
    const [mantissa, exponent] = Number(v).toPrecision(digits || 6).split("e");
    const m = mantissa.includes(".") ? mantissa.replace(/\.?0+$/, "") : mantissa;
    return exponent === undefined ? m : `${m}e${exponent}`;
  };
  const fmtTime = (t) => (t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "\u2013");
  const better = (a, b) => (MIN ? a < b : a > b);
  const badge = (s) => `<span class="status" style="background:${statusColour(s)}">${esc(S[s])}</span>`;
  const kv = (rows) => `<table class="kv">${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`).join("")}</table>`;
  // certificates come compact; indent them when shown (text with NaN, or cut short, stays as it is)
  const indented = (text) => { try { return JSON.stringify(JSON.parse(text), null, 1); } catch (e) { return text; } };
  const evalLink = (id) => `<a class="eval-link" data-eval="${id}">#${id}</a>`;

  // ---------------------------------------------------------------- campaign
  function renderCampaign() {
    $("title").textContent = `discover report: ${C.game}`;
    const ok = E.status.filter((s) => S[s] === "ok").length;
    const last = C.runs[C.runs.length - 1], stopped = last ? last.stopped : "";
    let best = null, bestRow = -1;
    E.value.forEach((v, i) => { if (v !== null && (best === null || better(v, best))) { best = v; bestRow = i; } });
    $("summary").innerHTML = kv([
      ["game", esc(C.game)],
      ["objective", esc(OBJ.label)],
      ["status", esc(C.status)],
      ["stop reason", esc(stopped || "\u2013") + (C.reason ? `: ${esc(C.reason)}` : "")],
      ["runs", C.runs.length ? C.runs.map((r) => `${fmtTime(r.started)} \u2192 ${r.finished ? fmtTime(r.finished) : "(running or killed)"}: ` +
        `${r.done ?? "?"} done${r.budget ? ` of ${r.budget}` : ""}${r.stopped ? `, stopped: ${esc(r.stopped)}` : ""}${r.reason ? ` (${esc(r.reason)})` : ""}`).join("<br>") : "\u2013"],
      ["evaluations", `${nEval} (${ok} ok, ${nEval - ok} not ok)`],
      ["best " + esc(OBJ.name), best === null ? "none yet" : `${fmt(best, 10)} ${evalLink(E.id[bestRow])} ${esc(E.label[bestRow])}`],
      ["tree", `${nNode} nodes, ${G.parent.length} edges`],
      ["seed", esc(C.seed)], ["code version", esc(C.code_version)],
      ["created", fmtTime(C.created) + " UTC"], ["updated", fmtTime(C.updated) + " UTC"],
    ]);
    $("params").textContent = "params " + C.params;
    $("settings").textContent = "settings " + C.settings;
  }

  // ---------------------------------------------------------------- SVG plotter
  const extent = (a) => { let lo = Infinity, hi = -Infinity; for (const v of a) { if (v < lo) lo = v; if (v > hi) hi = v; } return [lo, hi]; };
  const W = 520, H = 260, M = { l: 64, r: 22, t: 10, b: 38 };
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
    const step0 = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= step0);
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
    return ticks;
  }
  // series: {name, x[], y[] (null: no value, drawn in a band under the axis), colour, kind: "step"|"points", ids[]}
  function plot(container, title, xlabel, ylabel, series) {
    const box = document.createElement("div");
    box.className = "plot";
    box.innerHTML = `<h3>${esc(title)}</h3>`;
    container.appendChild(box);
    let xs = [], ys = [], band = false;
    for (const s of series) for (let i = 0; i < s.x.length; i++) { xs.push(s.x[i]); if (s.x2) xs.push(s.x2[i]); if (s.y[i] === null) band = true; else ys.push(s.y[i]); }
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    box.appendChild(svg);
    if (!xs.length) { svg.innerHTML = `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`; return svg; }
    const bandH = band ? 16 : 0;
    let [x0, x1] = extent(xs), [y0, y1] = ys.length ? extent(ys) : [0, 1];
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
    const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    const pw = W - M.l - M.r, ph = H - M.t - M.b - bandH;
    const X = (x) => M.l + (x - x0) / (x1 - x0) * pw, Y = (y) => (y === null ? M.t + ph + bandH / 2 + 4 : M.t + ph - (y - y0) / (y1 - y0) * ph);
    let out = `<g class="grid">`;
    const yt = niceTicks(y0, y1, 5), xt = niceTicks(x0, x1, 6);
    for (const t of yt) out += `<line x1="${M.l}" x2="${M.l + pw}" y1="${Y(t)}" y2="${Y(t)}"/><text x="${M.l - 4}" y="${Y(t) + 4}" text-anchor="end">${fmt(t, 4)}</text>`;
    for (const t of xt) out += `<text x="${X(t)}" y="${M.t + ph + bandH + 14}" text-anchor="middle">${fmt(t, 4)}</text>`;
    out += `</g><line class="axis" x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${M.t + ph}"/><line class="axis" x1="${M.l}" x2="${M.l + pw}" y1="${M.t + ph}" y2="${M.t + ph}"/>`;
    if (band) out += `<text x="${M.l - 4}" y="${M.t + ph + bandH / 2 + 8}" text-anchor="end">no value</text>`;
    out += `<text x="${M.l + pw / 2}" y="${H - 4}" text-anchor="middle">${esc(xlabel)}</text>`;
    out += `<text transform="translate(12 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(ylabel)}</text>`;
    for (const s of series) {
      let d = "";
      if (s.kind === "step") {
        for (let i = 0; i < s.x.length; i++) d += (i ? `H${X(s.x[i]).toFixed(1)}V` : `M${X(s.x[i]).toFixed(1)} `) + Y(s.y[i]).toFixed(1);
        if (s.x.length) d += `H${X(x1).toFixed(1)}`;
        out += `<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="1.8"/>`;
      } else if (s.kind === "intervals") {  // a horizontal segment [x, x2] at each y
        for (let i = 0; i < s.x.length; i++) d += `M${X(s.x[i]).toFixed(1)} ${Y(s.y[i]).toFixed(1)}H${X(s.x2[i]).toFixed(1)}`;
        out += `<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"/>`;
      } else if (s.kind === "line") {
        for (let i = 0; i < s.x.length; i++) d += `${i ? "L" : "M"}${X(s.x[i]).toFixed(1)} ${Y(s.y[i]).toFixed(1)}`;
        out += `<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="1" stroke-dasharray="4 3"/>`;
      } else {
        for (let i = 0; i < s.x.length; i++) d += `M${X(s.x[i]).toFixed(1)} ${Y(s.y[i]).toFixed(1)}h0`;
        out += `<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="4" stroke-linecap="round" opacity="0.75"/>`;
      }
    }
    svg.innerHTML = out;
    const legend = document.createElement("div");
    legend.className = "plot-legend";
    legend.innerHTML = series.map((s) => `<span style="color:${s.colour}">\u25CF ${esc(s.name)}${s.kind === "points" ? ` (${s.x.length})` : ""}</span>`).join("");
    box.appendChild(legend);
    // hover and click: the nearest point on screen, found by a linear scan of the visible series
    const pts = [];
    for (const s of series) for (let i = 0; i < s.x.length; i++) pts.push([X(s.x[i]), Y(s.y[i]), s, i]);
    const nearest = (ev) => {
      const r = svg.getBoundingClientRect(), sx = (ev.clientX - r.left) * W / r.width, sy = (ev.clientY - r.top) * H / r.height;
      let best = null, bd = 400;
      for (const p of pts) { const dd = (p[0] - sx) ** 2 + (p[1] - sy) ** 2; if (dd < bd) { bd = dd; best = p; } }
      return best;
    };
    const tip = $("tip");
    svg.addEventListener("mousemove", (ev) => {
      const p = nearest(ev);
      if (!p) { tip.hidden = true; return; }
      const [, , s, i] = p;
      tip.textContent = `${s.name}\n${xlabel}: ${fmt(s.x[i])}\n${ylabel}: ${fmt(s.y[i])}` + (s.ids ? `\nevaluation #${s.ids[i]}` : "");
      tip.style.left = ev.clientX + 12 + "px"; tip.style.top = ev.clientY + 12 + "px"; tip.hidden = false;
    });
    svg.addEventListener("mouseleave", () => { tip.hidden = true; });
    svg.addEventListener("click", (ev) => { const p = nearest(ev); if (p && p[2].ids) showEvaluation(p[2].ids[p[3]], true); });
    return svg;
  }

  function renderPlots() {
    const grid = $("plot-grid");
    const order = E.id.map((_, i) => i).sort((a, b) => E.finished[a] - E.finished[b] || E.id[a] - E.id[b]);
    const t0 = C.created || extent(E.started)[0];
    const bestN = { name: "best so far", x: [], y: [], ids: [], colour: "#1f5fa8", kind: "step" };
    const bestT = { name: "best so far", x: [], y: [], ids: [], colour: "#1f5fa8", kind: "step" };
    let best = null;
    order.forEach((r, k) => {
      const v = E.value[r];
      if (v !== null && (best === null || better(v, best))) {
        best = v;
        bestN.x.push(k + 1); bestN.y.push(v); bestN.ids.push(E.id[r]);
        bestT.x.push(E.finished[r] - t0); bestT.y.push(v); bestT.ids.push(E.id[r]);
      }
    });
    if (best !== null) {  // the line goes on to the last evaluation: nothing better came after
      const last = order[order.length - 1];
      bestN.x.push(nEval); bestN.y.push(best); bestN.ids.push(bestN.ids[bestN.ids.length - 1]);
      bestT.x.push(E.finished[last] - t0); bestT.y.push(best); bestT.ids.push(bestT.ids[bestT.ids.length - 1]);
    }
    const byStatus = (y) => S.map((name, s) => {
      const x = [], ys = [], ids = [];
      order.forEach((r, k) => { if (E.status[r] === s) { x.push(k + 1); ys.push(y(r)); ids.push(E.id[r]); } });
      return { name, x, y: ys, ids, colour: statusColour(s), kind: "points" };
    }).filter((s) => s.x.length);
    const label = `${OBJ.name} (${MIN ? "lower" : "higher"} is better)`;
    plot(grid, "Best so far against evaluations", "evaluations finished", label, [bestN]).id = "plot-best-evals";
    plot(grid, "Best so far against wall time", "seconds since the campaign was created", label, [bestT]).id = "plot-best-time";
    plot(grid, "Values per evaluation, by status", "evaluation (in finishing order)", label, byStatus((r) => E.value[r])).id = "plot-values";
    plot(grid, "Cost per evaluation", "evaluation (in finishing order)", "seconds", byStatus((r) => E.cost[r])).id = "plot-cost";
  }

  // ---------------------------------------------------------------- failures
  function renderFailures() {
    const counts = S.map(() => 0);
    E.status.forEach((s) => counts[s]++);
    $("status-counts").innerHTML = `<table class="data"><thead><tr><th>status</th><th>evaluations</th><th>share</th></tr></thead><tbody>` +
      S.map((name, s) => `<tr><td>${badge(s)}</td><td class="num">${counts[s]}</td><td class="num">${nEval ? (100 * counts[s] / nEval).toFixed(1) : 0}%</td></tr>`).join("") +
      `</tbody></table>`;
    // messages grouped by kind (their numbers masked, by discover.types.failure_kind), so "evaluation 3
    // raised" and "evaluation 13 raised" count together
    const groups = new Map();
    for (let r = 0; r < nEval; r++) {
      if (S[E.status[r]] === "ok" && !E.message[r]) continue;
      const key = E.status[r] + "\u0000" + (E.kind[r] || E.message[r] || "(no message)");
      const g = groups.get(key) || groups.set(key, { status: E.status[r], text: E.message[r] || "(no message)", ids: [] }).get(key);
      g.ids.push(E.id[r]);
    }
    const top = [...groups.values()].sort((a, b) => b.ids.length - a.ids.length).slice(0, 12);
    $("messages").innerHTML = top.length ? `<table class="data" id="message-table"><thead><tr><th>count</th><th>status</th><th>message (an example)</th><th>evaluations</th></tr></thead><tbody>` +
      top.map((g) => `<tr><td class="num">${g.ids.length}</td><td>${badge(g.status)}</td><td class="msg" title="${esc(g.text)}">${esc(g.text)}</td><td>${g.ids.slice(0, 5).map(evalLink).join("")}${g.ids.length > 5 ? "\u2026" : ""}</td></tr>`).join("") +
      `</tbody></table>` : "<p>no failures</p>";
  }

  // ---------------------------------------------------------------- evaluations table
  const COLUMNS = [
    ["id", "id", (r) => E.id[r], "num"], ["label", "formulation", (r) => E.label[r], "lbl"],
    ["value", OBJ.name, (r) => E.value[r], "num"], ["status", "status", (r) => S[E.status[r]], ""],
    ["message", "message", (r) => E.message[r], "msg"], ["cost", "cost (s)", (r) => E.cost[r], "num"],
    ["worker", "worker", (r) => E.worker[r], ""], ["started", "started (UTC)", (r) => E.started[r], ""],
  ];
  const PAGE = 100;
  const table = { rows: E.id.map((_, i) => i), sort: "id", desc: false, page: 0 };
  function applyTable() {
    const q = $("filter").value.trim().toLowerCase(), st = $("status-filter").value;
    let rows = [];
    for (let r = 0; r < nEval; r++) {
      if (st !== "" && E.status[r] !== +st) continue;
      if (q && !(String(E.id[r]) === q.replace(/^#/, "") || E.label[r].toLowerCase().includes(q) ||
        E.message[r].toLowerCase().includes(q) || E.worker[r].toLowerCase().includes(q))) continue;
      rows.push(r);
    }
    const col = COLUMNS.find((c) => c[0] === table.sort), get = col[2], sign = table.desc ? -1 : 1;
    rows.sort((a, b) => {
      const va = get(a), vb = get(b);
      if (va === null || vb === null) return va === vb ? a - b : va === null ? 1 : -1;  // no value: last
      return (va < vb ? -1 : va > vb ? 1 : a - b) * sign;
    });
    table.rows = rows;
    table.page = Math.min(table.page, Math.max(0, Math.ceil(rows.length / PAGE) - 1));
    drawTable();
  }
  function drawTable() {
    const { rows, page } = table;
    $("eval-table").tHead.innerHTML = "<tr>" + COLUMNS.map((c) => `<th data-col="${c[0]}" class="${c[0] === table.sort ? (table.desc ? "sorted-desc" : "sorted-asc") : ""}">${esc(c[1])}</th>`).join("") + "</tr>";
    const slice = rows.slice(page * PAGE, (page + 1) * PAGE);
    $("eval-table").tBodies[0].innerHTML = slice.map((r) => `<tr data-row="${r}"><td class="num">${E.id[r]}</td><td class="lbl" title="${esc(E.label[r])}">${esc(E.label[r])}</td>` +
      `<td class="num">${fmt(E.value[r], 8)}</td><td>${badge(E.status[r])}</td><td class="msg" title="${esc(E.message[r])}">${esc(E.message[r])}</td>` +
      `<td class="num">${fmt(E.cost[r], 3)}</td><td>${esc(E.worker[r])}</td><td>${fmtTime(E.started[r])}</td></tr>`).join("");
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    $("page").textContent = `page ${page + 1} of ${pages}`;
    $("table-count").textContent = `${rows.length} of ${nEval} evaluations`;
    $("prev").disabled = page === 0; $("next").disabled = page >= pages - 1;
  }
  function initTable() {
    S.forEach((name, s) => $("status-filter").insertAdjacentHTML("beforeend", `<option value="${s}">${esc(name)}</option>`));
    $("eval-table").tHead.addEventListener("click", (ev) => {
      const th = ev.target.closest("th"); if (!th) return;
      if (table.sort === th.dataset.col) table.desc = !table.desc; else { table.sort = th.dataset.col; table.desc = th.dataset.col === "value" ? !MIN : false; }
      applyTable();
    });
    let timer = 0;
    $("filter").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { table.page = 0; applyTable(); }, 150); });
    $("status-filter").addEventListener("change", () => { table.page = 0; applyTable(); });
    $("prev").addEventListener("click", () => { table.page--; drawTable(); });
    $("next").addEventListener("click", () => { table.page++; drawTable(); });
    $("eval-table").tBodies[0].addEventListener("click", (ev) => { const tr = ev.target.closest("tr"); if (tr) showEvaluation(E.id[+tr.dataset.row], false); });
    applyTable();
  }

  function evaluationHtml(r) {
    const node = E.node[r];
    return `<h3>evaluation #${E.id[r]} ${badge(E.status[r])}</h3>` + kv([
      ["formulation", esc(E.label[r])], [OBJ.name, fmt(E.value[r], 12)], ["message", esc(E.message[r] || "\u2013")],
      ["cost", `${fmt(E.cost[r], 4)} s`], ["worker", `${esc(E.worker[r])} (${esc(E.device[r])})`],
      ["started", fmtTime(E.started[r]) + " UTC"], ["finished", fmtTime(E.finished[r]) + " UTC"],
      ["tree", node >= 0 ? `<a class="eval-link" data-node="${node}">show its node in the tree</a>` : "not in the tree"],
    ]) + `<div class="certificate"><b>certificate (artifacts)</b><pre class="artifacts">${E.artifacts[r] ? esc(indented(E.artifacts[r])) : "(none)"}</pre></div>`;
  }
  function showEvaluation(id, scroll) {
    const r = rowOfId.get(id); if (r === undefined) return;
    $("eval-detail").innerHTML = evaluationHtml(r);
    if (scroll) $("eval-detail").scrollIntoView({ block: "nearest" });
  }

  // ---------------------------------------------------------------- search tree
  const childEdges = Array.from({ length: nNode }, () => []), parentEdges = Array.from({ length: nNode }, () => []);
  for (let e = 0; e < G.parent.length; e++) { childEdges[G.parent[e]].push(e); parentEdges[G.child[e]].push(e); }
  for (const list of childEdges) list.sort((a, b) => N.visits[G.child[b]] - N.visits[G.child[a]] || G.child[a] - G.child[b]);
  const atNode = Array.from({ length: nNode }, () => []);  // evaluations whose path ends at a node
  E.node.forEach((n, r) => { if (n >= 0) atNode[n].push(r); });
  const failedOnly = (n) => { const c = N.counts[n]; return c.some((k) => k > 0) && c[0] === 0; };  // S[0] is "ok"
  const failedText = (n) => S.filter((name, s) => N.counts[n][s] > 0).join("/");  // "failed", "infeasible/timeout"...
  let v0 = Infinity, v1 = -Infinity;
  // the colour scale spans values only: a branch where nothing succeeded holds a penalty, not a value
  N.value.forEach((v, n) => { if (v !== null && !failedOnly(n)) { v0 = Math.min(v0, v); v1 = Math.max(v1, v); } });
  function valueColour(v) {  // from pale (worst) to deep blue (best), whichever direction is better
    let t = v1 > v0 ? (v - v0) / (v1 - v0) : 1;
    if (MIN) t = 1 - t;
    const h = 210, l = 88 - 55 * t, s = 35 + 45 * t;
    return `hsl(${h} ${s}% ${l}%)`;
  }
  const FAILED_COLOUR = "#e03131", NONE_COLOUR = "#ffffff";
  function nodeColour(n) {
    if (failedOnly(n)) return FAILED_COLOUR;
    return N.value[n] === null ? NONE_COLOUR : valueColour(N.value[n]);
  }
  function renderLegend() {
    const lo = MIN ? v1 : v0, hi = MIN ? v0 : v1;
    $("tree-legend").innerHTML = (v0 <= v1 ? `${esc(OBJ.name)}: worst ${fmt(lo, 4)}<span class="bar" style="background:linear-gradient(90deg, ${valueColour(lo)}, ${valueColour(hi)})"></span>${fmt(hi, 4)} best` : "no values yet") +
      ` &nbsp; <span class="swatch" style="display:inline-block;width:10px;height:10px;background:${FAILED_COLOUR}"></span> no evaluation below succeeded (failed, infeasible or timed out)` +
      ` &nbsp; <span class="pv">\u2605</span> principal variation &nbsp; (${nNode} nodes; levels open on demand, ${CHUNK} children at a time)`;
  }
  const CHUNK = 100;
  function nodeRow(n, edge) {
    const li = document.createElement("li");
    li.dataset.node = n;
    const kids = childEdges[n].length;
    const value = failedOnly(n) ? failedText(n) : fmt(N.value[n], 5);
    const move = edge === null ? "" : `<span class="move">${esc(G.label[edge])}</span> \u2192 `;
    li.innerHTML = `<div class="row" data-node="${n}" data-edge="${edge === null ? "" : edge}"><span class="toggle">${kids ? "\u25B8" : ""}</span>` +
      `<span class="swatch" style="background:${nodeColour(n)}"></span>${N.principal[n] ? '<span class="pv">\u2605</span> ' : ""}${move}${esc(N.label[n])}` +
      `<span class="stats">N=${N.visits[n]} ${esc(OBJ.name)}=${value}${kids ? ` \u00B7 ${kids} children` : ""}${N.solved[n] ? " \u00B7 solved" : ""}</span></div>`;
    return li;
  }
  function appendChildren(ul, n, from) {
    const list = childEdges[n], stop = Math.min(list.length, from + CHUNK);
    for (let k = from; k < stop; k++) ul.appendChild(nodeRow(G.child[list[k]], list[k]));
    if (stop < list.length) {
      const b = document.createElement("button");
      b.className = "more"; b.textContent = `show ${Math.min(CHUNK, list.length - stop)} more (${list.length - stop} left)`;
      b.addEventListener("click", () => { b.remove(); appendChildren(ul, n, stop); });
      ul.appendChild(b);
    }
  }
  function toggle(li, open) {
    const n = +li.dataset.node, ul = li.querySelector(":scope > ul");
    if (!childEdges[n].length) return;
    const isOpen = ul && !ul.hidden;
    if (open === undefined) open = !isOpen;
    if (open && !ul) { const u = document.createElement("ul"); appendChildren(u, n, 0); li.appendChild(u); }
    else if (ul) ul.hidden = !open;
    li.querySelector(":scope > .row .toggle").textContent = open ? "\u25BE" : "\u25B8";
  }
  function selectRow(row) {
    document.querySelectorAll(".tree .row.selected").forEach((el) => el.classList.remove("selected"));
    row.classList.add("selected");
    showNode(+row.dataset.node);
  }
  function initTree() {
    renderLegend();
    const roots = [];
    for (let n = 0; n < nNode; n++) if (!parentEdges[n].length) roots.push(n);
    const ul = document.createElement("ul");
    roots.forEach((n) => ul.appendChild(nodeRow(n, null)));
    $("tree-view").appendChild(ul);
    if (roots.length === 1) toggle(ul.firstChild, true);
    if (!nNode) $("tree-view").textContent = "no search tree (a tree-less method, or nothing evaluated yet)";
    $("tree-view").addEventListener("click", (ev) => {
      const row = ev.target.closest(".row"); if (!row) return;
      if (ev.target.classList.contains("toggle")) toggle(row.parentNode); else { toggle(row.parentNode, true); selectRow(row); }
    });
  }
  // open the tree along a node's first path from a root, and select it
  function revealNode(n) {
    const chain = [n];
    while (parentEdges[chain[0]].length && chain.length < 100000) chain.unshift(G.parent[parentEdges[chain[0]][0]]);
    let li = [...$("tree-view").querySelector("ul").children].find((el) => +el.dataset.node === chain[0]);
    for (let k = 1; li && k < chain.length; k++) {
      toggle(li, true);
      let ul = li.querySelector(":scope > ul"), next;
      while (!(next = [...ul.children].find((el) => el.dataset && +el.dataset.node === chain[k]))) {
        const more = ul.querySelector(":scope > button.more"); if (!more) break; more.click();
      }
      li = next;
    }
    if (li) { const row = li.querySelector(":scope > .row"); selectRow(row); row.scrollIntoView({ block: "center" }); }
  }

  const edgeCells = (e) => [G.prior[e], G.score[e], G.probability[e], G.acquisition[e], G.feasibility[e]].map((v) => `<td class="num">${fmt(v, 4)}</td>`).join("");
  const EDGE_HEAD = "<th>prior</th><th>score</th><th>probability</th><th>acquisition</th><th>P(ok)</th>";
  function showNode(n) {
    const counts = S.map((name, s) => N.counts[n][s] ? `${badge(s)} ${N.counts[n][s]}` : "").filter(Boolean).join(" ") || "\u2013";
    const ids = N.evaluations[n];
    let bestBelow = -1;
    for (const id of ids) { const r = rowOfId.get(id); if (r !== undefined && E.value[r] !== null && (bestBelow < 0 || better(E.value[r], E.value[bestBelow]))) bestBelow = r; }
    let html = `<h3>${esc(N.label[n])}</h3>` + kv([
      ["formulation", `<span class="node-label">${esc(N.label[n])}</span>`], ["key", `<code>${esc(N.key[n])}</code>`],
      ["player to move", esc(N.players[N.player[n]])], ["depth", N.depth[n]], ["visits", N.visits[n]],
      [`${OBJ.name} (backed up)`, failedOnly(n) ? `${failedText(n)}: no evaluation below succeeded` : fmt(N.value[n], 10)],
      ["mean (the planner's: a failure counts at its penalty)", failedOnly(n) ? "\u2013 (penalties only)" : fmt(N.mean[n], 8)], ["best", fmt(N.best[n], 10)], ["worst", fmt(N.worst[n], 10)],
      ["evaluations below", counts], ["solved", N.solved[n] ? "yes" : "no"], ["principal variation", N.principal[n] ? "\u2605 yes" : "no"],
    ]);
    if (parentEdges[n].length) {
      html += `<h4>incoming moves</h4><table class="data"><thead><tr><th>from</th><th>move</th>${EDGE_HEAD}</tr></thead><tbody>` +
        parentEdges[n].map((e) => `<tr><td><a class="eval-link" data-node="${G.parent[e]}">${esc(N.label[G.parent[e]])}</a></td><td>${esc(G.label[e])}</td>${edgeCells(e)}</tr>`).join("") + "</tbody></table>";
    }
    if (childEdges[n].length) {
      const list = childEdges[n].slice(0, 200);
      html += `<h4>children (${childEdges[n].length}${childEdges[n].length > 200 ? ", the 200 most visited" : ""})</h4><table class="data children"><thead><tr><th>move</th><th>N</th><th>${esc(OBJ.name)}</th>${EDGE_HEAD}</tr></thead><tbody>` +
        list.map((e) => { const c = G.child[e]; return `<tr><td><a class="eval-link" data-node="${c}">${esc(G.label[e])}</a>${N.principal[c] ? ' <span class="pv">\u2605</span>' : ""}</td><td class="num">${N.visits[c]}</td><td class="num">${failedOnly(c) ? failedText(c) : fmt(N.value[c], 5)}</td>${edgeCells(e)}</tr>`; }).join("") + "</tbody></table>";
    }
    html += `<h4>evaluations through this node (${ids.length})</h4><div class="eval-ids">${ids.slice(0, 200).map(evalLink).join(" ")}${ids.length > 200 ? ` \u2026 and ${ids.length - 200} more (filter the table)` : ""}</div>`;
    if (atNode[n].length) {
      html += `<h4>evaluated here</h4>` + atNode[n].map((r) => `<div class="at-node">${evaluationHtml(r)}</div>`).join("");
    } else if (bestBelow >= 0) {
      html += `<h4>the best evaluation below</h4>${evaluationHtml(bestBelow)}`;
    }
    $("node-detail").innerHTML = html;
  }
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest("a.eval-link"); if (!a) return;
    if (a.dataset.node !== undefined) revealNode(+a.dataset.node); else showEvaluation(+a.dataset.eval, true);
  });

  // ---------------------------------------------------------------- calibration (drawn only when given)
  // points: [predicted, low, high, observed] with a 95% leave-one-out interval [low, high]
  function renderCalibration(points) {
    if (!points || !points.length) return;
    $("calibration").hidden = false;
    const ok = points.filter((p) => p.every((v) => v !== null));
    const inside = ok.filter((p) => p[1] <= p[3] && p[3] <= p[2]).length;
    const lo = Math.min(...ok.map((p) => Math.min(p[1], p[3]))), hi = Math.max(...ok.map((p) => Math.max(p[2], p[3])));
    plot($("calibration-plot"),
      `Leave-one-out prediction against the evaluated value: ${inside} of ${ok.length} inside their 95% interval`,
      "predicted " + OBJ.name, "observed " + OBJ.name,
      [{ name: "95% interval", x: ok.map((p) => p[1]), x2: ok.map((p) => p[2]), y: ok.map((p) => p[3]), colour: "#9db9dd", kind: "intervals" },
       { name: "predicted = observed", x: [lo, hi], y: [lo, hi], colour: "#999999", kind: "line" },
       { name: "evaluations", x: ok.map((p) => p[0]), y: ok.map((p) => p[3]), colour: "#1f5fa8", kind: "points" }]);
  }

  renderCampaign();
  renderPlots();
  renderFailures();
  initTable();
  initTree();
  renderCalibration(D.calibration);
  // the first render is done: tests and benchmarks wait for this mark
  performance.mark("report-rendered");
  requestAnimationFrame(() => { document.body.dataset.ready = performance.now().toFixed(1); });
})();
