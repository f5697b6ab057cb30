// Forewarn dashboard: each page fetches /api/v1 and draws with Plotly (served locally, no CDN).
"use strict";
const API = "/api/v1";
const COLOURS = { low: "#2e9d57", medium: "#e0b000", high: "#e8731c", critical: "#c8202f", unknown: "#9aa0a6" };
const LEVELS = ["low", "medium", "high", "critical"];
const PLOT_CONFIG = { displaylogo: false, responsive: true };

async function getJSON(path) {
  const response = await fetch(API + path, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = JSON.stringify((await response.json()).detail); } catch (e) { /* keep statusText */ }
    throw new Error(`${path}: ${response.status} ${detail}`);
  }
  return response.json();
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== "") node.textContent = text;
  return node;
}

function fmt(value, digits = 0) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function fmtTime(iso) { return iso ? iso.replace("T", " ").slice(0, 19) : "–"; }

function layout(title, extra = {}) {
  return Object.assign({ title: { text: title, font: { size: 14 } }, margin: { l: 55, r: 20, t: 40, b: 45 },
                         paper_bgcolor: "#fff", plot_bgcolor: "#fff" }, extra);
}

function tableRows(tbody, rows) {
  tbody.replaceChildren();
  for (const cells of rows) {
    const tr = el("tr");
    for (const cell of cells) {
      const td = el("td");
      if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
}

function badge(level) {
  const span = el("span", { class: "badge", style: `background:${COLOURS[level] || COLOURS.unknown}` }, level);
  return span;
}

// -- fleet --------------------------------------------------------------------------------------------------
async function fleetPage() {
  const [tree, fleet] = await Promise.all([getJSON("/hierarchy"), getJSON("/fleet/health")]);
  const siteSel = document.getElementById("site-filter");
  const lineSel = document.getElementById("line-filter");
  for (const site of tree) {
    if (site.site_id !== null) siteSel.appendChild(el("option", { value: site.site_id }, site.site_id));
  }
  function fillLines() {
    lineSel.replaceChildren(el("option", { value: "" }, "all lines"));
    for (const site of tree) {
      if (siteSel.value && site.site_id !== siteSel.value) continue;
      for (const line of site.lines) {
        if (line.line_id !== null) lineSel.appendChild(el("option", { value: line.line_id }, line.line_id));
      }
    }
  }
  function draw() {
    const grid = document.getElementById("fleet-grid");
    grid.replaceChildren();
    const shown = fleet.filter((a) => (!siteSel.value || a.site_id === siteSel.value) &&
                                      (!lineSel.value || a.line_id === lineSel.value));
    const order = { critical: 0, high: 1, medium: 2, low: 3, unknown: 4 };
    shown.sort((a, b) => (order[a.risk_level] - order[b.risk_level]) || ((a.probability ?? 0) < (b.probability ?? 0) ? 1 : -1));
    const counts = {};
    for (const asset of shown) {
      counts[asset.risk_level] = (counts[asset.risk_level] || 0) + 1;
      const cell = el("a", { class: `cell risk-${asset.risk_level}`, href: `/assets/${encodeURIComponent(asset.asset_id)}`,
                             "data-asset-id": asset.asset_id, "data-risk": asset.risk_level,
                             title: asset.recommended_action });
      cell.appendChild(el("div", { class: "id" }, asset.asset_id));
      cell.appendChild(el("div", { class: "num" }, `health ${fmt(asset.health)} · ${asset.risk_level}`));
      cell.appendChild(el("div", { class: "num" }, asset.rul === null ? "RUL –" : `RUL ${fmt(asset.rul)} ${asset.unit}`));
      grid.appendChild(cell);
    }
    document.getElementById("fleet-counts").textContent =
      `${shown.length} assets: ` + ["critical", "high", "medium", "low", "unknown"].map((l) => `${counts[l] || 0} ${l}`).join(", ");
  }
  fillLines();
  siteSel.addEventListener("change", () => { fillLines(); draw(); });
  lineSel.addEventListener("change", draw);
  draw();
}

// -- asset --------------------------------------------------------------------------------------------------
async function assetPage() {
  const id = document.body.dataset.assetId;
  const base = `/assets/${encodeURIComponent(id)}`;
  const [health, trend, readings, events] = await Promise.all([
    getJSON(`${base}/health`), getJSON(`${base}/trend`), getJSON(`${base}/readings?limit=2000`), getJSON(`${base}/events`)]);
  const summary = document.getElementById("asset-summary");
  const cards = [
    ["health", fmt(health.health)], ["risk", health.risk_level],
    ["failure probability", health.probability === null ? "–" : `${fmt(100 * health.probability, 1)} %`],
    [`RUL (${health.unit || "units"})`, health.rul === null ? "–" : `${fmt(health.rul)} [${fmt(health.rul_low)}–${fmt(health.rul_high)}]`],
    ["class / line", `${health.asset_class} / ${health.line_id ?? "–"}`],
    ["open case", health.open_case === null ? "none" : `#${health.open_case}`],
  ];
  for (const [label, value] of cards) {
    const card = el("div", { class: "card" });
    card.appendChild(el("div", { class: "label" }, label));
    const v = el("div", { class: "value" }, value);
    if (label === "risk") v.style.color = COLOURS[value] || COLOURS.unknown;
    card.appendChild(v);
    summary.appendChild(card);
  }
  const action = el("div", { class: "card action", id: "recommended-action" });
  action.appendChild(el("div", { class: "label" }, `recommended action (horizon ${fmt(health.horizon)} ${health.unit})`));
  action.appendChild(el("div", { class: "value" }, health.recommended_action));
  summary.appendChild(action);

  await Plotly.newPlot("risk-trend", [
    { x: trend.ts, y: trend.probability, name: "failure probability", line: { color: COLOURS.critical } },
    { x: trend.ts, y: trend.ts.map(() => health.threshold), name: "alert threshold", line: { dash: "dot", color: "#555" } },
  ], layout("Failure probability within the horizon", { yaxis: { range: [0, 1] } }), PLOT_CONFIG);
  const rulTraces = trend.rul.length ? [
    { x: trend.ts, y: trend.rul_high, name: "RUL 95 %", line: { width: 0 }, showlegend: false },
    { x: trend.ts, y: trend.rul_low, name: "90 % interval", fill: "tonexty", line: { width: 0 }, fillcolor: "rgba(95,179,255,.3)" },
    { x: trend.ts, y: trend.rul, name: "RUL", line: { color: "#1f6fb2" } },
  ] : [{ x: trend.ts, y: trend.health, name: "health" }];
  await Plotly.newPlot("rul-trend", rulTraces, layout(trend.rul.length ? `Remaining useful life (${trend.unit})` : "Health"), PLOT_CONFIG);
  const contrib = [...health.contributions].reverse();
  await Plotly.newPlot("contributions", [{
    type: "bar", orientation: "h", y: contrib.map((c) => c.sensor), x: contrib.map((c) => c.contribution),
    marker: { color: contrib.map((c) => (c.contribution > 0 ? COLOURS.critical : COLOURS.low)) },
  }], layout("Contributing sensors (positive raises risk)", { margin: { l: 120, r: 20, t: 40, b: 45 } }), PLOT_CONFIG);
  const sensorTraces = Object.entries(readings.values).map(([name, values]) => ({ x: readings.ts, y: values, name, mode: "lines" }));
  await Plotly.newPlot("sensor-trends", sensorTraces, layout("Sensor trends"), PLOT_CONFIG);
  tableRows(document.querySelector("#events tbody"), events.length ? events.map((e) =>
    [fmtTime(e.ts), e.kind, e.failure_mode ?? "", e.action ?? "", e.note ?? ""]) : [["no events", "", "", "", ""]]);
}

// -- alerts -------------------------------------------------------------------------------------------------
async function alertsPage() {
  const [alerts, cases] = await Promise.all([getJSON("/alerts?limit=5000"), getJSON("/cases?limit=5000")]);
  const traces = LEVELS.map((level) => {
    const rows = alerts.filter((a) => a.risk_level === level);
    return { type: "scatter", mode: "markers", name: level, x: rows.map((a) => a.ts), y: rows.map((a) => a.asset_id),
             text: rows.map((a) => `p=${fmt(a.probability, 2)} case #${a.case_id}`), marker: { color: COLOURS[level], size: 10 } };
  });
  await Plotly.newPlot("alert-timeline", traces,
    layout(`Alert timeline (${alerts.length} alerts)`, { yaxis: { type: "category", automargin: true } }), PLOT_CONFIG);
  tableRows(document.querySelector("#cases tbody"), cases.length ? cases.map((c) => {
    const link = el("a", { href: `/assets/${encodeURIComponent(c.asset_id)}` }, c.asset_id);
    return [`#${c.case_id}`, link, c.status, badge(c.risk_level), fmtTime(c.opened_ts), String(c.n_alerts),
            c.top_sensors.join(", "), c.note ?? ""];
  }) : [["no cases", "", "", "", "", "", "", ""]]);
}

// -- risk ---------------------------------------------------------------------------------------------------
async function riskPage() {
  const fleet = await getJSON("/fleet/health");
  const counts = [...LEVELS, "unknown"].map((l) => fleet.filter((a) => a.risk_level === l).length);
  await Plotly.newPlot("risk-levels", [{ type: "bar", x: [...LEVELS, "unknown"], y: counts,
    marker: { color: [...LEVELS, "unknown"].map((l) => COLOURS[l]) } }], layout("Assets per risk level"), PLOT_CONFIG);
  const scored = fleet.filter((a) => a.probability !== null);
  await Plotly.newPlot("probability-histogram", [{ type: "histogram", x: scored.map((a) => a.probability),
    xbins: { start: 0, end: 1, size: 0.05 }, marker: { color: "#1f6fb2" } }],
    layout("Failure probability within the horizon", { xaxis: { range: [0, 1] } }), PLOT_CONFIG);
  await Plotly.newPlot("rul-vs-probability", [{ type: "scatter", mode: "markers", x: scored.map((a) => a.rul),
    y: scored.map((a) => a.probability), text: scored.map((a) => a.asset_id),
    marker: { color: scored.map((a) => COLOURS[a.risk_level]), size: 9 } }],
    layout("RUL against failure probability", { xaxis: { title: { text: "RUL" } }, yaxis: { title: { text: "probability" } } }), PLOT_CONFIG);
}

// -- models -------------------------------------------------------------------------------------------------
async function modelsPage() {
  const models = await getJSON("/models");
  const root = document.getElementById("models");
  if (!models.length) { root.appendChild(el("p", { class: "empty" }, "No models are served (start with --models DIR).")); return; }
  for (const [i, model] of models.entries()) {
    const box = el("section", { class: "model", "data-model-id": model.model_id });
    box.appendChild(el("h2", {}, `${model.model_id} — live: ${model.active} (${model.live.model}, ${model.live.task})`));
    box.appendChild(el("p", {}, `horizon ${model.live.horizon} ${model.live.unit}, window ${model.live.window}, ` +
      `${model.live.n_features} features from ${model.live.channels.length} channels, calibrated: ${model.live.calibrated}`));
    const table = el("table", { class: "table" });
    const metricNames = [...new Set(model.versions.flatMap((v) => Object.keys(v.metrics)))];
    const head = el("tr");
    for (const h of ["version", "live", "model", "features", ...metricNames]) head.appendChild(el("th", {}, h));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    tableRows(body, model.versions.map((v) => [v.version, v.active ? "yes" : "", v.model, String(v.n_features),
      ...metricNames.map((m) => (v.metrics[m] === undefined ? "" : fmt(v.metrics[m], 3)))]));
    box.appendChild(table);
    if (metricNames.length) {
      const chart = el("div", { class: "chart", id: `metrics-${i}` });
      box.appendChild(chart);
      root.appendChild(box);
      await Plotly.newPlot(chart, metricNames.map((m) => ({ type: "bar", name: m, x: model.versions.map((v) => v.version),
        y: model.versions.map((v) => v.metrics[m] ?? null) })), layout("Metrics by version"), PLOT_CONFIG);
    } else {
      root.appendChild(box);
    }
  }
}

const PAGES = { fleet: fleetPage, asset: assetPage, alerts: alertsPage, risk: riskPage, models: modelsPage };

window.addEventListener("DOMContentLoaded", async () => {
  try {
    await PAGES[document.body.dataset.page]();
    document.body.dataset.ready = "1";
  } catch (err) {
    const box = document.getElementById("error");
    box.textContent = `Could not load this page: ${err.message}`;
    box.hidden = false;
    document.body.dataset.ready = "error";
  }
});
