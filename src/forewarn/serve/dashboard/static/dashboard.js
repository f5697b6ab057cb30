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

// -- writes: the API token and case actions -----------------------------------------------------------------
// The token is asked for once per tab and kept in sessionStorage (never in the page's HTML, never in a cookie);
// it is sent as "Authorization: Bearer" to the same origin only.
const TOKEN_KEY = "forewarn-api-token";

function storedToken() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function showMessage(text, state) {
  const box = document.getElementById("action-message");
  box.textContent = text;
  box.dataset.state = state;
  box.className = `message ${state}`;
  box.hidden = false;
}

let tokenWaiter = null;  // resolves the action that waits for the token form

function waitForToken(reason) {
  showTokenForm(reason);
  showMessage("Waiting for the API token…", "busy");
  return new Promise((resolve) => { tokenWaiter = resolve; });
}

function showTokenForm(reason) {
  const form = document.getElementById("token-form");
  document.getElementById("token-reason").textContent = reason;
  form.hidden = false;
  document.getElementById("token-input").focus();
}

function drawTokenState() {
  const has = storedToken() !== "";
  document.getElementById("token-state").textContent = has ? "API token set for this tab" : "no API token set";
  document.getElementById("token-forget").hidden = !has;
}

function setUpTokenForm() {
  const form = document.getElementById("token-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token-input");
    const value = input.value.trim();
    input.value = "";
    if (!value) { showMessage("Enter the service's API token (FOREWARN_API_TOKEN) to make changes.", "error"); return; }
    sessionStorage.setItem(TOKEN_KEY, value);
    form.hidden = true;
    drawTokenState();
    if (tokenWaiter) { const resume = tokenWaiter; tokenWaiter = null; resume(value); }
    else showMessage("API token saved for this tab.", "info");
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    drawTokenState();
    showMessage("API token forgotten.", "info");
  });
  drawTokenState();
}

// The API's error detail as a sentence: field-level errors become "field: message".
function describeError(status, body) {
  const detail = body && body.detail;
  let text;
  if (Array.isArray(detail)) {
    text = detail.map((d) => {
      const field = (d.loc || []).filter((part) => part !== "body").join(".");
      return field ? `${field}: ${d.msg}` : d.msg;
    }).join("; ");
  } else {
    text = typeof detail === "string" ? detail : `HTTP ${status}`;
  }
  if (status === 401) return `The service refused the API token (401): ${text}. Enter the token again.`;
  return `The service refused the change (${status}): ${text}`;
}

// POST JSON with the token; resolves with the answer, or rejects with a message fit for the page.
async function postJSON(path, body) {
  const token = storedToken() ||
    await waitForToken("Changes need the service's API token (FOREWARN_API_TOKEN); it is kept in this browser tab only.");
  showMessage("Sending…", "busy");
  const response = await fetch(API + path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  let answer = null;
  try { answer = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) {
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      drawTokenState();
      showTokenForm("The token was refused; enter the right one.");
    }
    throw new Error(describeError(response.status, answer));
  }
  return answer;
}

// One case and what can be done with it: acknowledge, or close with a note. ``refresh`` redraws the page after.
function drawCasePanel(item, refresh, emptyText = "No case for this asset.") {
  const panel = document.getElementById("case-panel");
  panel.replaceChildren();
  if (!item) {
    panel.dataset.caseId = "";
    panel.appendChild(el("p", { class: "empty" }, emptyText));
    return;
  }
  panel.dataset.caseId = String(item.case_id);
  panel.dataset.status = item.status;
  const head = el("div", { class: "case-head" });
  head.appendChild(el("strong", {}, `Case #${item.case_id}`));
  head.appendChild(document.createTextNode(` · ${item.asset_id} · `));
  head.appendChild(el("span", { id: "case-status", class: `status-${item.status}` }, item.status));
  head.appendChild(document.createTextNode(" · "));
  head.appendChild(badge(item.risk_level));
  head.appendChild(document.createTextNode(` · ${item.n_alerts} alert(s) since ${fmtTime(item.opened_ts)}`));
  panel.appendChild(head);
  if (item.acknowledged_ts) {
    panel.appendChild(el("p", {}, `acknowledged ${fmtTime(item.acknowledged_ts)} by ${item.acknowledged_by || "–"}`));
  }
  if (item.status === "closed") {
    panel.appendChild(el("p", {}, `closed ${fmtTime(item.closed_ts)} by ${item.closed_by || "–"}: ${item.note ?? ""}`));
    return;
  }
  const by = el("input", { id: "case-by", type: "text", maxlength: "200", placeholder: "your name", autocomplete: "name" });
  by.value = sessionStorage.getItem("forewarn-by") || "";
  by.addEventListener("change", () => sessionStorage.setItem("forewarn-by", by.value.trim()));
  const byLabel = el("label", {}, "by ");
  byLabel.appendChild(by);
  panel.appendChild(byLabel);
  const ack = el("button", { id: "ack-button", type: "button" }, "Acknowledge");
  ack.disabled = item.status !== "open";
  panel.appendChild(ack);
  const note = el("textarea", { id: "close-note", rows: "2", maxlength: "5000",
                                placeholder: "what was found or done (required to close)" });
  const close = el("button", { id: "close-button", type: "button" }, "Close case");
  const closing = el("div", { class: "closing" });
  closing.appendChild(note);
  closing.appendChild(close);
  panel.appendChild(closing);

  async function act(button, path, body, done) {
    button.disabled = true;
    try {
      await postJSON(`/cases/${item.case_id}/${path}`, body);
      await refresh();
      showMessage(done, "ok");
    } catch (err) {
      showMessage(err.message, "error");
      button.disabled = false;
    }
  }
  ack.addEventListener("click", () => act(ack, "acknowledge", { by: by.value.trim() }, `Case #${item.case_id} acknowledged.`));
  close.addEventListener("click", () => {
    if (!note.value.trim()) { showMessage("note: a note saying what was found or done is required to close a case.", "error"); return; }
    act(close, "close", { note: note.value, by: by.value.trim() }, `Case #${item.case_id} closed.`);
  });
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
async function drawAssetSummary(health) {
  const summary = document.getElementById("asset-summary");
  summary.replaceChildren();
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
  // the open case, else the latest one of this asset (so a just-closed case shows how it was closed)
  const latest = health.open_case !== null ? await getJSON(`/cases/${health.open_case}`)
    : (await getJSON(`/cases?asset_id=${encodeURIComponent(health.asset_id)}&limit=1`))[0];
  drawCasePanel(latest, async () => drawAssetSummary(await getJSON(`/assets/${encodeURIComponent(health.asset_id)}/health`)));
}

async function assetPage() {
  const id = document.body.dataset.assetId;
  const base = `/assets/${encodeURIComponent(id)}`;
  const [health, trend, readings, events] = await Promise.all([
    getJSON(`${base}/health`), getJSON(`${base}/trend`), getJSON(`${base}/readings?limit=2000`), getJSON(`${base}/events`)]);
  await drawAssetSummary(health);

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
let selectedCase = null;  // the case shown in the action panel of the alerts page

async function alertsPage() {
  const [alerts, cases, streamed] = await Promise.all([getJSON("/alerts?limit=5000"), getJSON("/cases?limit=5000"),
                                                       getJSON("/stream/alerts?limit=500")]);
  drawStreamAlerts(streamed);
  const status = Object.fromEntries(cases.map((c) => [c.case_id, c.status]));
  const traces = LEVELS.map((level) => {
    const rows = alerts.filter((a) => a.risk_level === level);
    return { type: "scatter", mode: "markers", name: level, x: rows.map((a) => a.ts), y: rows.map((a) => a.asset_id),
             customdata: rows.map((a) => a.case_id),
             text: rows.map((a) => `p=${fmt(a.probability, 2)} case #${a.case_id} (${status[a.case_id] ?? "?"})`),
             marker: { color: COLOURS[level], size: 10 } };
  });
  const timeline = document.getElementById("alert-timeline");
  await Plotly.newPlot(timeline, traces,
    layout(`Alert timeline (${alerts.length} alerts; click one to act on its case)`,
           { yaxis: { type: "category", automargin: true } }), PLOT_CONFIG);
  const select = (caseId) => {
    selectedCase = caseId;
    drawCasePanel(cases.find((c) => c.case_id === caseId), alertsPage);
    for (const tr of document.querySelectorAll("#cases tbody tr")) {
      tr.classList.toggle("selected", tr.dataset.caseId === String(caseId));
    }
    document.getElementById("case-panel").scrollIntoView({ block: "nearest" });
  };
  timeline.removeAllListeners("plotly_click");
  timeline.on("plotly_click", (event) => { if (event.points.length) select(event.points[0].customdata); });
  const tbody = document.querySelector("#cases tbody");
  tableRows(tbody, cases.length ? cases.map((c) => {
    const link = el("a", { href: `/assets/${encodeURIComponent(c.asset_id)}` }, c.asset_id);
    const act = el("button", { type: "button", class: "select-case" }, c.status === "closed" ? "view" : "act");
    act.addEventListener("click", () => select(c.case_id));
    return [`#${c.case_id}`, link, c.status, badge(c.risk_level), fmtTime(c.opened_ts), String(c.n_alerts),
            c.top_sensors.join(", "), c.note ?? "", act];
  }) : [["no cases", "", "", "", "", "", "", "", ""]]);
  cases.forEach((c, k) => { tbody.rows[k].dataset.caseId = String(c.case_id); });
  if (selectedCase !== null && status[selectedCase] !== undefined) select(selectedCase);
  else drawCasePanel(null, alertsPage, "Pick a case in the table, or click an alert in the timeline, to act on it.");
}

function drawStreamAlerts(alerts) {
  const top = (explanation) => Object.entries(explanation).sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([sensor]) => sensor).join(", ");
  tableRows(document.querySelector("#stream-alerts tbody"), alerts.length ? alerts.map((a) => [
    fmtTime(a.ts), el("a", { href: `/assets/${encodeURIComponent(a.asset_id)}` }, a.asset_id), a.model_id,
    badge(a.risk_level), fmt(a.score, 3), fmt(a.probability, 2), top(a.explanation)])
    : [["no stream alerts (no stream connected, or none raised)", "", "", "", "", "", ""]]);
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
    if (document.getElementById("token-form")) setUpTokenForm();
    await PAGES[document.body.dataset.page]();
    document.body.dataset.ready = "1";
  } catch (err) {
    const box = document.getElementById("error");
    box.textContent = `Could not load this page: ${err.message}`;
    box.hidden = false;
    document.body.dataset.ready = "error";
  }
});
