// The models page's monitoring part: drift per sensor over time, drift alerts, realised vs promised, decisions.
"use strict";
(function () {
  const api = "/api/v1/models";
  const make = (tag, text, attrs = {}) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };
  const fmt = (v) => (v === null || v === undefined ? "-" : typeof v === "number" ? (Math.round(v * 1000) / 1000).toString() : String(v));

  function table(caption, head, rows) {
    const t = make("table", null, { class: "data" });
    t.append(make("caption", caption));
    const tr = make("tr");
    for (const h of head) tr.append(make("th", h, { scope: "col" }));
    const thead = make("thead");  // Element.append returns nothing: chaining on it threw, so no section showed
    thead.append(tr);
    t.append(thead);
    const body = make("tbody");
    for (const row of rows) {
      const r = make("tr");
      for (const v of row) r.append(make("td", fmt(v)));
      body.append(r);
    }
    t.append(body);
    return t;
  }

  function driftGrid(run) {
    // rows: sensors; columns: days; cell: assets drifted that day (a text table, readable without colour)
    const days = [...new Set(run.per_day.map((r) => r.day))].sort();
    const sensors = [...new Set(run.per_day.map((r) => r.channel))].sort();
    const at = new Map(run.per_day.map((r) => [`${r.channel}|${r.day}`, r.assets_drifted]));
    const rows = sensors.map((s) => [s, ...days.map((d) => at.get(`${s}|${d}`) ?? 0)]);
    return table("Assets drifted per sensor and day", ["sensor", ...days.map((d) => d.slice(5, 10))], rows);
  }

  async function show(model, root) {
    const res = await fetch(`${api}/${encodeURIComponent(model.model_id)}/monitor`);
    if (!res.ok) return;
    const data = await res.json();
    const section = make("section", null, { "aria-label": `monitoring of ${model.model_id}` });
    section.append(make("h3", `${model.model_id} (live ${data.active})`));
    const run = data.latest;
    if (!run) {
      section.append(make("p", "Not monitored yet: run forewarn monitor --store DB --models DIR.", { class: "empty" }));
    } else {
      section.append(make("p", `Last run ${run.at}: ${run.status}, window ${run.window.start} to ${run.window.end}, ${run.drift_alerts} drift alert(s).`));
      section.append(driftGrid(run));
      const classes = Object.entries(run.class_feature_drift || {}).sort(([a], [b]) => a.localeCompare(b));
      if (classes.length) {
        section.append(table("Window features over their asset class's own drift line", ["asset class", "features drifted"], classes));
      }
      section.append(table("Drift alerts", ["day", "asset", "cause", "sensors"],
        (run.alerts || []).map((a) => [a.day.slice(0, 10), a.asset_id, a.cause, a.channels.join(", ")])));
      const perf = run.performance || {};
      const promised = perf.promised || {}, realised = perf.realised || {};
      section.append(table("Realised vs promised", ["figure", "promised (held-out)", "realised (window)"], [
        ["recall", promised.recall, realised.row_recall],
        ["precision", promised.precision, realised.row_precision],
        ["false alarm rate", promised.far, realised.row_far],
        ["ROC AUC", promised.roc_auc, realised.row_roc_auc],
        ["failures caught", null, `${fmt(realised.caught)} of ${fmt(realised.failures)}`],
        ["lead time median (h)", null, realised.lead_time_median],
      ]));
    }
    if (data.decisions.length) {
      section.append(table("Retraining decisions", ["at", "champion", "challenger", "metric", "champion figure", "challenger figure", "promoted", "live"],
        data.decisions.map((d) => d.rollback ? [d.at, d.rollback, "(rolled back)", "", "", "", "", d.live] : [
          d.at, d.champion, d.challenger, d.metric, (d.figures.champion || {})[d.metric], (d.figures.challenger || {})[d.metric], d.promoted ? "yes" : "no", d.live])));
    }
    root.append(section);
  }

  async function load() {
    const root = document.getElementById("monitor");
    const models = await (await fetch(api)).json();
    for (const model of models) await show(model, root);
  }
  document.addEventListener("DOMContentLoaded", load);
})();
