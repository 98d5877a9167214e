/* Small SVG charts for the dashboard: time series as lines or stacked bars,
 * drawn with DOM calls only (no HTML strings, no external code). */
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/* "Nice" tick step for a range. */
function niceStep(span, n) {
  const raw = span / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

function fmtTick(v) {
  if (Math.abs(v) >= 1000) return (v / 1000).toFixed(v % 1000 ? 1 : 0) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}

/* A tick's clock in the dashboard's chosen zone (html data-tz: utc or local);
 * seconds when the span is short enough for sub-minute buckets. */
function fmtClock(ms, spanMs) {
  const d = new Date(ms), local = document.documentElement.dataset.tz === "local";
  const p = (x) => String(x).padStart(2, "0");
  let hm = p(local ? d.getHours() : d.getUTCHours()) + ":" + p(local ? d.getMinutes() : d.getUTCMinutes());
  if (spanMs <= 10 * 60000) hm += ":" + p(local ? d.getSeconds() : d.getUTCSeconds());
  if (spanMs > 2 * 86400000)
    return p((local ? d.getMonth() : d.getUTCMonth()) + 1) + "-" + p(local ? d.getDate() : d.getUTCDate()) + " " + hm;
  return hm;
}

/* opts: {title, series: [{name, color, values: [number|null]}], x: [ms], kind: "line"|"stacked",
 *        yMin, yMax, unit, height, xFmt: (x) => label, onBucket: (i) => void} -> a .chart card element */
function tsChart(opts) {
  const card = document.createElement("div");
  card.className = "card chart";
  const h = document.createElement("h2");
  h.textContent = opts.title;
  card.appendChild(h);
  const xs = opts.x || [];
  const W = 560, H = opts.height || 200, L = 44, R = 10, T = 8, B = 24;
  if (!xs.length || !opts.series.some((s) => s.values.some((v) => v !== null && v !== undefined))) {
    const e = document.createElement("div");
    e.className = "empty";
    e.textContent = opts.emptyText || "no data in this range";
    card.appendChild(e);
    return card;
  }
  const stacked = opts.kind === "stacked";
  let ymax = -Infinity, ymin = opts.yMin !== undefined ? opts.yMin : 0;
  for (let i = 0; i < xs.length; i++) {
    let sum = 0;
    for (const s of opts.series) {
      const v = s.values[i];
      if (v === null || v === undefined) continue;
      if (stacked) sum += v; else ymax = Math.max(ymax, v);
      if (!stacked && opts.yMin === undefined) ymin = Math.min(ymin, v);
    }
    if (stacked) ymax = Math.max(ymax, sum);
  }
  if (opts.yMax !== undefined) ymax = opts.yMax;
  if (!(ymax > ymin)) ymax = ymin + 1;
  const step = niceStep(ymax - ymin, 4);
  ymax = Math.ceil(ymax / step) * step;
  const x0 = xs[0], x1 = xs[xs.length - 1];
  const bw = xs.length > 1 ? (x1 - x0) / (xs.length - 1) : 60000;
  const xmin = x0 - (stacked ? bw / 2 : 0), xmax = x1 + (stacked ? bw / 2 : 0);
  const sx = (x) => L + (xmax > xmin ? (x - xmin) / (xmax - xmin) : 0.5) * (W - L - R);
  const sy = (y) => T + (1 - (y - ymin) / (ymax - ymin)) * (H - T - B);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title });
  for (let y = ymin; y <= ymax + 1e-9; y += step) {
    svg.appendChild(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: sy(y), y2: sy(y) }));
    svg.appendChild(svgEl("text", { x: L - 5, y: sy(y) + 3, "text-anchor": "end" }, fmtTick(y) + (opts.unit || "")));
  }
  const nt = Math.min(6, xs.length);
  for (let k = 0; k < nt; k++) {
    const i = Math.round((k * (xs.length - 1)) / Math.max(1, nt - 1));
    const anchor = stacked || nt < 2 ? "middle" : k === 0 ? "start" : k === nt - 1 ? "end" : "middle";
    const label = opts.xFmt ? opts.xFmt(xs[i]) : fmtClock(xs[i], x1 - x0);
    svg.appendChild(svgEl("text", { class: "xtick", x: sx(xs[i]), y: H - 6, "text-anchor": anchor, "data-t": xs[i] }, label));
  }
  svg.appendChild(svgEl("line", { class: "axis", x1: L, x2: W - R, y1: sy(ymin), y2: sy(ymin) }));
  if (stacked) {
    const pw = Math.max(1, ((W - L - R) / Math.max(1, (xmax - xmin) / bw)) * 0.8);
    const base = xs.map(() => 0);
    for (const s of opts.series) {
      for (let i = 0; i < xs.length; i++) {
        const v = s.values[i] || 0;
        if (!v) continue;
        const y0 = sy(base[i]), y1 = sy(base[i] + v);
        const r = svgEl("rect", { x: sx(xs[i]) - pw / 2, y: y1, width: pw, height: Math.max(0.5, y0 - y1), fill: s.color });
        r.appendChild(svgEl("title", {}, `${s.name}: ${v}`));
        svg.appendChild(r);
        base[i] += v;
      }
    }
  } else {
    for (const s of opts.series) {
      let d = "", pen = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        d += (pen ? "L" : "M") + sx(xs[i]).toFixed(1) + " " + sy(v).toFixed(1);
        pen = true;
      });
      svg.appendChild(svgEl("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round" }));
      if (xs.length <= 60) {
        s.values.forEach((v, i) => {
          if (v === null || v === undefined) return;
          const c = svgEl("circle", { cx: sx(xs[i]), cy: sy(v), r: 2.5, fill: s.color });
          c.appendChild(svgEl("title", {}, `${s.name}: ${fmtTick(Math.round(v * 100) / 100)}`));
          svg.appendChild(c);
        });
      }
    }
  }
  /* a bucket is clickable when the page says what it opens */
  if (opts.onBucket) {
    const cw = (W - L - R) / Math.max(1, (xmax - xmin) / bw + (stacked ? 0 : 1));
    xs.forEach((x, i) => {
      const r = svgEl("rect", { class: "bucket-hit", x: sx(x) - cw / 2, y: T, width: cw, height: H - T - B,
                                "data-i": i, "data-t": x });
      r.appendChild(svgEl("title", {}, (opts.xFmt ? opts.xFmt(x) : fmtClock(x, x1 - x0)) + ": open the calls of this bucket"));
      r.addEventListener("click", () => opts.onBucket(i));
      svg.appendChild(r);
    });
  }
  card.appendChild(svg);
  const lg = document.createElement("div");
  lg.className = "legend";
  for (const s of opts.series) {
    const span = document.createElement("span");
    const i = document.createElement("i");
    i.style.background = s.color;
    span.appendChild(i);
    span.appendChild(document.createTextNode(s.name));
    lg.appendChild(span);
  }
  card.appendChild(lg);
  return card;
}

window.tsChart = tsChart;
window.svgEl = svgEl;
