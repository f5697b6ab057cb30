// Forewarn dashboard: the backtests page (uses getJSON, el, fmt, tableRows from dashboard.js, FWChart from charts.js).
"use strict";

function pct(value) { return value === null || value === undefined ? "–" : `${fmt(100 * value, 0)} %`; }

function money(value) {
  return value === null || value === undefined ? "–" : Math.round(Number(value)).toLocaleString("en");
}

function drawBacktestList(items, shown) {
  const tbody = document.querySelector("#backtest-list tbody");
  tableRows(tbody, items.length ? items.map((b) => {
    const link = el("a", { href: `/backtests/${encodeURIComponent(b.id)}` }, b.id);
    if (b.error) return [link, "", "", "", "", "", `unreadable: ${b.error}`, "", ""];
    return [link, fmtTime(b.created).slice(0, 16), b.task, b.by, String(b.folds), b.model,
            `${b.caught}/${b.failures} (${pct(b.caught_share)})`, fmt(b.false_cases_per_asset_year, 2), money(b.cost)];
  }) : [["no backtests yet: run forewarn backtest ... --models DIR", "", "", "", "", "", "", "", ""]]);
  items.forEach((b, k) => {
    tbody.rows[k].dataset.backtestId = b.id;
    tbody.rows[k].classList.toggle("selected", b.id === shown);
  });
}

function metricCards(b) {
  const box = document.getElementById("backtest-metrics");
  box.replaceChildren();
  const e = b.events;
  const cards = [
    ["failures caught", `${e.caught} of ${e.failures} (${pct(e.caught_share)})`,
     `failures that had an alert at least ${fmt(b.min_lead_hours)} h and at most ${fmt(b.horizon_hours)} h before`],
    ["median lead time", e.lead_time_hours_median === null ? "–" : `${fmt(e.lead_time_hours_median)} h`,
     "how long before a caught failure its first alert came"],
    ["false cases per asset-year", fmt(e.false_cases_per_asset_year, 2), "cases opened with no failure in the horizon"],
    ["cost at the threshold", money(e.cost), `threshold ${fmt(b.threshold, 3)}`],
    ["run to failure", money(e.cost_run_to_failure), "cost with no predictive maintenance"],
    ["time-based", money(e.cost_time_based), "cost with fixed-interval maintenance"],
  ];
  if (e.alarm_share !== null && e.alarm_share !== undefined) {  // an alarm that never clears catches everything
    cards.push(["time in alarm", pct(e.alarm_share), "share of the scored rows at or above the threshold"]);
  }
  const names = { f1: "F1", precision: "precision", recall: "recall", far: "false alarm rate", roc_auc: "ROC AUC",
                  pr_auc: "PR AUC", ece: "calibration error (ECE)" };
  for (const [name, value] of Object.entries(b.rows)) {
    if (value === null) continue;
    // counts (rows, positives) are whole numbers, scores have three decimals
    cards.push([names[name] || name, Number.isInteger(value) ? String(value) : fmt(value, 3), "row-level figure over all folds"]);
  }
  for (const [label, value, title] of cards) {
    const card = el("div", { class: "card", title });
    card.appendChild(el("div", { class: "label" }, label));
    card.appendChild(el("div", { class: "value" }, value));
    box.appendChild(card);
  }
}

async function drawSweep(b) {
  const sweep = b.sweep.filter((p) => p.false_cases_per_asset_year !== null && p.caught_share !== null);
  const box = document.getElementById("threshold-sweep");
  if (!sweep.length) { box.replaceChildren(el("p", { class: "empty" }, "No threshold sweep in this backtest.")); return; }
  sweep.sort((p, q) => p.false_cases_per_asset_year - q.false_cases_per_asset_year);
  FWChart.drawChart(box, {
    title: "Threshold sweep: failures caught against false cases",
    x: { type: "linear", min: 0, title: "false cases per asset-year" },
    y: { type: "linear", min: 0, max: 1.05, percent: true, title: "share of failures caught" },
    series: [
      { type: "line", name: "thresholds", color: "#1a5e99", markers: true, x: sweep.map((p) => p.false_cases_per_asset_year),
        y: sweep.map((p) => p.caught_share),
        tips: sweep.map((p) => `threshold ${fmt(p.threshold, 3)}, cost ${money(p.cost)}: caught ${pct(p.caught_share)}, ` +
                               `${fmt(p.false_cases_per_asset_year, 2)} false cases per asset-year`) },
      { type: "scatter", symbol: "star", size: 10, name: `chosen threshold ${fmt(b.threshold, 3)}`, color: COLOURS.critical,
        x: [b.events.false_cases_per_asset_year], y: [b.events.caught_share], labels: [`chosen ${fmt(b.threshold, 3)}`],
        tips: [`chosen threshold ${fmt(b.threshold, 3)}`] },
    ],
  });
}

async function drawReliability(b) {
  const bins = b.reliability.filter((r) => r.predicted !== null && r.observed !== null && r.count > 0);
  const box = document.getElementById("reliability");
  if (!bins.length) {
    box.replaceChildren(el("p", { class: "empty" }, `No reliability diagram (task ${b.task}: no probabilities to check).`));
    return;
  }
  const largest = Math.max(...bins.map((r) => r.count));
  FWChart.drawChart(box, {
    title: `Reliability (ECE ${fmt(b.rows.ece, 3)}; marker size: rows per bin)`,
    x: { type: "linear", min: 0, max: 1, title: "predicted probability" },
    y: { type: "linear", min: 0, max: 1, title: "observed failure share" },
    series: [
      { type: "line", x: [0, 1], y: [0, 1], name: "perfectly calibrated", dash: "dot", color: "#5f6670" },
      { type: "line", markers: true, name: "this model", color: COLOURS.critical, x: bins.map((r) => r.predicted),
        y: bins.map((r) => r.observed), size: bins.map((r) => 3 + 7 * Math.sqrt(r.count / largest)),
        tips: bins.map((r) => `${fmt(r.bin_low, 2)}–${fmt(r.bin_high, 2)}: ${r.count} rows, predicted ${fmt(r.predicted, 2)}, ` +
                              `observed ${fmt(r.observed, 2)}`) },
    ],
  });
}

async function drawCosts(b) {
  const e = b.events;
  const names = ["with this model", "run to failure", "time-based"];
  const costs = [e.cost, e.cost_run_to_failure, e.cost_time_based];
  FWChart.drawChart("costs", {
    title: "Maintenance cost over the backtest", x: { type: "category", categories: names },
    y: { type: "linear", title: "cost" },
    series: [{ type: "bar", x: names, y: costs, colors: [COLOURS.low, COLOURS.critical, COLOURS.unknown],
               labels: costs.map(money), tips: names.map((n, k) => `${n}: ${money(costs[k])}`) }],
  });
}

async function drawBacktest(id) {
  const b = await getJSON(`/backtests/${encodeURIComponent(id)}`);
  document.getElementById("backtest").hidden = false;
  document.getElementById("backtest").dataset.backtestId = b.id;
  document.getElementById("backtest-title").textContent = `${b.id}: ${b.model} (${b.task})`;
  document.getElementById("backtest-setup").textContent =
    `Created ${fmtTime(b.created).slice(0, 16)} · ${b.folds} folds split by ${b.by} · horizon ${fmtHorizon(b.horizon_hours, "hours")} · ` +
    `alerts count when at least ${fmt(b.min_lead_hours)} h ahead · threshold ${fmt(b.threshold, 3)}`;
  const note = document.getElementById("backtest-note");  // what the event figures cannot say (events_note)
  note.hidden = !b.events_note;
  note.textContent = b.events_note ? `Note: ${b.events_note}.` : "";
  metricCards(b);
  await drawSweep(b);
  await drawReliability(b);
  await drawCosts(b);
  // a backtest written before folds carried event figures (or on a label column without failure events) has them
  // over all folds only (the cards above): the event columns show only where a fold has its own, not as dashes
  const perFoldEvents = b.per_fold.some((f) => f.events);
  document.getElementById("folds").classList.toggle("rows-only", !perFoldEvents);
  document.getElementById("folds-note").hidden = perFoldEvents || !b.per_fold.length;
  tableRows(document.querySelector("#folds tbody"), b.per_fold.length ? b.per_fold.map((f) => {
    const e = f.events || {};
    return [String(f.fold), f.label, fmt(f.rows.f1, 3), fmt(f.rows.precision, 3), fmt(f.rows.recall, 3),
            fmt(f.rows.pr_auc, 3), e.failures ?? "–", e.caught ?? "–", fmt(e.lead_time_hours_median),
            fmt(e.false_cases_per_asset_year, 2), money(e.cost)];
  }) : [["no folds recorded", "", "", "", "", "", "", "", "", "", ""]]);
}

// eslint-disable-next-line no-unused-vars -- called by dashboard.js as window.backtestsPage
async function backtestsPage() {
  const items = await getJSON("/backtests");
  const wanted = document.body.dataset.backtestId || (items.find((b) => !b.error) || {}).id || "";
  drawBacktestList(items, wanted);
  if (wanted) await drawBacktest(wanted);
}
