/* trunkscope dashboard: overview, calls, call detail with the SIP ladder,
 * trunks. Plain JS against /api/v1; every value from the API is inserted as
 * text (never as HTML): SIP text comes from strangers. */
"use strict";

const API = "/api/v1";
const COLORS = ["#2b6cb0", "#2f855a", "#c05621", "#6b46c1", "#b83280", "#2c7a7b", "#975a16", "#4a5568"];
const OUTCOME_COLORS = { answered: "#2f855a", busy: "#d69e2e", cancelled: "#718096", rejected: "#dd6b20",
                         failed: "#c53030", timeout: "#805ad5", in_progress: "#3182ce", pending: "#63b3ed" };
const FAILED = new Set(["failed", "rejected", "timeout"]);
/* Every call that did not succeed (and has ended): the trunk page's "Failed calls". */
const UNSUCCESSFUL = "busy,rejected,cancelled,failed,timeout";
const POOR_MOS = 3.5;
const state = { live: false, timer: null, token: sessionStorage.getItem("ts-token") || "",
                site: sessionStorage.getItem("ts-site") || "", sites: [] };

/* ---- small helpers ---- */

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of kids.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const pct = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%");
const num = (v, d = 0) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
const ms = (v) => (v === null || v === undefined ? "–" : Math.round(v) + " ms");
const secs = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1) + " s");
// An answered call still up when the input ended: its duration runs to that
// end, so it is a lower bound.
const callDur = (c) => (c.outcome === "in_progress" && c.duration_s > 0
  ? h("span", { class: "still-up", "data-still-up": "1", title: "still up when the input ended: at least this long" },
      "≥ " + secs(c.duration_s))
  : secs(c.duration_s));
const bucketText = (b) => (b < 60 ? b + " s" : b < 3600 ? b / 60 + " min" : b / 3600 + " h");

/* Times: UTC (the default: carriers and SIP traces speak it) or the
 * browser's local time, chosen in the header, remembered in localStorage
 * ("ts-tz") and set by a link's tz=local|utc. Every shown time, the charts'
 * axes and the from/to inputs follow it; the address bar keeps UTC. */
const TZ_KEY = "ts-tz";
const tzLocal = () => document.documentElement.dataset.tz === "local";

/* "UTC", or "local" with the offset at ms (now when absent), e.g. "local, UTC+05:30". */
function tzLabel(ms) {
  if (!tzLocal()) return "UTC";
  const off = -new Date(ms ?? Date.now()).getTimezoneOffset(), a = Math.abs(off);
  return `local, UTC${off < 0 ? "−" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

/* The wall clock of ms in the chosen zone as "YYYY-MM-DDTHH:MM:SS.mmm". */
function wallClock(ms) {
  const shift = tzLocal() ? -new Date(ms).getTimezoneOffset() * 60000 : 0;
  return new Date(ms + shift).toISOString().slice(0, 23);
}

/* An API time (ISO 8601, UTC) as shown: "YYYY-MM-DD HH:MM:SS" with the
 * fraction the API gave (milliseconds at most). */
function when(iso) {
  if (!iso) return "–";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const frac = (/\.(\d+)(Z|[+-]\d\d:?\d\d)?$/.exec(iso) || [])[1] || "";
  const w = wallClock(t);
  return w.slice(0, 10) + " " + w.slice(11, 19) + (frac ? "." + w.slice(20, 20 + Math.min(3, frac.length)) : "");
}

/* A datetime-local input's value for ms or an ISO time, in the chosen zone. */
function toInput(v) {
  const t = typeof v === "number" ? v : Date.parse(v || "");
  return Number.isNaN(t) ? "" : wallClock(t).slice(0, 16);
}

/* A datetime-local input's value ("YYYY-MM-DDTHH:MM") as the API's UTC time. */
function fromInput(v) {
  if (!tzLocal()) return v + ":00Z";
  const t = new Date(v).getTime(); /* no zone in the text: read as local time */
  return Number.isNaN(t) ? v + ":00Z" : new Date(t).toISOString().replace(/\.000Z$/, "Z");
}

function tzApply(tz) {
  document.documentElement.dataset.tz = tz === "local" ? "local" : "utc";
  const b = document.getElementById("tz-toggle");
  if (b) {
    b.textContent = tzLocal() ? "local time" : "UTC";
    b.title = `times shown in ${tzLabel()}: click for ${tzLocal() ? "UTC" : "local time"} (remembered)`;
    b.dataset.tz = document.documentElement.dataset.tz;
  }
}

function tzChoose(tz) {
  try {
    localStorage.setItem(TZ_KEY, tz);
  } catch { /* not remembered, still applied */ }
  tzApply(tz);
}

tzApply((() => { try { return localStorage.getItem(TZ_KEY); } catch { return null; } })());

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || "HTTP " + status);
    this.status = status;
  }
}

/* A page's answer that arrived after the user went to another page (or
 * chose another site): dropped, so a slow earlier page cannot overwrite
 * the one shown. route() counts pages in state.page. */
class Stale extends Error {}
const orNull = (e) => { if (e instanceof Stale) throw e; return null; };

/* opts.anyPage: not the page's own request (the status chip, the site
 * list), kept whatever page is shown. */
async function api(path, opts = {}) {
  const page = state.page;
  const current = () => { if (!opts.anyPage && page !== state.page) throw new Stale(path); };
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  let r;
  /* the server caps requests in flight per client (503) and their rate
   * (429): a page whose predecessor's requests are still running waits and
   * tries again rather than showing an error */
  for (let attempt = 0; ; attempt++) {
    r = await fetch(API + path, { headers, cache: "no-store" });
    if ((r.status !== 503 && r.status !== 429) || attempt >= 4) break;
    await new Promise((res) => setTimeout(res, 150 * 2 ** attempt));
  }
  current();
  if (r.status === 401) {
    askToken();
    throw new ApiError(401, await r.json().catch(() => null));
  }
  if (opts.raw) {
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    return r;
  }
  const body = await r.json().catch(() => null);
  current();
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

function askToken() {
  document.getElementById("auth").classList.remove("hidden");
  document.getElementById("auth-token").focus();
}

function setStatus(text, cls) {
  const s = document.getElementById("status");
  s.className = "status " + (cls || "");
  s.title = text; /* whole, where a narrow header cuts the text short */
  document.getElementById("status-text").textContent = text;
}

/* The page refreshes itself once after ms (a route change cancels it). */
function refreshIn(fn, ms) {
  clearTimeout(state.timer);
  const page = location.hash;
  state.timer = setTimeout(() => {
    if (location.hash !== page) return;
    refreshStatus();
    Promise.resolve(fn()).catch(showError);
  }, ms);
}

/* A table's text as CSV (RFC 4180 quoting), saved as name.csv. */
function tableCsv(table) {
  const cell = (td) => {
    const t = td.textContent.replace(/\s+/g, " ").trim();
    return /[",\r\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  };
  return [...table.querySelectorAll("tr")].map((tr) => [...tr.children].map(cell).join(",")).join("\r\n") + "\r\n";
}

function csvButton(tableId, name, label) {
  return h("button", { type: "button", class: "csv", "data-csv": tableId, title: `${name}.csv`, onclick: () => {
    const t = document.getElementById(tableId);
    if (!t) return;
    const url = URL.createObjectURL(new Blob([tableCsv(t)], { type: "text/csv" }));
    const a = h("a", { href: url, download: name + ".csv" });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } }, label || "CSV");
}

/* A card's heading with a CSV button per table it holds ([id, file name, label]). */
function cardHead(title, ...tables) {
  return h("div", { class: "toolbar" }, h("h2", {}, title), h("span", { class: "spacer" }),
    tables.map(([id, name, label]) => csvButton(id, name, label)));
}

function view(...kids) {
  const v = document.getElementById("view");
  v.replaceChildren(...kids.filter((k) => k !== null && k !== undefined && k !== false));
  return v;
}

function showError(e) {
  if (e instanceof Stale) return;
  refreshStatus();
  view(h("div", { class: "error-box", role: "alert" }, "Could not load: ", e.message || String(e)));
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) u.set(k, v);
  const s = u.toString();
  return s ? "?" + s : "";
}

/* ---- sites: one selector filters the overview, calls and trunks ---- */

async function loadSites() {
  const sel = document.getElementById("site-select");
  try {
    state.sites = (await api("/sites", { anyPage: true })).sites;
  } catch {
    state.sites = [];
  }
  if (state.site && !state.sites.some((s) => s.site === state.site)) {
    state.site = "";
    sessionStorage.removeItem("ts-site");
  }
  sel.replaceChildren(h("option", { value: "" }, "all sites"), ...state.sites.map((s) =>
    h("option", { value: s.site, selected: s.site === state.site }, `${s.site} (${s.calls} calls)`)));
  document.getElementById("site-pick").classList.toggle("hidden", state.sites.length === 0);
}

document.getElementById("site-select").addEventListener("change", (ev) => {
  state.site = ev.target.value;
  if (state.site) sessionStorage.setItem("ts-site", state.site);
  else sessionStorage.removeItem("ts-site");
  route();
});

const siteInfo = () => state.sites.find((s) => s.site === state.site);
const siteName = (s) => s || "no site (local capture)";

/* Trunks by site in name order, those without a site last. */
function bySite(trunks) {
  const groups = new Map();
  for (const t of trunks) {
    const k = t.site ?? "";
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(t);
  }
  return [...groups.entries()].sort(([a], [b]) => (a === "") - (b === "") || a.localeCompare(b));
}

/* ---- router ---- */

/* The status chip, on every page: a live sensor (this process or one
 * writing the database), or the database and its calls; red when the API
 * does not answer. */
async function refreshStatus() {
  try {
    /* one request at a time, after the page's own: the server caps a client's connections */
    const o = { anyPage: true };
    const health = await api("/health", o), stats = await api("/stats", o), active = await api("/active?limit=1", o);
    if (health.live)
      setStatus("live sensor" + (stats.active_calls !== null ? ` · ${stats.active_calls} up` : ""), "live");
    else if (active.running && active.age_s !== null && active.age_s < 60)
      setStatus(`sensor writing · ${active.calls_up} up · ${stats.totals.calls} calls`, "live");
    else
      setStatus("database · " + stats.totals.calls + " calls", "");
  } catch (e) {
    setStatus(e.status === 401 ? "token needed" : "API unreachable", "error");
  }
}

const TITLES = { overview: "Overview", calls: "Calls", call: "Call", trunks: "Trunks", trunk: "Trunk", active: "In progress",
                 topology: "Topology", alerts: "Alerts" };

/* One keyboard handler for the page shown (the call page's ladder keys);
 * a route change removes it. */
function onPageKey(fn) {
  if (state.keys) document.removeEventListener("keydown", state.keys);
  state.keys = fn;
  if (fn) document.addEventListener("keydown", fn);
}

function route() {
  state.page = (state.page || 0) + 1;
  clearTimeout(state.timer);
  state.timer = null;
  onPageKey(null);
  document.body.classList.remove("msg-open");
  const hash = location.hash.replace(/^#/, "") || "/overview";
  const [path, query] = hash.split("?");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  const parts = path.split("/").filter(Boolean);
  if (params.tz === "local" || params.tz === "utc") tzChoose(params.tz);
  document.title = "trunkscope · " + (TITLES[parts[0]] || "Overview") + (parts[1] ? " " + parts[1] : "");
  document.querySelectorAll("header nav a").forEach((a) =>
    a.classList.toggle("active", a.dataset.nav === (parts[0] === "call" ? "calls" : parts[0] === "trunk" ? "trunks" : parts[0])));
  let p;
  if (parts[0] === "calls") p = pageCalls(params);
  else if (parts[0] === "call" && /^\d+$/.test(parts[1] || "")) p = pageCall(parts[1], params);
  else if (parts[0] === "trunks") p = pageTrunks();
  else if (parts[0] === "trunk" && /^\d+$/.test(parts[1] || "")) p = pageTrunk(parts[1], params);
  else if (parts[0] === "active") p = pageActive();
  else if (parts[0] === "topology") p = pageTopology();
  else if (parts[0] === "alerts") p = pageAlerts(params);
  else p = pageOverview(params);
  Promise.resolve(p).catch(showError).finally(refreshStatus);
}

/* ---- overview ---- */

/* The time-range picker of the overview and trunk pages: a span ending at
 * the newest data (a stored capture may be old), or a custom from/to (in
 * the chosen zone, sent as UTC),
 * and the bucket: automatic (the API picks a round step giving at most 180
 * points, seconds for a short capture) or chosen. */
const RANGES = [["all", "Whole capture"], ["15m", "15 min"], ["1h", "1 h"], ["6h", "6 h"], ["24h", "24 h"],
                ["7d", "7 days"], ["custom", "Custom"]];
const RANGE_MS = { "15m": 900e3, "1h": 3600e3, "6h": 6 * 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };
const BUCKETS = [10, 30, 60, 300, 900, 3600, 86400];

/* The /kpis query of a page's range and bucket parameters. */
function rangeParams(params, lastMs, minBucket) {
  const q = {};
  const range = params.range || "all";
  if (range === "custom") {
    if (params.from) q.from = params.from;
    if (params.to) q.to = params.to;
  } else if (RANGE_MS[range] && lastMs) {
    // to the end of the newest call's minute: a range on whole minutes
    // reads the stored minutes only, none of their calls one by one; a
    // week (hour buckets) to the end of its hour, so that a trunk's
    // series reads its stored hours
    const step = RANGE_MS[range] >= RANGE_MS["7d"] ? 3600e3 : 60e3;
    q.to = Math.floor(lastMs / step) * step + step;
    q.from = q.to - RANGE_MS[range];
  }
  const b = Number(params.bucket);
  if (b && BUCKETS.includes(b) && b >= minBucket) q.bucket = b;
  return q;
}

/* The picker: range buttons, the custom from/to, the bucket; each choice
 * goes to the address bar (a deep link) as base?range=..&from=..&to=..&bucket=.. */
function rangeBar(base, params, series, minBucket, extra) {
  const range = params.range || "all";
  const go = (p) => {
    const q = Object.assign({ range: params.range, from: params.from, to: params.to, bucket: params.bucket }, p);
    if (q.range !== "custom") { delete q.from; delete q.to; }
    if (q.range === "all") delete q.range;
    location.hash = base + qs(q);
  };
  const from = h("input", { type: "datetime-local", name: "from", "aria-label": `from (${tzLabel()})`,
    value: toInput(params.from) || toInput(series.from_ms) });
  const to = h("input", { type: "datetime-local", name: "to", "aria-label": `to (${tzLabel()})`,
    value: toInput(params.to) || toInput(series.to_ms) });
  const custom = h("form", { class: "range-custom" + (range === "custom" ? "" : " hidden"), id: "range-custom" },
    h("label", {}, `From (${tzLabel()}) `, from), h("label", {}, " to ", to), " ",
    h("button", { type: "submit", class: "primary" }, "Apply"));
  custom.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (from.value && to.value) go({ range: "custom", from: fromInput(from.value), to: fromInput(to.value) });
  });
  const bucket = h("select", { id: "range-bucket", "aria-label": "bucket" },
    h("option", { value: "" }, "auto"),
    BUCKETS.filter((b) => b >= minBucket).map((b) => h("option", { value: b, selected: String(b) === params.bucket }, bucketText(b))));
  bucket.addEventListener("change", () => go({ bucket: bucket.value || undefined }));
  const pts = series.points.length;
  return h("div", { class: "range-picker", id: "range-picker" },
    h("div", { class: "toolbar" }, h("strong", {}, "Range"),
      h("div", { class: "segs" }, RANGES.map(([k, label]) => h("button", { type: "button", class: "seg" + (k === range ? " on" : ""),
        "data-range": k, onclick: () => (k === "custom" ? custom.classList.remove("hidden") : go({ range: k })) }, label))),
      h("label", { class: "muted" }, "bucket ", bucket),
      h("span", { class: "muted", id: "range-facts", "data-points": pts, "data-bucket": series.bucket_s },
        `${when(new Date(series.from_ms).toISOString())} – ${when(new Date(series.to_ms).toISOString())} ${tzLabel(series.from_ms)} · ` +
        `${bucketText(series.bucket_s)} buckets · ${pts} point${pts === 1 ? "" : "s"}`),
      h("span", { class: "spacer" }), extra || null),
    custom);
}

/* One rule for a trunk's figures: each KPI is red past its first limit,
 * amber past its second (under them; PDD over them), else green. The
 * tiles' colours, their health word and the topology's lines all follow
 * it (tileHealth). */
const KPI_LIMITS = {
  asr: { label: "ASR", bad: 0.4, warn: 0.55, text: pct },
  ner: { label: "NER", bad: 0.9, warn: 0.97, text: pct },
  pdd_mean_ms: { label: "PDD", bad: 4000, warn: 2500, higher: false, text: (v) => ms(v) },
  mos: { label: "MOS", bad: 3.1, warn: 3.6, text: (v) => num(v, 2) },
};
function kpiClass(key, v) {
  const l = KPI_LIMITS[key];
  if (v === null || v === undefined) return "";
  const under = (lim) => (l.higher === false ? v > lim : v < lim);
  return under(l.bad) ? "bad" : under(l.warn) ? "warn" : "good";
}

/* A tile's health word: the alert evaluator's (t.health, over its last
 * window), raised to degraded by an amber figure and to critical by a red
 * one, so that it never says healthy beside a red figure; the reasons with
 * it (the evaluator's, then the figures'). */
const HEALTH_ORDER = ["unknown", "idle", "healthy", "degraded", "critical", "down"];
function tileHealth(t) {
  let state = t.health ? t.health.state : "unknown";
  const reasons = t.health ? t.health.reasons.map((r) => r.text) : [];
  for (const [key, l] of Object.entries(KPI_LIMITS)) {
    const c = kpiClass(key, t[key]);
    if (c !== "bad" && c !== "warn") continue;
    const want = c === "bad" ? "critical" : "degraded";
    if (HEALTH_ORDER.indexOf(want) > HEALTH_ORDER.indexOf(state)) state = want;
    reasons.push(`${l.label} ${l.text(t[key])}: ${c === "bad" ? "red" : "amber"} ${l.higher === false ? "over" : "under"} ` +
      l.text(c === "bad" ? l.bad : l.warn));
  }
  return { state, reasons };
}

function kpiTile(t) {
  const k = (label, value, c) => h("div", { class: "kpi " + (c || ""), "data-kpi": label.toLowerCase() },
    h("div", { class: "v" }, value), h("div", { class: "l" }, label));
  const hs = t.health ? t.health.state : "unknown", th = tileHealth(t);
  return h("div", { class: "tile health-" + th.state, "data-trunk": t.id, "data-health": hs, "data-state": th.state,
    onclick: () => (location.hash = "#/trunk/" + t.id), title: th.reasons.join("\n") },
    h("div", { class: "name" }, t.name || t.peer, " ", h("span", { class: "badge " + t.type }, t.type), " ",
      h("span", { class: "badge health " + th.state }, th.state)),
    h("div", { class: "sub" }, `${t.local} ⇄ ${t.peer} · ${t.attempts} attempts`),
    h("div", { class: "kpis" },
      k("ASR", pct(t.asr), kpiClass("asr", t.asr)),
      k("NER", pct(t.ner), kpiClass("ner", t.ner)),
      k("ACD", secs(t.acd_s)),
      k("PDD", ms(t.pdd_mean_ms), kpiClass("pdd_mean_ms", t.pdd_mean_ms)),
      k("MOS", num(t.mos, 2), kpiClass("mos", t.mos)),
      k("Active", t.active_calls === null ? "–" : t.active_calls)));
}

/* The calls of bucket i of a series (the calls page's from/to, UTC). */
function bucketCalls(series, extra) {
  const iso = (ms) => new Date(ms).toISOString().replace(/\.000Z$/, "Z");
  return (i) => {
    const t = series.points[i].t_ms;
    location.hash = "#/calls" + qs(Object.assign({ from: iso(t), to: iso(t + series.bucket_s * 1000) }, extra || {}));
  };
}

/* The KPI charts of a series; the MOS chart only when some bucket has a MOS,
 * else the line noMedia says (a trunk or a database without media). */
function seriesCharts(points, noMedia, onBucket = null) {
  const x = points.map((p) => p.t_ms);
  const col = (k) => points.map((p) => p[k]);
  const charts = [
    tsChart({ title: "Attempts and answered", x, onBucket, series: [
      { name: "attempts", color: "#2b6cb0", values: col("attempts") },
      { name: "answered", color: "#2f855a", values: col("answered") }] }),
    tsChart({ title: "Concurrent calls (peak per bucket)", x, series: [
      { name: "concurrent", color: "#6b46c1", values: col("concurrent") }] }),
    tsChart({ title: "Outcomes (final responses)", x, kind: "stacked", onBucket, series:
      ["answered", "busy", "cancelled", "rejected", "failed", "timeouts"].map((k) => ({
        name: k, color: OUTCOME_COLORS[k === "timeouts" ? "timeout" : k], values: col(k) })) }),
    tsChart({ title: "ASR (answered / attempts)", x, series: [
      { name: "ASR %", color: "#2f855a", values: points.map((p) => (p.asr === null ? null : p.asr * 100)) }],
      yMax: 100, unit: "%" }),
    tsChart({ title: "Post-dial delay (mean)", x, series: [
      { name: "PDD ms", color: "#c05621", values: col("pdd_mean_ms") }] }),
  ];
  const withMos = points.some((p) => p.mos !== null && p.mos !== undefined);
  if (withMos)
    charts.push(tsChart({ title: "MOS (mean of calls)", x, yMin: 1, yMax: 5, series: [
      { name: "MOS", color: "#b83280", values: col("mos") }] }));
  return h("div", { class: "series" }, withMos ? null : h("p", { class: "muted no-media", id: "no-media" }, noMedia),
    h("div", { class: "charts" }, charts));
}

/* A KPI series; a range the API refuses (to before from, too many points)
 * gives an empty series and the API's reason beside the picker. */
async function kpiSeries(path, q) {
  try {
    return { series: await api(path + qs(q)), err: null };
  } catch (e) {
    if (e.status !== 400) throw e;
    const now = Date.now();
    return { series: { points: [], bucket_s: Number(q.bucket) || 60, from_ms: now, to_ms: now },
             err: h("div", { class: "error-box", role: "alert", id: "range-error" }, "Range: ", e.message) };
  }
}

async function pageOverview(params) {
  const [health, trunks, stats] = await Promise.all([api("/health"),
    api("/trunks" + qs({ site: state.site })), api("/stats")]);
  const active = await api("/active?limit=1");
  const alerts = await api("/alerts?state=firing,pending&limit=5");
  state.live = health.live;
  const si = siteInfo();
  const lastCall = si ? si.last_call : stats.totals.last_call;
  const lastMs = lastCall ? Date.parse(lastCall) : 0;
  const { series, err } = await kpiSeries("/kpis", Object.assign(rangeParams(params, lastMs, 10), { site: state.site }));
  const bar = rangeBar("#/overview", params, series, 10,
    h("span", { class: "muted", id: "overview-facts" }, si
      ? `site ${si.site} · ${si.calls} calls · ${si.trunks} trunks · ${when(si.first_call)} – ${when(si.last_call)} ${tzLabel()}`
      : `${stats.totals.calls} calls · ${stats.totals.sip_messages} SIP messages · ` +
        `${when(stats.totals.first_call)} – ${when(stats.totals.last_call)} ${tzLabel()}`));
  const facts = [];
  if (stats.source === "live")
    facts.push(h("div", { class: "card" }, h("h2", {}, "Sensor"), h("dl", { class: "facts" },
      h("dt", {}, "packets"), h("dd", {}, stats.packets), h("dt", {}, "packets/s"), h("dd", {}, num(stats.packets_per_second)),
      h("dt", {}, "active calls"), h("dd", {}, stats.active_calls), h("dt", {}, "drops (kernel / queue / store)"),
      h("dd", {}, `${stats.drops_kernel} / ${stats.drops_queue} / ${stats.store_dropped}`),
      h("dt", {}, "queue depth"), h("dd", {}, stats.queue_depth))));
  if (active.running) facts.push(activeSummary(active));
  view(h("h1", {}, "Overview" + (state.site ? " · " + state.site : "")), alertBanner(alerts), bar, ...facts,
    trunks.trunks.length ? h("div", { class: "tiles" }, trunks.trunks.map(kpiTile))
      : h("div", { class: "card muted" }, "No trunks in this database yet."),
    err, seriesCharts(series.points, stats.totals.streams > 0
      ? "No media in this range (no MOS to chart)." : "No media in this database: SIP only, no RTP stream stored.",
    bucketCalls(series)));
  if (health.live || active.running) refreshIn(() => pageOverview(params), 10000);
}

/* ---- alerts ---- */

/* The overview's banner: what fires now (nothing when all is quiet). */
function alertBanner(a) {
  const c = a.active;
  if (!c.firing && !c.pending) return h("div", { id: "alert-banner", class: "banner ok hidden" });
  const cls = c.firing_critical ? "bad" : c.firing ? "warn" : "pending";
  return h("div", { id: "alert-banner", class: "banner " + cls, "data-firing": c.firing, "data-pending": c.pending },
    h("strong", {}, c.firing ? `${c.firing} alert${c.firing > 1 ? "s" : ""} firing` : "no alert firing"),
    c.pending ? ` · ${c.pending} pending` : "", " · ",
    a.alerts.filter((x) => x.state !== "resolved").slice(0, 3).map((x) => `${x.rule} on ${x.target}`).join(", "),
    " ", h("a", { href: "#/alerts" }, "all alerts ›"));
}

const ALERT_STATES = [["firing,pending", "Active"], ["resolved", "Resolved"], ["pending,firing,resolved", "All"]];

async function pageAlerts(params) {
  const st = params.state || "pending,firing,resolved";
  const a = await api("/alerts" + qs({ state: st, limit: 500 }));
  const rows = a.alerts.map((x) => h("tr", { "data-alert": x.id, "data-state": x.state, class: "alert-" + x.state + " sev-" + x.severity },
    h("td", {}, h("span", { class: "badge alert " + x.state }, x.state)), h("td", {}, x.severity), h("td", {}, x.rule),
    h("td", {}, x.trunk_id ? h("a", { href: "#/trunk/" + x.trunk_id }, x.target) : x.target),
    h("td", {}, x.summary || ""),
    h("td", {}, when(x.started)), h("td", {}, when(x.fired)), h("td", {}, when(x.resolved)),
    h("td", {}, x.evidence && x.evidence.calls && x.evidence.calls.length
      ? x.evidence.calls.flatMap((id, i) => [i ? " " : "", h("a", { href: "#/call/" + id }, "#" + id)]) : "–")));
  view(h("div", { class: "toolbar" }, h("h1", {}, "Alerts"),
    h("div", {}, ALERT_STATES.map(([k, label]) => h("button", { class: "seg" + (k === st ? " on" : ""),
      onclick: () => (location.hash = "#/alerts?state=" + k) }, label))),
    h("span", { class: "spacer" }), h("span", { class: "muted" }, `${a.active.firing} firing · ${a.active.pending} pending`),
    csvButton("alerts-table", "alerts")),
    h("div", { class: "card" }, h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "alerts-table" },
      h("thead", {}, h("tr", {}, ["State", "Severity", "Rule", "Target", "Summary", "Started", "Fired", "Resolved", "Calls"].map((x) => h("th", {}, x)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No alerts."))))),
      h("p", { class: "muted" }, "Times are the data's (capture time). Rules and thresholds: the configuration's alert.* keys over the shipped defaults.")));
  if (state.live) refreshIn(() => pageAlerts(params), 10000);
}

/* The trunk page's health card: state, reasons, the last window's numbers. */
function healthCard(hl) {
  if (!hl) return h("div", { class: "card", id: "health-card" }, h("h2", {}, "Health"), h("div", { class: "muted" }, "Not evaluated yet."));
  const m = hl.metrics || {};
  const o = m.options;
  return h("div", { class: "card health-" + hl.state, id: "health-card", "data-health": hl.state },
    h("h2", {}, "Health ", h("span", { class: "badge health " + hl.state }, hl.state)),
    hl.reasons.length ? h("ul", { id: "health-reasons" }, hl.reasons.map((r) => h("li", {}, h("strong", {}, r.rule), ` (${r.state}): ${r.text}`)))
      : h("div", { class: "muted" }, "No alert pending or firing."),
    h("dl", { class: "facts" },
      h("dt", {}, "ASR / baseline"), h("dd", {}, `${pct(m.asr)} / ${pct(m.baseline_asr)}`),
      h("dt", {}, "NER / baseline"), h("dd", {}, `${pct(m.ner)} / ${pct(m.baseline_ner)}`),
      h("dt", {}, "5xx share"), h("dd", {}, pct(m.share_5xx)),
      h("dt", {}, "PDD p95"), h("dd", {}, ms(m.pdd_p95_ms)),
      h("dt", {}, "MOS / loss"), h("dd", {}, `${num(m.mos, 2)} / ${m.loss_pct === null || m.loss_pct === undefined ? "–" : num(m.loss_pct, 1) + " %"}`),
      h("dt", {}, "one-way or silent"), h("dd", {}, pct(m.no_rtp_share)),
      h("dt", {}, "concurrent / channels"), h("dd", {}, `${m.peak_concurrent ?? "–"} / ${m.channels ?? "not configured"}`),
      h("dt", {}, "OPTIONS"), h("dd", {}, o ? `${o.answered}/${o.requests} answered, ${o.misses_in_row} missed in a row` +
        (o.last_answer_age_s !== null ? `, last answer ${num(o.last_answer_age_s)} s ago` : "") : "none seen"),
      h("dt", {}, "as of"), h("dd", {}, `${when(hl.data_ts)} ${tzLabel()}`)));
}

/* ---- calls in progress (a running sensor's last snapshot) ---- */

const STATE_TEXT = { up: "up", ringing: "ringing", trying: "trying" };

function activeSummary(a) {
  const fresh = a.running && a.age_s !== null && a.age_s < 60;
  return h("div", { class: "card", id: "active-summary" }, h("h2", {}, "In progress"),
    h("dl", { class: "facts" },
      h("dt", {}, "calls up"), h("dd", { "data-active": "calls_up" }, a.calls_up ?? "–"),
      h("dt", {}, "legs up / ringing / trying"),
      h("dd", {}, `${a.legs_up ?? "–"} / ${a.legs_ringing ?? "–"} / ${a.legs_trying ?? "–"}`),
      h("dt", {}, "as of"), h("dd", {}, a.capture_time ? when(a.capture_time) + " " + tzLabel() : "–",
        a.running ? (fresh ? "" : " (sensor silent)") : " (no sensor running)")));
}

async function pageActive() {
  const a = await api("/active");
  const rows = [];
  for (const c of a.calls)
    c.legs.forEach((l, i) => rows.push(h("tr", { class: i ? "sub-leg" : "", "data-state": l.state },
      h("td", {}, i ? "" : h("span", { class: "badge " + (c.state === "up" ? "answered" : "timeout") }, STATE_TEXT[c.state])),
      h("td", {}, STATE_TEXT[l.state]), h("td", {}, l.caller || "–"), h("td", {}, l.callee || "–"),
      h("td", {}, when(l.invite)), h("td", {}, l.up_s === null ? "–" : secs(l.up_s)),
      h("td", {}, l.age_s === null ? "–" : secs(l.age_s)),
      h("td", { class: "mono" }, `${l.src}:${l.sport} → ${l.dst}:${l.dport}`),
      h("td", { class: "mono small" }, l.call_id || ""))));
  view(h("div", { class: "toolbar" }, h("h1", {}, "Calls in progress"), h("span", { class: "spacer" }),
    a.calls.length ? csvButton("active-table", "in-progress") : null), activeSummary(a),
    a.calls.length ? h("div", { class: "card scroll" }, h("table", { class: "grid", id: "active-table" },
      h("thead", {}, h("tr", {}, ["call", "leg", "caller", "callee", `INVITE (${tzLabel()})`, "up for", "since INVITE",
        "addresses", "Call-ID"].map((t) => h("th", {}, t)))), h("tbody", {}, rows)))
      : h("div", { class: "card muted" }, a.running ? "No call in progress." : "No sensor is writing this database."));
  if (a.running) refreshIn(() => pageActive(), 5000);
}

/* ---- calls ---- */

const CALL_FILTERS = ["from", "to", "number", "call_id", "addr", "user_agent", "final_status", "caller", "callee",
                      "trunk", "direction", "outcome", "failure_side", "min_mos", "max_mos", "min_pdd", "sort",
                      "order", "limit"];

async function pageCalls(params) {
  const trunks = await api("/trunks" + qs({ site: state.site }));
  const sel = (name, opts) => {
    /* a list from a deep link that no option names gets its own */
    if (params[name] && !opts.some(([v]) => String(v) === params[name])) opts = opts.concat([[params[name], params[name]]]);
    return h("select", { name }, h("option", { value: "" }, "any"),
      opts.map(([v, l]) => h("option", { value: v, selected: params[name] === String(v) }, l)));
  };
  const inp = (name, attrs) => h("input", Object.assign({ name, value: params[name] || "" }, attrs));
  const form = h("form", { class: "card", id: "call-filters" },
    h("div", { class: "filters" },
      h("label", {}, `From (${tzLabel()})`, inp("from", { type: "datetime-local", value: toInput(params.from) })),
      h("label", {}, `To (${tzLabel()})`, inp("to", { type: "datetime-local", value: toInput(params.to) })),
      h("label", {}, "Number (any format)", inp("number", { placeholder: "+49 30 1234567, 030…, alice" })),
      h("label", {}, "Call-ID (any leg)", inp("call_id", {})),
      h("label", {}, "Address[:port]", inp("addr", { placeholder: "10.0.0.1:5060" })),
      h("label", {}, "Final code(s)", inp("final_status", { placeholder: "486,503,none", pattern: "([1-6][0-9]{2}|none)(,([1-6][0-9]{2}|none))*" })),
      h("label", {}, "User-Agent / Server", inp("user_agent", {})),
      h("label", {}, "Caller digits", inp("caller", { inputmode: "numeric", pattern: "[0-9]{1,32}", placeholder: "e.g. 4930" })),
      h("label", {}, "Callee digits", inp("callee", { inputmode: "numeric", pattern: "[0-9]{1,32}" })),
      h("label", {}, "Trunk", sel("trunk", trunks.trunks.map((t) => [t.id, `${t.id} · ${t.name}`]))),
      h("label", {}, "Direction", sel("direction", ["inbound", "outbound", "internal", "transit"].map((x) => [x, x]))),
      h("label", {}, "Outcome", sel("outcome", [[UNSUCCESSFUL, "unsuccessful (all)"], ["in_progress,pending", "still open"]].concat(
        ["answered", "busy", "rejected", "cancelled", "failed", "timeout", "in_progress", "pending"].map((x) => [x, x])))),
      h("label", {}, "Failure side", sel("failure_side", ["none", "enterprise", "sbc", "itsp"].map((x) => [x, x]))),
      h("label", {}, "MOS at least", inp("min_mos", { type: "number", min: 1, max: 5, step: 0.1 })),
      h("label", {}, "MOS at most", inp("max_mos", { type: "number", min: 1, max: 5, step: 0.1 })),
      h("label", {}, "PDD at least (ms)", inp("min_pdd", { type: "number", min: 0, step: 100 })),
      h("label", {}, "Page size", h("select", { name: "limit" }, [25, 50, 100, 200, 500].map((n) =>
        h("option", { value: n, selected: String(params.limit || 50) === String(n) }, n))))),
    h("div", { class: "toolbar" }, h("button", { class: "primary", type: "submit" }, "Search"),
      h("button", { type: "button", onclick: () => (location.hash = "#/calls") }, "Reset"),
      h("span", { class: "muted" }, "the address bar holds the search: copy it to share")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = {};
    for (const [k, v] of new FormData(form)) if (v) p[k] = (k === "from" || k === "to") ? fromInput(v) : v;
    if (params.sort) p.sort = params.sort;
    if (params.order) p.order = params.order;
    location.hash = "#/calls" + qs(p);
  });
  const q = {};
  for (const k of CALL_FILTERS) if (params[k]) q[k] = params[k];
  if (!q.limit) q.limit = 50;
  if (state.site) q.site = state.site;
  if (params.cursor) q.cursor = params.cursor;
  const stack = params.back ? params.back.split(",") : [];
  let data;
  try {
    data = await api("/calls" + qs(q));
  } catch (e) {
    if (e instanceof Stale) throw e;
    view(h("h1", {}, "Calls"), form, h("div", { class: "error-box", role: "alert" }, e.message));
    return;
  }
  const sort = params.sort || "start", order = params.order || "desc";
  const sortTh = (key, label, cls) => h("th", { class: "sortable " + (cls || "") + (sort === key ? " on" : ""),
    "data-sort": key, onclick: () => {
      const p = Object.assign({}, params, { sort: key, order: sort === key && order === "desc" ? "asc" : "desc" });
      delete p.cursor; delete p.back;
      location.hash = "#/calls" + qs(p);
    } }, label, sort === key ? (order === "desc" ? " ▾" : " ▴") : "");
  const rows = data.calls.map((c) => {
    const cls = (FAILED.has(c.outcome) ? "fail" : "") + (c.mos !== null && c.mos < POOR_MOS ? " poor" : "");
    return h("tr", { class: "click " + cls, "data-call": c.id, "data-outcome": c.outcome,
                     onclick: () => (location.hash = "#/call/" + c.id) },
      h("td", { class: "mono" }, when(c.start)), h("td", {}, c.caller || "–"), h("td", {}, c.callee || "–"),
      h("td", {}, c.direction), h("td", { class: "outcome" }, c.outcome), h("td", { class: "num" }, c.final_status ?? "–"),
      h("td", {}, c.failure_side === "none" ? "" : c.failure_side), h("td", { class: "num" }, ms(c.pdd_ms)),
      h("td", { class: "num" }, callDur(c)), mosCell(c.mos, c.mos_reason),
      h("td", {}, [c.one_way ? h("span", { class: "badge flag", "data-flag": "one_way" }, "one-way") : "",
                   c.no_audio ? h("span", { class: "badge flag", "data-flag": "no_audio" }, "no audio") : ""]),
      h("td", { class: "num" }, c.legs));
  });
  const nav = (cursor, back) => {
    const p = Object.assign({}, params);
    if (cursor) p.cursor = cursor; else delete p.cursor;
    if (back.length) p.back = back.join(","); else delete p.back;
    location.hash = "#/calls" + qs(p);
  };
  const pager = h("div", { class: "pager" },
    h("button", { id: "prev-page", disabled: !params.cursor, onclick: () => {
      const b = stack.slice(); const prev = b.pop(); nav(prev === "_" ? "" : prev, b); } }, "‹ Previous"),
    h("button", { id: "next-page", disabled: !data.next_cursor, onclick: () =>
      nav(data.next_cursor, stack.concat([params.cursor || "_"])) }, "Next ›"),
    h("span", { class: "muted" }, `${data.calls.length} calls on this page` + (stack.length ? ` · page ${stack.length + 1}` : "")),
    data.partial ? h("span", { class: "badge flag", id: "calls-partial" },
      `partial: legs before ${when(new Date(data.searched_from_ms).toISOString())} not searched`) : "",
    h("span", { class: "spacer" }), csvButton("calls-table", "calls"));
  view(h("h1", {}, "Calls" + (state.site ? " · " + state.site : "")), form, h("div", { class: "card" }, h("div", { class: "table-wrap" },
    h("table", { class: "grid", id: "calls-table" },
      h("thead", {}, h("tr", {}, sortTh("start", `Start (${tzLabel()})`), h("th", {}, "Caller"), h("th", {}, "Callee"),
        h("th", {}, "Direction"), h("th", {}, "Outcome"), h("th", { class: "num" }, "Final"), h("th", {}, "Failed at"),
        sortTh("pdd", "PDD", "num"), sortTh("duration", "Duration", "num"), sortTh("mos", "MOS", "num"),
        h("th", {}, "Audio"), h("th", { class: "num" }, "Legs"))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 12, class: "muted" }, "No calls match."))))), pager));
}

/* ---- call detail and the ladder ---- */

function msgLabel(m) {
  if (m.method) return m.method + (m.cseq ? "" : "");
  const fl = m.first_line || "";
  const mm = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(fl);
  return mm ? `${mm[1]} ${mm[2]}`.trim() : (m.status ? String(m.status) : fl.slice(0, 30));
}

/* What the columns are: the learned topology's node of each address (role,
 * name, the other addresses of a multi-homed SBC), a configured trunk name
 * for a peer address before the node's User-Agent. */
const ROLE_TEXT = { sbc: "SBC / B2BUA", mediation_server: "Mediation Server", carrier: "carrier", pbx: "PBX",
                    gateway: "gateway", proxy: "proxy", endpoint: "endpoint" };

function nodeMap(topo, trunks) {
  const byAddr = new Map();
  for (const n of (topo && topo.nodes) || [])
    for (const a of n.addresses || []) byAddr.set(a, n);
  const named = new Map();
  for (const t of (trunks && trunks.trunks) || [])
    if (t.name && t.name !== t.peer && !named.has(t.peer)) named.set(t.peer, t.name);
  return (addr) => {
    const n = byAddr.get(addr);
    const role = n ? (ROLE_TEXT[n.role] || n.role) + (n.b2bua && n.role !== "sbc" ? " / B2BUA" : "") : "";
    return { node: n || null, key: n ? "n" + n.id : "a" + addr, role,
             name: named.get(addr) || (n && n.user_agent) || "" };
  };
}

/* Columns in order of appearance, the addresses of one node side by side. */
function ladderColumns(addrs, info) {
  const out = [];
  for (const a of addrs) {
    if (out.includes(a)) continue;
    out.push(a);
    const k = info(a).key;
    for (const b of addrs) if (!out.includes(b) && info(b).key === k) out.push(b);
  }
  return out;
}

/* The arrow's SDP note: first audio section's codecs, address:port and
 * direction (hold when sendonly/inactive or c=0.0.0.0), other media named. */
function sdpText(sdp) {
  if (!sdp || !sdp.media.length) return "";
  const au = sdp.media.find((x) => x.type === "audio") || sdp.media[0];
  const codecs = au.codecs.filter((c) => !/^(telephone-event|CN)$/i.test(c));
  const parts = [(codecs.slice(0, 2).join(",") + (codecs.length > 2 ? "…" : "")) || au.codecs.join(","),
    `${au.addr || "?"}:${au.port}`];
  if (au.dir !== "sendrecv") parts.push(au.dir);
  else if (au.hold) parts.push("hold");
  const other = sdp.media.filter((x) => x !== au).map((x) => x.type);
  if (other.length) parts.push("+" + other.join("+"));
  return parts.join(" ");
}

/* The ladder fits avail pixels (its pane's width): the time column and the
 * node columns shrink (from 165 down to 96 px, 88 in a narrow pane, where
 * the wall clock moves to the tooltip), beyond that the pane scrolls
 * sideways. Three SVGs in one box: the node headings (each column's role and
 * name, one heading over the addresses of a multi-homed node, and the
 * address), kept at the top of the pane while it scrolls, the rows (under
 * each arrow with SDP its summary) and the rows' times, kept at the pane's
 * left while it scrolls sideways. */
function ladder(d, onPick, avail, info) {
  const nodes = ladderColumns(d.nodes, info);
  /* narrow: the wide time column and 96-px columns would not fit */
  const narrow = avail < 150 + 96 * nodes.length;
  const left = narrow ? 76 : 150, top = 14, headH = 62, rowH = 34, mediaH = 36;
  const colW = Math.max(narrow ? 88 : 96, Math.min(165, Math.floor((avail - left) / Math.max(1, nodes.length))));
  const t0 = d.messages.length ? d.messages[0].t_ms : 0;
  const W = left + Math.max(1, nodes.length) * colW;
  /* rows in time order: the messages, each RTP stream after the last
   * message sent before its first packet */
  const media = mediaRows(d, nodes, info);
  const ys = [], my = new Map();
  let yy = top, mi = 0;
  const putMedia = (upTo) => {
    while (mi < media.length && media[mi].t <= upTo) { my.set(media[mi], yy); yy += mediaH; mi++; }
  };
  d.messages.forEach((m) => { putMedia(m.t_ms - 1e-6); ys.push(yy + 12); yy += rowH; });
  putMedia(Infinity);
  const H = yy + 20;
  const x = (addr) => left + nodes.indexOf(addr) * colW + colW / 2;
  const box = h("div", { class: "ladder", id: "ladder", "data-col-w": colW, "data-left": left });
  const head = svgEl("svg", { class: "ladder ladder-head", width: W, height: headH, viewBox: `0 0 ${W} ${headH}` });
  const svg = svgEl("svg", { class: "ladder ladder-body", width: W, height: H, viewBox: `0 0 ${W} ${H}` });
  const times = svgEl("svg", { class: "ladder ladder-times", id: "ladder-times", width: left, height: H, viewBox: `0 0 ${left} ${H}` });
  times.appendChild(svgEl("rect", { class: "times-bg", x: 0, y: 0, width: left, height: H }));
  times.appendChild(svgEl("line", { class: "times-edge", x1: left - 0.5, x2: left - 0.5, y1: 0, y2: H }));
  const defs = svgEl("defs");
  COLORS.forEach((c, i) => {
    const m = svgEl("marker", { id: "arr" + i, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    m.appendChild(svgEl("path", { d: "M0 0L10 5L0 10z", fill: c }));
    defs.appendChild(m);
  });
  svg.appendChild(defs);
  head.appendChild(svgEl("rect", { class: "head-bg", x: 0, y: 0, width: W, height: headH }));
  /* node headings: consecutive columns of one node share one */
  for (let i = 0; i < nodes.length;) {
    const inf = info(nodes[i]);
    let j = i + 1;
    while (j < nodes.length && info(nodes[j]).key === inf.key) j++;
    const x0 = left + i * colW + 4, x1 = left + j * colW - 4;
    const g = svgEl("g", { class: "node-head" + (inf.node ? " " + inf.node.role : ""), "data-node": inf.node ? inf.node.id : "",
      "data-role": inf.node ? inf.node.role : "", "data-label": inf.role, "data-name": inf.name });
    if (j - i > 1) g.appendChild(svgEl("rect", { class: "node-group", x: x0, y: 2, width: x1 - x0, height: 38, rx: 5 }));
    /* cut to the heading's width (bold 12 px about 7.4 px a character, 10.5 px about 6.2) */
    const cx = (x0 + x1) / 2, fit = (t, cw) => (t.length * cw > x1 - x0 ? t.slice(0, Math.max(4, Math.floor((x1 - x0) / cw) - 1)) + "…" : t);
    g.appendChild(svgEl("text", { class: "node-role", x: cx, y: 16, "text-anchor": "middle" }, fit(inf.role || "node", 7.4)));
    g.appendChild(svgEl("text", { class: "node-name", x: cx, y: 32, "text-anchor": "middle" }, fit(inf.name || "", 6.2)));
    g.appendChild(svgEl("title", {}, [inf.role, inf.name, inf.node ? inf.node.addresses.join(", ") : nodes[i]].filter(Boolean).join("\n")));
    head.appendChild(g);
    i = j;
  }
  nodes.forEach((n) => {
    head.appendChild(svgEl("text", { class: "node", x: x(n), y: 54, "text-anchor": "middle", "data-addr": n }, n));
    svg.appendChild(svgEl("line", { class: "life", x1: x(n), x2: x(n), y1: 0, y2: H - 6 }));
  });
  const seen = new Set();
  for (const r of media) svg.appendChild(r.missing ? missingRow(r, my.get(r), x, left) : mediaRow(r, my.get(r), x, left));
  d.messages.forEach((m, i) => {
    const y = ys[i];
    const ci = (m.leg || 0) % COLORS.length, color = COLORS[ci];
    /* the same message again on the same leg, same direction: a retransmission */
    const key = [m.leg, m.src, m.dst, m.first_line, m.cseq, m.cseq_method].join("|");
    const retrans = seen.has(key);
    seen.add(key);
    const g = svgEl("g", { class: "msg" + (retrans ? " retrans" : ""), "data-n": m.n, "data-leg": m.leg, "data-i": i });
    g.appendChild(svgEl("rect", { class: "hit", x: 0, y: y - 18, width: W, height: rowH }));
    /* the row's times in the pinned column, selected with the row */
    const tr = svgEl("g", { class: "time-row", "data-n": m.n, "data-i": i });
    tr.appendChild(svgEl("rect", { class: "hit", x: 0, y: y - 18, width: left, height: rowH }));
    tr.appendChild(svgEl("text", { class: "time", x: 8, y: y + 3 }, `+${((m.t_ms - t0) / 1000).toFixed(3)} s`));
    if (!narrow) tr.appendChild(svgEl("text", { class: "time", x: 78, y: y + 3 }, when(m.ts).slice(11)));
    else tr.appendChild(svgEl("title", {}, when(m.ts)));
    times.appendChild(tr);
    const x1 = x(m.src), x2 = x(m.dst);
    if (x1 === x2) {
      g.appendChild(svgEl("path", { d: `M${x1} ${y - 6} h30 v12 h-28`, fill: "none", stroke: color, "stroke-width": 1.6, "marker-end": `url(#arr${ci})` }));
    } else {
      g.appendChild(svgEl("line", { x1, x2: x2 + (x2 > x1 ? -1 : 1), y1: y, y2: y, stroke: color, "stroke-width": 1.6,
        "stroke-dasharray": retrans ? "5 3" : null, "marker-end": `url(#arr${ci})` }));
    }
    const label = svgEl("text", { class: "label", x: (x1 + x2) / 2, y: y - 5, "text-anchor": "middle", fill: color },
      msgLabel(m) + (retrans ? " (retransmission)" : ""));
    label.appendChild(svgEl("title", {}, `${m.first_line}\n${m.src}:${m.sport} → ${m.dst}:${m.dport} ${m.transport} · leg ${m.leg} · ${m.size} bytes`));
    g.appendChild(label);
    const st = sdpText(m.sdp);
    if (st) {
      const au = m.sdp.media.find((z) => z.type === "audio") || m.sdp.media[0];
      const t = svgEl("text", { class: "sdp" + (au.hold ? " hold" : ""), x: (x1 + x2) / 2, y: y + 12, "text-anchor": "middle",
        "data-dir": au.dir, "data-codec": au.codecs[0] || "", "data-media": `${au.addr}:${au.port}` }, st);
      t.appendChild(svgEl("title", {}, m.sdp.media.map((z) => `${z.type} ${z.addr}:${z.port} ${z.proto} ${z.dir}` +
        (z.srtp ? " SRTP" : "") + "\n  " + z.codecs.join(", ")).join("\n")));
      g.appendChild(t);
    }
    /* shift-click: compare with the message already open */
    g.addEventListener("click", (ev) => onPick(i, true, ev.shiftKey));
    svg.appendChild(g);
  });
  /* the time column stays at the pane's left edge while it scrolls sideways
   * (sticky, like the headings at its top); clicks pass to the rows */
  const rows = h("div", { class: "ladder-rows" }, svg, times);
  box.append(head, rows);
  return box;
}

/* The ladder column of a media address: the column itself, else the
 * sender of the SDP that announced it (addr:port, then addr alone), else a
 * column of the same learned node; null when none. */
function mediaColumn(addr, port, d, cols, info) {
  if (cols.includes(addr)) return addr;
  const by = (exact) => d.messages.find((m) => m.sdp && cols.includes(m.src) &&
    m.sdp.media.some((z) => z.addr === addr && (!exact || z.port === port)));
  const m = by(true) || by(false);
  if (m) return m.src;
  const k = info(addr).key;
  return cols.find((c) => info(c).key === k) || null;
}

const rtcpCount = (r) => (r ? r.sr + r.rr + r.xr + r.sdes + r.bye + r.app + r.feedback : 0);

/* A row per RTP stream: its time (ms from the call's start, as messages'
 * t_ms), its columns (the leg's ends when the media addresses name none),
 * its quality class by MOS (4.0, 3.5) and loss (1 %, 5 %). */
function mediaRows(d, cols, info) {
  const start = d.call.start_ms;
  const rows = d.streams.map((s) => {
    const leg = d.legs.find((l) => l.idx === s.leg) || {};
    let a = mediaColumn(s.src, s.sport, d, cols, info), b = mediaColumn(s.dst, s.dport, d, cols, info);
    const guessed = !a || !b;
    if (!a) a = b === leg.src ? leg.dst : leg.src;
    if (!b) b = a === leg.dst ? leg.src : leg.dst;
    if (!cols.includes(a)) a = cols[0];
    if (!cols.includes(b)) b = cols[cols.length - 1];
    const lossPct = s.lost_pct > 0 ? s.lost_pct : 0;
    const q = (s.mos !== null && s.mos < POOR_MOS) || lossPct >= 5 ? "bad"
      : (s.mos !== null && s.mos < 4.0) || lossPct >= 1 ? "warn" : "good";
    return { s, a, b, q, guessed, lossPct, t: s.first_ts ? Date.parse(s.first_ts) - start : 0,
             t1: s.last_ts ? Date.parse(s.last_ts) - start : 0 };
  }).sort((p, r) => p.t - r.t || p.s.id - r.s.id);
  return rows.flatMap((r) => [r, ...oneWayGaps(d, rows, r)]);
}

/* One-way audio (the analysis flags the leg or the stream: no RTP the
 * other way, or nearly none, a NAT or firewall fault): the stream is
 * marked, and when nothing flows back between its columns a row says so,
 * drawn as the missing stream's outline. */
function oneWayGaps(d, rows, r) {
  const leg = d.legs.find((l) => l.idx === r.s.leg);
  r.oneWay = !!((leg && leg.one_way) || (r.s.detections && r.s.detections.one_way));
  if (!r.oneWay || r.a === r.b) return [];
  const back = rows.filter((o) => o.s.leg === r.s.leg && o.a === r.b && o.b === r.a);
  if (back.some((o) => o.s.id < r.s.id)) return []; /* the pair is drawn at the first */
  if (back.length) {
    /* both ways there, one of them nearly empty (under a twentieth) */
    const pk = (x) => x.s.packets, most = Math.max(...back.map(pk));
    back.forEach((o) => { o.nearlyEmpty = pk(o) * 20 < pk(r); });
    r.nearlyEmpty = pk(r) * 20 < most;
    return [];
  }
  return [{ missing: true, of: r, a: r.b, b: r.a, leg: r.s.leg, t: r.t, t1: r.t1 }];
}

/* The centre of a bar's label, moved right when the label would start under
 * the pinned time column (9.5 px text: about 5.6 px a character). */
const textX = (lo, hi, txt, left) => Math.max((lo + hi) / 2, left + 4 + (txt.length * 5.6) / 2);

/* One stream between its columns: a bar from the media source to its
 * destination, coloured by quality, labelled with codec, time, loss and
 * MOS; under it, when the capture has RTCP for it, a thin line with a
 * mark per report (SR, RR, XR). A click shows the stream's row. */
function mediaRow(r, y, x, left) {
  const s = r.s, x1 = x(r.a), x2 = x(r.b);
  const g = svgEl("g", { class: "rtp q-" + r.q + (r.guessed ? " guessed" : "") + (r.oneWay ? " one-way" : ""), "data-stream": s.id,
    "data-src-col": r.a, "data-dst-col": r.b, "data-from-ms": r.t, "data-to-ms": r.t1, "data-y": y });
  const lo = Math.min(x1, x2), hi = x1 === x2 ? x1 + 30 : Math.max(x1, x2);
  g.appendChild(svgEl("rect", { class: "bar", x: lo, y: y + 12, width: Math.max(2, hi - lo), height: 7, rx: 3 }));
  const tip = x1 === x2 ? hi : x2, dir = x2 >= x1 ? 1 : -1;
  g.appendChild(svgEl("path", { class: "head", d: `M${tip} ${y + 15.5} l${-8 * dir} -6 v12 z` }));
  const txt = (r.oneWay ? (r.nearlyEmpty ? `one-way audio: only ${s.packets} packets · ` : "one-way audio · ") : "") +
    `RTP ${s.codec || "PT " + s.payload_type} · ${num(s.duration_s, 1)} s · loss ${num(r.lossPct, 1)}% · MOS ${num(s.mos, 2)}`;
  g.appendChild(svgEl("text", { class: "rtp-text", x: textX(lo, hi, txt, left), y: y + 9, "text-anchor": "middle" }, txt));
  const n = rtcpCount(s.rtcp);
  if (n > 0) {
    const c = s.rtcp, rg = svgEl("g", { class: "rtcp", "data-stream": s.id, "data-reports": n });
    rg.appendChild(svgEl("line", { class: "rtcp-line", x1: lo, x2: hi, y1: y + 26, y2: y + 26 }));
    const marks = Math.min(24, c.sr + c.rr + c.xr || 1);
    for (let k = 0; k < marks; k++)
      rg.appendChild(svgEl("rect", { class: "rtcp-mark", x: lo + ((k + 0.5) / marks) * (hi - lo) - 1, y: y + 23, width: 2, height: 6 }));
    rg.appendChild(svgEl("title", {}, `RTCP: ${c.sr} SR, ${c.rr} RR, ${c.xr} XR, ${c.sdes} SDES` +
      (c.rtt_ms !== null ? ` · RTT ${num(c.rtt_ms, 1)} ms` : "") + (c.xr_voip ? ` · XR MOS-LQ ${num(c.xr_mos_lq, 2)}` : "") +
      ` · fraction lost ${num(100 * (c.fraction_lost || 0), 1)}%`));
    g.appendChild(rg);
  }
  g.appendChild(svgEl("title", {}, `${s.src}:${s.sport} → ${s.dst}:${s.dport} SSRC 0x${(s.ssrc >>> 0).toString(16)} · leg ${s.leg ?? "?"}\n` +
    `${when(s.first_ts)} – ${when(s.last_ts)}, ${s.packets} packets, ${s.lost} lost\n${txt}` +
    (detections(s).length ? "\n" + detections(s).join(", ") : "") + (r.guessed ? "\n(columns from the leg: no SDP names this address)" : "")));
  g.addEventListener("click", () => {
    const row = document.querySelector(`#streams-table tr[data-stream="${s.id}"]`);
    if (row) row.scrollIntoView({ block: "center", behavior: "instant" });
  });
  return g;
}

/* The stream that is not there: a dashed outline from the silent side to
 * the talking one, "no RTP back". */
function missingRow(r, y, x, left) {
  const x1 = x(r.a), x2 = x(r.b), lo = Math.min(x1, x2), hi = Math.max(x1, x2), dir = x2 >= x1 ? 1 : -1;
  const g = svgEl("g", { class: "rtp-missing", "data-leg": r.leg, "data-of": r.of.s.id, "data-src-col": r.a, "data-dst-col": r.b });
  g.appendChild(svgEl("rect", { class: "bar", x: lo, y: y + 12, width: Math.max(2, hi - lo), height: 7, rx: 3 }));
  g.appendChild(svgEl("path", { class: "head", d: `M${x2} ${y + 15.5} l${-8 * dir} -6 v12 z` }));
  const txt = `one-way audio: no RTP ${r.a} → ${r.b}`;
  g.appendChild(svgEl("text", { class: "rtp-text", x: textX(lo, hi, txt, left), y: y + 9, "text-anchor": "middle" }, txt));
  g.appendChild(svgEl("title", {}, `leg ${r.leg}: RTP flowed ${r.b} → ${r.a} (${r.of.s.packets} packets) and nothing came back ` +
    "(a NAT or firewall between them, or a media address in the SDP that does not reach)"));
  return g;
}

/* ---- two messages side by side: what a B2BUA or a re-INVITE changed ---- */

const COMPACT = { i: "call-id", m: "contact", e: "content-encoding", l: "content-length", c: "content-type",
  f: "from", s: "subject", k: "supported", t: "to", v: "via", o: "event", u: "allow-events", r: "refer-to",
  b: "referred-by", x: "session-expires", y: "identity", a: "accept-contact", d: "request-disposition", j: "reject-contact" };

/* {start, headers: [[name, value]], body} of a message's text; folded lines joined. */
function splitMessage(text) {
  const cut = text.search(/\r?\n\r?\n/);
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? "" : text.slice(cut).replace(/^\r?\n\r?\n/, "");
  const lines = head.split(/\r?\n/);
  const headers = [];
  for (const l of lines.slice(1)) {
    if (/^[ \t]/.test(l) && headers.length) { headers[headers.length - 1][1] += " " + l.trim(); continue; }
    const k = l.indexOf(":");
    if (k <= 0) continue;
    const n = l.slice(0, k).trim().toLowerCase();
    headers.push([COMPACT[n] || n, l.slice(k + 1).trim()]);
  }
  return { start: lines[0] || "", headers, body };
}

/* Rows of the diff: per header name (the n-th value against the n-th),
 * then the body line by line as sets. kind: same, changed, added, removed. */
function diffMessages(ta, tb) {
  const A = splitMessage(ta), B = splitMessage(tb);
  const rows = [{ name: "start line", kind: A.start === B.start ? "same" : "changed", a: A.start, b: B.start }];
  const group = (hs) => { const g = new Map(); for (const [n, v] of hs) { if (!g.has(n)) g.set(n, []); g.get(n).push(v); } return g; };
  const ga = group(A.headers), gb = group(B.headers);
  const names = [...ga.keys()].concat([...gb.keys()].filter((n) => !ga.has(n)));
  for (const n of names) {
    const va = ga.get(n) || [], vb = gb.get(n) || [];
    for (let i = 0; i < Math.max(va.length, vb.length); i++) {
      const a = va[i], b = vb[i];
      rows.push({ name: n, kind: a === undefined ? "added" : b === undefined ? "removed" : a === b ? "same" : "changed",
                  a: a ?? "", b: b ?? "" });
    }
  }
  const la = A.body.split(/\r?\n/).filter(Boolean), lb = B.body.split(/\r?\n/).filter(Boolean);
  for (const l of la) if (!lb.includes(l)) rows.push({ name: "body", kind: "removed", a: l, b: "" });
  for (const l of lb) if (!la.includes(l)) rows.push({ name: "body", kind: "added", a: "", b: l });
  return rows;
}

/* ---- media quality of a call ---- */

const DETECTION_TEXT = { one_way: "one-way audio", no_audio: "no audio", late_media: "late media",
  rtp_after_bye: "RTP after BYE", codec_mismatch: "codec mismatch", capture_gap: "capture gap", srtp: "SRTP",
  unsignalled: "unsignalled", ssrc_change: "SSRC change", evicted: "evicted", series_full: "series cut",
  truncated: "header-only capture" };

/* Why a MOS is under POOR_MOS, shown beside the number. */
const REASON_TEXT = { loss: "loss", burst_loss: "burst loss", late_discards: "late discards", delay: "delay",
  codec: "codec", one_way: "one-way", no_audio: "no audio" };

function mosCell(mos, reason, extraCls) {
  return h("td", { class: "num" + (mos !== null && mos < POOR_MOS ? " poor" : "") + (extraCls || ""),
                   "data-reason": reason || "" },
    num(mos, 2), reason ? h("span", { class: "why" }, " " + (REASON_TEXT[reason] || reason)) : "");
}

/* Reported and measured disagree: MOS by half a point or more, loss by
 * two percentage points or more. */
const MOS_DISAGREE = 0.5, LOSS_DISAGREE = 2;

function reportText(r) {
  const parts = [];
  if (r.mos_lq !== null) parts.push(`MOS-LQ ${num(r.mos_lq, 2)}`);
  if (r.mos_cq !== null && r.mos_lq === null) parts.push(`MOS-CQ ${num(r.mos_cq, 2)}`);
  if (r.loss_pct !== null) parts.push(`loss ${num(r.loss_pct, 1)}%`);
  if (r.discard_pct !== null) parts.push(`discard ${num(r.discard_pct, 1)}%`);
  if (r.jitter_ms !== null) parts.push(`jitter ${num(r.jitter_ms, 0)} ms`);
  if (r.rtt_ms !== null) parts.push(`RTT ${num(r.rtt_ms, 0)} ms`);
  const who = r.reporter ? `, ${r.reporter}` : "";
  return `${parts.join(" · ") || "no metrics"} (${r.source}${who}${r.interval ? ", interval" : ""})`;
}

/* Does report r disagree with what we measured on leg l (its MOS, and the
 * largest loss of its streams)? */
function disagrees(r, l, streams) {
  const rm = r.mos_lq !== null ? r.mos_lq : r.mos_cq;
  if (rm !== null && l.mos !== null && Math.abs(rm - l.mos) >= MOS_DISAGREE) return true;
  const lossy = streams.filter((s) => s.leg === l.idx).map((s) => s.lost_pct || 0);
  return r.loss_pct !== null && lossy.length > 0 && Math.abs(r.loss_pct - Math.max(...lossy)) >= LOSS_DISAGREE;
}

function reportsCell(l, streams) {
  const reps = l.endpoint_quality || [];
  if (!reps.length) return h("td", { class: "muted" }, "–");
  return h("td", { class: "reports" }, reps.map((r) => h("div", {
    class: "report" + (disagrees(r, l, streams) ? " disagree" : ""), "data-source": r.source,
    title: disagrees(r, l, streams) ? "differs from the measured quality" : "" }, reportText(r))));
}

function detections(s) {
  return Object.entries(s.detections || {}).filter(([, v]) => v).map(([k]) => DETECTION_TEXT[k] || k);
}

function streamTable(streams) {
  const rows = streams.map((s) => h("tr", { class: s.mos !== null && s.mos < POOR_MOS ? "poor" : "", "data-stream": s.id },
    h("td", { class: "num" }, s.leg ?? "–"), h("td", {}, `${s.src}:${s.sport} → ${s.dst}:${s.dport}`),
    h("td", { class: "mono" }, "0x" + (s.ssrc >>> 0).toString(16).toUpperCase().padStart(8, "0")),
    h("td", {}, s.codec || `PT ${s.payload_type}`), h("td", { class: "num" }, s.packets),
    h("td", { class: "num" }, `${s.lost} (${num(s.lost_pct, 1)}%)`), h("td", { class: "num" }, num(s.jitter_max_ms, 1)),
    h("td", { class: "num" }, num(s.max_delta_ms, 1)), mosCell(s.mos, s.mos_reason),
    h("td", { class: "num" + (s.rtcp && s.rtcp.xr_mos_lq !== null && s.mos !== null &&
      Math.abs(s.rtcp.xr_mos_lq - s.mos) >= MOS_DISAGREE ? " disagree" : "") },
      s.rtcp && s.rtcp.xr_voip ? `${num(s.rtcp.xr_mos_lq, 1)} / R ${num(s.rtcp.xr_r_factor, 0)}` : "–"),
    h("td", { class: "num" }, num(s.rtcp && s.rtcp.rtt_ms, 1)), h("td", {}, s.dtmf || ""),
    h("td", {}, detections(s).join(", "))));
  return h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "streams-table" },
    h("thead", {}, h("tr", {}, ["Leg", "Stream", "SSRC", "Codec", "Packets", "Lost", "Jitter max ms",
      "Max Δ ms", "MOS", "RTCP XR MOS-LQ", "RTT ms", "DTMF", "Detections"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows)));
}

/* Per stream: MOS and jitter/loss per 5-second interval, each chart only
 * when its series has a value (no MOS without an audio codec), else a line. */
function streamCharts(s) {
  const t0 = s.series.length ? s.series[0].t_ms : 0;
  const x = s.series.map((p) => p.t_ms - t0);
  const xFmt = (v) => "+" + Math.round(v / 1000) + " s";
  const name = `leg ${s.leg ?? "?"} · ${s.src}:${s.sport} → ${s.dst}:${s.dport} ${s.codec || ""}`;
  const has = (k) => s.series.some((p) => p[k] !== null && p[k] !== undefined);
  const charts = [];
  if (has("mos"))
    charts.push(tsChart({ title: `MOS · ${name}`, x, xFmt, yMin: 1, yMax: 5, height: 160,
      series: [{ name: "MOS", color: "#b83280", values: s.series.map((p) => p.mos) }] }));
  if (has("jitter_max_ms") || has("lost"))
    charts.push(tsChart({ title: `Jitter and loss · ${name}`, x, xFmt, height: 160, series: [
      { name: "jitter max (ms)", color: "#2b6cb0", values: s.series.map((p) => p.jitter_max_ms) },
      { name: "lost packets", color: "#c53030", values: s.series.map((p) => p.lost) }] }));
  return h("div", { class: "charts stream-charts", "data-stream": s.id, "data-charts": charts.length },
    charts.length ? charts : h("p", { class: "muted" }, `${name}: no quality series (${s.series.length ? "no audio codec" : "too short"}).`));
}

async function downloadPcap(id, btn) {
  btn.disabled = true;
  const old = btn.textContent;
  btn.textContent = "Preparing…";
  try {
    const r = await api(`/calls/${id}/pcap`, { raw: true });
    const blob = await r.blob();
    const a = h("a", { href: URL.createObjectURL(blob), download: `call-${id}.pcap` });
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  } catch (e) {
    alert("pcap export failed: " + e.message);
  } finally {
    btn.disabled = false;
    btn.textContent = old;
  }
}

/* ---- the call's audio: a player and a waveform per party ---- */

/* Channels of a 16-bit PCM WAV as Int16Arrays (null when it is not one). */
function wavChannels(buf) {
  const v = new DataView(buf);
  if (buf.byteLength < 12 || v.getUint32(0, false) !== 0x52494646 || v.getUint32(8, false) !== 0x57415645) return null;
  let fmt = null;
  for (let p = 12; p + 8 <= buf.byteLength;) {
    const id = v.getUint32(p, false), len = v.getUint32(p + 4, true), body = p + 8;
    if (id === 0x666d7420 && len >= 16)
      fmt = { ch: v.getUint16(body + 2, true), rate: v.getUint32(body + 4, true), bits: v.getUint16(body + 14, true) };
    if (id === 0x64617461 && fmt && fmt.bits === 16 && fmt.ch > 0) {
      const n = Math.floor(Math.min(len, buf.byteLength - body) / (2 * fmt.ch));
      const chans = Array.from({ length: fmt.ch }, () => new Int16Array(n));
      for (let i = 0; i < n; i++)
        for (let c = 0; c < fmt.ch; c++) chans[c][i] = v.getInt16(body + 2 * (i * fmt.ch + c), true);
      return { rate: fmt.rate, frames: n, chans };
    }
    p = body + len + (len & 1);
  }
  return null;
}

/* One party's waveform: the peak per pixel column, the SIP messages as
 * ticks at their time (coloured by leg), the play position as a line. */
function drawWave(cv, pcm, frames, rate, msgs, at) {
  const w = cv.width, hgt = cv.height, g = cv.getContext("2d");
  g.clearRect(0, 0, w, hgt);
  g.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--ladder-bg").trim() || "#f4f7fb";
  g.fillRect(0, 0, w, hgt);
  g.fillStyle = "#2b6cb0";
  const per = frames / w;
  for (let x = 0; x < w; x++) {
    let peak = 0;
    for (let i = Math.floor(x * per), e = Math.min(frames, Math.floor((x + 1) * per)); i < e; i++) {
      const a = Math.abs(pcm[i]);
      if (a > peak) peak = a;
    }
    const y = (peak / 32768) * (hgt / 2 - 2);
    if (y > 0.2) g.fillRect(x, hgt / 2 - y, 1, Math.max(1, 2 * y));
  }
  const dur = frames / rate;
  for (const m of msgs) {
    g.fillStyle = COLORS[(m.leg || 0) % COLORS.length];
    g.fillRect(Math.round((m.t_ms / 1000 / dur) * w), 0, 1, 6);
  }
  if (at !== null) {
    g.fillStyle = "#c53030";
    g.fillRect(Math.round((at / dur) * w), 0, 2, hgt);
  }
}

/* The Audio card; returns it with seek(seconds) for the ladder. */
function audioCard(id, d) {
  const legs = [...new Set(d.streams.map((s) => s.leg).filter((l) => l !== null && l !== undefined))].sort((a, b) => a - b);
  const player = h("audio", { controls: true, id: "call-audio", preload: "auto", class: "hidden" });
  const msg = h("div", { class: "muted", id: "audio-msg" },
    legs.length ? "The call's audio, decoded on the server: caller and callee, from the first INVITE to the end."
      : "No RTP streams stored for this call.");
  const pick = h("select", { id: "audio-leg", "aria-label": "leg" }, legs.map((l) => h("option", { value: l }, `leg ${l}`)));
  const btn = h("button", { class: "primary", id: "audio-load" }, "Load audio");
  const waves = h("div", { class: "waves", id: "audio-waves" });
  let wav = null;
  const canvases = [];
  const redraw = () => {
    if (!wav) return;
    canvases.forEach((cv, i) => drawWave(cv, wav.chans[i] || new Int16Array(0), wav.frames, wav.rate, d.messages,
      player.currentTime || 0));
  };
  let raf = 0;
  const tick = () => { redraw(); raf = player.paused ? 0 : requestAnimationFrame(tick); };
  player.addEventListener("play", () => { if (!raf) raf = requestAnimationFrame(tick); });
  player.addEventListener("seeked", redraw);
  player.addEventListener("timeupdate", () => { if (player.paused) redraw(); });
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    msg.textContent = "Decoding…";
    try {
      const leg = legs.length > 1 ? `?leg=${encodeURIComponent(pick.value)}` : "";
      const r = await api(`/calls/${id}/audio${leg}`, { raw: true });
      const buf = await r.arrayBuffer();
      wav = wavChannels(buf);
      if (!wav) throw new Error("not a 16-bit WAV");
      if (player.src) URL.revokeObjectURL(player.src);
      player.src = URL.createObjectURL(new Blob([buf], { type: "audio/wav" }));
      player.classList.remove("hidden");
      waves.replaceChildren();
      canvases.length = 0;
      ["caller", "callee"].forEach((who, i) => {
        const cv = h("canvas", { id: `wave-${i}`, class: "wave", width: 1000, height: 70, "data-party": who,
          title: `${who}: click to play from there` });
        cv.addEventListener("click", (ev) => {
          const box = cv.getBoundingClientRect();
          player.currentTime = ((ev.clientX - box.left) / box.width) * (wav.frames / wav.rate);
          redraw();
        });
        canvases.push(cv);
        waves.appendChild(h("div", { class: "wave-row" }, h("span", { class: "wave-label" }, who), cv));
      });
      redraw();
      msg.textContent = `${(wav.frames / wav.rate).toFixed(2)} s at ${wav.rate} Hz. Click a message in the ladder` +
        " or a waveform to play from there.";
    } catch (e) {
      msg.textContent = e.status === 403
        ? "Audio is off on this server: recordings are personal data; its configuration must say audio = on."
        : "Could not load the audio: " + e.message;
    } finally {
      btn.disabled = false;
    }
  });
  const card = h("div", { class: "card", id: "audio-card" },
    h("div", { class: "toolbar" }, h("h2", {}, "Audio"), h("span", { class: "spacer" }),
      legs.length > 1 ? pick : null, legs.length ? btn : null),
    msg, player, waves);
  card.seek = (t) => {
    if (!wav) return;
    player.currentTime = Math.max(0, Math.min(t, wav.frames / wav.rate));
    redraw();
  };
  return card;
}

/* The call page's two panes: the message pane's width is a CSS variable of
 * the split (remembered in localStorage as ts-msg-w), clamped so that the
 * ladder keeps LADDER_MIN px and the text MSG_MIN; the divider moves by
 * drag or by ←/→ (Shift: larger steps), Home/End go to the limits.
 * relayout() runs after each change and when the split's width changes;
 * ladderNeeds: the ladder pane's width at the ladder's widest columns. */
const MSG_MIN = 280, LADDER_MIN = 240, MSG_KEY = "ts-msg-w";

function paneSplit(split, divider, relayout, ladderNeeds) {
  const stored = () => { const v = Number(localStorage.getItem(MSG_KEY)); return v > 0 ? v : null; };
  let want = stored(), shown = -1, lastW = -1;
  const sideBySide = () => getComputedStyle(divider).display !== "none";
  const apply = (w, save) => {
    const total = split.clientWidth - divider.offsetWidth;
    /* unset: what the ladder does not need at its widest columns, 320 to 520 px */
    const dflt = Math.round(Math.min(520, Math.max(320, total - ladderNeeds)));
    const msgW = Math.round(Math.max(MSG_MIN, Math.min(total - LADDER_MIN, w ?? dflt)));
    if (save) { want = msgW; localStorage.setItem(MSG_KEY, String(msgW)); }
    split.style.setProperty("--msg-w", msgW + "px");
    divider.setAttribute("aria-valuemin", MSG_MIN);
    divider.setAttribute("aria-valuemax", Math.max(MSG_MIN, total - LADDER_MIN));
    divider.setAttribute("aria-valuenow", msgW);
    divider.setAttribute("aria-valuetext", `message pane ${msgW} px, ladder ${total - msgW} px`);
    return msgW;
  };
  const layout = (w, save) => {
    if (!sideBySide()) { if (shown !== 0) { shown = 0; relayout(); } return; }
    const msgW = apply(w, save);
    if (msgW !== shown) { shown = msgW; relayout(); }
  };
  divider.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    divider.setPointerCapture(ev.pointerId);
    divider.classList.add("dragging");
    const move = (e) => apply(split.getBoundingClientRect().right - e.clientX - divider.offsetWidth / 2, false);
    const up = (e) => {
      divider.removeEventListener("pointermove", move);
      divider.removeEventListener("pointerup", up);
      divider.removeEventListener("pointercancel", up);
      divider.classList.remove("dragging");
      layout(split.getBoundingClientRect().right - e.clientX - divider.offsetWidth / 2, true);
    };
    divider.addEventListener("pointermove", move);
    divider.addEventListener("pointerup", up);
    divider.addEventListener("pointercancel", up);
  });
  divider.addEventListener("keydown", (ev) => {
    const step = ev.shiftKey ? 120 : 24, now = Number(divider.getAttribute("aria-valuenow")) || 0;
    const to = { ArrowLeft: now + step, ArrowRight: now - step, Home: 1e9, End: 0 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    ev.stopPropagation(); /* not the ladder's keys */
    layout(to, true);
  });
  const ro = new ResizeObserver(() => {
    if (!split.isConnected) { ro.disconnect(); return; }
    if (split.clientWidth === lastW) return;
    lastW = split.clientWidth;
    layout(want, false);
  });
  ro.observe(split);
  /* once in the page: the first layout draws the ladder */
  return () => { lastW = split.clientWidth; layout(want, false); };
}

/* The call's audio in a line: one-way (which leg, which way is silent),
 * no audio, two-way, or no RTP stored. */
function audioVerdict(d, info) {
  const c = d.call;
  if (!d.streams.length) return ["–"];
  if (c.no_audio) return [h("span", { class: "badge flag", "data-flag": "no_audio" }, "no audio")];
  if (!c.one_way) return ["both ways"];
  const rows = mediaRows(d, ladderColumns(d.nodes, info), info);
  const what = rows.filter((r) => r.missing).map((r) => `leg ${r.leg}: no RTP ${r.a} → ${r.b}`)
    .concat(rows.filter((r) => !r.missing && r.nearlyEmpty).map((r) => `leg ${r.s.leg}: only ${r.s.packets} packets ${r.a} → ${r.b}`));
  return [h("span", { class: "badge flag", "data-flag": "one_way" }, "one-way audio"),
    what.length ? " " + what.join("; ") : " (a direction nearly silent)"];
}

async function pageCall(id, params) {
  const d = await api("/calls/" + id);
  /* what the columns are; a database without a topology still draws */
  const topo = await api("/topology").catch(orNull);
  const trunkList = await api("/trunks").catch(orNull);
  const info = nodeMap(topo, trunkList);
  const c = d.call;
  const raw = h("pre", { class: "raw", id: "raw" }, "Click a message in the ladder to see its text (↑/↓ move, Enter opens, Esc closes; shift-click a second one to compare).");
  const rawHead = h("div", { class: "muted", id: "raw-head" }, "");
  const audio = audioCard(id, d);
  const texts = new Map();
  const textOf = async (n) => {
    if (!texts.has(n)) texts.set(n, (await api(`/calls/${id}/messages/${n}`)).text);
    return texts.get(n);
  };
  const msgLine = (m) => `#${m.n} · leg ${m.leg} · ${msgLabel(m)} · +${(Math.max(0, m.t_ms) / 1000).toFixed(3)} s`;
  const diffWith = h("select", { id: "diff-with", "aria-label": "compare with" },
    h("option", { value: "" }, "compare with…"),
    d.messages.map((m) => h("option", { value: m.n }, msgLine(m))));
  const diffBox = h("div", { id: "diff", class: "diff hidden" });
  const closeBtn = h("button", { type: "button", id: "msg-close", title: "Esc" }, "Close");
  let sel = -1, open = -1;
  const msgCard = h("div", { class: "card sticky msg-card", id: "msg-card" },
    h("div", { class: "toolbar" }, h("h2", {}, "Message"), h("span", { class: "spacer" }), diffWith, closeBtn),
    rawHead, raw, diffBox);
  const gOf = (i) => document.querySelector(`#ladder g.msg[data-i="${i}"]`);
  /* the selected arrow in view: inside the ladder's pane (up and down, and
   * sideways to its span when the pane scrolls), the pane in the window
   * (above the drawer on a phone) */
  const reveal = (i) => {
    const g = gOf(i), wrap = document.getElementById("ladder-wrap");
    if (!g || !wrap) return;
    const headH = wrap.querySelector("svg.ladder-head")?.getBoundingClientRect().height || 0;
    const drawer = msgCard.classList.contains("open") && getComputedStyle(msgCard).position === "fixed"
      ? msgCard.getBoundingClientRect().top : innerHeight;
    /* the pane itself first: its top under the page's header, its rows above a drawer */
    const wr0 = wrap.getBoundingClientRect();
    const floor = getComputedStyle(document.querySelector("header.top")).position === "sticky"
      ? document.querySelector("header.top").getBoundingClientRect().bottom : 0;
    if (wr0.top < floor || wr0.bottom > drawer)
      window.scrollBy({ top: wr0.top - floor - 8, behavior: "instant" });
    const gr = g.getBoundingClientRect(), wr = wrap.getBoundingClientRect();
    const viewTop = wr.top + headH, viewBottom = Math.min(wr.top + wrap.clientHeight, drawer);
    if (gr.top < viewTop) wrap.scrollTop -= viewTop - gr.top + 8;
    else if (gr.bottom > viewBottom) wrap.scrollTop += gr.bottom - viewBottom + 8;
    /* sideways: the arrow and its label (the hit row spans the width) */
    const parts = [...g.querySelectorAll("line, path, text.label")].map((e) => e.getBoundingClientRect());
    if (parts.length) {
      const lo = Math.min(...parts.map((r) => r.left)) - 6, hi = Math.max(...parts.map((r) => r.right)) + 6;
      const tcol = wrap.querySelector("svg.ladder-times")?.getBoundingClientRect().width || 0;
      const inner = wrap.getBoundingClientRect(), l0 = inner.left + tcol, r0 = inner.left + wrap.clientWidth;
      if (hi - lo > r0 - l0 || lo < l0) wrap.scrollLeft -= l0 - lo;
      else if (hi > r0) wrap.scrollLeft += hi - r0;
    }
    const r = g.getBoundingClientRect();
    if (r.top < floor || r.bottom > drawer) window.scrollBy({ top: r.top - floor - Math.min(120, drawer / 3), behavior: "instant" });
  };
  const select = (i) => {
    if (i < 0 || i >= d.messages.length) return;
    document.querySelectorAll("#ladder g.msg.sel, #ladder g.time-row.sel").forEach((e) => e.classList.remove("sel"));
    sel = i;
    const g = gOf(i);
    if (g) g.classList.add("sel");
    document.querySelector(`#ladder g.time-row[data-i="${i}"]`)?.classList.add("sel");
    reveal(i);
  };
  const showDiff = async () => {
    if (open < 0 || diffWith.value === "") { diffBox.classList.add("hidden"); raw.classList.remove("hidden"); return; }
    const ma = d.messages[open], mb = d.messages.find((m) => String(m.n) === diffWith.value);
    diffBox.replaceChildren(h("div", { class: "muted" }, "loading…"));
    diffBox.classList.remove("hidden");
    raw.classList.add("hidden");
    try {
      const rows = diffMessages(await textOf(ma.n), await textOf(mb.n));
      const same = rows.filter((r) => r.kind === "same").length;
      diffBox.replaceChildren(
        h("div", { class: "muted" }, `A: ${msgLine(ma)}`, h("br"), `B: ${msgLine(mb)}`, h("br"),
          `${rows.length - same} differences, ${same} fields the same (hidden)`),
        h("div", { class: "table-wrap" }, h("table", { class: "grid diff-table", id: "diff-table" },
          h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "Field"), h("th", {}, "A"), h("th", {}, "B"))),
          h("tbody", {}, rows.filter((r) => r.kind !== "same").map((r) =>
            h("tr", { class: "d-" + r.kind, "data-header": r.name, "data-kind": r.kind },
              h("td", {}, { added: "+", removed: "−", changed: "≠" }[r.kind]), h("td", {}, r.name),
              h("td", { class: "mono" }, r.a), h("td", { class: "mono" }, r.b)))))));
    } catch (e) {
      diffBox.replaceChildren(h("div", { class: "error-box" }, "could not compare: " + e.message));
    }
  };
  diffWith.addEventListener("change", showDiff);
  /* open: the message's text in the pane beside the ladder (a drawer at
   * the bottom of a phone's window), the arrow in view at once */
  const pick = async (i, clicked, shift) => {
    const m = d.messages[i];
    if (!m) return;
    if (shift && open >= 0 && open !== i) {
      document.querySelectorAll("#ladder g.msg.diff-b").forEach((e) => e.classList.remove("diff-b"));
      gOf(i)?.classList.add("diff-b");
      diffWith.value = String(m.n);
      showDiff();
      return;
    }
    select(i);
    open = i;
    msgCard.classList.add("open");
    document.body.classList.add("msg-open");
    audio.seek(m.t_ms / 1000); /* the WAV starts at the call's start, as t_ms does */
    rawHead.textContent = `#${m.n} · leg ${m.leg} · ${m.src}:${m.sport} → ${m.dst}:${m.dport} ${m.transport} · ${when(m.ts)}`;
    raw.textContent = "loading…";
    if (diffWith.value === String(m.n)) diffWith.value = "";
    document.querySelectorAll("#ladder g.msg.diff-b").forEach((e) => e.classList.remove("diff-b"));
    try {
      raw.textContent = await textOf(m.n);
    } catch (e) {
      raw.textContent = "could not load: " + e.message;
    }
    if (open !== i) return;
    showDiff();
    reveal(i);
    if (clicked) document.getElementById("ladder-wrap")?.focus({ preventScroll: true });
  };
  const close = () => {
    open = -1;
    msgCard.classList.remove("open");
    document.body.classList.remove("msg-open");
    rawHead.textContent = "";
    raw.textContent = "Click a message in the ladder to see its text (↑/↓ move, Enter opens, Esc closes; shift-click a second one to compare).";
    diffWith.value = "";
    document.querySelectorAll("#ladder g.msg.diff-b").forEach((e) => e.classList.remove("diff-b"));
    showDiff();
  };
  closeBtn.addEventListener("click", close);
  diffWith.addEventListener("change", () => {
    document.querySelectorAll("#ladder g.msg.diff-b").forEach((e) => e.classList.remove("diff-b"));
    const b = d.messages.findIndex((x) => String(x.n) === diffWith.value);
    if (b >= 0) gOf(b)?.classList.add("diff-b");
  });
  /* keys on the call page: ↑/↓ move the selection, Enter opens, Esc closes */
  onPageKey((ev) => {
    if (ev.key === "Escape" && open >= 0) {
      ev.preventDefault();
      close();
      return;
    }
    /* keys typed into a field, or given to the audio player (its arrows
     * seek) or a button, are theirs */
    if (ev.target.closest && ev.target.closest("input, select, textarea, audio, video, button, [contenteditable]")) return;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      select(sel < 0 ? 0 : sel + (ev.key === "ArrowDown" ? 1 : -1));
    } else if (ev.key === "Enter" && sel >= 0) {
      ev.preventDefault();
      pick(sel, false);
    }
  });
  const legend = h("div", { class: "legs-legend" }, d.legs.map((l) => {
    const i = h("i");
    i.style.background = COLORS[l.idx % COLORS.length];
    return h("span", {}, i, `leg ${l.idx}: ${l.src || "?"} → ${l.dst || "?"} (${l.transport || "?"})`);
  }));
  /* what matters first (outcome, evidence), long text last and clipped */
  const legRows = d.legs.map((l) => h("tr", { class: FAILED.has(l.outcome) ? "fail" : "" },
    h("td", { class: "num" }, l.idx), h("td", { class: "outcome" }, l.outcome),
    h("td", { class: "num" }, l.final_status ?? "–"), h("td", {}, l.reason || ""),
    h("td", { class: "evidence" }, l.idx === 0 ? "first leg" : `${l.evidence} → leg ${l.linked_to ?? "?"}`),
    h("td", { class: "num" }, l.idx === 0 ? "" : num(l.confidence, 2)),
    h("td", {}, `${l.src}:${l.sport}`), h("td", {}, `${l.dst}:${l.dport}`), h("td", {}, l.transport),
    h("td", {}, l.callee_codecs || l.caller_codecs || ""),
    mosCell(l.mos, l.mos_reason), reportsCell(l, d.streams),
    h("td", { class: "mono clip", title: l.call_id }, l.call_id),
    h("td", { class: "clip", title: [l.user_agent, l.server].filter(Boolean).join(" → ") },
      [l.user_agent, l.server].filter(Boolean).join(" → "))));
  const streams = d.streams.length
    ? h("div", { id: "streams" }, streamTable(d.streams), d.streams.map(streamCharts))
    : h("p", { class: "muted no-media", id: "no-media" }, "No media on this call: no RTP stream stored.");
  /* the ladder and the message side by side at any width but a phone's:
   * the divider between them moves (drag, or ←/→ when focused) and is
   * remembered; the ladder is drawn again for its pane's new width */
  const wrap = h("div", { class: "ladder-wrap", id: "ladder-wrap", tabindex: 0,
    "aria-label": "SIP ladder: up and down arrows move, Enter opens, Escape closes" });
  const ladderCard = h("div", { class: "card ladder-card", id: "ladder-card" }, h("h2", {}, "SIP ladder"), legend, wrap,
    d.streams.length ? h("div", { class: "muted small", id: "media-note" },
      "RTP: a bar per stream from its source to its destination, after the message sent before its first packet, " +
      "green, amber or red by MOS and loss; RTCP: the thin line under it, a mark per report.") : null);
  const divider = h("div", { class: "split-divider", id: "split-divider", role: "separator", tabindex: 0,
    "aria-orientation": "vertical", "aria-controls": "msg-card", "aria-label": "width of the message pane (←/→)",
    title: "drag, or ←/→, to share the width between the ladder and the message" });
  const split = h("div", { class: "split", id: "call-split" }, ladderCard, divider, msgCard);
  const drawLadder = () => {
    const keep = { top: wrap.scrollTop };
    wrap.replaceChildren(ladder(d, pick, Math.max(200, wrap.clientWidth - 2), info));
    wrap.scrollTop = keep.top;
    if (sel >= 0) {
      gOf(sel)?.classList.add("sel");
      document.querySelector(`#ladder g.time-row[data-i="${sel}"]`)?.classList.add("sel");
    }
    const b = d.messages.findIndex((x) => String(x.n) === diffWith.value);
    if (b >= 0) gOf(b)?.classList.add("diff-b");
    if (sel >= 0) reveal(sel);
  };
  const firstLayout = paneSplit(split, divider, drawLadder, 150 + 112 * ladderColumns(d.nodes, info).length + 36);
  const pcapBtn = h("button", { class: "primary", id: "pcap-btn" }, "Download pcap");
  pcapBtn.addEventListener("click", () => downloadPcap(id, pcapBtn));
  view(
    h("div", { class: "toolbar" }, h("a", { href: "#/calls" }, "‹ Calls"), h("span", { class: "spacer" }), pcapBtn),
    h("h1", {}, `Call ${c.id}: ${c.caller || "?"} → ${c.callee || "?"}`),
    h("div", { class: "row" },
      h("div", { class: "card" }, h("h2", {}, "Summary"), h("dl", { class: "facts" },
        h("dt", {}, "outcome"), h("dd", { id: "call-outcome" }, c.outcome, c.final_status ? ` (${c.final_status})` : ""),
        h("dt", {}, "failure"), h("dd", {}, c.failure_side === "none" ? "–" : `${c.failure_side}: ${c.failure_detail}`),
        h("dt", {}, "direction"), h("dd", {}, c.direction),
        h("dt", {}, "start"), h("dd", {}, when(c.start) + " " + tzLabel()), h("dt", {}, "end"), h("dd", {}, when(c.end)),
        h("dt", {}, "PDD"), h("dd", {}, ms(c.pdd_ms)), h("dt", {}, "duration"), h("dd", { id: "call-duration" }, callDur(c)),
        h("dt", {}, "MOS"), h("dd", { id: "call-mos", class: c.mos !== null && c.mos < POOR_MOS ? "poor" : "" },
          num(c.mos, 2), c.mos_reason ? h("span", { class: "why" }, " " + (REASON_TEXT[c.mos_reason] || c.mos_reason)) : "",
          d.streams.length ? ` (worst of ${d.streams.length} streams)` : ""),
        h("dt", {}, "audio"), h("dd", { id: "call-audio-way", "data-one-way": c.one_way ? "1" : "0" }, ...audioVerdict(d, info)),
        h("dt", {}, "reported"), h("dd", { id: "call-reported" }, ...(() => {
          const reps = d.legs.flatMap((l) => (l.endpoint_quality || []).map((r) => [r, l]));
          if (!reps.length) return ["–"];
          return reps.map(([r, l]) => h("div", { class: "report" + (disagrees(r, l, d.streams) ? " disagree" : "") },
            `leg ${l.idx}: ${reportText(r)}`));
        })()),
        h("dt", {}, "legs / messages"),
        h("dd", {}, `${d.legs.length} / ${d.messages.length}` + (d.messages_truncated ? " (cut)" : ""))))),
    h("div", { class: "card" }, h("div", { class: "toolbar" }, h("h2", {}, "Legs and correlation evidence"),
      h("span", { class: "spacer" }), csvButton("legs-table", "call-" + c.id + "-legs")), h("div", { class: "table-wrap" },
      h("table", { class: "grid", id: "legs-table" }, h("thead", {}, h("tr", {}, ["#", "Outcome", "Final", "Reason",
        "Linked by", "Conf.", "From", "To", "Transport", "Codecs", "MOS", "Reported by endpoints",
        "Call-ID", "User-Agent → Server"].map((t) => h("th", {}, t)))),
        h("tbody", {}, legRows)))),
    split,
    d.streams.length ? audio : null,
    h("div", { class: "card" }, cardHead("Media quality", ...(d.streams.length ? [["streams-table", "call-" + c.id + "-streams"]] : [])),
      streams));
  firstLayout();
}

/* ---- trunks ---- */

async function pageTrunks() {
  const t = await api("/trunks" + qs({ site: state.site }));
  const grouped = state.sites.length > 0 || t.trunks.some((r) => r.site);
  const head = (site, n) => h("tr", { class: "site-head", "data-site": site },
    h("th", { colspan: 14 }, `Site: ${siteName(site)} · ${n} trunk${n === 1 ? "" : "s"}`));
  const body = grouped ? bySite(t.trunks).flatMap(([site, rs]) => [head(site, rs.length), ...rs.map(trunkRow)])
    : t.trunks.map(trunkRow);
  view(h("div", { class: "toolbar" }, h("h1", {}, "Trunks" + (state.site ? " · " + state.site : "")),
    h("span", { class: "spacer" }), csvButton("trunks-table", "trunks")), h("div", { class: "card" }, h("div", { class: "table-wrap" },
    h("table", { class: "grid", id: "trunks-table" },
      h("thead", {}, h("tr", {}, ["#", "Name", "Type", "Local", "Peer"].map((x) => h("th", {}, x)),
        ["Attempts", "Answered", "ASR", "NER", "ACD", "PDD", "PDD p95", "Peak", "MOS"].map((x) => h("th", { class: "num" }, x)))),
      h("tbody", {}, body.length ? body : h("tr", {}, h("td", { colspan: 14, class: "muted" }, "No trunks.")))))));
}

function trunkRow(r) {
  return h("tr", { class: "click", "data-trunk": r.id, "data-site": r.site ?? "", onclick: () => (location.hash = "#/trunk/" + r.id) },
        h("td", {}, r.id), h("td", {}, r.name), h("td", {}, h("span", { class: "badge " + r.type }, r.type)),
        h("td", {}, r.local), h("td", {}, r.peer), h("td", { class: "num" }, r.attempts), h("td", { class: "num" }, r.answered),
        h("td", { class: "num" }, pct(r.asr)), h("td", { class: "num" }, pct(r.ner)), h("td", { class: "num" }, secs(r.acd_s)),
        h("td", { class: "num" }, ms(r.pdd_mean_ms)), h("td", { class: "num" }, ms(r.pdd_p95_ms)),
        h("td", { class: "num" }, r.peak_concurrent), h("td", { class: "num" }, num(r.mos, 2)));
}

function codeBars(codes) {
  const max = Math.max(1, ...codes.map((c) => c.count));
  const total = codes.reduce((s, c) => s + c.count, 0);
  return h("div", { class: "bars", id: "codes" }, codes.map((c) => {
    const fill = h("div", { class: "fill c" + String(c.status)[0] });
    fill.style.width = (100 * c.count / max).toFixed(1) + "%";
    return h("div", { class: "bar" }, h("span", {}, String(c.status)), h("div", { class: "track" }, fill),
      h("span", { class: "num" }, `${c.count} · ${(100 * c.count / Math.max(1, total)).toFixed(0)}%`));
  }));
}

function healthTable(rows, kind) {
  if (!rows.length) return h("div", { class: "muted" }, `No ${kind} seen for this trunk.`);
  /* scrolls inside its half of the row rather than widening the page */
  return h("div", { class: "table-wrap" }, h("table", { class: "grid", id: kind + "-table" }, h("thead", {}, h("tr", {}, ["Client", "Server", kind === "registrations" ? "AOR" : "",
    "Attempts", "OK", "Fail", "Timeouts", "RTT mean", "Last", `Last OK (${tzLabel()})`].filter((x) => x !== "" || kind === "registrations").map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => h("tr", { class: r.last_status && r.last_status >= 300 ? "fail" : "" },
      h("td", {}, r.client), h("td", {}, r.server), kind === "registrations" ? h("td", {}, r.aor) : null,
      h("td", { class: "num" }, r.attempts), h("td", { class: "num" }, r.successes), h("td", { class: "num" }, r.failures),
      h("td", { class: "num" }, r.timeouts), h("td", { class: "num" }, ms(r.rt_mean_ms)),
      h("td", { class: "num" }, r.last_status ?? "–"), h("td", {}, when(r.last_ok_ts)))))));
}

/* Whose fault: unsuccessful calls on the trunk by side and outcome, then by
 * the trunk leg's final response; every count opens the calls behind it. */
function faultCard(tid, rows) {
  const link = (p, n) => h("a", { href: "#/calls" + qs(Object.assign({ trunk: tid }, p)), "data-fault": qs(p) }, n);
  const bySide = new Map();
  for (const r of rows) {
    const k = r.failure_side + "|" + r.outcome;
    bySide.set(k, (bySide.get(k) || 0) + r.calls);
  }
  const sideRows = [...bySide.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => {
    const [side, outcome] = k.split("|");
    return h("tr", {}, h("td", {}, side), h("td", {}, outcome),
      h("td", { class: "num" }, link({ outcome, failure_side: side }, n)));
  });
  const codeRows = rows.map((r) => h("tr", {},
    h("td", {}, r.failure_side), h("td", {}, r.outcome),
    h("td", { class: "num" }, r.final_status ?? "none"), h("td", {}, r.reason || ""), h("td", { class: "mono" }, r.sender || "–"),
    h("td", { class: "num" }, r.q850_cause ?? ""), h("td", { class: "mono small" }, r.reason_header || ""),
    h("td", { class: "num" }, link({ outcome: r.outcome, failure_side: r.failure_side,
      final_status: r.final_status ?? "none" }, r.calls))));
  if (!rows.length) return h("div", { class: "card", id: "faults" }, h("h2", {}, "Whose fault"), h("p", { class: "muted" }, "No unsuccessful call."));
  return h("div", { class: "card", id: "faults" }, h("div", { class: "toolbar" }, h("h2", {}, "Whose fault"),
      h("span", { class: "spacer" }), csvButton("fault-sides", "trunk-" + tid + "-failure-sides", "CSV by side"),
      csvButton("fault-codes", "trunk-" + tid + "-failures", "CSV by code")),
    h("div", { class: "row" },
      h("div", { class: "table-wrap", style: null }, h("table", { class: "grid", id: "fault-sides" },
        h("thead", {}, h("tr", {}, h("th", {}, "Failure side"), h("th", {}, "Outcome"), h("th", { class: "num" }, "Calls"))),
        h("tbody", {}, sideRows))),
      h("div", { class: "table-wrap grow" }, h("table", { class: "grid", id: "fault-codes" },
        h("thead", {}, h("tr", {}, ["Side", "Outcome", "Final", "Reason", "Sent by", "Q.850", "Reason header", "Calls"].map((x) => h("th", {}, x)))),
        h("tbody", {}, codeRows)))));
}

/* Capacity planning: busy hour, Erlang B channels, the guide's bandwidth
 * beside the Layer-2 rate measured per codec. */
function capacityCard(c) {
  const rows = [
    ["Busy hour", c.busy_hour_start ? `${when(c.busy_hour_start)} ${tzLabel()}` + (c.window_s < 3600 ? ` (capture spans ${num(c.window_s / 60, 0)} min)` : "") : "–"],
    ["Busy-hour traffic", `${num(c.erlangs, 2)} Erlang`],
    ["BHCA", num(c.bhca, 0) + (c.window_s < 3600 ? " (scaled to an hour)" : "")],
    ["Mean holding time", secs(c.mean_holding_s)],
    ["Peak concurrent calls", c.peak_concurrent],
    ["Channels for 1 % blocking", c.channels_1pct],
    ["Channels for 0.1 % blocking", c.channels_01pct],
    ["Guide bandwidth at peak", `${num(c.guide_kbps_peak / 1000, 2)} Mbit/s`],
    ["Guide bandwidth, 1 % / 0.1 % channels", `${num(c.guide_kbps_1pct / 1000, 2)} / ${num(c.guide_kbps_01pct / 1000, 2)} Mbit/s`],
  ];
  return h("div", { class: "card", id: "capacity-card" }, cardHead("Capacity planning", ["capacity-table", "capacity", "CSV planning"],
      ["capacity-measured", "capacity-measured", "CSV measured"]),
    h("div", { class: "row" },
      h("table", { class: "grid", id: "capacity-table" }, h("tbody", {}, rows.map(([k, v]) =>
        h("tr", {}, h("th", {}, k), h("td", { class: "num" }, v))))),
      h("div", {}, h("div", { class: "muted" }, `Guide: calls × (64 kbit/s + header) = ${num(c.guide_kbps_per_call, 0)} kbit/s per call and direction. Measured (Layer 2, per stream):`),
        h("table", { class: "grid", id: "capacity-measured" },
          h("thead", {}, h("tr", {}, ["Codec", "Streams", "Measured kbit/s", "Model kbit/s"].map((x) => h("th", {}, x)))),
          h("tbody", {}, c.measured.length ? c.measured.map((m) => h("tr", {}, h("td", {}, m.codec || "?"),
            h("td", { class: "num" }, m.streams), h("td", { class: "num" }, num(m.l2_kbps, 1)), h("td", { class: "num" }, num(m.model_kbps, 1))))
            : h("tr", {}, h("td", { colspan: 4, class: "muted" }, "no measured streams")))))));
}

/* TLS between the trunk's two addresses (without keys: what the handshake
 * showed) and the other flows crossing its link (nDPI's inventory). */
function tlsCard(p) {
  if (!p) return h("div", { class: "card", id: "tls-card" }, h("h2", {}, "TLS"), h("p", { class: "muted" }, "No TLS handshake seen on this trunk."));
  const warn = p.expiry_warning;
  const alert = p.alert_description ? `${p.alert_level} ${p.alert_description} from the ${p.alert_from}` : "none";
  const rows = [
    ["Status", h("span", { class: "badge " + (p.status === "ok" ? "ok" : "fail"), id: "tls-status" }, p.status)],
    ["Server", p.server + (p.sni ? ` (SNI ${p.sni})` : "")], ["Client", p.client],
    ["Version / suite", `${p.version || "?"} · ${p.suite || "?"}`], ["Offered", p.offered_versions || "–"],
    ["ALPN", p.alpn || "–"], ["MTLS", h("span", { id: "tls-mtls" }, p.mtls ? "yes" : "no")],
    ["Handshakes", `${p.established} ok, ${p.failed} failed, ${p.resumed} resumed`], ["Last alert", alert],
    ["Certificate", p.cert_subject || "not seen (TLS 1.3 encrypts it)"], ["Issuer", p.cert_issuer || "–"],
    ["Expires", p.cert_not_after ? h("span", { id: "tls-expiry", class: warn ? "fail" : "" },
      `${when(p.cert_not_after)} ${tzLabel()} · ${p.cert_days_left} days` + (warn ? " · expires within 30 days" : "")) : "–"],
    ["Key", p.cert_key_type ? `${p.cert_key_type} ${p.cert_key_bits} · ${p.cert_signature_algorithm}` : "–"],
    /* with keys: the connections ended, by why they were or were not decrypted */
    ["Decryption", h("span", { id: "tls-decrypt" }, Object.entries(p.decrypt || {}).map(([k, n]) => `${n} ${k.replace(/_/g, " ")}`).join(", ") || "no keys given")],
  ];
  return h("div", { class: "card", id: "tls-card" }, h("div", { class: "toolbar" },
      h("h2", {}, "TLS", warn ? h("span", { class: "badge fail", id: "tls-warn" }, "certificate expiring") : null),
      h("span", { class: "spacer" }), csvButton("tls-table", "tls")),
    h("table", { class: "grid", id: "tls-table" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))))));
}

function otherFlowsCard(rows) {
  const body = rows.length ? h("table", { class: "grid", id: "other-flows" }, h("thead", {}, h("tr", {},
      ["Client", "Server", "Port", "Transport", "Protocol", "Category", "Flows", "Packets", "Bytes", `Last (${tzLabel()})`].map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, r.client), h("td", {}, r.server), h("td", { class: "num" }, r.port),
      h("td", {}, r.transport), h("td", {}, r.protocol + (r.guessed ? " (by port)" : "")), h("td", {}, r.category || ""),
      h("td", { class: "num" }, r.flows), h("td", { class: "num" }, r.packets), h("td", { class: "num" }, r.bytes), h("td", {}, when(r.last))))))
    : h("p", { class: "muted" }, "Nothing but SIP and RTP seen on this trunk's addresses.");
  return h("div", { class: "card", id: "other-card" }, cardHead("Other flows on the link", ...(rows.length ? [["other-flows", "other-flows"]] : [])),
    h("div", { class: "table-wrap" }, body));
}

/* The Lync Server 2013 trunk checklist as analyze --db stored it: each
 * item's status, what the wire showed, and the calls that break it. */
function checklistCard(cl) {
  if (!cl || !cl.status) return h("div", { class: "card", id: "checklist-card" }, h("h2", {}, "Lync 2013 trunk checklist"),
    h("div", { class: "muted" }, "Not computed (analyze --db writes it)."));
  return h("div", { class: "card", id: "checklist-card", "data-status": cl.status },
    h("div", { class: "toolbar" }, h("h2", {}, "Lync 2013 trunk checklist ", h("span", { class: "badge cl " + cl.status.replace("/", "") }, cl.status)),
      h("span", { class: "spacer" }), csvButton("checklist-table", "checklist")),
    h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "checklist-table" },
      h("thead", {}, h("tr", {}, ["", "Check", "What the wire showed", "Calls", "Source"].map((x) => h("th", {}, x)))),
      h("tbody", {}, cl.items.map((it) => h("tr", { "data-item": it.id, "data-status": it.status },
        h("td", {}, h("span", { class: "badge cl " + it.status.replace("/", "") }, it.status)),
        h("td", {}, it.title), h("td", {}, it.detail),
        h("td", {}, it.calls.length ? it.calls.flatMap((id, i) => [i ? " " : "", h("a", { href: "#/call/" + id }, "#" + id)]) : "–"),
        h("td", { class: "muted" }, it.source)))))));
}

async function pageTrunk(id, params) {
  const [d, stats] = await Promise.all([api("/trunks/" + id), api("/stats")]);
  const lastMs = stats.totals.last_call ? Date.parse(stats.totals.last_call) : 0;
  /* a trunk's series sums its stored minutes, or under a minute (a short
   * capture) the API counts its legs */
  const { series: k, err: kErr } = await kpiSeries(`/trunks/${id}/kpis`, rangeParams(params, lastMs, 10));
  const t = d.trunk;
  /* the ratios first: at 1,280 px the counts may scroll, the KPIs may not */
  const dirRows = d.directions.map((x) => h("tr", {}, h("td", {}, x.direction), h("td", { class: "num" }, x.attempts),
    h("td", { class: "num" }, pct(x.asr)), h("td", { class: "num" }, pct(x.ner)), h("td", { class: "num" }, secs(x.acd_s)),
    h("td", { class: "num" }, ms(x.pdd_mean_ms)),
    ...[x.answered, x.busy, x.rejected, x.cancelled, x.failed, x.timeouts, x.in_progress].map((v) => h("td", { class: "num" }, v))));
  view(
    h("div", { class: "toolbar" }, h("a", { href: "#/trunks" }, "‹ Trunks"), h("span", { class: "spacer" }),
      h("a", { class: "button", href: "#/calls?trunk=" + t.id }, "Calls on this trunk"),
      h("a", { class: "button", id: "failed-calls", href: "#/calls" + qs({ trunk: t.id, outcome: UNSUCCESSFUL }) }, "Failed calls")),
    h("h1", {}, `Trunk ${t.id}: ${t.name} `, h("span", { class: "badge " + t.type }, t.type)),
    h("div", { class: "tiles" }, kpiTile(t),
      h("div", { class: "tile" }, h("div", { class: "name" }, "Capacity"), h("div", { class: "sub" }, `peak at ${when(t.peak_ts)} ${tzLabel()}`),
        h("div", { class: "kpis" },
          h("div", { class: "kpi" }, h("div", { class: "v", id: "peak-conc" }, t.peak_concurrent), h("div", { class: "l" }, "peak concurrent")),
          h("div", { class: "kpi" }, h("div", { class: "v" }, num(d.peak_kbps / 1000, 2) + " Mbit/s"), h("div", { class: "l" }, "implied, per direction")),
          h("div", { class: "kpi" }, h("div", { class: "v" }, num(d.kbps_per_call, 1)), h("div", { class: "l" }, "kbit/s per call")))),
      h("div", { class: "tile" }, h("div", { class: "name" }, "Codecs answered"),
        h("div", { class: "sub" }, d.codecs.map((c) => `${c.codec || "?"} ${c.count}`).join(" · ") || "–"))),
    h("div", { class: "row" },
      h("div", { class: "card", id: "dir-card" }, h("div", { class: "toolbar" }, h("h2", {}, "KPIs per direction"),
        h("span", { class: "spacer" }), csvButton("dir-table", "trunk-" + t.id + "-directions")), h("div", { class: "table-wrap" },
        h("table", { class: "grid", id: "dir-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Direction"),
          ["Attempts", "ASR", "NER", "ACD", "PDD", "Answered", "Busy", "Rejected", "Cancelled", "Failed", "Timeouts",
           "In progress"].map((x) =>
            h("th", { class: "num" }, x)))), h("tbody", {}, dirRows)))),
      h("div", { class: "card" }, h("h2", {}, "Final response codes"), codeBars(d.codes))),
    healthCard(t.health),
    faultCard(t.id, d.failures),
    capacityCard(d.capacity),
    checklistCard(d.checklist),
    h("div", { class: "row" },
      h("div", { class: "card", id: "reg-card" }, cardHead("Registrations", ...(d.registrations.length ? [["registrations-table", "trunk-" + t.id + "-registrations"]] : [])),
        healthTable(d.registrations, "registrations")),
      h("div", { class: "card", id: "ka-card" }, cardHead("Keep-alives (OPTIONS)", ...(d.keepalives.length ? [["keep-alives-table", "trunk-" + t.id + "-keep-alives"]] : [])),
        healthTable(d.keepalives, "keep-alives"))),
    h("div", { class: "row" }, tlsCard(d.tls), otherFlowsCard(d.other_flows || [])),
    rangeBar("#/trunk/" + id, params, k, 10), kErr,
    seriesCharts(k.points, t.mos === null && !d.capacity.measured.length
      ? "No media on this trunk: no RTP stream with a MOS was stored for its calls." : "No media on this trunk in this range.",
    bucketCalls(k, { trunk: id })));
}

/* ---- start ---- */

document.getElementById("auth-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.token = document.getElementById("auth-token").value.trim();
  sessionStorage.setItem("ts-token", state.token);
  document.getElementById("auth").classList.add("hidden");
  route();
});
document.getElementById("tz-toggle").addEventListener("click", () => {
  tzChoose(tzLocal() ? "utc" : "local");
  route();
});
window.addEventListener("hashchange", route);
loadSites().finally(route);
