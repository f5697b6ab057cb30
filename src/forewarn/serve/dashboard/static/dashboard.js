// Forewarn dashboard: each page fetches /api/v1 and draws its charts with charts.js (our own SVG, no CDN).
"use strict";
const API = "/api/v1";
// the same colours as style.css (each has AA contrast with its text colour there)
const COLOURS = { low: "#1e7b45", medium: "#e0b000", high: "#b8520f", critical: "#c8202f", unknown: "#5f6670" };
const LEVELS = ["low", "medium", "high", "critical"];

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

// a model's horizon as a planner says it: whole days from two days up ("7 days", not "168 hours"), else as given
function fmtHorizon(value, unit) {
  if (value === null || value === undefined) return "–";
  const hours = ["hours", "hour", "h"].includes(unit);
  return hours && value >= 48 && value % 24 === 0 ? `${fmt(value / 24)} days` : `${fmt(value)} ${unit}`;
}

// What a model's probability is of: a failure within its horizon, or, for a model trained on a stored label column
// (train --label NAME), that label being set at the reading (the server lists those models and their labels in
// <body data-trained-labels>, from each live bundle's model card; what the label means is the plant's column).
function trainedLabel(modelId) {
  let labels = {};
  try { labels = JSON.parse(document.body.dataset.trainedLabels || "{}"); } catch { labels = {}; }
  return Object.prototype.hasOwnProperty.call(labels, modelId) ? labels[modelId] : null;
}

function probabilityWords(health) {
  const label = trainedLabel(health.model_id);
  if (label === null) {
    const within = `within ${fmtHorizon(health.horizon, health.unit)}`;
    return { card: "failure probability", hint: within, title: `Failure probability ${within}`,
             series: "failure probability", label: null };
  }
  return { card: `probability of "${label}"`, label,
           hint: `the stored label "${label}" the model learned (train --label), set at this reading`,
           title: `Probability that the label "${label}" is set`, series: `probability of "${label}"` };
}

// a time as UTC text, "YYYY-MM-DD HH:MM:SS" (the header says "times in UTC"): a time with another offset is
// converted (sliced as written it would show that zone's clock), text that is not a time is shown as is
function fmtTime(iso) {
  if (!iso) return "–";
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(t) ? String(iso).replace("T", " ").slice(0, 19) : new Date(t).toISOString().replace("T", " ").slice(0, 19);
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
  return el("span", { class: `badge risk-${COLOURS[level] ? level : "unknown"}` }, level);
}

// Events as vertical marks on a time chart (charts.js draws them across the plot, one legend entry per kind).
// Only events inside the charted time span (padded by 5 %) are drawn.
function eventMarkers(events, times) {
  const shown = [];
  if (times.length) {
    const first = Date.parse(times[0]);
    const last = Date.parse(times[times.length - 1]);
    const pad = Math.max((last - first) * 0.05, 3600e3);
    for (const e of events) {
      const t = Date.parse(e.ts);
      if (t >= first - pad && t <= last + pad) shown.push(e);
    }
  }
  return shown.map((e) => ({ x: e.ts, kind: e.kind }));
}

// Where a stored label is set (GET /assets/{id}/labels: spans whose value is not "off"), as shaded spans on a time
// chart; only the spans that reach into the charted time span.
function labelSpans(labels, times) {
  if (!labels || !times.length) return [];
  const first = Date.parse(times[0]);
  const last = Date.parse(times[times.length - 1]);
  return labels.spans.filter((sp) => sp.set && Date.parse(sp.end) >= first && Date.parse(sp.start) <= last)
    .map((sp) => ({ x0: sp.start, x1: sp.end, name: `label ${sp.name}`,
                    tip: `${sp.name} = ${sp.value}, ${fmtTime(sp.start).slice(0, 16)} to ${fmtTime(sp.end).slice(0, 16)} (${sp.rows} rows)` }));
}

function drawLabelTable(labels) {
  const names = labels ? labels.names : [];
  tableRows(document.querySelector("#labels tbody"), names.length ? names.map((n) => [
    n.name, String(n.rows), String(n.set_rows),
    n.values.map((v) => `${v.value} (${v.rows})`).join(", ")])
    : [["no labels stored for this asset (ingest --label-columns stores them)", "", "", ""]]);
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
  if (item.kind === "failure") head.appendChild(document.createTextNode(" · opened by a recorded failure: the asset is down until a maintenance renews it"));
  else if (item.model_id) head.appendChild(document.createTextNode(` · raised by model ${item.model_id}`));
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
// /fleet/health, with the assets the case book knows are down (an open case of kind failure) marked as the service
// marks a down asset it scores (critical, down since the failure) where no model answers for them: the fleet and
// risk pages of a plant without a model agree with its alerts page.
async function fleetHealth() {
  const [fleet, open] = await Promise.all([getJSON("/fleet/health"), getJSON("/cases?status=open&limit=5000")]);
  const downCase = Object.fromEntries(open.filter((c) => c.kind === "failure").map((c) => [c.asset_id, c]));
  for (const asset of fleet) {
    const found = downCase[asset.asset_id];
    if (found && asset.probability === null && asset.status !== "down") {
      Object.assign(asset, { status: "down", risk_level: "critical", ts: found.opened_ts });
    }
  }
  return fleet;
}

// The grid joins the store's view of each asset (/assets: channels, last reading, events) with its health
// (/fleet/health), so a plant with readings but no model yet still shows every asset.
async function fleetPage() {
  const [tree, fleet, assets] = await Promise.all([getJSON("/hierarchy"), fleetHealth(), getJSON("/assets")]);
  const data = Object.fromEntries(assets.map((a) => [a.asset_id, a]));
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
  const scored = fleet.some((a) => a.probability !== null);
  document.getElementById("fleet-note").hidden = scored || !fleet.length;
  function draw() {
    const grid = document.getElementById("fleet-grid");
    grid.replaceChildren();
    const shown = fleet.filter((a) => (!siteSel.value || a.site_id === siteSel.value) &&
                                      (!lineSel.value || a.line_id === lineSel.value));
    const order = { critical: 0, high: 1, medium: 2, low: 3, unknown: 4 };
    shown.sort((a, b) => (order[a.risk_level] - order[b.risk_level]) || ((b.probability ?? 0) - (a.probability ?? 0))
                         || (a.asset_id < b.asset_id ? -1 : 1));
    const counts = {};
    for (const asset of shown) {
      counts[asset.risk_level] = (counts[asset.risk_level] || 0) + 1;
      const info = data[asset.asset_id] || {};
      const cell = el("a", { class: `cell risk-${asset.risk_level}`, href: `/assets/${encodeURIComponent(asset.asset_id)}`,
                             "data-asset-id": asset.asset_id, "data-risk": asset.risk_level,
                             title: asset.recommended_action });
      cell.appendChild(el("div", { class: "id" }, asset.asset_id));
      if (asset.status === "down") {  // a recorded failure, no repair since: said, not shown as a score
        cell.appendChild(el("div", { class: "num" }, `down since ${fmtTime(asset.ts).slice(0, 16)}`));
        cell.appendChild(el("div", { class: "num" }, "repair, then record it"));
      } else if (asset.probability !== null) {
        cell.appendChild(el("div", { class: "num" }, `health ${fmt(asset.health)} · ${asset.risk_level}`));
        if (asset.rul !== null) cell.appendChild(el("div", { class: "num" }, `RUL ${fmt(asset.rul)} ${asset.unit}`));
        if (asset.channels_missing?.length) {  // scored, but some of its class's channels sent nothing in the window
          cell.appendChild(el("div", { class: "num channels-missing" }, `missing: ${asset.channels_missing.join(", ")}`));
        }
      } else if (asset.status === "insufficient data") {  // too few channels: no score rather than a confident low one
        const n = asset.channels_missing?.length ?? 0;
        cell.appendChild(el("div", { class: "num" }, `insufficient data: ${n} channel${n === 1 ? "" : "s"} without readings`));
      } else {  // why: no model serves it, no reading since its last repair, or too little data (the action says)
        const why = !asset.model_id ? "not scored (no model)"
          : asset.renewed_at ? `not scored since its maintenance ${fmtTime(asset.renewed_at).slice(0, 10)}`
          : `not scored (${asset.status ?? "no readings of the model's channels"})`;
        cell.appendChild(el("div", { class: "num" }, why));
      }
      cell.appendChild(el("div", { class: "num last-reading" },
        `${info.n_channels ?? 0} channels · last ${fmtTime(info.last_ts).slice(0, 16)}`));
      const events = [];
      if (asset.open_case !== null && asset.open_case !== undefined) events.push(`open case #${asset.open_case}`);
      if (info.n_failures) events.push(`${info.n_failures} failure(s), last ${fmtTime(info.last_failure_ts).slice(0, 10)}`);
      if (info.last_maintenance_ts) events.push(`maintained ${fmtTime(info.last_maintenance_ts).slice(0, 10)}`);
      if (events.length) cell.appendChild(el("div", { class: "events" }, events.join(" · ")));
      grid.appendChild(cell);
    }
    document.getElementById("fleet-counts").textContent =
      `${shown.length} assets: ` + ["critical", "high", "medium", "low", "unknown"].map((l) => `${counts[l] || 0} ${l}`).join(", ");
  }
  fillLines();
  siteSel.addEventListener("change", () => { fillLines(); draw(); });
  lineSel.addEventListener("change", draw);
  draw();
  if (!fleet.length) {  // a new store (serve --create): say how data gets in, not just "0 assets"
    document.getElementById("fleet-grid").replaceChildren(el("p", { class: "empty", id: "fleet-empty" },
      "The store holds no asset yet. forewarn ingest FILE --store STORE reads a plant's exports (CSV, Parquet, JSON " +
      "lines; readings, events), POST /api/v1/readings takes readings (token), and serve --stream CONFIG takes them " +
      "from MQTT or OPC UA."));
  }
}

// -- asset --------------------------------------------------------------------------------------------------
// The RUL interval's coverage (bundle.INTERVAL: 5 % and 95 % quantiles of held-out errors), set by the page.
function rulLevel() { return Number(document.body.dataset.rulLevel || 90); }

// The RUL card: the estimate, its interval and what the interval means. `live` is the model's /models entry: its
// card's RUL cap (a RUL at the cap reads "this long or more": the model was trained on lives cut there) and the
// interval's coverage measured on held-out assets (said when known, rather than the nominal "9 in 10": a plant's
// model covered 75 % where 90 % was asked).
function rulText(health, live = null) {
  if (health.rul === null) return { value: "–", hint: "" };
  const unit = health.unit === "hours" ? "h" : (health.unit || "");
  const level = rulLevel();
  const inTen = Math.round(level / 10);
  const cap = health.unit === "hours" ? live?.max_rul_hours ?? null : null;
  const atCap = cap !== null && health.rul >= 0.98 * cap;
  const covered = live?.metrics?.interval_coverage ?? null;
  const interval = `${level} % interval ${fmt(health.rul_low)}–${fmt(health.rul_high)} ${unit}`;
  const meaning = covered === null ? `${inTen} in 10 assets like this fail inside it`
    : `on assets it did not train on, the interval held the real RUL for ${fmt(100 * covered)} % of readings`;
  return {
    value: atCap ? `${fmt(cap)} ${unit} or more` : `${fmt(health.rul)} ${unit}`,
    hint: atCap ? `at the model's cap: trained on lives cut at ${fmt(cap)} ${unit}, it reads any longer life as ${fmt(cap)} ${unit}`
      : `${interval}: ${meaning}`,
    title: `Remaining useful life: the model's best estimate of the time left before this asset fails. The interval ` +
           `comes from the model's errors on assets it did not train on: for ${inTen} in 10 of them the real failure ` +
           `came between ${fmt(health.rul_low)} and ${fmt(health.rul_high)} ${unit} from a reading like this one; ` +
           `for 1 in 20 it came earlier.` + (covered === null ? "" : ` Measured on the held-out assets when it was ` +
           `trained, it held the truth for ${fmt(100 * covered)} % of readings (${level} % asked).`),
  };
}

function card(parent, label, value, { id = null, hint = "", title = "", node = null } = {}) {
  const box = el("div", Object.assign({ class: "card" }, id ? { id } : {}, title ? { title } : {}));
  box.appendChild(el("div", { class: "label" }, label));
  const v = el("div", { class: "value" }, node ? "" : value);
  if (node) v.appendChild(node);
  box.appendChild(v);
  if (hint) box.appendChild(el("div", { class: "hint" }, hint));
  parent.appendChild(box);
  return box;
}

async function drawAssetSummary(health, info, live = null) {
  const summary = document.getElementById("asset-summary");
  summary.replaceChildren();
  if (health) {
    const rul = rulText(health, live);
    card(summary, "health", fmt(health.health));
    card(summary, "risk", "", { node: badge(health.risk_level) });
    const words = probabilityWords(health);
    if (health.status === "down") {  // failed and not repaired: a state, not a forecast of "100 % within the horizon"
      card(summary, words.card, "down", { id: "probability-card",
           hint: "failed, no repair recorded since: the model forecasts again from the readings after the repair" });
    } else {
      card(summary, words.card, health.probability === null ? "–" : `${fmt(100 * health.probability, 1)} %`,
           { id: "probability-card", hint: words.hint });
    }
    if (health.rul !== null || health.probability === null || health.status === "down") {
      card(summary, "RUL", rul.value, { id: "rul-card", hint: rul.hint, title: rul.title });
    } else {  // a failure-probability model: it estimates no remaining life, said rather than shown as "–"
      card(summary, "RUL", "not estimated", { id: "rul-card",
           hint: "this model gives a failure probability; train --task rul files one that estimates a remaining life" });
    }
  }
  if (health?.channels_missing?.length) {  // the coverage rule (forewarn.features.coverage): said, never hidden
    card(summary, health.status === "insufficient data" ? "insufficient data: no readings of" : "channels missing",
         health.channels_missing.join(", "), { id: "channels-missing" });
  }
  card(summary, "class / line", `${info.asset_class} / ${info.line_id ?? "–"}`);
  card(summary, "last reading", fmtTime(info.last_ts).slice(0, 16), { hint: `${info.n_channels} channels, ${info.n_readings} readings` });
  const openCase = health ? health.open_case : null;
  // the open case, else the latest one of this asset (so a just-closed case shows how it was closed)
  const latest = openCase !== null ? await getJSON(`/cases/${openCase}`)
    : (await getJSON(`/cases?asset_id=${encodeURIComponent(info.asset_id)}&limit=1`))[0];
  if (health) {  // the case's own risk and source beside the model's: a stream detector's case is not this model's
    card(summary, "open case", openCase === null ? "none" : `#${openCase}`, { id: "open-case-card",
         hint: openCase === null || !latest ? "" : `${latest.risk_level} · ${latest.n_alerts} alert(s) of ` +
               `${latest.kind === "failure" ? "a recorded failure" : `model ${latest.model_id}`}, last ${fmtTime(latest.last_alert_ts).slice(0, 16)}` });
  }
  if (health) {
    const action = card(summary, `recommended action (horizon ${fmtHorizon(health.horizon, health.unit)})`, health.recommended_action,
                        { id: "recommended-action" });
    action.classList.add("action");
  } else {
    const note = card(summary, "no model scores this asset yet", document.body.dataset.noModel || "", { id: "no-model" });
    note.classList.add("action");
  }
  if (!health && latest && latest.status !== "closed" && latest.kind === "failure") {  // down, said without a model too
    card(summary, "status", `down since ${fmtTime(latest.opened_ts).slice(0, 16)}`, { id: "down-card",
         hint: "a recorded failure and no renewing maintenance since (a replacement, a repair, a corrective work order)" });
  }
  drawCasePanel(latest, async () => {
    const base = `/assets/${encodeURIComponent(info.asset_id)}`;
    await drawAssetSummary(health ? await getJSON(`${base}/health`) : null, await getJSON(base), live);
  });
}

// Health and trend need a model that serves the asset's class: without one the page shows readings and events.
async function modelFor(base) {
  const models = await getJSON("/models");
  if (!models.length) return { health: null, trend: null, live: null, why: "The service has no model (start it with --models DIR)." };
  const response = await fetch(`${API}${base}/health`, { headers: { Accept: "application/json" } });
  if (response.status === 404) {
    return { health: null, trend: null, live: null, why: String((await response.json()).detail) };
  }
  if (!response.ok) throw new Error(`${base}/health: ${response.status} ${response.statusText}`);
  const health = await response.json();
  const live = models.find((m) => m.model_id === health.model_id)?.live ?? null;
  return { health, trend: await getJSON(`${base}/trend`), live, why: "" };
}

// The sensor trends show an asset's whole history in at most TREND_POINTS points per channel: an asset with more
// readings than that is read as means over buckets (the finest step of BUCKETS that keeps the history under the
// limit), and the chart's title says so. Before, the page read the last 2,000 rows: 83 of 120 days of an hourly
// plant, 33 hours of a 1-minute one, with the earlier failures and repairs left off the charts unsaid.
const TREND_POINTS = 2000;
const BUCKETS = [["1min", 60], ["2min", 120], ["5min", 300], ["10min", 600], ["15min", 900], ["30min", 1800],
                 ["1h", 3600], ["2h", 7200], ["3h", 10800], ["6h", 21600], ["12h", 43200], ["1D", 86400],
                 ["2D", 172800], ["7D", 604800], ["14D", 1209600], ["28D", 2419200]];

function trendBucket(info) {
  if (!info.first_ts || !info.last_ts || info.n_readings <= TREND_POINTS) return null;  // every row fits as it is
  const seconds = (Date.parse(info.last_ts) - Date.parse(info.first_ts)) / 1000;
  const found = BUCKETS.find(([, step]) => seconds / step < TREND_POINTS);
  return found ? found[0] : BUCKETS[BUCKETS.length - 1][0];
}

function bucketWords(bucket) {
  const [, n, unit] = bucket.match(/^(\d+)(min|h|D)$/);
  const one = { min: "means per minute", h: "hourly means", D: "daily means" };
  const words = { min: "minutes", h: "hours", D: "days" };
  return n === "1" ? one[unit] : `means over ${n} ${words[unit]}`;
}

async function drawSensorTrends(readings, events, labels, bucket) {
  const names = Object.keys(readings.values);
  const box = document.getElementById("sensor-trends");
  if (!names.length) { box.replaceChildren(el("p", { class: "empty" }, "No readings stored for this asset.")); return; }
  box.dataset.bucket = bucket ?? "";
  const how = bucket ? `, whole history, ${bucketWords(bucket)}` : "";
  // small multiples: one panel per channel, one shared time axis, the events marked across all of them
  FWChart.drawChart(box, {
    title: `Sensor trends (${names.length} channels${how})`, x: { type: "time" }, y: { type: "linear" }, panelHeight: 110,
    panels: names.map((name) => ({ name, series: [{ type: "line", x: readings.ts, y: readings.values[name], color: "#1a5e99", width: 1.2 }] })),
    marks: eventMarkers(events, readings.ts), spans: labelSpans(labels, readings.ts),
  });
}

// Whether an asset is down (failed, not renewed since): the served model's answer says so; without one, an open case
// of kind failure does (a case that forewarned the failure keeps its kind, so the answer is asked first).
async function isDown(assetId) {
  const base = `/assets/${encodeURIComponent(assetId)}`;
  const response = await fetch(`${API}${base}/health`, { headers: { Accept: "application/json" } });
  const health = response.ok ? await response.json() : null;
  if (health?.model_id) return health.status === "down";
  const open = await getJSON(`/cases?asset_id=${encodeURIComponent(assetId)}&status=open&limit=1`);
  return open.some((c) => c.kind === "failure");
}

// The asset page's event form: what happened to the machine, recorded through POST /events (token); the page is
// drawn again after, so the new event, the case it filed or closed and the asset's status show at once.
function setUpEventForm(assetId) {
  const form = document.getElementById("event-form");
  if (!form || form.dataset.ready) return;
  form.dataset.ready = "1";
  document.getElementById("event-ts").value = new Date().toISOString().slice(0, 16);  // now, UTC, to the minute
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = (id) => document.getElementById(id).value.trim() || null;
    const when = document.getElementById("event-ts").value;
    if (!when) { showMessage("time: the time the event happened (UTC) is required.", "error"); return; }
    const kind = document.getElementById("event-kind").value;
    const record = { asset_id: assetId, ts: `${when}:00Z`, kind, failure_mode: text("event-mode"),
                     action: text("event-action"), result: text("event-result"), note: text("event-note") };
    const button = document.getElementById("event-save");
    button.disabled = true;
    try {
      const answer = await postJSON("/events", { events: [record] });
      await assetPage();
      const closed = answer.cases_closed.length ? `; case #${answer.cases_closed.join(", #")} closed` : "";
      const opened = answer.alerts_opened ? `; ${answer.alerts_opened} alert(s) filed` : "";
      // a maintenance that did not renew a down asset: said, so "balanced the rotor" does not read as the repair
      const down = kind === "maintenance" && !answer.cases_closed.length && await isDown(assetId);
      const still = down ? "; the asset stays down: a planned maintenance does not renew it (give an action that " +
        "replaces, overhauls, rebuilds, repairs, renews, reconditions or installs something, the result corrective, " +
        "or no result on the first maintenance after the failure)" : "";
      showMessage(answer.written ? `Recorded the ${kind} of ${fmtTime(record.ts).slice(0, 16)}${opened}${closed}${still}.`
        : `That ${kind} was already recorded.`, "ok");
    } catch (err) {
      showMessage(err.message, "error");
    } finally {
      button.disabled = false;
    }
  });
}

async function assetPage() {
  const id = document.body.dataset.assetId;
  setUpEventForm(id);
  const base = `/assets/${encodeURIComponent(id)}`;
  const info = await getJSON(base);
  const bucket = trendBucket(info);
  const [readings, events, labels, scored] = await Promise.all([
    getJSON(`${base}/readings?limit=${TREND_POINTS}${bucket ? `&resample=${bucket}` : ""}`), getJSON(`${base}/events`),
    getJSON(`${base}/labels?set_only=true`), modelFor(base)]);
  const { health, trend } = scored;
  if (!health) document.body.dataset.noModel = `${scored.why} Its readings and events are shown below.`;
  await drawAssetSummary(health, info, scored.live);

  if (health && !trend.ts.length) {  // served, but nothing scored yet (e.g. no readings since its last maintenance)
    const why = health.status === null && health.renewed_at
      ? `No score since the maintenance of ${fmtTime(health.renewed_at).slice(0, 16)}: the model scores the readings after it.`
      : "No score yet: the model has no readings of its channels for this asset.";
    for (const chart of ["risk-trend", "rul-trend"]) {
      document.getElementById(chart).replaceChildren(el("p", { class: "empty" }, why));
    }
    document.getElementById("contributions").hidden = true;
  }
  if (health && trend.ts.length) {
    const marks = eventMarkers(events, trend.ts);
    const spans = labelSpans(labels, trend.ts);
    const words = probabilityWords(health);
    // the trend scores the asset's current life (from its last renewing maintenance): said, where the readings
    // reach further back, so the charts beginning weeks after the sensor trends read as a choice, not lost data
    const note = document.getElementById("trend-note");
    note.hidden = Date.parse(trend.ts[0]) - Date.parse(info.first_ts) <= 86400e3;
    note.textContent = note.hidden ? "" : `The ${health.rul === null ? "risk and health" : "risk and RUL"} trends score ` +
      `the asset's current life: from ${fmtTime(trend.ts[0]).slice(0, 16)}` + (health.renewed_at
        ? `, its last renewing maintenance (${fmtTime(health.renewed_at).slice(0, 16)}).` : ".") +
      ` The sensor trends below show its readings since ${fmtTime(info.first_ts).slice(0, 16)}.`;
    FWChart.drawChart("risk-trend", {
      title: words.title, x: { type: "time" },
      y: { type: "linear", min: 0, max: 1 }, marks, spans,
      // the probability in orange (the failure marks are red: one colour made a rise and a failure look alike)
      series: [{ type: "line", x: trend.ts, y: trend.probability, name: words.series, color: COLOURS.high },
               { type: "line", x: trend.ts, y: trend.ts.map(() => health.threshold), name: "alert threshold", dash: "dot", color: "#555" }],
    });
    const level = rulLevel();
    FWChart.drawChart("rul-trend", {
      title: (trend.rul.length ? `Remaining useful life (${trend.unit}) with its ${level} % interval` : "Health (0-100)"),
      x: { type: "time" }, y: trend.rul.length ? { type: "linear" } : { type: "linear", min: 0, max: 100 }, marks, spans,
      series: trend.rul.length ? [
        { type: "band", x: trend.ts, low: trend.rul_low, high: trend.rul_high, name: `${level} % interval`, color: "#5fb3ff" },
        { type: "line", x: trend.ts, y: trend.rul, name: "RUL", color: "#1a5e99" },
      ] : [{ type: "line", x: trend.ts, y: trend.health, name: "health", color: "#1a5e99" }],
    });
    const contrib = [...health.contributions].reverse();  // the largest on top
    if (!contrib.length) {  // a down asset is not scored (nor is one without readings of the model's channels)
      document.getElementById("contributions").replaceChildren(el("p", { class: "empty" },
        health.status === "down" ? "Contributing sensors: none; the asset is down (a recorded failure, not a model's score)."
          : "Contributing sensors: none; the model has not scored this asset."));
    } else FWChart.drawChart("contributions", {
      title: "Contributing sensors (positive raises risk)", margin: { left: 120 },
      x: { type: "linear" }, y: { type: "category", categories: contrib.map((c) => c.sensor) },
      series: [{ type: "bar", x: contrib.map((c) => c.contribution), y: contrib.map((c) => c.sensor),
                 colors: contrib.map((c) => (c.contribution > 0 ? COLOURS.critical : COLOURS.low)),
                 tips: contrib.map((c) => `${c.sensor}: ${fmt(c.contribution, 3)}`) }],
    });
  } else if (!health) {
    for (const chart of ["risk-trend", "rul-trend", "contributions"]) document.getElementById(chart).hidden = true;
  }
  await drawSensorTrends(readings, events, labels, bucket);
  drawLabelTable(labels);
  tableRows(document.querySelector("#events tbody"), events.length ? [...events].reverse().map((e) =>
    [fmtTime(e.ts).slice(0, 16), e.kind, e.failure_mode ?? "", [e.action, e.result].filter(Boolean).join(" · "), e.note ?? ""])
    : [["no events", "", "", "", ""]]);
}

// -- alerts -------------------------------------------------------------------------------------------------
let selectedCase = null;  // the case shown in the action panel of the alerts page

async function alertsPage() {
  const [alerts, cases, streamed] = await Promise.all([getJSON("/alerts?limit=5000"), getJSON("/cases?limit=5000"),
                                                       getJSON("/stream/alerts?limit=500")]);
  drawStreamAlerts(streamed);
  drawAllAlerts(alerts);
  const status = Object.fromEntries(cases.map((c) => [c.case_id, c.status]));
  const tip = (a) => `${a.asset_id} ${fmtTime(a.ts).slice(0, 16)}: p=${fmt(a.probability, 2)} case #${a.case_id} (${status[a.case_id] ?? "?"}), ${a.source ?? "service"}`;
  const series = LEVELS.map((level) => {
    const rows = alerts.filter((a) => a.risk_level === level && a.source !== "failure");
    return { type: "scatter", name: level, color: COLOURS[level], size: 5, x: rows.map((a) => a.ts),
             y: rows.map((a) => a.asset_id), data: rows.map((a) => a.case_id), tips: rows.map(tip) };
  });
  const failed = alerts.filter((a) => a.source === "failure");  // recorded failures (the asset went down): stars
  if (failed.length) {
    series.push({ type: "scatter", name: "recorded failure", symbol: "star", color: COLOURS.critical, size: 8,
                  x: failed.map((a) => a.ts), y: failed.map((a) => a.asset_id), data: failed.map((a) => a.case_id),
                  tips: failed.map((a) => `${a.asset_id} failed ${fmtTime(a.ts).slice(0, 16)}: case #${a.case_id} (${status[a.case_id] ?? "?"})`) });
  }
  const assets = [...new Set(alerts.map((a) => a.asset_id))].sort().reverse();
  FWChart.drawChart("alert-timeline", {
    title: `Alert timeline (${alerts.length} alerts; click one to act on its case)`, height: Math.max(300, 110 + 20 * assets.length),
    x: { type: "time" }, y: { type: "category", categories: assets }, margin: { left: 110 }, series,
    onClick: (caseId) => select(caseId),
  });
  const select = (caseId) => {
    selectedCase = caseId;
    drawCasePanel(cases.find((c) => c.case_id === caseId), alertsPage);
    for (const tr of document.querySelectorAll("#cases tbody tr")) {
      tr.classList.toggle("selected", tr.dataset.caseId === String(caseId));
    }
    document.getElementById("case-panel").scrollIntoView({ block: "nearest" });
  };
  // the cases of down assets first (open, opened by a recorded failure), then newest first as the API lists them
  const downFirst = (c) => (c.kind === "failure" && c.status !== "closed" ? 0 : 1);
  cases.sort((a, b) => downFirst(a) - downFirst(b));
  const tbody = document.querySelector("#cases tbody");
  tableRows(tbody, cases.length ? cases.map((c) => {
    const link = el("a", { href: `/assets/${encodeURIComponent(c.asset_id)}` }, c.asset_id);
    const act = el("button", { type: "button", class: "select-case" }, c.status === "closed" ? "view" : "act");
    act.addEventListener("click", () => select(c.case_id));
    // what opened it and which model: a stream detector's case read "health" like a failure model's
    const opener = c.kind === "failure" ? "failure (down)" : `${c.kind ?? "health"}${c.model_id ? ` · ${c.model_id}` : ""}`;
    // the last alert: a new alarm on an asset whose case is already open files onto that case (no new case)
    return [`#${c.case_id}`, link, c.status, opener, badge(c.risk_level), fmtTime(c.opened_ts).slice(0, 16),
            fmtTime(c.last_alert_ts).slice(0, 16), String(c.n_alerts), c.top_sensors.join(", "), c.note ?? "", act];
  }) : [["no cases", "", "", "", "", "", "", "", "", "", ""]]);
  cases.forEach((c, k) => { tbody.rows[k].dataset.caseId = String(c.case_id); });
  if (selectedCase !== null && status[selectedCase] !== undefined) select(selectedCase);
  else drawCasePanel(null, alertsPage, "Pick a case in the table, or click an alert in the timeline, to act on it.");
}

function drawAllAlerts(alerts) {
  const top = (explanation) => Object.entries(explanation).sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([sensor]) => sensor).join(", ");
  tableRows(document.querySelector("#alerts tbody"), alerts.length ? alerts.slice(0, 500).map((a) => [
    fmtTime(a.ts), el("a", { href: `/assets/${encodeURIComponent(a.asset_id)}` }, a.asset_id), a.source ?? "service",
    a.model_id, badge(a.risk_level), fmt(a.score, 3), `#${a.case_id}`, top(a.explanation)])
    : [["no alerts", "", "", "", "", "", "", ""]]);
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
  const fleet = await fleetHealth();
  if (!fleet.length) {  // nothing to count or distribute: said once, not drawn as three empty charts
    for (const chart of ["risk-levels", "probability-histogram", "rul-vs-probability"]) {
      document.getElementById(chart).replaceChildren(el("p", { class: "empty" }, "The store holds no asset yet."));
    }
    return;
  }
  const counts = [...LEVELS, "unknown"].map((l) => fleet.filter((a) => a.risk_level === l).length);
  const levels = [...LEVELS, "unknown"];
  FWChart.drawChart("risk-levels", {
    title: "Assets per risk level", x: { type: "category", categories: levels }, y: { type: "linear" },
    series: [{ type: "bar", x: levels, y: counts, colors: levels.map((l) => COLOURS[l]), labels: counts.map(String),
               tips: levels.map((l, k) => `${l}: ${counts[k]} assets`) }],
  });
  // a down asset's probability 1 is a state (failed, not repaired), not a forecast: counted above, not distributed
  const down = fleet.filter((a) => a.status === "down").length;
  const scored = fleet.filter((a) => a.probability !== null && a.status !== "down");
  const note = document.getElementById("risk-note");
  note.hidden = !down;
  note.textContent = down ? `${down} down asset${down === 1 ? "" : "s"} (failed, not repaired) ${down === 1 ? "is" : "are"} ` +
    "counted as critical and left out of the probability histogram: a failed machine's 100 % is a state, not a forecast." : "";
  if (!scored.length) {  // no probability to distribute: said, not drawn as empty axes running from -1 to 1
    const reasons = [...new Set(fleet.map((a) => a.recommended_action).filter(Boolean))];
    const why = `None of the ${fleet.length} assets has a probability: ` +
        (reasons.length === 1 ? `${reasons[0]}.` : "no model scores them, or they are down or lack data (the fleet page says which).");
    for (const chart of ["probability-histogram", "rul-vs-probability"]) {
      document.getElementById(chart).replaceChildren(el("p", { class: "empty" }, why));
    }
    return;
  }
  const bins = Array.from({ length: 20 }, (_, k) => k / 20);
  const perBin = bins.map((lo) => scored.filter((a) => a.probability >= lo && (a.probability < lo + 0.05 || (lo === 0.95 && a.probability <= 1))).length);
  // what the scored assets' probabilities are of: one label, failures, or a mix of models (said as such)
  const targets = [...new Set(scored.map((a) => trainedLabel(a.model_id)))];
  const horizons = [...new Set(scored.map((a) => fmtHorizon(a.horizon, a.unit)))];
  const within = horizons.length === 1 ? `within ${horizons[0]}` : "within the horizon";
  const histogramTitle = (targets.length === 1 && targets[0] !== null ? `Probability that the label "${targets[0]}" is set`
    : targets.every((t) => t === null) ? `Failure probability ${within}`
    : "Probability of each model's target (a failure within its horizon, or its stored label)");
  FWChart.drawChart("probability-histogram", {
    title: histogramTitle, x: { type: "linear", min: 0, max: 1, title: "probability" },
    y: { type: "linear", title: "assets" },
    series: [{ type: "bins", x0: bins, x1: bins.map((lo) => lo + 0.05), y: perBin, color: "#1f6fb2",
               tips: bins.map((lo, k) => `${fmt(lo, 2)}–${fmt(lo + 0.05, 2)}: ${perBin[k]} assets`) }],
  });
  const withRul = scored.filter((a) => a.rul !== null);
  if (!withRul.length) {  // failure-probability models give no RUL: said, not an empty scatter on a 0-1 RUL axis
    document.getElementById("rul-vs-probability").replaceChildren(el("p", { class: "empty" },
      "No remaining useful life to plot: the served model gives a failure probability, not a RUL " +
      "(forewarn train --task rul files one that does)."));
    return;
  }
  FWChart.drawChart("rul-vs-probability", {
    title: targets.every((t) => t === null) ? "RUL against failure probability" : "RUL against probability",
    x: { type: "linear", title: "RUL" }, y: { type: "linear", title: "probability" },
    series: [{ type: "scatter", x: scored.map((a) => a.rul), y: scored.map((a) => a.probability), size: 5,
               colors: scored.map((a) => COLOURS[a.risk_level]),
               tips: scored.map((a) => `${a.asset_id}: RUL ${fmt(a.rul, 1)}, p=${fmt(a.probability, 2)}`) }],
  });
}

// -- models -------------------------------------------------------------------------------------------------
// a model card's metrics: counts (rows, levels, features) as whole numbers, the rest to three decimals
function isCount(name) { return /(^|_)(rows|levels|n|count|features|failures|assets)$/.test(name); }
function fmtMetric(name, value) { return isCount(name) ? fmt(value, 0) : fmt(value, 3); }

async function modelsPage() {
  const models = await getJSON("/models");
  const root = document.getElementById("models");
  if (!models.length) { root.appendChild(el("p", { class: "empty" }, "No models are served (start with --models DIR).")); return; }
  for (const [i, model] of models.entries()) {
    const box = el("section", { class: "model", "data-model-id": model.model_id });
    box.appendChild(el("h2", {}, `${model.model_id} — live: ${model.active} (${model.live.model}, ${model.live.task})`));
    const sampling = model.live.interval ? `readings averaged over ${model.live.interval} buckets` : "raw rows as stored";
    const line = el("p", { class: "model-spec" }, `horizon ${fmtHorizon(model.live.horizon, model.live.unit)}, window ${model.live.window} rows, ` +
      `sampling interval: ${model.live.interval || "none"} (${sampling}), ` +
      `${model.live.n_features} features from ${model.live.channels.length} channels, calibrated: ${model.live.calibrated}`);
    line.title = "The sampling interval is the bucket width readings are averaged into before features are computed, " +
                 "as when the model was trained; serving does the same.";
    box.appendChild(line);
    const table = el("table", { class: "table" });
    const metricNames = [...new Set(model.versions.flatMap((v) => Object.keys(v.metrics)))];
    const head = el("tr");
    for (const h of ["version", "live", "model", "features", ...metricNames]) head.appendChild(el("th", {}, h));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    tableRows(body, model.versions.map((v) => [v.version, v.active ? "yes" : "", v.model, String(v.n_features),
      ...metricNames.map((m) => (v.metrics[m] === undefined ? "" : fmtMetric(m, v.metrics[m])))]));
    box.appendChild(table);
    // the chart compares versions on the figures that share one 0-1 scale (scores, rates, errors); counts (rows,
    // calibration levels) stay in the table: on one axis 1,940 rows flattened every AUC to nothing
    const rates = metricNames.filter((m) => !isCount(m) && model.versions.every((v) => v.metrics[m] == null
                                                                    || (v.metrics[m] >= 0 && v.metrics[m] <= 1)));
    if (rates.length) {
      const chart = el("div", { class: "chart", id: `metrics-${i}` });
      box.appendChild(chart);
      root.appendChild(box);
      const versions = model.versions.map((v) => v.version);
      FWChart.drawChart(chart, {
        title: "Metrics by version (held-out assets)", x: { type: "category", categories: versions },
        y: { type: "linear", min: 0, max: 1 },
        series: rates.map((m) => ({ type: "bar", name: m, x: versions, y: model.versions.map((v) => v.metrics[m] ?? null),
                                          tips: model.versions.map((v) => `${v.version} ${m}: ${fmt(v.metrics[m], 3)}`) })),
      });
    } else {
      root.appendChild(box);
    }
  }
}

// pages drawn by other scripts (backtests.js) define a global ``<name>Page`` function
const PAGES = { fleet: fleetPage, asset: assetPage, alerts: alertsPage, risk: riskPage, models: modelsPage,
                missing: async () => {} };  // the 404 page of an unknown asset: nothing to fetch

window.addEventListener("DOMContentLoaded", async () => {
  try {
    if (document.getElementById("token-form")) setUpTokenForm();
    const name = document.body.dataset.page;
    await (PAGES[name] || window[`${name}Page`])();
    document.body.dataset.ready = "1";
  } catch (err) {
    const box = document.getElementById("error");
    box.textContent = `Could not load this page: ${err.message}`;
    box.hidden = false;
    document.body.dataset.ready = "error";
  }
});
