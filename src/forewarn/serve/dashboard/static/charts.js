// Forewarn charts: small SVG charts drawn by our own code, nothing fetched, nothing vendored.
// drawChart(box, spec) draws one chart; spec.panels (small multiples) stacks several on one time axis.
//   spec = { title, height, x: AXIS, y: AXIS, series: [SERIES...], marks: [{ x, kind }], spans: [{ x0, x1, name, tip }],
//            onClick(datum) }
//   AXIS = { type: "time" | "linear" | "category", min, max, title, percent, categories }
//   SERIES = { type: "line" | "band" | "scatter" | "bar" | "bins", name, color, ... } (see drawSeries)
// Spans are shaded time ranges behind the plot (where a stored label is set), one legend entry per name.
// Marks are vertical lines across the plot (failures, maintenance), one legend entry per kind. Every point of a
// scatter or bar has a <title> (the browser's tooltip); a line shows its nearest value under the pointer.
"use strict";

const FWChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const INK = "#1d232b";
  const MUTED = "#4f5863";
  const GRID = "#e3e6ea";
  const MARK_STYLE = { failure: { color: "#c8202f", dash: "" }, maintenance: { color: "#1a5e99", dash: "2 3" },
                       inspection: { color: "#5f6670", dash: "6 3" } };
  const DASH = { solid: "", dot: "2 3", dash: "6 3" };
  const PALETTE = ["#1a5e99", "#b8520f", "#1e7b45", "#6a3d9a", "#c8202f", "#5f6670"];
  const SPAN_COLOURS = ["#6a3d9a", "#b8520f", "#1e7b45", "#5f6670"];  // label names, in order of first use

  function svgEl(tag, attrs = {}, text = "") {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value !== undefined && value !== null && value !== "") node.setAttribute(key, value);
    }
    if (text !== "") node.textContent = text;
    return node;
  }

  function tip(node, text) { if (text) node.appendChild(svgEl("title", {}, text)); return node; }

  // a position on an axis: times as ISO strings (or epoch milliseconds, as ticks are), numbers as numbers
  function value(axis, v) {
    if (v === null || v === undefined) return NaN;
    return axis.type === "time" && typeof v !== "number" ? Date.parse(v) : Number(v);
  }

  // -- scales and ticks ---------------------------------------------------------------------------------------
  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const power = 10 ** Math.floor(Math.log10(raw));
    return power * ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) || 10);
  }

  const HOUR = 3600e3;
  const DAY = 24 * HOUR;
  const TIME_STEPS = [60e3, 5 * 60e3, 15 * 60e3, 30 * 60e3, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY,
                      7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];

  function timeLabel(t, step, span) {
    const iso = new Date(t).toISOString();
    if (step >= DAY) return span > 300 * DAY ? iso.slice(0, 10) : iso.slice(5, 10);
    return span > DAY ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
  }

  function ticks(axis, lo, hi, length) {
    if (axis.type === "time") {
      const step = TIME_STEPS.find((s) => (hi - lo) / s <= Math.max(2, length / 110)) || 365 * DAY;
      const out = [];
      for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) out.push([t, timeLabel(t, step, hi - lo)]);
      return out;
    }
    const step = niceStep(hi - lo || 1, Math.max(2, length / 70));
    const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
      out.push([v, axis.percent ? `${Math.round(v * 100)} %` : (Math.abs(v) < step / 1e6 ? 0 : v).toFixed(digits)]);
    }
    return out;
  }

  // the axis' domain: its min/max where given, else the data's (with a little room), zero kept in view for bars
  function domain(axis, values, zero) {
    const finite = values.filter(Number.isFinite);
    let lo = axis.min !== undefined ? value(axis, axis.min) : Math.min(...finite);
    let hi = axis.max !== undefined ? value(axis, axis.max) : Math.max(...finite);
    if (!finite.length && (axis.min === undefined || axis.max === undefined)) return [0, 1];
    if (zero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    if (lo === hi) { lo -= 1; hi += 1; }
    if (axis.type !== "time") {
      const pad = (hi - lo) * 0.05;
      if (axis.min === undefined && !(zero && lo === 0)) lo -= pad;
      if (axis.max === undefined) hi += pad;
    }
    return [lo, hi];
  }

  function scale(axis, values, from, to, zero) {
    if (axis.type === "category") {
      const cats = axis.categories || [...new Set(values)];
      const step = (to - from) / Math.max(cats.length, 1);  // negative on a y axis (drawn bottom up)
      const index = new Map(cats.map((c, i) => [String(c), i]));
      const at = (v) => from + step * (index.get(String(v)) + 0.5);
      return { at, band: Math.abs(step), cats, ticks: cats.map((c) => [c, String(c)]), lo: 0, hi: 0 };
    }
    const [lo, hi] = domain(axis, values.map((v) => value(axis, v)), zero);
    const at = (v) => from + ((value(axis, v) - lo) / (hi - lo)) * (to - from);
    return { at, lo, hi, ticks: ticks(axis, lo, hi, Math.abs(to - from)) };
  }

  // -- legend ---------------------------------------------------------------------------------------------
  function legendEntries(spec) {
    const entries = [];
    for (const [i, s] of (spec.series || []).entries()) {  // the colour drawSeries gives the series (its index's)
      if (s.name && s.legend !== false) entries.push({ name: s.name, color: s.color || PALETTE[i % PALETTE.length], dash: s.dash, fill: s.type === "band" || s.type === "bar" || s.type === "bins", symbol: s.symbol });
    }
    for (const kind of [...new Set((spec.marks || []).map((m) => m.kind))]) {
      const style = MARK_STYLE[kind] || MARK_STYLE.inspection;
      entries.push({ name: kind, color: style.color, dashArray: style.dash });
    }
    spanNames(spec.spans).forEach((name, k) => entries.push({ name, color: SPAN_COLOURS[k % SPAN_COLOURS.length], fill: true, faint: true }));
    return entries;
  }

  // legend rows at the top right, under the title; returns the height taken
  function drawLegend(svg, entries, width, top) {
    if (!entries.length) return 0;
    const g = svg.appendChild(svgEl("g", { class: "legend" }));
    const rows = [[]];
    let used = 0;
    const room = width - 24;
    for (const e of entries) {
      const w = 34 + 7 * e.name.length;
      if (used + w > room && rows[rows.length - 1].length) { rows.push([]); used = 0; }
      rows[rows.length - 1].push([e, w]);
      used += w;
    }
    rows.forEach((row, r) => {
      let x = width - 12 - row.reduce((sum, [, w]) => sum + w, 0);
      const y = top + 16 * r + 8;
      for (const [e, w] of row) {
        const item = g.appendChild(svgEl("g", { class: "legend-item" }));
        if (e.fill) item.appendChild(svgEl("rect", { x, y: y - 5, width: 18, height: 10, fill: e.color, "fill-opacity": e.faint ? SPAN_OPACITY : 0.75 }));
        else if (e.symbol === "star") item.appendChild(svgEl("path", { d: starPath(x + 9, y, 6), fill: e.color }));
        else item.appendChild(svgEl("line", { x1: x, x2: x + 18, y1: y, y2: y, stroke: e.color, "stroke-width": 2, "stroke-dasharray": e.dashArray ?? DASH[e.dash] }));
        item.appendChild(svgEl("text", { x: x + 23, y: y + 4, fill: INK, "font-size": 12 }, e.name));
        x += w;
      }
    });
    return rows.length * 16 + 4;
  }

  function starPath(cx, cy, r) {
    const pts = [];
    for (let i = 0; i < 10; i += 1) {
      const a = (Math.PI / 5) * i - Math.PI / 2;
      const rr = i % 2 ? r * 0.45 : r;
      pts.push(`${(cx + rr * Math.cos(a)).toFixed(1)},${(cy + rr * Math.sin(a)).toFixed(1)}`);
    }
    return `M${pts.join("L")}Z`;
  }

  // -- axes -------------------------------------------------------------------------------------------------
  function drawAxes(g, area, xs, ys, spec, showX) {
    const axes = g.appendChild(svgEl("g", { class: "axes" }));
    for (const [v, label] of ys.ticks) {
      const y = ys.at(v);
      if (spec.y.type !== "category") axes.appendChild(svgEl("line", { x1: area.left, x2: area.right, y1: y, y2: y, stroke: GRID }));
      axes.appendChild(svgEl("text", { x: area.left - 6, y: y + 4, "text-anchor": "end", fill: MUTED, "font-size": 11 }, shorten(label, 18)));
    }
    const xTicks = spec.x.type === "category" && xs.ticks.length > area.width / 40 ? xs.ticks.filter((_, i) => i % Math.ceil(xs.ticks.length / (area.width / 40)) === 0) : xs.ticks;
    for (const [v, label] of xTicks) {
      const x = xs.at(v);
      if (spec.x.type !== "category") axes.appendChild(svgEl("line", { x1: x, x2: x, y1: area.top, y2: area.bottom, stroke: GRID }));
      if (showX) axes.appendChild(svgEl("text", { x, y: area.bottom + 15, "text-anchor": "middle", fill: MUTED, "font-size": 11 }, shorten(label, 16)));
    }
    axes.appendChild(svgEl("line", { x1: area.left, x2: area.right, y1: area.bottom, y2: area.bottom, stroke: MUTED }));
    axes.appendChild(svgEl("line", { x1: area.left, x2: area.left, y1: area.top, y2: area.bottom, stroke: MUTED }));
    if (spec.y.title) {
      const cy = (area.top + area.bottom) / 2;
      axes.appendChild(svgEl("text", { x: 12, y: cy, transform: `rotate(-90 12 ${cy})`, "text-anchor": "middle", fill: INK, "font-size": 12 }, spec.y.title));
    }
    if (spec.x.title && showX) {
      axes.appendChild(svgEl("text", { x: (area.left + area.right) / 2, y: area.bottom + 32, "text-anchor": "middle", fill: INK, "font-size": 12 }, spec.x.title));
    }
  }

  function shorten(text, n) { return text.length > n ? `${text.slice(0, n - 1)}…` : text; }

  // -- series -----------------------------------------------------------------------------------------------
  function linePath(xs, ys, x, y) {
    let d = "";
    let pen = false;
    for (let i = 0; i < x.length; i += 1) {
      const px = xs.at(x[i]);
      const py = ys.at(y[i]);
      if (!Number.isFinite(px) || !Number.isFinite(py)) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`;
      pen = true;
    }
    return d;
  }

  function drawSeries(g, s, i, xs, ys, area, spec, bars) {
    const color = s.color || PALETTE[i % PALETTE.length];
    const layer = g.appendChild(svgEl("g", { class: `series series-${s.type}`, "data-name": s.name || "" }));
    const at = (k, arr, fallback) => (Array.isArray(arr) ? arr[k] : arr ?? fallback);
    if (s.type === "line") {
      layer.appendChild(svgEl("path", { d: linePath(xs, ys, s.x, s.y), fill: "none", stroke: color, "stroke-width": s.width ?? 1.6, "stroke-dasharray": DASH[s.dash] || "" }));
      if (s.markers) s.x.forEach((xv, k) => dot(layer, xs.at(xv), ys.at(s.y[k]), at(k, s.size, 3), color, s.tips?.[k], k, s));
    } else if (s.type === "band") {
      const top = linePath(xs, ys, s.x, s.high);
      const back = s.x.map((xv, k) => [xs.at(xv), ys.at(s.low[k])]).filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py)).reverse();
      if (top && back.length) layer.appendChild(svgEl("path", { d: `${top}${back.map(([px, py]) => `L${px.toFixed(1)},${py.toFixed(1)}`).join("")}Z`, fill: color, "fill-opacity": 0.3, stroke: "none" }));
    } else if (s.type === "scatter") {
      s.x.forEach((xv, k) => {
        const px = xs.at(xv);
        const py = ys.at(s.y[k]);
        if (!Number.isFinite(px) || !Number.isFinite(py)) return;
        const c = at(k, s.colors, color);
        if (s.symbol === "star") {
          const star = tip(layer.appendChild(svgEl("path", { class: "point", d: starPath(px, py, at(k, s.size, 8)), fill: c })), s.tips?.[k]);
          if (spec.onClick && s.data) {
            star.style.cursor = "pointer";
            star.addEventListener("click", () => spec.onClick(s.data[k]));
          }
        } else dot(layer, px, py, at(k, s.size, 4), c, s.tips?.[k], k, s, spec.onClick);
        if (s.labels) layer.appendChild(svgEl("text", { x: px + 10, y: py + 16, fill: INK, "font-size": 11 }, s.labels[k]));
      });
    } else if (s.type === "bar") {
      const slot = bars.indexOf(s);
      const horizontal = spec.y.type === "category";
      const cat = horizontal ? ys : xs;
      const num = horizontal ? xs : ys;
      const width = (cat.band * 0.7) / bars.length;
      const base = num.at(0);
      (horizontal ? s.y : s.x).forEach((c, k) => {
        const v = (horizontal ? s.x : s.y)[k];
        if (v === null || v === undefined || !Number.isFinite(Number(v))) return;
        const mid = cat.at(c) - cat.band * 0.35 + width * (slot + 0.5);
        const end = num.at(v);
        const rect = horizontal
          ? { x: Math.min(base, end), y: mid - width / 2, width: Math.abs(end - base), height: width }
          : { x: mid - width / 2, y: Math.min(base, end), width, height: Math.abs(end - base) };
        tip(layer.appendChild(svgEl("rect", { class: "point", ...rect, fill: at(k, s.colors, color) })), s.tips?.[k] ?? `${c}: ${v}`);
        if (s.labels) {
          layer.appendChild(horizontal ? svgEl("text", { x: end + 4, y: mid + 4, fill: INK, "font-size": 11 }, s.labels[k])
            : svgEl("text", { x: mid, y: Math.min(base, end) - 4, "text-anchor": "middle", fill: INK, "font-size": 11 }, s.labels[k]));
        }
      });
    } else if (s.type === "bins") {
      s.y.forEach((v, k) => {
        const x0 = xs.at(s.x0[k]);
        const x1 = xs.at(s.x1[k]);
        const y = ys.at(v);
        tip(layer.appendChild(svgEl("rect", { class: "point", x: x0 + 0.5, y, width: Math.max(x1 - x0 - 1, 0.5), height: Math.max(ys.at(0) - y, 0), fill: color })), s.tips?.[k]);
      });
    }
    return layer;
  }

  function dot(layer, px, py, r, color, text, k, s, onClick) {
    if (!Number.isFinite(px) || !Number.isFinite(py)) return;
    const c = tip(layer.appendChild(svgEl("circle", { class: "point", cx: px, cy: py, r, fill: color })), text);
    if (onClick && s.data) {
      c.style.cursor = "pointer";
      c.addEventListener("click", () => onClick(s.data[k]));
    }
  }

  const SPAN_OPACITY = 0.16;
  function spanNames(spans) { return [...new Set((spans || []).map((sp) => sp.name))]; }

  // shaded time ranges (at least 2 px wide, so a label set at one instant shows), behind the panels
  function drawSpans(svg, spans, xs, top, bottom, lo, hi) {
    const names = spanNames(spans);
    const layer = svgEl("g", { class: "spans" });
    for (const sp of spans) {
      const t0 = Math.max(Date.parse(sp.x0), lo);
      const t1 = Math.min(Date.parse(sp.x1), hi);
      if (!(t1 >= t0)) continue;
      const x0 = xs.at(t0);
      const x1 = Math.max(xs.at(t1), x0 + 2);
      const color = SPAN_COLOURS[names.indexOf(sp.name) % SPAN_COLOURS.length];
      tip(layer.appendChild(svgEl("rect", { class: "span", "data-name": sp.name, x: x0, y: top, width: x1 - x0, height: bottom - top, fill: color, "fill-opacity": SPAN_OPACITY })), sp.tip);
    }
    svg.insertBefore(layer, svg.querySelector("g.panel"));
  }

  function drawMarks(g, marks, xs, top, bottom, lo, hi) {
    const layer = g.appendChild(svgEl("g", { class: "marks" }));
    for (const m of marks) {
      const t = Date.parse(m.x);
      if (!(t >= lo && t <= hi)) continue;
      const style = MARK_STYLE[m.kind] || MARK_STYLE.inspection;
      const x = xs.at(m.x);
      tip(layer.appendChild(svgEl("line", { class: "mark", x1: x, x2: x, y1: top, y2: bottom, stroke: style.color, "stroke-width": 1.5, "stroke-dasharray": style.dash })), `${m.kind} ${m.x.replace("T", " ").slice(0, 16)}`);
    }
  }

  // a line chart's read-out: the nearest time under the pointer, and each line's value there
  function hover(svg, g, area, xs, ys, lines) {
    if (!lines.length) return;
    const guide = g.appendChild(svgEl("line", { class: "guide", y1: area.top, y2: area.bottom, stroke: MUTED, visibility: "hidden" }));
    const label = g.appendChild(svgEl("text", { class: "readout", y: area.top + 12, fill: INK, "font-size": 11, visibility: "hidden" }));
    const overlay = g.appendChild(svgEl("rect", { x: area.left, y: area.top, width: area.width, height: area.bottom - area.top, fill: "transparent" }));
    const times = lines[0].x.map((v) => xs.at(v));
    overlay.addEventListener("mousemove", (event) => {
      const box = svg.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * svg.viewBox.baseVal.width;
      let best = 0;
      for (let k = 1; k < times.length; k += 1) if (Math.abs(times[k] - px) < Math.abs(times[best] - px)) best = k;
      const x = times[best];
      guide.setAttribute("x1", x); guide.setAttribute("x2", x); guide.setAttribute("visibility", "visible");
      const when = typeof lines[0].x[best] === "string" ? lines[0].x[best].replace("T", " ").slice(0, 16) : String(lines[0].x[best]);
      const values = lines.map((s) => `${s.name || ""} ${s.y[best] === null || s.y[best] === undefined ? "–" : Number(s.y[best]).toPrecision(3)}`);
      label.textContent = `${when}: ${values.join(", ")}`;
      const right = x > area.left + area.width / 2;
      label.setAttribute("x", right ? x - 6 : x + 6);
      label.setAttribute("text-anchor", right ? "end" : "start");
      label.setAttribute("visibility", "visible");
    });
    overlay.addEventListener("mouseleave", () => { guide.setAttribute("visibility", "hidden"); label.setAttribute("visibility", "hidden"); });
  }

  function plot(svg, spec, panel, area, showX) {
    const g = svg.appendChild(svgEl("g", { class: "panel" }));
    const series = panel.series;
    // time axes span the marks too (the page passes only the events near the charted span)
    const marked = spec.x.type === "time" ? (spec.marks || []).map((m) => m.x) : [];
    const xValues = [...series.flatMap((s) => s.x || [...(s.x0 || []), ...(s.x1 || [])]), ...marked];
    const yValues = series.flatMap((s) => (s.type === "band" ? [...s.low, ...s.high] : s.y || []));
    const horizontal = spec.y.type === "category";
    const hasBars = series.some((s) => s.type === "bar" || s.type === "bins");
    const xs = scale(spec.x, xValues, area.left, area.right, horizontal && hasBars);
    const ys = scale(panel.y || spec.y, yValues, area.bottom, area.top, !horizontal && hasBars);
    drawAxes(g, area, xs, ys, { x: spec.x, y: panel.y || spec.y }, showX);
    const clip = `clip-${Math.random().toString(36).slice(2)}`;
    g.appendChild(svgEl("clipPath", { id: clip })).appendChild(svgEl("rect", { x: area.left, y: area.top - 10, width: area.width, height: area.bottom - area.top + 20 }));
    const body = g.appendChild(svgEl("g", { "clip-path": `url(#${clip})` }));
    const bars = series.filter((s) => s.type === "bar");
    series.forEach((s, i) => drawSeries(body, s, i, xs, ys, area, spec, bars));
    return { g, xs, ys };
  }

  function drawChart(box, spec) {
    const target = typeof box === "string" ? document.getElementById(box) : box;
    const width = Math.max(target.clientWidth || 0, 320);
    const panels = spec.panels || [{ series: spec.series, y: spec.y }];
    const panelHeight = spec.panelHeight || 0;
    const svg = svgEl("svg", { class: "chart-svg", role: "img", "aria-label": spec.title, width: "100%" });
    target.replaceChildren(svg);
    svg.appendChild(svgEl("text", { class: "chart-title", x: 12, y: 20, fill: INK, "font-size": 14, "font-weight": 600 }, spec.title));
    const entries = legendEntries({ series: panels.flatMap((p) => p.series), marks: spec.marks, spans: spec.spans });
    const legendHeight = drawLegend(svg, entries, width, 30);
    const m = Object.assign({ left: 60, right: 20, bottom: spec.x.title ? 44 : 30 }, spec.margin || {});
    const top = 34 + legendHeight;
    // the plot keeps its room whatever the legend takes
    const height = panelHeight ? top + panels.length * panelHeight + m.bottom
      : Math.max(spec.height || 300, top + (spec.height ? 120 : 220) + m.bottom);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const gap = panels.length > 1 ? 22 : 0;
    const each = (height - top - m.bottom - gap * (panels.length - 1)) / panels.length;
    let xs = null;
    panels.forEach((panel, i) => {
      const area = { left: m.left, right: width - m.right, width: width - m.left - m.right, top: top + i * (each + gap) };
      area.bottom = area.top + each;
      const drawn = plot(svg, spec, panel, area, i === panels.length - 1);
      xs = drawn.xs;
      if (panels.length === 1) {
        const named = panel.series.filter((s) => s.type === "line");
        if (named.length && spec.x.type === "time") hover(svg, drawn.g, area, drawn.xs, drawn.ys, named);
      } else if (panel.name) {
        drawn.g.appendChild(svgEl("text", { x: area.left + 6, y: area.top + 12, fill: INK, "font-size": 12 }, panel.name));
      }
    });
    if (spec.spans && spec.spans.length && xs) drawSpans(svg, spec.spans, xs, top, height - m.bottom, xs.lo, xs.hi);
    if (spec.marks && spec.marks.length && xs) drawMarks(svg, spec.marks, xs, top, height - m.bottom, xs.lo, xs.hi);
    return svg;
  }

  return { drawChart, MARK_STYLE };
})();
