// The quality page: review queue (with images and verdict buttons), per-line report, and one control chart.
"use strict";
(function () {
  const api = "/api/v1/quality";
  const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };

  async function verdict(id, value) {
    const token = document.getElementById("token").value;
    const res = await fetch(`${api}/reviews/${id}/verdict`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ verdict: value, by: "dashboard" }),
    });
    if (!res.ok) { alert(`verdict not stored (${res.status})`); return; }
    load();
  }

  async function load() {
    const rows = await (await fetch(`${api}/reviews`)).json();
    const body = document.querySelector("#review-table tbody");
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      tr.append(cell(r.inspection_id), cell(r.line), cell(r.unit));
      const img = document.createElement("img");
      img.src = `${api}/reviews/${r.inspection_id}/image`; img.alt = `unit ${r.unit}`; img.width = 100;
      const map = document.createElement("img");  // the model's defect map in red (404 without a model: hidden)
      map.src = `${api}/reviews/${r.inspection_id}/map`; map.alt = `defect map of unit ${r.unit}`; map.width = 100;
      map.addEventListener("error", () => map.remove());
      const td = document.createElement("td"); td.append(img, map); tr.append(td);
      tr.append(cell(r.defect_type), cell(Number(r.probability).toFixed(3)));
      // the texture detector's novelty score (novel: sent to review although the classifier would pass it)
      tr.append(cell(r.novelty_score == null ? "-" : `${Number(r.novelty_score).toFixed(2)}${r.novel ? " (novel)" : ""}`));
      const actions = document.createElement("td");
      for (const v of ["defect", "good"]) {
        const b = document.createElement("button"); b.textContent = v; b.type = "button";
        b.addEventListener("click", () => verdict(r.inspection_id, v)); actions.append(b);
      }
      tr.append(actions); body.append(tr);
    }
    const report = await (await fetch(`${api}/report`)).json();
    const rbody = document.querySelector("#report-table tbody");
    rbody.replaceChildren();
    for (const r of report) {
      const tr = document.createElement("tr");
      const pareto = r.pareto.map((p) => `${p.defect_type} ${p.count}`).join(", ");
      tr.append(cell(r.line), cell(r.units), cell(r.reject_rate), cell(r.review_rate), cell(r.mean_probability), cell(r.novel ?? 0), cell(pareto));
      rbody.append(tr);
    }
  }

  async function draw(event) {
    if (event) event.preventDefault();
    const values = document.getElementById("spc-values").value.split(",").map(Number);
    const chart = document.getElementById("spc-chart").value;
    const res = await fetch(`${api}/spc`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ chart, values }) });
    const status = document.getElementById("spc-status");
    if (!res.ok) { status.textContent = `error ${res.status}: ${JSON.stringify(await res.json())}`; return; }
    const out = await res.json();
    const c = out.charts[0];
    const x = c.statistic.map((_, i) => i + 1);
    status.textContent = `${out.violations.length} rule hit(s): ` + out.violations.map((v) => `${v.chart} rule ${v.rule} at ${v.index + 1}`).join("; ");
    const all = c.statistic.concat(c.ucl, c.lcl);
    const lo = Math.min(...all), hi = Math.max(...all), w = 720, h = 240, pad = 30;
    const px = (i) => pad + (i * (w - 2 * pad)) / Math.max(x.length - 1, 1);
    const py = (v) => h - pad - ((v - lo) * (h - 2 * pad)) / Math.max(hi - lo, 1e-9);
    const line = (ys) => ys.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(" ");
    const hits = new Set(out.violations.map((v) => v.index));
    const dots = c.statistic.map((v, i) => `<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${hits.has(i) ? "#c00" : "#036"}"/>`).join("");
    document.getElementById("spc-chart-plot").innerHTML =
      `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${c.name} control chart">` +
      `<polyline points="${line(c.ucl)}" fill="none" stroke="#888" stroke-dasharray="4"/>` +
      `<polyline points="${line(c.lcl)}" fill="none" stroke="#888" stroke-dasharray="4"/>` +
      `<polyline points="${line(c.statistic)}" fill="none" stroke="#036"/>${dots}</svg>`;
  }

  // called by dashboard.js (window.qualityPage) once the page has loaded; an error shows in its banner
  window.qualityPage = async function () {
    document.getElementById("spc-form").addEventListener("submit", draw);
    await Promise.all([load(), draw()]);
  };
})();
