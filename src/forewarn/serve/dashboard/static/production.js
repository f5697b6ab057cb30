// Forewarn production pages: /kpi (OEE, Pareto, opportunities) and /plan (a Gantt of the maintenance plan).
// Uses getJSON, el, fmt, tableRows from dashboard.js and FWChart from charts.js.
"use strict";

function pct(value) { return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)} %`; }

// eslint-disable-next-line no-unused-vars
async function kpiPage() {
  const report = await getJSON("/kpi/twin?by=line");
  // a demonstration, and said so first: a plant's engineer read "S1-L1 ... failures 0" on this page as their own line
  document.getElementById("kpi-source").textContent = `Demonstration on a ${report.source}, not this plant's data: ` +
    "forewarn kpi --records FILE (or POST /api/v1/kpi) computes these figures from your production records.";
  const rows = [...report.groups, { ...report.total, line_id: "all" }];
  tableRows(document.querySelector("#oee-table tbody"), rows.map((g) => [
    g.line_id, pct(g.oee), pct(g.availability), pct(g.performance), pct(g.quality),
    fmt(g.energy_per_good_kwh, 3), String(g.failures ?? 0), fmt(g.mtbf_h, 0), fmt(g.mttr_h, 1)]));
  const reasons = report.pareto.map((p) => p.reason);
  FWChart.drawChart(document.getElementById("pareto-chart"), {
    title: "Downtime Pareto (hours by reason)", x: { type: "category", categories: reasons }, y: { type: "linear" },
    series: [{ type: "bar", name: "hours", x: reasons, y: report.pareto.map((p) => p.hours),
               tips: report.pareto.map((p) => `${p.reason}: ${fmt(p.hours, 1)} h, ${p.stops} stops, cumulative ${pct(p.cumulative_share)}`) }],
  });
  tableRows(document.querySelector("#opportunities-table tbody"), report.opportunities.map((o) => [
    o.line_id, o.loss.replaceAll("_", " "), fmt(o.loss_h, 1), fmt(o.oee_gain_points, 2), fmt(o.extra_good_units, 0)]));
}

const SKILL_COLOURS = { mechanical: "#1f5fa8", electrical: "#8a3ffc", instrument: "#1e7b45" };

function drawGantt(root, plan) {
  const days = plan.summary.horizon_days;
  const assets = [...new Set(plan.orders.map((o) => o.asset_id))];
  const rowH = 18, left = 70, top = 24, width = Math.max(root.clientWidth || 800, 400), dayW = (width - left - 10) / days;
  const height = top + rowH * Math.max(assets.length, 1) + 10;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.appendChild(node);
    return node;
  };
  for (let d = 0; d < days; d += 1) {
    add("text", { x: left + d * dayW + 2, y: 14, "font-size": 11, fill: "#333" }, String(d));
    add("line", { x1: left + d * dayW, x2: left + d * dayW, y1: top - 4, y2: height, stroke: "#ddd" });
  }
  assets.forEach((asset, i) => add("text", { x: 4, y: top + i * rowH + 13, "font-size": 11, fill: "#222" }, asset));
  for (const o of plan.orders) {
    const i = assets.indexOf(o.asset_id);
    const bar = add("rect", { x: left + o.day * dayW + 1, y: top + i * rowH + 2, width: Math.max(dayW * Math.min(o.duration_h / 8, 1) - 2, 3),
                              height: rowH - 4, fill: SKILL_COLOURS[o.skill] || "#5f6670", rx: 2 });
    const tip = document.createElementNS(ns, "title");
    tip.textContent = `${o.asset_id} day ${o.day} (${o.skill}, ${o.duration_h} h): saves ${fmt(o.saving, 0)}. ${o.why}`;
    bar.appendChild(tip);
  }
  root.replaceChildren(svg);
}

// eslint-disable-next-line no-unused-vars
async function planPage() {
  const plan = await getJSON("/plan/demo");
  const s = plan.summary;
  document.getElementById("plan-source").textContent = `Demonstration on a synthetic fleet (${s.source}), not this ` +
    "plant's assets: forewarn score --format json --out score.json, then forewarn plan --risk score.json, plans yours " +
    "(or POST /api/v1/plan with each asset's risk and costs).";
  document.getElementById("plan-summary").textContent =
    `${s.jobs} jobs over ${s.horizon_days} days, expected saving ${fmt(s.expected_saving, 0)} ` +
    `(bound ${fmt(s.bound, 0)}, optimality gap ${s.optimality_gap === null ? "n/a" : pct(s.optimality_gap)}, ${s.status}); ` +
    `${s.deferred} assets deferred. Bars are coloured by crew skill; hover a bar for its reason.`;
  drawGantt(document.getElementById("gantt"), plan);
  tableRows(document.querySelector("#orders-table tbody"), plan.orders.map((o) => [
    String(o.day), o.asset_id, o.line_id, o.skill, fmt(o.duration_h, 0), fmt(o.saving, 0), o.why]));
}
