// Browser test of the dashboard: a real analysis served by `trunkscope serve`,
// driven in Debian's headless chromium through playwright-core. Checks the
// overview tiles against the API (MOS included), a failed call's ladder
// (every message of every leg, raw text on click, fits the page), a call's
// RTP streams (table and quality charts), the calls table, a trunk page and,
// on a collector's database of two sites (sites_db.py), the site selector; the
// header on one line at 800 to 1,280 px; a tile's health word agreeing with
// its figures' colours; the topology page against /api/v1/topology (a box
// per node, a line per trunk, clickable to the trunk page); the call page's audio player on a speech
// call (tests/corpus/audio_lab.py): the audio element loads the call's
// duration, a waveform per party, a ladder click seeks to the message; no
// console errors (CSP included), no request leaves 127.0.0.1. Screenshots go
// to the work directory.
// usage: node dashboard.test.mjs --bin TRUNKSCOPE --work DIR [--chromium PATH] [--shared DIR]
//        [--static DIR (another dashboard's web files)] [--only split|ui]
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) =>
  (a.startsWith("--") ? acc.concat([[a.slice(2), all[i + 1]]]) : acc), []));
const bin = args.bin;
const work = args.work || path.join(tmpdir(), "ts-web");
const chromiumPath = args.chromium || "/usr/bin/chromium";
const shared = args.shared || path.join(root, "..", "shared"); // the public captures (../shared/pcaps)

let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.log("FAIL:", what); }
  return cond;
}

let pw;
try {
  pw = await import("playwright-core");
} catch {
  console.log("skipped: playwright-core is not installed (npm install --prefix tests/web)");
  process.exit(0);
}
if (!bin || !existsSync(chromiumPath)) {
  console.log(`skipped: ${!bin ? "no --bin" : chromiumPath + " missing (apt-get install chromium)"}`);
  process.exit(0);
}
const probe = spawnSync(bin, ["serve", "--help"], { encoding: "utf8" });
if (probe.status !== 0 && /unknown command/.test(probe.stderr)) {
  console.log("skipped: this trunkscope has no serve command yet");
  process.exit(0);
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const pcap = path.join(work, "g.pcap"), db = path.join(work, "g.db");
const run = (argv) => {
  const r = spawnSync(bin, argv, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${argv[0]} failed: ${r.stderr}`);
};
run(["gen", "-o", pcap, "--calls", "150", "--seed", "3", "--transport", "mix", "--branch", "--gateway"]);
run(["analyze", "--db", db, pcap]);

// `trunkscope serve` on a database; resolves once it prints its port.
async function serve(dbPath, extra = []) {
  const proc = spawn(bin, ["serve", "--db", dbPath, "--http", "127.0.0.1:0", "--static", args.static || path.join(root, "web-static"),
                           "--rate", "100000", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  const s = { proc, err: "" };
  proc.stderr.on("data", (d) => { s.err += d; });
  s.port = await new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.on("exit", (c) => reject(new Error("serve exited " + c + ": " + s.err)));
    setTimeout(() => reject(new Error("serve did not start")), 30000);
  });
  return s;
}
async function stopServe(s) {
  if (s.proc.exitCode === null) {
    s.proc.kill("SIGINT");
    await new Promise((r) => s.proc.on("exit", r));
  }
  check(!/AddressSanitizer|runtime error/.test(s.err), "no sanitizer report from serve");
}
const srv = await serve(db);
const port = srv.port;
const base = `http://127.0.0.1:${port}`;
const api = async (p) => (await fetch(base + "/api/v1" + p)).json();
// page.waitForFunction evaluates strings, which the dashboard's CSP forbids
// (as it should): poll from here instead.
// 30 s: the suite runs beside others on two shared cores
async function waitFor(page, fn, arg, what) {
  for (let i = 0; i < 300; i++) {
    if (await page.evaluate(fn, arg).catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("timed out waiting for " + what);
}
// Poll until fn (run in the page) returns want; false on time-out.
async function waitValue(page, fn, want) {
  for (let i = 0; i < 100; i++) {
    if (await page.evaluate(fn).catch(() => null) === want) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
const pct = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%");

const profile = mkdtempSync(path.join(tmpdir(), "ts-chromium-"));
const ctx = await pw.chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath, headless: true, viewport: { width: 1440, height: 900 }, acceptDownloads: true,
  // a zone away from UTC (no summer time: +05:30 all year) so that the
  // local-time switch visibly moves every clock
  timezoneId: "Asia/Kolkata",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
});
const page = ctx.pages()[0] || await ctx.newPage();
const problems = [];
// the server refuses a third request of one client in flight with 503
// "busy" and the page retries it (app.js api()): Chromium still logs each
// refusal as a console error, so those are counted apart and every other
// 503 (a query past its budget) stays a problem
let busyRefusals = 0;
page.on("response", async (r) => {
  if (r.status() !== 503) return;
  const code = await r.json().then((b) => b && b.error && b.error.code).catch(() => null);
  if (code === "busy") busyRefusals++;
  else problems.push(`503 ${code} on ${r.url()}`);
});
page.on("console", (m) => {
  if (m.type() !== "error") return;
  if (/status of 503/.test(m.text())) return;  /* judged by the response above */
  problems.push("console: " + m.text());
});
page.on("pageerror", (e) => problems.push("page error: " + e.message));
page.on("request", (r) => {
  const u = new URL(r.url());
  if (!["127.0.0.1", ""].includes(u.hostname) && !u.protocol.startsWith("blob") && !u.protocol.startsWith("data"))
    problems.push("outside request: " + r.url());
});

// ---- the message beside the ladder at 1,280, 1,024, 800 and 600 px, on a
// call of three legs across six addresses (three_legs.py): the message
// pane right of the ladder pane, both inside the window, showing exactly
// the clicked message's text; the clicked arrow inside the visible part of
// the ladder pane (which scrolls inside itself, its node headings staying);
// keys and the shift-click diff there; the divider moved by keys and by
// drag, remembered on the next call page; one-way audio in the ladder and
// the summary
async function splitPanes() {
  const tlPcap = path.join(work, "three-legs.pcap"), tlDb = path.join(work, "three-legs.db");
  const mk = spawnSync("python3", [path.join(here, "three_legs.py"), tlPcap], { encoding: "utf8" });
  if (!check(mk.status === 0, "three-leg capture: " + (mk.stderr || "").slice(-300))) return;
  run(["analyze", "--db", tlDb, tlPcap]);
  const s = await serve(tlDb);
  try {
    const b = `http://127.0.0.1:${s.port}`;
    const apiT = async (p) => (await fetch(b + "/api/v1" + p)).json();
    const calls = (await apiT("/calls")).calls;
    const two = calls.find((c) => c.legs === 3 && !c.one_way), oneWay = calls.find((c) => c.legs === 3 && c.one_way);
    if (!check(two && oneWay, `a two-way and a one-way three-leg call: ${JSON.stringify(calls.map((c) => [c.id, c.legs, c.one_way]))}`)) return;
    const d = await apiT("/calls/" + two.id);
    check(d.legs.length === 3 && d.nodes.length >= 6, `call ${two.id}: ${d.legs.length} legs, ${d.nodes.length} nodes`);
    const textOf = async (m) => (await apiT(`/calls/${two.id}/messages/${m.n}`)).text;
    // the last message of the far leg (rightmost columns, bottom of the
    // ladder), the far leg's INVITE, the first message
    const far = d.messages.filter((m) => m.leg === 2);
    const targets = [far[far.length - 1], far[0], d.messages[0]];
    const geometry = (n) => {
      const R = (e) => { const r = e.getBoundingClientRect(); return { l: r.left, t: r.top, r: r.right, b: r.bottom }; };
      const wrap = document.getElementById("ladder-wrap"), card = document.getElementById("msg-card");
      const g = document.querySelector(`#ladder g.msg[data-n="${n}"]`);
      const arrow = R(g.querySelector("line, path")), label = R(g.querySelector("text.label"));
      // the node headings: their own SVG (one SVG of old: its first 62 px)
      const hs = wrap.querySelector("svg.ladder-head"), w = R(wrap);
      const head = hs ? R(hs) : { t: R(wrap.querySelector("svg")).t, b: R(wrap.querySelector("svg")).t + 62 };
      // the pinned time column covers the pane's left strip
      const tc = wrap.querySelector("svg.ladder-times"), tw = tc ? R(tc).r - R(tc).l : 0;
      const vis = { l: w.l + wrap.clientLeft + tw, t: Math.max(head.b, w.t), r: w.l + wrap.clientLeft + wrap.clientWidth, b: w.t + wrap.clientTop + wrap.clientHeight };
      const inside = (x) => x.l >= vis.l - 1 && x.r <= vis.r + 1 && x.t >= vis.t - 1 && x.b <= vis.b + 1;
      const inWin = (x) => x.l >= -1 && x.t >= -1 && x.r <= innerWidth + 1 && x.b <= innerHeight + 1;
      return { lad: w, msg: R(card), right: R(card).l >= w.r - 1, inWindow: inWin(w) && inWin(R(card)),
               arrowIn: inside(arrow) && inside(label) && inWin(arrow), headStays: Math.abs(head.t - w.t) <= 2,
               scroll: [wrap.scrollLeft, wrap.scrollTop], pageW: document.documentElement.scrollWidth, iw: innerWidth };
    };
    for (const width of [1280, 1024, 800, 600]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto("about:blank");
      await page.goto(b + "/#/call/" + two.id);
      await page.waitForSelector("#ladder g.msg");
      for (const m of targets) {
        await page.click(`#ladder g.msg[data-n="${m.n}"] text.label`);
        const want = await textOf(m);
        const ok = await waitValue(page, () => document.getElementById("raw").textContent, want);
        const g = await page.evaluate(geometry, m.n);
        check(ok, `${width} px: the pane shows exactly message #${m.n}'s text`);
        check(g.right && g.inWindow && g.pageW <= g.iw,
              `${width} px, message #${m.n}: the message pane right of the ladder pane, both in the window ${JSON.stringify(g)}`);
        check(g.arrowIn && g.headStays, `${width} px: the clicked arrow #${m.n} (leg ${m.leg}) in the ladder pane's view, the headings on top ${JSON.stringify(g)}`);
      }
      // the keys move the selection, each selected arrow kept in the pane's view
      await page.focus("#ladder-wrap");
      let kept = true;
      for (let i = 0; i < 6; i++) {
        await page.keyboard.press("ArrowUp");
        const n = await page.evaluate(() => Number(document.querySelector("#ladder g.msg.sel")?.dataset.n));
        const g = await page.evaluate(geometry, n);
        if (!g.arrowIn) { kept = false; console.log(`  ${width} px: #${n} out of view ${JSON.stringify(g)}`); }
      }
      check(kept, `${width} px: ArrowUp keeps each selected arrow in the ladder pane's view`);
      await page.keyboard.press("Enter");
      const n = await page.evaluate(() => Number(document.querySelector("#ladder g.msg.sel")?.dataset.n));
      check(await waitValue(page, () => document.getElementById("raw").textContent, await textOf({ n })),
            `${width} px: Enter opens the selected message #${n} beside the ladder`);
      if (width === 1280) await page.screenshot({ path: path.join(work, "call-split-1280.png"), fullPage: false });
      if (width === 800) {
        // the time column stays at the pane's left when the ladder scrolls
        // sideways (as the node headings stay at its top)
        const pinned = await page.evaluate(() => {
          const wrap = document.getElementById("ladder-wrap");
          wrap.scrollTop = 0;
          wrap.scrollLeft = wrap.scrollWidth;
          const w = wrap.getBoundingClientRect(), l = w.left + wrap.clientLeft;
          const t = [...wrap.querySelectorAll("text.time")].slice(0, 3).map((e) => e.getBoundingClientRect());
          return { scrolled: wrap.scrollLeft, first: t.map((r) => [Math.round(r.left - l), Math.round(r.right - l)]),
                   inView: t.length > 0 && t.every((r) => r.left >= l - 1 && r.right <= l + wrap.clientWidth + 1) };
        });
        check(pinned.scrolled > 0 && pinned.inView,
              `800 px: the ladder scrolled ${pinned.scrolled} px sideways keeps its time column in view ${JSON.stringify(pinned)}`);
        await page.evaluate(() => { document.getElementById("ladder-wrap").scrollLeft = 0; });
        await page.screenshot({ path: path.join(work, "call-split-800.png"), fullPage: false });
        // the shift-click diff: leg 0's INVITE against leg 2's, Call-IDs differ
        const inv = (leg) => d.messages.find((m) => m.leg === leg && m.method === "INVITE");
        await page.click(`#ladder g.msg[data-n="${inv(0).n}"] rect.hit`);
        await waitValue(page, () => document.getElementById("raw").textContent, await textOf(inv(0)));
        await page.click(`#ladder g.msg[data-n="${inv(2).n}"] text.label`, { modifiers: ["Shift"] });
        await waitFor(page, () => document.querySelector('#diff-table tr[data-header="call-id"]'), null, "the shift-click diff at 800 px");
        const row = await page.$eval('#diff-table tr[data-header="call-id"]', (r) => [r.cells[2].textContent, r.cells[3].textContent]);
        check(row[0] === d.legs[0].call_id && row[1] === d.legs[2].call_id, `800 px: the diff beside the ladder: ${row}`);
        await page.keyboard.press("Escape");
      }
    }
    // the divider: ←/→ when focused and a drag move it; the width is kept
    // on the next call page
    await page.setViewportSize({ width: 1024, height: 800 });
    await page.goto("about:blank");
    await page.goto(b + "/#/call/" + two.id);
    await page.waitForSelector("#ladder g.msg");
    const cardW = () => Math.round(document.getElementById("msg-card").getBoundingClientRect().width);
    const w0 = await page.evaluate(cardW);
    await page.focus("#split-divider");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    const w1 = await page.evaluate(cardW);
    check(Math.abs(w1 - w0 - 48) <= 1, `two ← on the divider widen the message pane by 48 px (${w0} -> ${w1})`);
    const dv = await page.$eval("#split-divider", (e) => e.getBoundingClientRect());
    await page.mouse.move(dv.x + dv.width / 2, dv.y + 40);
    await page.mouse.down();
    await page.mouse.move(dv.x + dv.width / 2 - 60, dv.y + 40, { steps: 4 });
    await page.mouse.up();
    const w2 = await page.evaluate(cardW);
    check(Math.abs(w2 - w1 - 60) <= 2, `a drag of the divider 60 px left widens the pane by as much (${w1} -> ${w2})`);
    const fits = await page.evaluate(() => document.getElementById("ladder").getBoundingClientRect().width);
    await page.goto("about:blank");
    await page.goto(b + "/#/call/" + oneWay.id);
    await page.waitForSelector("#ladder g.msg");
    const w3 = await page.evaluate(cardW);
    check(Math.abs(w3 - w2) <= 1, `the next call page keeps the message pane's width (${w2}, ${w3}); ladder ${Math.round(fits)} px`);
    await page.evaluate(() => localStorage.removeItem("ts-msg-w"));
    // one-way audio (the second call: RTP from the PBX's side on every leg,
    // nothing back): the summary says so per leg, each leg's stream is
    // marked and the missing direction drawn from the callee's column to
    // the caller's; the two-way call has none of it
    const od = await apiT("/calls/" + oneWay.id);
    const audio = await page.$eval("#call-audio-way", (e) => ({ flag: e.dataset.oneWay, badge: !!e.querySelector('[data-flag="one_way"]'), text: e.textContent }));
    check(audio.flag === "1" && audio.badge && od.legs.every((l) => audio.text.includes(`leg ${l.idx}: no RTP ${l.dst} → ${l.src}`)),
          `call ${oneWay.id}: the summary names the silent direction of each leg (${audio.text})`);
    const gaps = await page.$$eval("#ladder g.rtp-missing", (gs) => gs.map((g) => [Number(g.dataset.leg), g.dataset.srcCol, g.dataset.dstCol]));
    check(gaps.length === od.legs.length && od.legs.every((l) => gaps.some(([leg, a, z]) => leg === l.idx && a === l.dst && z === l.src)),
          `call ${oneWay.id}: a missing-stream row per leg, callee's column to caller's: ${JSON.stringify(gaps)}`);
    const marked = await page.$$eval("#ladder g.rtp", (gs) => gs.map((g) => g.classList.contains("one-way") && /one-way audio/.test(g.querySelector("text.rtp-text").textContent)));
    check(marked.length === od.streams.length && marked.every(Boolean), `call ${oneWay.id}: its ${marked.length} streams marked one-way`);
    await page.screenshot({ path: path.join(work, "call-one-way.png"), fullPage: false });
    await page.goto("about:blank");
    await page.goto(b + "/#/call/" + two.id);
    await page.waitForSelector("#ladder g.rtp");
    const twoWay = await page.evaluate(() => ({ gaps: document.querySelectorAll("#ladder g.rtp-missing, #ladder g.rtp.one-way").length,
      text: document.getElementById("call-audio-way").textContent }));
    check(twoWay.gaps === 0 && twoWay.text === "both ways", `call ${two.id}: two-way, nothing marked (${JSON.stringify(twoWay)})`);
  } finally {
    await page.setViewportSize({ width: 1440, height: 900 });
    await stopServe(s);
  }
}

// ---- the header at 800 and 1,024 px (and 1,280): one line of 48 px, every
// navigation link whole inside the window, no page-wide sideways scroll, on
// the overview and on a call page
async function headerFits() {
  const c = (await api("/calls?limit=1")).calls[0];
  for (const width of [800, 1024, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    for (const hash of ["#/overview", "#/call/" + c.id]) {
      await page.goto("about:blank");
      await page.goto(base + "/" + hash);
      await page.waitForSelector(hash === "#/overview" ? ".tile" : "#ladder g.msg");
      await waitValue(page, () => /connecting/.test(document.getElementById("status-text").textContent), false);
      const g = await page.evaluate(() => {
        const hd = document.querySelector("header.top").getBoundingClientRect();
        const nav = document.querySelector("header nav").getBoundingClientRect();
        const links = [...document.querySelectorAll("header nav a")].map((a) => a.getBoundingClientRect());
        const st = document.getElementById("status").getBoundingClientRect();
        return { h: Math.round(hd.height), tops: [...new Set(links.map((r) => Math.round(r.top)))],
                 // inside the window and not cut by the navigation's box
                 whole: links.every((r) => r.left >= Math.max(0, nav.left - 0.5) && r.right <= Math.min(innerWidth, nav.right + 0.5) && r.width > 20),
                 status: st.width > 8 && st.right <= innerWidth, pageW: document.documentElement.scrollWidth, iw: innerWidth,
                 title: document.getElementById("status").title };
      });
      check(g.h <= 48 && g.tops.length === 1 && g.whole && g.status && g.pageW <= g.iw && g.title,
            `${width} px, ${hash}: the header is one line with every link whole ${JSON.stringify(g)}`);
      if (width === 800 && hash === "#/overview") await page.screenshot({ path: path.join(work, "header-800.png"), fullPage: false });
    }
  }
  await page.setViewportSize({ width: 1440, height: 900 });
}

// ---- a tile's health word agrees with its figures' colours: the API's
// trunks with their figures set (page.route) to a red NER, an amber ASR and
// all green, each beside an evaluator health of "healthy": the words are
// critical, degraded and healthy, the border follows the word, the reasons
// name the figure; on the real database no tile says healthy beside an
// amber or red figure
async function tileWords() {
  const real = (await api("/trunks")).trunks;
  if (!check(real.length > 0, "trunks to draw tiles of")) return;
  const green = { asr: 0.8, ner: 0.99, pdd_mean_ms: 900, mos: 4.3 };
  const set = [Object.assign({}, green, { ner: 0.85 }), Object.assign({}, green, { asr: 0.5 }), green];
  const fake = real.slice(0, 3).map((t, i) => Object.assign({}, t, set[i],
    { health: { state: "healthy", reasons: [], window: null } }));
  const want = ["critical", "degraded", "healthy"].slice(0, fake.length);
  await page.route("**/api/v1/trunks?*", (r) => r.fulfill({ json: { trunks: fake } }));
  await page.route("**/api/v1/trunks", (r) => r.fulfill({ json: { trunks: fake } }));
  try {
    await page.goto("about:blank");
    await page.goto(base + "/#/overview");
    await page.waitForSelector(".tile");
    const tiles = await page.$$eval(".tile", (ts) => ts.map((t) => ({ id: Number(t.dataset.trunk),
      word: t.querySelector(".badge.health").textContent, cls: t.className, title: t.title,
      red: [...t.querySelectorAll(".kpi.bad")].map((k) => k.dataset.kpi),
      amber: [...t.querySelectorAll(".kpi.warn")].map((k) => k.dataset.kpi) })));
    check(tiles.map((t) => t.word).join() === want.join(),
          `tiles with a red NER, an amber ASR, all green, each "healthy" by the evaluator, say ${want}: ${JSON.stringify(tiles)}`);
    check(tiles.every((t, i) => t.cls.includes("health-" + want[i])), `each tile's border follows its word ${tiles.map((t) => t.cls)}`);
    check(tiles[0].red.includes("ner") && /NER 85\.0%/.test(tiles[0].title), `the red NER is the reason: ${tiles[0].title}`);
  } finally {
    await page.unroute("**/api/v1/trunks?*");
    await page.unroute("**/api/v1/trunks");
  }
  await page.goto("about:blank");
  await page.goto(base + "/#/overview");
  await page.waitForSelector(".tile");
  const mixed = await page.$$eval(".tile", (ts) => ts.filter((t) => t.querySelector(".badge.health").textContent === "healthy" &&
    t.querySelector(".kpi.bad, .kpi.warn")).map((t) => t.dataset.trunk));
  check(mixed.length === 0, `no tile says healthy beside an amber or red figure (${mixed})`);
}

try {
  // --only split / --only ui: those sections alone (to try them against another dashboard)
  if (!args.only || args.only === "split") await splitPanes();
  if (!args.only || args.only === "ui") { await headerFits(); await tileWords(); }
  if (!args.only) {
  // ---- overview: one tile per trunk showing the API's KPI values
  const trunks = (await api("/trunks")).trunks;
  await page.goto(base + "/#/overview");
  await page.waitForSelector(".tile");
  await page.waitForSelector(".chart svg");
  const tiles = await page.$$eval(".tile", (ts) => ts.map((t) => ({
    id: Number(t.dataset.trunk),
    asr: t.querySelector('[data-kpi="asr"] .v').textContent,
    ner: t.querySelector('[data-kpi="ner"] .v').textContent,
    pdd: t.querySelector('[data-kpi="pdd"] .v').textContent,
    mos: t.querySelector('[data-kpi="mos"] .v').textContent,
  })));
  check(tiles.length === trunks.length && trunks.length > 0, `a tile per trunk (${tiles.length}/${trunks.length})`);
  for (const t of trunks) {
    const tile = tiles.find((x) => x.id === t.id);
    check(tile && tile.asr === pct(t.asr) && tile.ner === pct(t.ner), `trunk ${t.id}: ASR/NER tiles = API`);
    check(tile && tile.pdd === Math.round(t.pdd_mean_ms) + " ms", `trunk ${t.id}: PDD tile = API`);
    check(tile && tile.mos === (t.mos === null ? "–" : Number(t.mos).toFixed(2)), `trunk ${t.id}: MOS tile = API`);
  }
  const withMedia = (await api("/stats")).totals.streams > 0;
  if (withMedia) check(trunks.some((t) => t.mos !== null), "a trunk tile shows a MOS");
  const charts = await page.$$eval(".chart h2", (hs) => hs.map((x) => x.textContent));
  check(charts.some((c) => /Concurrent/.test(c)) && charts.some((c) => /Outcomes/.test(c)), "overview charts");
  // media charts only with media: this capture has RTP, so a MOS chart and no "no media" line
  check(!withMedia || (charts.some((c) => /^MOS/.test(c)) && await page.$("#no-media") === null),
        `a database with media: the overview charts MOS (${charts})`);
  await page.screenshot({ path: path.join(work, "overview.png"), fullPage: true });

  // ---- the time-range picker: each choice changes the API's query, the
  // automatic bucket gives more than one point on a capture of minutes
  const kpiResp = (re) => page.waitForResponse((r) => re.test(r.url()), { timeout: 20000 });
  const kpiOf = async (r) => ({ q: new URL(r.url()).searchParams, body: await r.json() });
  {
    const lastCallMs = Date.parse((await api("/stats")).totals.last_call);
    let [resp] = await Promise.all([kpiResp(/\/api\/v1\/kpis\?/), page.click('#range-picker button[data-range="7d"]')]);
    let k = await kpiOf(resp);
    check(Number(k.q.get("to")) % 3600e3 === 0 && Number(k.q.get("to")) - 3600e3 <= lastCallMs &&
          lastCallMs < Number(k.q.get("to")) && Number(k.q.get("to")) - Number(k.q.get("from")) === 7 * 86400e3,
          `7 days end with the newest call's hour (${k.q})`);
    [resp] = await Promise.all([kpiResp(/\/api\/v1\/kpis\?/), page.click('#range-picker button[data-range="15m"]')]);
    k = await kpiOf(resp);
    const span = Number(k.q.get("to")) - Number(k.q.get("from"));
    check(span === 900e3, `15 min asks /kpis for 15 minutes (${k.q})`);
    check(Number(k.q.get("to")) % 60000 === 0 && Number(k.q.get("to")) - 60000 <= lastCallMs &&
          lastCallMs < Number(k.q.get("to")), `15 min ends with the newest call's minute (${k.q})`);
    check(k.body.points.length > 1, `15 min: ${k.body.points.length} points (bucket ${k.body.bucket_s} s)`);
    await page.waitForSelector("#range-facts");
    check(await page.$eval("#range-facts", (e) => Number(e.dataset.points)) === k.body.points.length,
          "the picker says how many points the chart has");
    [resp] = await Promise.all([kpiResp(/\/api\/v1\/kpis\?/), page.selectOption("#range-bucket", "30")]);
    k = await kpiOf(resp);
    check(k.q.get("bucket") === "30" && k.body.bucket_s === 30 && k.body.points.length > 1,
          `bucket 30 s: asked ${k.q.get("bucket")}, got ${k.body.bucket_s} s, ${k.body.points.length} points`);
    // whole capture, automatic bucket: a capture of minutes is not one dot
    [resp] = await Promise.all([kpiResp(/\/api\/v1\/kpis/), page.goto(base + "/#/overview")]);
    k = await kpiOf(resp);
    check(!k.q.has("from") && !k.q.has("bucket") && k.body.points.length > 1 && k.body.bucket_s < 60,
          `whole capture: automatic ${k.body.bucket_s} s buckets, ${k.body.points.length} points`);
    // a bucket opens its calls: the busiest one of "Attempts and answered"
    {
      const pts = k.body.points, bi = pts.reduce((b, p, i) => (p.attempts > pts[b].attempts ? i : b), 0);
      await page.waitForSelector(".chart rect.bucket-hit");
      await page.click(`.chart:first-of-type rect.bucket-hit[data-i="${bi}"]`, { force: true });
      await waitFor(page, () => location.hash.startsWith("#/calls?"), null, "the bucket's calls");
      const hq = new URLSearchParams((await page.evaluate(() => location.hash)).split("?")[1]);
      check(Date.parse(hq.get("from")) === pts[bi].t_ms && Date.parse(hq.get("to")) === pts[bi].t_ms + k.body.bucket_s * 1000,
            `bucket ${bi} opens the calls from ${hq.get("from")} to ${hq.get("to")}`);
      const want = (await api("/calls?" + hq.toString() + "&limit=500")).calls.map((c) => c.id).join();
      await waitValue(page, () => [...document.querySelectorAll("#calls-table tbody tr[data-call]")].map((r) => r.dataset.call).join(), want);
      const nRows = await page.$$eval("#calls-table tbody tr[data-call]", (rs) => rs.length);
      check(nRows === pts[bi].attempts && nRows > 0, `the bucket's ${pts[bi].attempts} attempts are ${nRows} calls in the table`);
      [resp] = await Promise.all([kpiResp(/\/api\/v1\/kpis/), page.goto(base + "/#/overview")]);
      k = await kpiOf(resp);
    }
    // custom from/to (UTC): the first two minutes of the series
    await page.waitForSelector('#range-picker button[data-range="custom"]');
    await page.click('#range-picker button[data-range="custom"]');
    const f0 = new Date(k.body.from_ms).toISOString().slice(0, 16), f1 = new Date(k.body.from_ms + 120e3).toISOString().slice(0, 16);
    await page.fill('#range-custom input[name="from"]', f0);
    await page.fill('#range-custom input[name="to"]', f1);
    [resp] = await Promise.all([kpiResp(/\/api\/v1\/kpis\?/), page.click('#range-custom button[type="submit"]')]);
    k = await kpiOf(resp);
    check(k.q.get("from") === f0 + ":00Z" && k.q.get("to") === f1 + ":00Z" && k.body.points.length > 1,
          `custom range asks from=${k.q.get("from")} to=${k.q.get("to")} (${k.body.points.length} points)`);
    check(/range=custom/.test(await page.evaluate(() => location.hash)), "the custom range is a deep link");
    // the trunk page: the same picker, minutes at least
    [resp] = await Promise.all([kpiResp(/\/api\/v1\/trunks\/\d+\/kpis/), page.goto(base + "/#/trunk/" + trunks[0].id)]);
    k = await kpiOf(resp);
    // a capture of minutes: buckets of seconds on the trunk page too (its
    // legs counted under the stored minute), the picker offering them
    check(k.body.points.length > 3 && k.body.bucket_s < 60 && !k.q.has("bucket"),
          `trunk page, whole capture: ${k.body.points.length} points of ${k.body.bucket_s} s`);
    await waitFor(page, (b) => Number(document.getElementById("range-facts")?.dataset.bucket) === b &&
                  location.hash.startsWith("#/trunk/"), k.body.bucket_s, "the trunk page's picker");
    check((await page.$$eval("#range-bucket option", (os) => os.map((o) => o.value))).includes("10"),
          "the trunk page's picker offers 10 s buckets");
    const pts = await page.$$eval(".chart:first-of-type svg circle", (cs) => cs.length);
    check(k.body.points.length > 60 || pts >= 2 * k.body.points.length - 2, `the trunk's attempts chart draws its ${k.body.points.length} points (${pts} dots)`);
    await page.waitForSelector('#range-picker button[data-range="1h"]');
    [resp] = await Promise.all([kpiResp(/\/api\/v1\/trunks\/\d+\/kpis\?/), page.click('#range-picker button[data-range="1h"]')]);
    k = await kpiOf(resp);
    check(Number(k.q.get("to")) - Number(k.q.get("from")) === 3600e3 && k.body.points.length > 1,
          `trunk page, 1 h: ${k.q} -> ${k.body.points.length} points`);
    await page.waitForSelector(".chart svg");
  }

  // ---- local time or UTC: UTC by default; the header's switch moves every
  // shown time by the browser's offset (Asia/Kolkata, +05:30: 330 min), the
  // charts' axes and the range picker's inputs with it; remembered across a
  // reload; a link's tz=utc sets it back
  {
    const KOLKATA_MS = 330 * 60e3;
    const wall = (t) => Date.parse(t.trim().replace(" ", "T") + "Z"); // a shown clock read as if UTC
    const c0 = (await api("/calls?limit=25")).calls[0];
    await page.goto("about:blank");
    await page.goto(base + "/#/calls?limit=25");
    await waitValue(page, () => document.querySelector("#calls-table tbody tr[data-call]")?.dataset.call, String(c0.id));
    const startCell = () => document.querySelector("#calls-table tbody tr[data-call] td").textContent;
    const utcText = await page.evaluate(startCell);
    check(wall(utcText) === Date.parse(c0.start) && await page.textContent("#tz-toggle") === "UTC",
          `UTC by default: call ${c0.id} starts ${utcText} (API ${c0.start})`);
    await page.click("#tz-toggle");
    await waitFor(page, () => /local/.test(document.querySelector("#calls-table thead th").textContent), null, "the local-time table");
    const localText = await page.evaluate(startCell);
    check(wall(localText) - wall(utcText) === KOLKATA_MS,
          `local time: ${utcText} -> ${localText}, ${(wall(localText) - wall(utcText)) / 60e3} min (want 330)`);
    check(/UTC\+05:30/.test(await page.textContent("#calls-table thead th")), "the column names the offset");
    check(await page.evaluate(() => localStorage.getItem("ts-tz")) === "local", "the choice is kept in localStorage");
    // the call page's summary and the ladder's clock follow
    await page.goto(base + "/#/call/" + c0.id);
    await page.waitForSelector(`#ladder g.msg`);
    await waitFor(page, (id) => document.querySelector("h1")?.textContent.startsWith("Call " + id + ":"), c0.id, "the call page");
    const cd0 = await api("/calls/" + c0.id);
    const ladderClock = await page.$eval('#ladder g.time-row[data-i="0"] text.time:nth-of-type(2), #ladder g.msg[data-i="0"] text.time:nth-of-type(2)', (t) => t.textContent);
    const m0 = new Date(Date.parse(cd0.messages[0].ts) + KOLKATA_MS).toISOString().slice(11, 23);
    check(ladderClock.startsWith(m0.slice(0, ladderClock.length)) && ladderClock.length >= 8,
          `the ladder's first clock ${ladderClock} is the message's local time ${m0}`);
    // the overview after a reload: still local; the range facts, a chart's
    // first tick and the custom range's inputs are local; the query is UTC
    const [kr] = await Promise.all([kpiResp(/\/api\/v1\/kpis/), page.goto(base + "/#/overview")]);
    const ks = await kpiOf(kr);
    await page.reload();
    await page.waitForSelector(".chart svg text.xtick");
    check(await page.textContent("#tz-toggle") === "local time", "a reload keeps local time");
    const tick = await page.$eval(".chart svg text.xtick", (t) => ({ t: Number(t.dataset.t), text: t.textContent }));
    const tickWant = new Date(tick.t + KOLKATA_MS).toISOString().slice(11, 16);
    check(tick.text.startsWith(tickWant), `a chart's first tick says ${tick.text}, local ${tickWant}`);
    const facts = await page.textContent("#range-facts");
    const fromLocal = new Date(ks.body.from_ms + KOLKATA_MS).toISOString().slice(0, 19).replace("T", " ");
    check(facts.includes(fromLocal) && facts.includes("UTC+05:30"), `range facts in local time: ${facts} (${fromLocal})`);
    await page.click('#range-picker button[data-range="custom"]');
    const inFrom = await page.$eval('#range-custom input[name="from"]', (i) => i.value);
    check(inFrom === new Date(ks.body.from_ms + KOLKATA_MS).toISOString().slice(0, 16),
          `the custom range opens at the series' start in local time (${inFrom})`);
    const lf = new Date(ks.body.from_ms + KOLKATA_MS).toISOString().slice(0, 16);
    const lt = new Date(ks.body.from_ms + KOLKATA_MS + 120e3).toISOString().slice(0, 16);
    await page.fill('#range-custom input[name="from"]', lf);
    await page.fill('#range-custom input[name="to"]', lt);
    const [cr] = await Promise.all([kpiResp(/\/api\/v1\/kpis\?/), page.click('#range-custom button[type="submit"]')]);
    const ck = await kpiOf(cr);
    const uf = new Date(Date.parse(lf + ":00Z") - KOLKATA_MS).toISOString().replace(".000Z", "Z");
    check(ck.q.get("from") === uf, `a local from ${lf} asks the API for ${ck.q.get("from")} (want ${uf})`);
    // a link with tz=utc: back to UTC, remembered
    await page.goto(base + "/#/calls?limit=25&tz=utc");
    await waitFor(page, () => /UTC\)/.test(document.querySelector("#calls-table thead th")?.textContent || ""), null, "UTC again");
    check(await page.evaluate(startCell) === utcText && await page.evaluate(() => localStorage.getItem("ts-tz")) === "utc",
          "tz=utc in the address bar sets UTC back (and keeps it)");
  }

  // ---- dark mode: the system's preference, then the header's toggle,
  // remembered across a reload
  {
    const bg = () => getComputedStyle(document.documentElement).backgroundColor;
    await page.emulateMedia({ colorScheme: "light" });
    await page.goto(base + "/#/overview");
    await page.waitForSelector(".tile");
    const light = await page.evaluate(bg);
    await page.emulateMedia({ colorScheme: "dark" });
    await waitValue(page, () => document.documentElement.dataset.theme, "dark");
    const dark = await page.evaluate(bg);
    const lum = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    check(lum(dark) < 60 && lum(light) > 200, `prefers-color-scheme dark: background ${light} -> ${dark}`);
    const cardInk = await page.$eval(".tile", (t) => [getComputedStyle(t).backgroundColor, getComputedStyle(t).color]);
    check(lum(cardInk[0]) < 80 && lum(cardInk[1]) > 150, `dark tiles: light text on a dark card ${cardInk}`);
    await page.click("#theme-toggle");
    check(await page.evaluate(() => document.documentElement.dataset.theme) === "light" &&
          lum(await page.evaluate(bg)) > 200, "the toggle turns a dark page light");
    await page.click("#theme-toggle");
    check(await page.evaluate(() => localStorage.getItem("ts-theme")) === "dark", "the choice is kept in localStorage");
    await page.emulateMedia({ colorScheme: "light" });
    await page.reload();
    await page.waitForSelector(".tile");
    check(await page.evaluate(() => document.documentElement.dataset.theme) === "dark" && lum(await page.evaluate(bg)) < 60,
          "a reload keeps the chosen dark theme over a light system");
    await page.screenshot({ path: path.join(work, "overview-dark.png"), fullPage: false });
    await page.evaluate(() => localStorage.removeItem("ts-theme"));
    await page.emulateMedia({ colorScheme: null });
  }

  // ---- a phone, 390 px wide: no page-wide horizontal scroll on any page;
  // wide tables and the ladder scroll inside their card
  {
    await page.setViewportSize({ width: 390, height: 844 });
    const cidPhone = (await api("/calls?sort=start&limit=500")).calls.sort((a, b) => b.legs - a.legs)[0].id;
    for (const [hash, sel] of [["#/overview", ".tile"], ["#/calls", "#calls-table tbody tr"], ["#/call/" + cidPhone, "#ladder g.msg"],
      ["#/trunk/" + trunks[0].id, "#dir-table tbody tr"], ["#/trunks", "#trunks-table tbody tr"],
      ["#/topology", "#topology g.topo-node"], ["#/alerts", "#alerts-table"], ["#/active", "h1"]]) {
      await page.goto("about:blank");
      await page.goto(base + "/" + hash);
      await page.waitForSelector(sel);
      const w = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: innerWidth,
        nav: [...document.querySelectorAll("header nav a")].every((a) => a.getBoundingClientRect().height > 0) }));
      check(w.sw <= w.iw, `${hash} at 390 px: page ${w.sw} px wide, window ${w.iw}`);
      check(w.nav, `${hash} at 390 px: every navigation link is there`);
      if (hash === "#/calls") await page.screenshot({ path: path.join(work, "phone-calls.png"), fullPage: false });
      if (hash.startsWith("#/call/")) await page.screenshot({ path: path.join(work, "phone-call.png"), fullPage: false });
    }
    await page.setViewportSize({ width: 1440, height: 900 });
  }

  // ---- calls table: filter by outcome, failure rows coloured, paging works
  await page.goto(base + "/#/calls?outcome=failed&limit=25");
  await page.waitForSelector("#calls-table tbody tr");
  const outcomes = await page.$$eval("#calls-table tbody tr", (rs) => rs.map((r) => [r.dataset.outcome, r.className]));
  check(outcomes.length > 0 && outcomes.every(([o, c]) => o === "failed" && /fail/.test(c)),
        "failed filter: every row failed and coloured");
  await page.screenshot({ path: path.join(work, "calls.png"), fullPage: false });
  await page.goto(base + "/#/calls?limit=25");
  // the failed-only rows of the previous view may still be on screen: wait
  // for the unfiltered page (a full page that is not all failures)
  await waitFor(page, () => {
    const rs = [...document.querySelectorAll("#calls-table tbody tr[data-call]")];
    return rs.length === 25 && rs.some((r) => r.dataset.outcome !== "failed");
  }, null, "the unfiltered calls page");
  const firstPage = await page.$$eval("#calls-table tbody tr", (rs) => rs.map((r) => r.dataset.call));
  await page.click("#next-page");
  await waitFor(page, (ids) => {
    const r = document.querySelector("#calls-table tbody tr");
    return r && !ids.includes(r.dataset.call);
  }, firstPage, "the next page");
  const second = await page.$$eval("#calls-table tbody tr", (rs) => rs.map((r) => r.dataset.call));
  check(second.length > 0 && second.every((id) => !firstPage.includes(id)), "next page shows other calls");
  await page.click("#prev-page");
  await waitFor(page, (id) => document.querySelector("#calls-table tbody tr")?.dataset.call === id, firstPage[0],
                "the previous page");
  check(true, "previous page returns");

  // ---- a failed call with the most legs: the ladder shows every message of every leg
  const failedCalls = [];
  for (const o of ["failed", "rejected"]) failedCalls.push(...(await api(`/calls?outcome=${o}&limit=500`)).calls);
  failedCalls.sort((a, b) => b.legs - a.legs || a.id - b.id);
  const cid = failedCalls[0].id;
  const detail = await api("/calls/" + cid);
  await page.goto(base + "/#/call/" + cid);
  await page.waitForSelector("#ladder g.msg");
  const shown = await page.$$eval("#ladder g.msg", (gs) => gs.map((g) => [Number(g.dataset.n), Number(g.dataset.leg)]));
  check(shown.length === detail.messages.length, `call ${cid}: ${shown.length} arrows for ${detail.messages.length} messages`);
  check(detail.messages.every((m) => shown.some(([n, leg]) => n === m.n && leg === m.leg)), "every message of every leg drawn");
  const legs = new Set(shown.map(([, l]) => l));
  check(detail.legs.every((l) => legs.has(l.idx)) && detail.legs.length >= 1, `all ${detail.legs.length} legs in the ladder`);
  const nodes = await page.$$eval("#ladder text.node", (ts) => ts.map((t) => t.textContent));
  check(nodes.length === detail.nodes.length && detail.nodes.every((n) => nodes.includes(n)), "a column per node");
  // every column named by the learned topology: the node's role over its
  // address, one heading over the adjacent addresses of a multi-homed SBC
  const topoL = await api("/topology");
  const heads = await page.$$eval("#ladder g.node-head", (gs) => gs.map((g) => ({ node: Number(g.dataset.node),
    role: g.dataset.label, name: g.dataset.name, shown: g.querySelector("text.node-role").textContent,
    group: !!g.querySelector("rect.node-group") })));
  const ROLE = { sbc: "SBC / B2BUA", carrier: "carrier", pbx: "PBX", gateway: "gateway", mediation_server: "Mediation Server / B2BUA" };
  for (const n of topoL.nodes.filter((x) => x.addresses.some((a) => nodes.includes(a)))) {
    const hd = heads.filter((x) => x.node === n.id);
    check(hd.length === 1 && hd[0].role === (ROLE[n.role] || hd[0].role) && hd[0].name === (n.user_agent || hd[0].name) &&
          hd[0].shown.replace("…", "").length >= Math.min(4, hd[0].role.length) && hd[0].role.startsWith(hd[0].shown.replace("…", "")),
          `ladder column of node ${n.id} headed "${hd[0] && hd[0].shown}" ${hd[0] && hd[0].name} (role ${n.role}, ${n.user_agent})`);
    const cols = n.addresses.filter((a) => nodes.includes(a)).map((a) => nodes.indexOf(a)).sort((a, b) => a - b);
    check(cols.every((c, i) => i === 0 || c === cols[i - 1] + 1) && (cols.length > 1) === hd[0]?.group,
          `node ${n.id}'s addresses ${n.addresses} side by side under one heading (columns ${cols})`);
  }
  check(heads.some((x) => x.role === "SBC / B2BUA") && heads.some((x) => x.role === "carrier"),
        `the SBC and the carrier are named: ${heads.map((x) => x.role)}`);
  const fit = await page.$eval("#ladder-wrap", (w) => {
    const s = w.querySelector("svg").getBoundingClientRect(), r = w.getBoundingClientRect();
    return { fits: s.right <= r.right + 1, scrolls: w.scrollWidth > w.clientWidth, inPage: r.right <= innerWidth };
  });
  check(fit.inPage && (fit.fits || fit.scrolls), `ladder of ${nodes.length} nodes fits or scrolls: ${JSON.stringify(fit)}`);
  if (nodes.length <= 8) check(fit.fits, `ladder of ${nodes.length} nodes fits the page width`);
  const legRows = await page.$$eval("#legs-table tbody tr", (rs) => rs.length);
  check(legRows === detail.legs.length, "legs and evidence table");
  const last = detail.messages[detail.messages.length - 1];
  await page.click(`#ladder g.msg[data-n="${last.n}"] text.label`);
  const rawWant = (await api(`/calls/${cid}/messages/${last.n}`)).text;
  await waitFor(page, (t) => document.getElementById("raw").textContent === t, rawWant, "the raw text");
  check(true, "clicking a message shows its raw text");
  check(await page.$("#pcap-btn") !== null, "pcap download button");

  // ---- SDP on the arrows: the API's summary, read again here from the
  // raw text (m=, c=, rtpmap or the static payload types, direction), is
  // what the arrow says
  const STATIC_PT = { 0: "PCMU", 8: "PCMA", 9: "G722", 18: "G729", 3: "GSM", 4: "G723" };
  const readSdp = (text) => {
    const body = text.split("\r\n\r\n").slice(1).join("\r\n\r\n");
    const [sess, ...media] = body.split(/\r\n(?=m=)/);
    const au = media.find((x) => x.startsWith("m=audio"));
    if (!au) return null;
    const [, port, fmts] = /^m=audio (\d+) \S+ ([\d ]+)/.exec(au);
    const conn = /^c=IN IP[46] ([^\s/]+)/m.exec(au) || /^c=IN IP[46] ([^\s/]+)/m.exec(sess);
    const dir = (/^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(au) || /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(sess) || [0, "sendrecv"])[1];
    const codecs = fmts.trim().split(/ +/).map((pt) => (new RegExp("^a=rtpmap:" + pt + " ([^/\\s]+)", "m").exec(au) || [0, STATIC_PT[pt] || "PT " + pt])[1]);
    return { port: Number(port), addr: conn && conn[1], dir, codecs };
  };
  // RTP and RTCP in the ladder (call detail md, on the page now): a bar per
  // stream from its source's column to its destination's, after the last
  // message sent before its first packet, coloured by MOS and loss; the
  // columns read again here from the messages' raw SDP; an RTCP line under
  // exactly the streams whose RTCP the API counted
  async function checkLadderMedia(apiX, md, what) {
    const cid2 = md.call.id;
    await waitFor(page, (id) => document.querySelector("h1")?.textContent.startsWith("Call " + id + ":"), cid2, "the call page");
    await page.waitForSelector("#ladder g.msg");
    const colX = new Map(await page.$$eval("#ladder text.node", (ts) => ts.map((t) => [t.textContent, Number(t.getAttribute("x"))])));
    const sdps = [];
    for (const m of md.messages) if (m.sdp) sdps.push({ src: m.src, sdp: readSdp((await apiX(`/calls/${cid2}/messages/${m.n}`)).text) });
    const colOf = (addr, port) => (colX.has(addr) ? addr
      : (sdps.find((x) => x.sdp && x.sdp.addr === addr && x.sdp.port === port && colX.has(x.src)) ||
         sdps.find((x) => x.sdp && x.sdp.addr === addr && colX.has(x.src)) || {}).src);
    const bars = await page.$$eval("#ladder g.rtp", (gs) => gs.map((g) => {
      const r = g.querySelector("rect.bar");
      return { id: Number(g.dataset.stream), a: g.dataset.srcCol, b: g.dataset.dstCol, cls: g.getAttribute("class"),
               y: Number(g.dataset.y), lo: Number(r.getAttribute("x")), hi: Number(r.getAttribute("x")) + Number(r.getAttribute("width")),
               head: g.querySelector("path.head").getAttribute("d") };
    }));
    const msgY = new Map(await page.$$eval("#ladder g.msg", (gs) => gs.map((g) =>
      [Number(g.dataset.n), Number(g.querySelector("rect.hit").getAttribute("y")) + 18])));
    check(bars.length === md.streams.length && md.streams.length > 0,
          `${what} call ${cid2}: an RTP bar per stream in the ladder (${bars.length}/${md.streams.length})`);
    for (const st of md.streams) {
      const b = bars.find((x) => x.id === st.id);
      const a = colOf(st.src, st.sport), z = colOf(st.dst, st.dport);
      if (a && z && a !== z) {
        const [lo, hi] = [Math.min(colX.get(a), colX.get(z)), Math.max(colX.get(a), colX.get(z))];
        const tip = Number(/^M([\d.]+)/.exec(b ? b.head : "") ? /^M([\d.]+)/.exec(b.head)[1] : NaN);
        check(b && b.a === a && b.b === z && Math.abs(b.lo - lo) < 1 && Math.abs(b.hi - hi) < 1 && Math.abs(tip - colX.get(z)) < 1,
              `${what} stream ${st.id} ${st.src}:${st.sport} → ${st.dst}:${st.dport}: bar from column ${a} to ${z} ` +
              `(drawn ${b && b.a} → ${b && b.b}, x ${b && b.lo}..${b && b.hi}, head at ${tip})`);
      } else {
        check(b && b.cls.includes("guessed") === !(a && z), `${what} stream ${st.id}: no SDP names its addresses, drawn as a guess`);
      }
      const from = Date.parse(st.first_ts) - md.call.start_ms;
      const before = md.messages.filter((m) => m.t_ms < from).pop(), after = md.messages.find((m) => m.t_ms >= from);
      check(b && (!before || msgY.get(before.n) < b.y) && (!after || b.y < msgY.get(after.n)),
            `${what} stream ${st.id} (first packet +${from} ms) drawn between message #${before && before.n} and #${after && after.n}`);
      const q = (st.mos !== null && st.mos < 3.5) || st.lost_pct >= 5 ? "bad" : (st.mos !== null && st.mos < 4) || st.lost_pct >= 1 ? "warn" : "good";
      check(b && b.cls.includes("q-" + q), `${what} stream ${st.id}: MOS ${st.mos}, loss ${st.lost_pct}%: bar ${q} (${b && b.cls})`);
    }
    const rtcp = await page.$$eval("#ladder g.rtcp", (gs) => gs.map((g) => Number(g.dataset.stream)));
    const withRtcp = md.streams.filter((st) => st.rtcp && ["sr", "rr", "xr", "sdes", "bye", "app", "feedback"].some((k) => st.rtcp[k] > 0)).map((st) => st.id);
    check(rtcp.sort().join() === withRtcp.sort().join(), `${what} call ${cid2}: an RTCP line for streams ${withRtcp} (drawn: ${rtcp})`);
    check(await page.$("#media-bars") === null, "no media strip under the ladder any more");
    return rtcp;
  }
  const sdpMsgs = detail.messages.filter((m) => m.sdp);
  check(sdpMsgs.length >= 2, `call ${cid}: ${sdpMsgs.length} messages with SDP`);
  for (const m of sdpMsgs.slice(0, 8)) {
    const want = readSdp((await api(`/calls/${cid}/messages/${m.n}`)).text);
    const au = m.sdp.media.find((x) => x.type === "audio");
    check(want && au && au.port === want.port && au.addr === want.addr && au.dir === want.dir &&
          JSON.stringify(au.codecs) === JSON.stringify(want.codecs),
          `message #${m.n}: API SDP ${JSON.stringify(au)} = the text's ${JSON.stringify(want)}`);
    const shown = await page.$eval(`#ladder g.msg[data-n="${m.n}"] text.sdp`, (t) => ({ text: t.textContent, dir: t.dataset.dir })).catch(() => null);
    const codec = want && want.codecs.find((x) => !/^(telephone-event|CN)$/i.test(x));
    check(shown && want && shown.text.includes(`${want.addr}:${want.port}`) && shown.text.includes(codec) && shown.dir === want.dir,
          `message #${m.n}'s arrow says ${shown && shown.text} (${codec} ${want && want.addr}:${want && want.port} ${want && want.dir})`);
  }
  const noSdp = detail.messages.filter((m) => !m.sdp).map((m) => m.n);
  const stray = await page.$$eval("#ladder g.msg", (gs, ns) => gs.filter((g) => ns.includes(Number(g.dataset.n)) &&
    g.querySelector("text.sdp")).length, noSdp);
  check(stray === 0, `no SDP note on the ${noSdp.length} arrows without SDP (${stray})`);

  // ---- keyboard: arrows move the selection, Enter opens, Esc closes; the
  // selected arrow stays in view, the opened text is in the window
  await page.click('#ladder g.msg[data-i="0"] rect.hit');
  await waitFor(page, () => document.getElementById("msg-card").classList.contains("open"), null, "the first message open");
  await page.keyboard.press("Escape");
  await waitFor(page, () => !document.getElementById("msg-card").classList.contains("open"), null, "Esc closes");
  check(true, "Esc closes the opened message");
  const selI = () => Number(document.querySelector("#ladder g.msg.sel")?.dataset.i ?? -1);
  for (const k of ["ArrowDown", "ArrowDown", "ArrowDown", "ArrowUp"]) await page.keyboard.press(k);
  const afterKeys = await page.evaluate(selI);
  check(afterKeys === 2, `from the first message, down three and up one selects the third (${afterKeys})`);
  check(!(await page.evaluate(() => document.getElementById("msg-card").classList.contains("open"))), "arrows select without opening");
  await page.keyboard.press("Enter");
  const mkMsg = detail.messages[afterKeys];
  const mkText = (await api(`/calls/${cid}/messages/${mkMsg.n}`)).text;
  await waitFor(page, (t) => document.getElementById("raw").textContent === t, mkText, "Enter opens the selected message");
  check(true, `Enter opens message #${mkMsg.n}`);
  for (let i = afterKeys; i < detail.messages.length; i++) await page.keyboard.press("ArrowDown");
  const lastSel = await page.evaluate(() => {
    const g = document.querySelector("#ladder g.msg.sel"), r = g.getBoundingClientRect();
    const w = document.getElementById("ladder-wrap").getBoundingClientRect();
    const card = document.getElementById("msg-card");
    const floor = getComputedStyle(card).position === "fixed" ? card.getBoundingClientRect().top : innerHeight;
    return { i: Number(g.dataset.i), inWrap: r.top >= w.top - 1 && r.bottom <= w.bottom + 1, inView: r.top >= 0 && r.bottom <= floor + 1 };
  });
  check(lastSel.i === detail.messages.length - 1 && lastSel.inWrap && lastSel.inView,
        `ArrowDown to the last message keeps it in view ${JSON.stringify(lastSel)}`);
  await page.keyboard.press("Escape");
  await waitFor(page, () => !document.getElementById("msg-card").classList.contains("open"), null, "Esc closes again");

  // ---- diff: the INVITE of the first leg against the INVITE the B2BUA
  // sent on the next: Call-ID changed (the legs' own), headers added/removed
  const inv = (leg) => detail.messages.find((m) => m.leg === leg && m.method === "INVITE");
  if (check(detail.legs.length >= 2 && inv(0) && inv(1), `call ${cid}: an INVITE on two legs`)) {
    await page.click(`#ladder g.msg[data-n="${inv(0).n}"] rect.hit`);
    await waitFor(page, () => document.getElementById("msg-card").classList.contains("open"), null, "the INVITE opened");
    await page.selectOption("#diff-with", String(inv(1).n));
    await page.waitForSelector("#diff-table tbody tr");
    const drows = await page.$$eval("#diff-table tbody tr", (rs) => rs.map((r) => ({ h: r.dataset.header, kind: r.dataset.kind,
      a: r.cells[2].textContent, b: r.cells[3].textContent })));
    const cidRow = drows.find((r) => r.h === "call-id");
    check(cidRow && cidRow.kind === "changed" && cidRow.a === detail.legs[0].call_id && cidRow.b === detail.legs[1].call_id,
          `diff: Call-ID changed from leg 0's to leg 1's: ${JSON.stringify(cidRow)}`);
    // an independent reading of the two texts: every header name in one
    // and not the other is an added or removed row
    const t0 = (await api(`/calls/${cid}/messages/${inv(0).n}`)).text, t1 = (await api(`/calls/${cid}/messages/${inv(1).n}`)).text;
    const names = (t) => new Set(t.split("\r\n\r\n")[0].split("\r\n").slice(1).map((l) => l.split(":")[0].trim().toLowerCase()));
    const n0 = names(t0), n1 = names(t1);
    const onlyB = [...n1].filter((n) => !n0.has(n) && n.length > 1), onlyA = [...n0].filter((n) => !n1.has(n) && n.length > 1);
    check(onlyB.every((n) => drows.some((r) => r.h === n && r.kind === "added")) &&
          onlyA.every((n) => drows.some((r) => r.h === n && r.kind === "removed")),
          `diff: headers only in B (${onlyB}) added, only in A (${onlyA}) removed`);
    await page.screenshot({ path: path.join(work, "call-diff.png"), fullPage: false });
    await page.keyboard.press("Escape");
    // the same by shift-click: open leg 0's INVITE, shift-click leg 1's
    await waitFor(page, () => !document.getElementById("msg-card").classList.contains("open"), null, "the diff closed");
    await page.click(`#ladder g.msg[data-n="${inv(0).n}"] rect.hit`);
    await waitFor(page, (t) => document.getElementById("raw").textContent === t, t0, "leg 0's INVITE open");
    await page.click(`#ladder g.msg[data-n="${inv(1).n}"] rect.hit`, { modifiers: ["Shift"] });
    await waitFor(page, () => document.querySelector('#diff-table tr[data-header="call-id"]'), null, "the shift-click diff");
    const sh = await page.$$eval("#diff-table tbody tr", (rs) => rs.map((r) => ({ h: r.dataset.header, kind: r.dataset.kind,
      a: r.cells[2].textContent, b: r.cells[3].textContent })));
    const shCid = sh.find((r) => r.h === "call-id");
    check(shCid && shCid.a === detail.legs[0].call_id && shCid.b === detail.legs[1].call_id &&
          JSON.stringify(sh) === JSON.stringify(drows.filter((r) => r.kind !== "same")) &&
          await page.$eval("#diff-with", (x) => x.value) === String(inv(1).n) &&
          await page.$(`#ladder g.msg.diff-b[data-n="${inv(1).n}"]`) !== null,
          `shift-click on leg 1's INVITE compares it with the open one: ${JSON.stringify(shCid)}`);
    check(await page.evaluate(() => String(window.getSelection())) === "", "a shift-click selects no text");
    await page.keyboard.press("Escape");
  }
  // the ladder's keys leave a focused button (or field, or the audio
  // player) alone: ArrowDown on the pcap button does not move the selection
  {
    await waitFor(page, () => !document.getElementById("msg-card").classList.contains("open"), null, "closed");
    await page.click('#ladder g.msg[data-i="0"] rect.hit');
    await page.keyboard.press("Escape");
    await page.focus("#pcap-btn");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    check(await page.evaluate(selI) === 0, `ArrowDown on a focused button leaves the ladder's selection (${await page.evaluate(selI)})`);
    await page.focus("#ladder-wrap");
    await page.keyboard.press("ArrowDown");
    check(await page.evaluate(selI) === 1, "the same key on the ladder moves it");
  }
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(work, "call.png"), fullPage: true });

  // ---- a call with RTP: stream table and per-stream quality charts
  if (withMedia) {
    const mc = (await api("/calls?sort=mos&order=asc&min_mos=1&limit=1")).calls[0];
    const md = await api("/calls/" + mc.id);
    await page.goto("about:blank");
    await page.goto(base + "/#/call/" + mc.id);
    await page.waitForSelector("#streams-table tbody tr");
    const srows = await page.$$eval("#streams-table tbody tr", (rs) => rs.map((r) => Number(r.dataset.stream)));
    check(srows.length === md.streams.length && md.streams.every((s) => srows.includes(s.id)),
          `call ${mc.id}: a row per stream (${srows.length}/${md.streams.length})`);
    const sc = await page.$$eval(".stream-charts", (cs) => cs.map((c) => ({
      id: Number(c.dataset.stream), lines: c.querySelectorAll("svg path").length,
      titles: [...c.querySelectorAll("h2")].map((x) => x.textContent) })));
    check(sc.length === md.streams.length, `call ${mc.id}: charts per stream`);
    for (const s of md.streams) {
      const c = sc.find((x) => x.id === s.id);
      const mosPts = s.series.filter((p) => p.mos !== null).length;
      check(c && c.lines >= (mosPts ? 1 : 0) + 1, `stream ${s.id}: MOS and jitter/loss lines drawn`);
      check(c && c.titles.some((x) => x.startsWith("MOS")) === (mosPts > 0),
            `stream ${s.id}: a MOS chart only with MOS points (${mosPts}): ${c && c.titles}`);
    }
    await checkLadderMedia(api, md, "g.db");
    const mosText = await page.textContent("#call-mos");
    check(mosText.startsWith(Number(md.call.mos).toFixed(2)), `call MOS shown (${mosText})`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(work, "call-media.png"), fullPage: true });
  } else {
    console.log("note: no RTP streams stored (analyze does not store them yet): media checks skipped");
  }

  // ---- a call put on hold: its re-INVITE's arrow says sendonly; the diff
  // against the first INVITE of the leg shows the CSeq and the body changed
  {
    let hold = null;
    for (const c of (await api("/calls?outcome=answered&limit=200")).calls) {
      const cd = await api("/calls/" + c.id);
      const re = cd.messages.find((m) => m.method === "INVITE" && m.sdp && m.sdp.media.some((x) => x.dir === "sendonly"));
      if (re) { hold = { cd, re, first: cd.messages.find((m) => m.method === "INVITE" && m.leg === re.leg) }; break; }
    }
    if (check(hold !== null, "a call with a re-INVITE to sendonly (hold)")) {
      // a fresh load: a hash change alone leaves the previous call's ladder
      // on screen until this one replaces it
      await page.goto("about:blank");
      await page.goto(base + "/#/call/" + hold.cd.call.id);
      await page.waitForSelector(`#ladder g.msg[data-n="${hold.re.n}"] text.sdp`);
      const note = await page.$eval(`#ladder g.msg[data-n="${hold.re.n}"] text.sdp`, (t) => ({ t: t.textContent, c: t.getAttribute("class") }));
      check(/sendonly/.test(note.t) && /hold/.test(note.c), `the re-INVITE's arrow: ${JSON.stringify(note)}`);
      await page.click(`#ladder g.msg[data-n="${hold.first.n}"] rect.hit`);
      await page.selectOption("#diff-with", String(hold.re.n));
      await page.waitForSelector("#diff-table tbody tr");
      const rows = await page.$$eval("#diff-table tbody tr", (rs) => rs.map((r) => [r.dataset.header, r.dataset.kind, r.cells[3].textContent]));
      check(rows.some(([hd, k]) => hd === "cseq" && k === "changed"), `INVITE vs re-INVITE: CSeq changed (${rows.map((r) => r[0])})`);
      check(rows.some(([hd, k, b]) => hd === "body" && k === "added" && b === "a=sendonly"), "INVITE vs re-INVITE: a=sendonly added to the body");
      check(!rows.some(([hd]) => hd === "call-id"), "INVITE vs re-INVITE on one leg: the Call-ID is the same");
      await page.screenshot({ path: path.join(work, "call-hold-diff.png"), fullPage: false });
    }
  }

  // ---- trunk page
  const tid = trunks[0].id;
  const td = await api("/trunks/" + tid);
  await page.goto(base + "/#/trunk/" + tid);
  await page.waitForSelector("#dir-table tbody tr");
  const dirRows = await page.$$eval("#dir-table tbody tr", (rs) => rs.length);
  check(dirRows === td.directions.length, "KPIs per direction");
  const bars = await page.$$eval("#codes .bar", (bs) => bs.length);
  check(bars === td.codes.length, "final-code breakdown");
  check((await page.textContent("#peak-conc")) === String(td.trunk.peak_concurrent), "peak concurrent calls");
  // capacity planning: the API's Erlangs and Erlang B channels on the page
  const capText = await page.textContent("#capacity-table");
  check(capText.includes(Number(td.capacity.erlangs).toFixed(2) + " Erlang"), `busy-hour Erlangs shown (${capText})`);
  const capCells = await page.$$eval("#capacity-table tr", (rs) => Object.fromEntries(rs.map((r) => [r.cells[0].textContent, r.cells[1].textContent])));
  check(capCells["Channels for 1 % blocking"] === String(td.capacity.channels_1pct), "channels for 1 % blocking");
  check(capCells["Channels for 0.1 % blocking"] === String(td.capacity.channels_01pct), "channels for 0.1 % blocking");
  const measRows = await page.$$eval("#capacity-measured tbody tr", (rs) => rs.length);
  check(measRows === Math.max(1, td.capacity.measured.length), "measured Layer-2 rate per codec");
  // the TLS card says what the API says (a plaintext trunk: no handshake)
  await page.waitForSelector("#tls-card");
  if (td.tls)
    check((await page.textContent("#tls-status")) === td.tls.status, "TLS status as the API's");
  else
    check((await page.textContent("#tls-card")).includes("No TLS handshake"), "no TLS on a plaintext trunk");
  check((await page.$$eval("#other-flows tbody tr", (rs) => rs.length)) === td.other_flows.length,
        "other flows as the API lists them");
  await page.waitForSelector(".chart svg");
  {
    const tc = await page.$$eval(".chart h2", (hs) => hs.map((x) => x.textContent));
    const kp = await api(`/trunks/${tid}/kpis`);
    const mosPts = kp.points.filter((p) => p.mos !== null).length;
    check(tc.some((x) => /^MOS/.test(x)) === mosPts > 0 && (await page.$("#no-media") === null) === mosPts > 0,
          `trunk ${tid}: a MOS chart only with MOS points (${mosPts}): ${tc}`);
  }
  await page.screenshot({ path: path.join(work, "trunk.png"), fullPage: true });

  // ---- search as a ticket reads, at 1,280 px: a number in three written
  // forms and the second leg's Call-ID find the call; the trunk page's
  // failure breakdown links to calls that all have that outcome
  await page.setViewportSize({ width: 1280, height: 900 });
  const rowIds = () => [...document.querySelectorAll("#calls-table tbody tr[data-call]")].map((r) => Number(r.dataset.call));
  async function search(field, value) {
    // a fresh load: a hash change alone would leave the previous page's form
    // on screen until the new one replaces it (and the typed value with it)
    await page.goto("about:blank");
    await page.goto(base + "/#/calls?limit=500");
    await page.waitForSelector("#call-filters");
    const before = await page.evaluate(() => location.hash);
    await page.fill(`#call-filters [name="${field}"]`, value);
    await page.click("#call-filters button[type=submit]");
    await waitFor(page, (h) => location.hash !== h, before, "the search to run");
    // the unfiltered list may still be on screen: wait for what the API
    // answers to the query the form put in the address bar
    const hash = await page.evaluate(() => location.hash);
    check(hash.includes(field + "="), `the search is in the address bar: ${hash}`);
    const want = (await api("/calls?" + hash.split("?")[1])).calls.map((c) => c.id).join();
    await waitValue(page, () => [...document.querySelectorAll("#calls-table tbody tr[data-call]")].map((r) => r.dataset.call).join(), want);
    return page.evaluate(rowIds);
  }
  let target = null;
  for (const c of (await api("/calls?limit=500")).calls) {
    if (c.legs < 2 || !/^\+49\d{8,}$/.test(c.caller || "")) continue;
    target = { call: c, legs: (await api("/calls/" + c.id)).legs };
    break;
  }
  if (check(target !== null, "a two-leg call with a +49 caller")) {
    const e164 = target.call.caller, nsn = e164.slice(3);
    for (const form of [e164, "0" + nsn, "0049" + nsn]) {
      const ids = await search("number", form);
      check(ids.includes(target.call.id), `number ${form} finds call ${target.call.id} (${ids.length} rows)`);
    }
    const ids = await search("call_id", target.legs[1].call_id);
    check(ids.length === 1 && ids[0] === target.call.id,
          `second leg's Call-ID ${target.legs[1].call_id} finds call ${target.call.id}: ${ids}`);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth);
    check(wide, "calls page within 1,280 px");
  }
  // every trunk page within 1,280 px, the last column of its checklist,
  // registrations and keep-alives in view
  for (const t of trunks) {
    await page.goto("about:blank");
    await page.goto(base + "/#/trunk/" + t.id);
    await page.waitForSelector("#dir-table tbody tr");
    await page.waitForSelector("#checklist-card");
    const fitT = await page.evaluate(() => ({ page: document.documentElement.scrollWidth <= innerWidth,
      cut: ["checklist-table", "registrations-table", "keep-alives-table"].filter((id) => {
        const tb = document.getElementById(id);
        if (!tb) return false;
        const ths = tb.querySelectorAll("thead th"), last = ths[ths.length - 1].getBoundingClientRect();
        const wrap = tb.closest(".table-wrap, .card").getBoundingClientRect();
        return last.right > Math.min(wrap.right, innerWidth) + 1;
      }) }));
    check(fitT.page && fitT.cut.length === 0, `trunk ${t.id} at 1,280 px: within the window, every column in view ${JSON.stringify(fitT)}`);
  }
  // the failed call with the most legs at 1,280 px: outcome and evidence
  // columns in view, a clicked message's text in the viewport
  await page.goto(base + "/#/call/" + cid);
  await page.waitForSelector("#legs-table td.evidence");
  const cols = await page.$$eval("#legs-table tbody tr:last-child td", (tds) => {
    const wrap = tds[0].closest(".table-wrap").getBoundingClientRect();
    const ok = (td) => { const r = td.getBoundingClientRect(); return r.right <= Math.min(wrap.right, innerWidth) + 1 && r.width > 0; };
    return { outcome: ok(tds.find((t) => t.classList.contains("outcome"))),
             evidence: ok(tds.find((t) => t.classList.contains("evidence"))) };
  });
  check(cols.outcome && cols.evidence, `call ${cid} at 1,280 px: outcome and evidence columns visible ${JSON.stringify(cols)}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  const lastMsg = detail.messages[detail.messages.length - 1];
  await page.click(`#ladder g.msg[data-n="${lastMsg.n}"] text.label`);
  const rawLast = (await api(`/calls/${cid}/messages/${lastMsg.n}`)).text;
  await waitFor(page, (t) => document.getElementById("raw").textContent === t, rawLast, "the raw text at 1,280 px");
  const rawBox = await page.$eval("#raw", (r) => { const b = r.getBoundingClientRect(); return { top: b.top, h: innerHeight }; });
  check(rawBox.top >= 0 && rawBox.top < rawBox.h - 40, `clicked message text in the viewport: ${JSON.stringify(rawBox)}`);
  // the status chip on a page opened directly (no overview first)
  const nCalls = (await api("/stats")).totals.calls;
  // ... and the page's own title
  const TITLE = { overview: "Overview", trunk: "Trunk", calls: "Calls", call: "Call", active: "In progress", trunks: "Trunks",
                  topology: "Topology", alerts: "Alerts" };
  for (const hash of ["#/trunk/" + trunks[0].id, "#/calls", "#/call/" + cid, "#/active", "#/trunks", "#/overview",
                      "#/topology", "#/alerts"]) {
    await page.goto("about:blank");
    await page.goto(base + "/" + hash);
    const ok = await waitValue(page, () => document.getElementById("status-text").textContent, `database · ${nCalls} calls`);
    check(ok, `${hash}: status chip says database · ${nCalls} calls`);
    const [, pg, id] = hash.split("/");
    const title = await page.title();
    check(title === `trunkscope · ${TITLE[pg]}${id ? " " + id : ""}`, `${hash}: its own title (${title})`);
  }
  const ft = trunks.map((t) => t.id);
  let faultLinks = 0;
  for (const t of ft) {
    const d = await api("/trunks/" + t);
    if (!d.failures.length) continue;
    await page.goto(base + "/#/trunk/" + t);
    await page.waitForSelector("#faults a[data-fault]");
    const links = await page.$$eval("#faults a[data-fault]", (as) => as.map((a) => [a.getAttribute("href"), Number(a.textContent)]));
    check(links.length >= d.failures.length, `trunk ${t}: a link per failure row (${links.length})`);
    for (const [href, n] of links.slice(0, 6)) {
      const want = new URLSearchParams(href.split("?")[1]).get("outcome");
      // the previous list may still be on screen: wait for this one's calls
      const ids = (await api("/calls?" + href.split("?")[1] + "&limit=500")).calls.map((c) => c.id).join();
      await page.goto(base + "/" + href + "&limit=500");
      await waitValue(page, () => [...document.querySelectorAll("#calls-table tbody tr[data-call]")].map((r) => r.dataset.call).join(), ids);
      const rows = await page.$$eval("#calls-table tbody tr[data-call]", (rs) => rs.map((r) => r.dataset.outcome));
      check(rows.length >= n && n > 0 && rows.every((o) => o === want),
            `${href}: ${rows.length} calls for ${n}, all ${want}: ${[...new Set(rows)]}`);
      faultLinks++;
    }
    // "Failed calls" is every unsuccessful call of the trunk
    await page.goto(base + "/#/trunk/" + t);
    await page.waitForSelector("#failed-calls");
    await page.click("#failed-calls");
    await waitFor(page, () => location.hash.startsWith("#/calls"), null, "the failed calls");
    const wantIds = (await api(`/calls?trunk=${t}&outcome=busy,rejected,cancelled,failed,timeout&limit=50`)).calls.map((c) => c.id).join();
    await waitValue(page, () => [...document.querySelectorAll("#calls-table tbody tr[data-call]")].map((r) => r.dataset.call).join(), wantIds);
    const shownFailed = await page.$$eval("#calls-table tbody tr[data-call]", (rs) => rs.map((r) => r.dataset.call).join());
    check(wantIds !== "" && shownFailed === wantIds, `trunk ${t}: "Failed calls" lists every unsuccessful call`);
    await page.goto(base + "/#/trunk/" + t);
    await page.waitForSelector("#faults");
    check(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), `trunk ${t} page within 1,280 px`);
    const kpiCols = await page.$$eval("#dir-table thead th", (ths) => {
      const wrap = ths[0].closest(".table-wrap").getBoundingClientRect();
      return ths.filter((th) => th.getBoundingClientRect().right <= Math.min(wrap.right, innerWidth) + 1).map((th) => th.textContent);
    });
    check(["ASR", "NER", "ACD", "PDD"].every((k) => kpiCols.includes(k)), `trunk ${t}: direction KPIs in view (${kpiCols})`);
    await page.screenshot({ path: path.join(work, "trunk-faults.png"), fullPage: true });
    if (faultLinks >= 6) break;
  }
  check(faultLinks > 0, `failure breakdown links followed (${faultLinks})`);
  // CSV of the calls table: a header and a line per row
  await page.goto(base + "/#/calls?limit=25");
  await waitFor(page, () => document.querySelectorAll("#calls-table tbody tr[data-call]").length === 25, null, "25 calls");
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click('button[data-csv="calls-table"]')]);
  const csvPath = path.join(work, "calls.csv");
  await dl.saveAs(csvPath);
  const csv = (await import("node:fs")).readFileSync(csvPath, "utf8").trim().split(/\r\n/);
  check(csv.length === 26 && /^Start/.test(csv[0]), `calls CSV: ${csv.length} lines`);
  // every table has its CSV (a message diff, a view of two texts, aside):
  // on a trunk page and a call page with media; the streams' CSV has a line
  // per stream of the API
  {
    const mcid = (await api("/calls?sort=mos&order=asc&min_mos=1&limit=1")).calls[0]?.id;
    for (const hash of ["#/trunk/" + trunks[0].id, ...(mcid ? ["#/call/" + mcid] : [])]) {
      await page.goto("about:blank");
      await page.goto(base + "/" + hash);
      await page.waitForSelector(hash.startsWith("#/trunk") ? "#capacity-table" : "#streams-table");
      const miss = await page.$$eval("table.grid", (ts) => ts.filter((t) => t.id !== "diff-table" &&
        !(t.id && document.querySelector(`button[data-csv="${t.id}"]`))).map((t) => t.id || t.closest(".card")?.id || "?"));
      check(miss.length === 0, `${hash}: a CSV button for every table (missing: ${miss})`);
    }
    if (mcid) {
      const [sdl] = await Promise.all([page.waitForEvent("download"), page.click('button[data-csv="streams-table"]')]);
      const sp = path.join(work, "streams.csv");
      await sdl.saveAs(sp);
      const lines = (await import("node:fs")).readFileSync(sp, "utf8").trim().split(/\r\n/);
      const ns = (await api("/calls/" + mcid)).streams.length;
      check(lines.length === ns + 1 && /^Leg,Stream,SSRC/.test(lines[0]), `streams CSV of call ${mcid}: ${lines.length} lines for ${ns} streams`);
    }
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  // ---- topology: a box per node and a line per trunk of /api/v1/topology,
  // the SBC box showing both its addresses; a trunk line opens its page
  const topo = await api("/topology");
  await page.goto(base + "/#/topology");
  await page.waitForSelector("#topology g.topo-node");
  const boxes = await page.$$eval("#topology g.topo-node", (gs) => gs.map((g) => ({
    id: Number(g.dataset.node), addr: g.querySelector("text.addr").textContent })));
  check(boxes.length === topo.nodes.length && topo.nodes.length >= 4,
        `a box per node (${boxes.length}/${topo.nodes.length})`);
  for (const n of topo.nodes) {
    const b = boxes.find((x) => x.id === n.id);
    check(b && b.addr === n.addresses.join(", "), `node ${n.id} (${n.role}): addresses ${b && b.addr}`);
  }
  const sbcNode = topo.nodes.find((n) => n.role === "sbc" && n.addresses.length === 2);
  check(sbcNode !== undefined, "the API has a dual-homed SBC node");
  const wires = await page.$$eval("#topology g.topo-trunk", (gs) => gs.map((g) => Number(g.dataset.trunk)));
  const tied = topo.trunks.filter((t) => t.local_node !== null && t.peer_node !== null).map((t) => t.id);
  check(wires.length === tied.length && tied.length === topo.trunks.length &&
        tied.every((id) => wires.includes(id)), `a line per trunk (${wires.length}/${topo.trunks.length})`);
  await page.screenshot({ path: path.join(work, "topology.png"), fullPage: true });
  const itspT = topo.trunks.find((t) => t.type === "itsp");
  await page.click(`#topology g.topo-trunk[data-trunk="${itspT.id}"] path.hit`, { force: true });
  await waitFor(page, (id) => location.hash === "#/trunk/" + id, itspT.id, "the trunk page from the topology");
  check(true, "a trunk line opens its trunk page");
  // a fresh load, as the first visit: a hash change alone leaves the trunk
  // page's requests in flight against the per-client cap
  await page.goto("about:blank");
  await page.goto(base + "/#/topology");
  await page.waitForSelector("#topology g.topo-node");
  await page.click(`#topology g.topo-node[data-node="${sbcNode.id}"]`);
  await waitFor(page, () => location.hash.startsWith("#/trunk/"), null, "a node's trunk page");
  check(true, "a node opens its trunk page");
  // ---- endpoint-reported quality and one-way audio: the capture of
  // tests/corpus/test_endpoint_quality.py (a clean call whose endpoints
  // report MOS-LQ 2.1 by vq-rtcpxr, X-RTP-Stat and P-RTP-Stat; a one-way call)
  const eqPcap = path.join(work, "eq.pcap"), eqDb = path.join(work, "eq.db");
  const mk = spawnSync("python3", ["-c", "import sys; sys.path.insert(0, sys.argv[1]); " +
    "import test_endpoint_quality as t; t.make_capture(sys.argv[2])", path.join(root, "tests", "corpus"), eqPcap],
  { encoding: "utf8" });
  if (check(mk.status === 0, "endpoint-quality capture: " + (mk.stderr || "").slice(-300))) {
    run(["analyze", "--db", eqDb, eqPcap]);
    const srv3 = await serve(eqDb);
    try {
      const base3 = `http://127.0.0.1:${srv3.port}`;
      const api3 = async (p) => (await fetch(base3 + "/api/v1" + p)).json();
      const calls = (await api3("/calls")).calls;
      await page.goto(base3 + "/#/calls");
      await page.waitForSelector("#calls-table tbody tr[data-call]");
      const shown = await page.$$eval("#calls-table tbody tr[data-call]", (rs) => rs.map((r) => ({
        id: Number(r.dataset.call), flag: !!r.querySelector('[data-flag="one_way"]'),
        reason: r.querySelector("td[data-reason]")?.dataset.reason || "",
        why: r.querySelector(".why")?.textContent.trim() || "" })));
      for (const c of calls) {
        const s = shown.find((x) => x.id === c.id);
        check(s && s.flag === c.one_way, `call ${c.id}: one-way badge ${s && s.flag} = API ${c.one_way}`);
        check(s && s.reason === (c.mos_reason || ""), `call ${c.id}: reason beside MOS ${s && s.reason}`);
      }
      check(shown.some((s) => s.why === "one-way"), "the one-way call shows 'one-way' beside its MOS");
      const rep = calls.find((c) => !c.one_way);
      const rd = await api3("/calls/" + rep.id);
      await page.goto(base3 + "/#/call/" + rep.id);
      await page.waitForSelector("#legs-table tbody tr");
      const reps = await page.$$eval("#legs-table .report", (rs) => rs.map((r) => ({
        source: r.dataset.source, disagree: r.classList.contains("disagree"), text: r.textContent })));
      check(reps.length === rd.legs[0].endpoint_quality.length && reps.length === 3,
            `call ${rep.id}: a line per endpoint report (${reps.length})`);
      const vq = reps.find((r) => r.source === "vq-rtcpxr"), pr = reps.find((r) => r.source === "p-rtp-stat");
      check(vq && vq.disagree && vq.text.includes("MOS-LQ 2.10"),
            `reported MOS-LQ 2.1 vs measured ${rd.legs[0].mos}: highlighted (${vq && vq.text})`);
      check(pr && !pr.disagree, `P-RTP-Stat (no loss, as measured) not highlighted (${pr && pr.text})`);
      const summary = await page.$$eval("#call-reported .report", (rs) => rs.length);
      check(summary === 3, "the summary lists the reports beside the measured MOS");
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: path.join(work, "call-reported.png"), fullPage: true });
    } finally {
      await stopServe(srv3);
    }
  }

  // ---- RTCP in the ladder: heplify's capture of a two-way G.711 call with
  // 26 RTCP packets (../shared/pcaps); tshark says which streams have RTCP
  // (RTP port + 1, either direction)
  const rtcpPcap = path.join(shared, "pcaps", "heplify_rtp_rtcp_sip_ipv4_udp.pcap");
  if (!existsSync(rtcpPcap)) {
    console.log("RTCP part skipped: " + rtcpPcap + " missing");
  } else {
    const rDb = path.join(work, "rtcp.db");
    run(["analyze", "--db", rDb, rtcpPcap]);
    const srv5 = await serve(rDb);
    try {
      const base5 = `http://127.0.0.1:${srv5.port}`;
      const api5 = async (p) => (await fetch(base5 + "/api/v1" + p)).json();
      const rc = (await api5("/calls")).calls.find((c) => c.mos !== null) || (await api5("/calls")).calls[0];
      const rd = await api5("/calls/" + rc.id);
      await page.goto("about:blank");
      await page.goto(base5 + "/#/call/" + rc.id);
      const drawn = await checkLadderMedia(api5, rd, "heplify");
      // the capture ends with this call up: its duration is a lower bound
      const durTxt = await page.$eval("#call-duration", (e) => e.textContent);
      check(rd.call.outcome === "in_progress" && durTxt === "≥ " + Number(rd.call.duration_s).toFixed(1) + " s",
            `call still up at the end: duration shown as a lower bound (${rd.call.outcome}, "${durTxt}")`);
      const ts = spawnSync("tshark", ["-r", rtcpPcap, "-o", "rtcp.heuristic_rtcp:TRUE", "-Y", "rtcp", "-T", "fields",
        "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport"], { encoding: "utf8" });
      if (ts.status !== 0) {
        console.log("RTCP tshark comparison skipped: tshark did not run");
      } else {
        const flows = new Set(ts.stdout.trim().split("\n").map((l) => l.split("\t").join(" ")));
        const want = rd.streams.filter((st) => flows.has(`${st.src} ${st.sport + 1} ${st.dst} ${st.dport + 1}`) ||
          flows.has(`${st.dst} ${st.dport + 1} ${st.src} ${st.sport + 1}`)).map((st) => st.id).sort();
        check(want.length > 0 && drawn.sort().join() === want.join(),
              `RTCP drawn for streams ${drawn} = those tshark sees RTCP beside (${want})`);
      }
      await page.screenshot({ path: path.join(work, "call-rtcp.png"), fullPage: false });
      await page.goto(base5 + "/#/calls");
      await page.waitForSelector(`tr[data-call="${rc.id}"]`);
      const rowUp = await page.$eval(`tr[data-call="${rc.id}"]`, (tr) => !!tr.querySelector("[data-still-up]"));
      check(rd.call.outcome === "in_progress" && rowUp, `call list marks the call still up (${rd.call.outcome})`);
    } finally {
      await stopServe(srv5);
    }
  }

  // ---- audio: a PCMU call whose caller speaks (espeak-ng) and whose callee
  // sends a 1 s tone; served with audio = on
  const auWork = path.join(work, "audio");
  const mkA = spawnSync("python3", ["-c", "import sys, json; sys.path.insert(0, sys.argv[1]); " +
    "import audio_lab as a; c = a.make_call(sys.argv[2], 'PCMU', callee_tone=True); print(c['pcap'])",
  path.join(root, "tests", "corpus"), auWork], { encoding: "utf8" });
  if (mkA.status !== 0 && /Missing/.test(mkA.stderr || "")) {
    console.log("audio part skipped: " + (mkA.stderr || "").trim().split("\n").pop());
  } else if (check(mkA.status === 0, "audio capture: " + (mkA.stderr || "").slice(-300))) {
    const auDb = path.join(auWork, "a.db"), conf = path.join(auWork, "audio.conf");
    run(["analyze", "--db", auDb, mkA.stdout.trim()]);
    writeFileSync(conf, "audio = on\n");
    const srv4 = await serve(auDb, ["--config", conf]);
    try {
      const base4 = `http://127.0.0.1:${srv4.port}`;
      const cd = await (await fetch(base4 + "/api/v1/calls/1")).json();
      const want = (Date.parse(cd.call.end) - Date.parse(cd.call.start)) / 1000;
      await page.goto(base4 + "/#/call/1");
      await page.waitForSelector("#audio-load");
      await page.click("#audio-load");
      await waitFor(page, () => { const a = document.getElementById("call-audio");
        return a && a.readyState >= 1 && a.duration > 0; }, null, "the audio element's metadata");
      const dur = await page.$eval("#call-audio", (a) => a.duration);
      check(Math.abs(dur - want) <= 0.02, `audio element lasts ${dur} s, the call ${want} s`);
      // a waveform per party: the caller speaks, the callee's tone is 1 s of 6
      const ink = await page.$$eval("canvas.wave", (cs) => cs.map((c) => {
        const g = c.getContext("2d"), d = g.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === 0x2b && d[i + 1] === 0x6c && d[i + 2] === 0xb0) n++;
        return n;
      }));
      check(ink.length === 2 && ink[0] > 2000 && ink[1] > 500 && ink[1] < ink[0],
            `a waveform per party, caller louder and longer than the callee's tone (${ink})`);
      // clicking the BYE in the ladder seeks the player to its time
      const bye = cd.messages.find((m) => m.method === "BYE");
      await page.click(`#ladder g.msg[data-n="${bye.n}"] rect.hit`);
      await waitFor(page, (t) => Math.abs(document.getElementById("call-audio").currentTime - t) < 0.01,
        bye.t_ms / 1000, "the player at the BYE's time");
      check(true, `a ladder click seeks to the message's time (${bye.t_ms / 1000} s)`);
      // keys given to the player are the player's: the ladder's selection
      // and the open message stay
      const selNow = () => Number(document.querySelector("#ladder g.msg.sel")?.dataset.i ?? -1);
      const before = await page.evaluate(selNow), head = await page.textContent("#raw-head");
      await page.focus("#call-audio");
      for (const k of ["ArrowDown", "ArrowUp", "ArrowUp", "Enter"]) await page.keyboard.press(k);
      check(await page.evaluate(selNow) === before && await page.textContent("#raw-head") === head,
            `arrow keys and Enter on the focused player leave the ladder (selection ${before} -> ${await page.evaluate(selNow)})`);
      // the player plays: its position moves
      await page.$eval("#call-audio", (a) => { a.muted = true; a.currentTime = 1; return a.play(); });
      await waitFor(page, () => document.getElementById("call-audio").currentTime > 1.2, null, "playback");
      check(true, "the audio plays");
      await page.$eval("#call-audio", (a) => a.pause());
      await page.screenshot({ path: path.join(work, "call-audio.png"), fullPage: true });
    } finally {
      await stopServe(srv4);
    }
  }

  // ---- sites: a collector's database fed by two sensors ("hq", "branch");
  // the selector lists them and filters the overview and the calls table
  const sdb = spawnSync("python3", [path.join(here, "sites_db.py"), bin, path.join(work, "sites")],
                        { encoding: "utf8", timeout: 300000 });
  if (check(sdb.status === 0, "two-site database: " + (sdb.stderr || "").slice(-300))) {
    const srv2 = await serve(sdb.stdout.trim());
    try {
      const base2 = `http://127.0.0.1:${srv2.port}`;
      const api2 = async (p) => (await fetch(base2 + "/api/v1" + p)).json();
      const sites = (await api2("/sites")).sites;
      check(sites.map((x) => x.site).join() === "branch,hq", "two sites: " + JSON.stringify(sites));
      const all = (await api2("/trunks")).trunks.map((t) => t.id).sort((a, b) => a - b);
      const tileIds = () => [...document.querySelectorAll(".tile")].map((t) => Number(t.dataset.trunk))
        .sort((a, b) => a - b).join();
      const callIds = () => [...document.querySelectorAll("#calls-table tbody tr[data-call]")]
        .map((r) => r.dataset.call).join();
      await page.goto(base2 + "/#/overview");
      await waitFor(page, () => !document.getElementById("site-pick").classList.contains("hidden") &&
                    document.querySelectorAll("#site-select option").length > 1, null, "the site selector");
      const opts = await page.$$eval("#site-select option", (os) => os.map((o) => o.value));
      check(JSON.stringify(opts) === JSON.stringify(["", ...sites.map((x) => x.site)]), "an option per site: " + opts);
      for (const st of sites) {
        const want = (await api2("/trunks?site=" + st.site)).trunks.map((t) => t.id).sort((a, b) => a - b);
        check(want.length > 0 && want.length < all.length, `site ${st.site}: some of the trunks (${want})`);
        await page.goto(base2 + "/#/overview");
        await page.selectOption("#site-select", st.site);
        await waitFor(page, (name) => document.querySelector("h1")?.textContent.endsWith("· " + name), st.site,
                      `the overview of ${st.site}`).catch(() => false);
        await waitValue(page, tileIds, want.join());
        const shownTiles = await page.evaluate(tileIds);
        check(shownTiles === want.join(), `site ${st.site}: tiles ${shownTiles} = its trunks ${want}`);
        // the choice persists: the calls table lists that site's calls
        const wantCalls = (await api2(`/calls?site=${st.site}&limit=25`)).calls.map((c) => String(c.id));
        await page.goto(base2 + "/#/calls?limit=25");
        await waitValue(page, callIds, wantCalls.join());
        const rows = await page.evaluate(callIds);
        check(rows !== "" && rows === wantCalls.join(), `site ${st.site}: calls table = /calls?site`);
      }
      // a late answer for the page left behind does not overwrite the page
      // shown: the all-sites overview's /trunks is held until the chosen
      // site's overview is drawn, then let go
      {
        const st = sites[0].site;
        const want = (await api2("/trunks?site=" + st)).trunks.map((t) => t.id).sort((a, b) => a - b).join();
        let release;
        const gate = new Promise((r) => { release = r; });
        let held = null, nheld = 0;
        await page.route(/\/api\/v1\/trunks$/, async (r) => { held = r.request(); nheld++; await gate; await r.continue(); });
        await page.selectOption("#site-select", "");
        await page.goto(base2 + "/#/calls?limit=25");
        const n0 = nheld;
        await page.goto(base2 + "/#/overview");
        for (let i = 0; i < 100 && nheld === n0; i++) await new Promise((r) => setTimeout(r, 50));
        await page.selectOption("#site-select", st);
        const drawn = await waitValue(page, tileIds, want);
        release();
        await page.waitForTimeout(2000);  // the held pages' requests run out
        await page.unroute(/\/api\/v1\/trunks$/);
        const h1 = await page.textContent("h1");
        const tiles = await page.evaluate(tileIds);
        check(held !== null && drawn && tiles === want && h1.endsWith("· " + st),
              `a late all-sites answer leaves ${st}'s overview (held ${held !== null}, drawn ${drawn}, tiles ${tiles} = ${want}, "${h1}")`);
        await page.selectOption("#site-select", "");
      }
      // SIP only (HEP carries no RTP here): no empty media chart anywhere,
      // a line saying there is no media instead
      check((await api2("/stats")).totals.streams === 0, "the two-site database has no media");
      await page.goto("about:blank");
      await page.goto(base2 + "/#/overview");
      await page.waitForSelector("#no-media");
      check(!(await page.$$eval(".chart h2", (hs) => hs.some((x) => /MOS/.test(x.textContent)))) &&
            /No media in this database/.test(await page.textContent("#no-media")), "overview without media: a line, no MOS chart");
      const t0 = all[0];
      await page.goto("about:blank");
      await page.goto(base2 + "/#/trunk/" + t0);
      await page.waitForSelector(".chart svg");
      check(!(await page.$$eval(".chart h2", (hs) => hs.some((x) => /MOS/.test(x.textContent)))) &&
            /No media on this trunk/.test(await page.textContent("#no-media").catch(() => "")),
            `trunk ${t0} without media: "${await page.textContent("#no-media").catch(() => "")}", no MOS chart`);
      const c0 = (await api2("/calls?outcome=answered&limit=1")).calls[0] || (await api2("/calls?limit=1")).calls[0];
      await page.goto("about:blank");
      await page.goto(base2 + "/#/call/" + c0.id);
      await page.waitForSelector("#ladder g.msg");
      check(/No media on this call/.test(await page.textContent("#no-media").catch(() => "")) &&
            await page.$(".stream-charts") === null && await page.$("#audio-card") === null && await page.$(".chart") === null,
            `call ${c0.id} (${c0.outcome}) without media: a line, no stream charts, no audio card`);
      await page.goto(base2 + "/#/overview");
      await page.selectOption("#site-select", "");
      await waitValue(page, tileIds, all.join());
      check(await page.evaluate(tileIds) === all.join(), "all sites: a tile per trunk again");
      await page.screenshot({ path: path.join(work, "sites.png"), fullPage: true });
    } finally {
      await stopServe(srv2);
    }
  }

  // ---- alerts: a carrier that fails for good (503 to every call, OPTIONS
  // unanswered): the banner, the alerts page and the health colours say what
  // the API says
  const fpcap = path.join(work, "fault.pcap"), fdb = path.join(work, "fault.db");
  rmSync(fdb, { force: true });
  run(["gen", "-o", fpcap, "--calls", "200", "--cps", "1", "--seed", "5", "--impair", "0", "--no-register",
       "--options-interval", "10", "--fault-itsp", "1", "--fault-from", "40"]);
  run(["analyze", "--db", fdb, fpcap]);
  const srv3 = await serve(fdb);
  try {
    const base3 = `http://127.0.0.1:${srv3.port}`;
    const api3 = async (p) => (await fetch(base3 + "/api/v1" + p)).json();
    const al = await api3("/alerts");
    check(al.active.firing > 0, `the failing carrier fires alerts (${JSON.stringify(al.active)})`);
    await page.goto(base3 + "/#/overview");
    await page.waitForSelector("#alert-banner");
    const banner = await page.$eval("#alert-banner", (b) => ({ firing: Number(b.dataset.firing), cls: b.className, text: b.textContent }));
    check(banner.firing === al.active.firing && !banner.cls.includes("hidden"),
          `the overview banner shows ${al.active.firing} firing (${JSON.stringify(banner)})`);
    check(banner.cls.includes(al.active.firing_critical ? "bad" : "warn"), "the banner's colour follows the severity");
    const ftrunks = (await api3("/trunks")).trunks;
    const shown = await page.$$eval(".tile", (ts) => ts.map((t) => [Number(t.dataset.trunk), t.dataset.health, getComputedStyle(t).borderLeftColor, t.dataset.state]));
    for (const t of ftrunks) {
      const tile = shown.find((x) => x[0] === t.id);
      check(tile && tile[1] === (t.health ? t.health.state : "unknown"), `tile ${t.id}: health ${tile && tile[1]} = API ${t.health && t.health.state}`);
    }
    const sick = ftrunks.filter((t) => t.health && ["critical", "down"].includes(t.health.state));
    check(sick.length > 0, "a trunk is critical or down");
    // (healthy as the tile says it: the evaluator's word raised by the figures' colours)
    const healthy = ftrunks.filter((t) => shown.find((x) => x[0] === t.id)?.[3] === "healthy");
    if (sick.length && healthy.length) {
      const c1 = shown.find((x) => x[0] === sick[0].id)[2], c2 = shown.find((x) => x[0] === healthy[0].id)[2];
      check(c1 !== c2, `a sick tile is coloured apart from a healthy one (${c1} vs ${c2})`);
    }
    // the alerts page: a row per alert, firing ones marked, evidence calls linked
    await page.goto(base3 + "/#/alerts");
    await page.waitForSelector("#alerts-table tbody tr");
    const rows = await page.$$eval("#alerts-table tbody tr[data-alert]", (rs) => rs.map((r) => [Number(r.dataset.alert), r.dataset.state, r.querySelectorAll("a[href^='#/call/']").length]));
    check(rows.length === al.alerts.length && rows.every((r, i) => r[0] === al.alerts[i].id && r[1] === al.alerts[i].state),
          `the alerts page lists the API's alerts in order (${rows.length} of ${al.alerts.length})`);
    const withCalls = al.alerts.filter((x) => x.evidence && x.evidence.calls && x.evidence.calls.length);
    check(withCalls.every((x) => rows.find((r) => r[0] === x.id)[2] === x.evidence.calls.length), "evidence calls are links");
    // topology: the sick trunk's line is red
    await page.goto(base3 + "/#/topology");
    await page.waitForSelector(".topo-trunk");
    const cls = await page.$eval(`.topo-trunk[data-trunk="${sick[0].id}"]`, (g) => g.getAttribute("class")).catch(() => "");
    check(cls.includes("bad"), `topology colours trunk ${sick[0].id} by its health (${cls})`);
    // the trunk page's health card
    await page.goto(base3 + "/#/trunk/" + sick[0].id);
    await page.waitForSelector("#health-card");
    const hc = await page.$eval("#health-card", (c) => c.dataset.health);
    check(hc === sick[0].health.state, `the trunk page shows health ${hc}`);
    // ... and its Lync trunk checklist card, as the API has it
    const ck = await api3(`/trunks/${sick[0].id}/checklist`);
    await page.waitForSelector("#checklist-card");
    const cst = await page.$eval("#checklist-card", (c) => c.dataset.status || "");
    const items = await page.$$eval("#checklist-table tbody tr", (rs) => rs.map((r) => [r.dataset.item, r.dataset.status]));
    check(ck.status && cst === ck.status && items.length === ck.items.length &&
          items.every((x, i) => x[0] === ck.items[i].id && x[1] === ck.items[i].status),
          `the trunk page's checklist card shows the API's ${ck.items.length} items (${cst})`);
    await page.screenshot({ path: path.join(work, "alerts.png"), fullPage: true });
  } finally {
    await stopServe(srv3);
  }

  } /* not --only */
  check(problems.length === 0, "no console errors or outside requests: " + problems.slice(0, 5).join(" | "));
  if (busyRefusals) console.log(`note: ${busyRefusals} requests refused as busy and retried by the page`);
} catch (e) {
  check(false, "exception: " + (e.stack || e));
} finally {
  await ctx.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  await stopServe(srv);
}
console.log(`screenshots in ${work}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
