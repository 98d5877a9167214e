/* trunkscope dashboard: the topology page. Draws /api/v1/topology as SVG:
 * enterprise nodes on the left, SBCs in the middle, carriers on the right;
 * every trunk a line coloured by its health (ASR, then NER), every node and
 * trunk clickable to a trunk page. Values are inserted as text only. */
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const TOPO_COL = { enterprise: 0, sbc: 1, itsp: 2 };
const TOPO_W = 250, TOPO_H = 64, TOPO_GAP = 26, TOPO_X = [20, 430, 840];

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of kids.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/* good / warn / bad / idle: the overview tile's health (app.js tileHealth:
 * the alert evaluator's, raised by the figures' colours) */
const HEALTH_CLASS = { healthy: "good", degraded: "warn", critical: "bad", down: "bad", idle: "idle" };
function trunkHealth(t) {
  const st = tileHealth(t).state;
  if (HEALTH_CLASS[st]) return HEALTH_CLASS[st];
  return t.attempts ? "good" : "idle";
}

const ROLE_LABEL = { endpoint: "Endpoint", pbx: "PBX", mediation_server: "Mediation Server", sbc: "SBC",
                     carrier: "Carrier", gateway: "Gateway", unknown: "Node" };

async function pageTopology() {
  const t = await api("/topology");
  const cols = [[], [], []];
  for (const n of t.nodes) cols[TOPO_COL[n.side] ?? 0].push(n);
  const order = { sbc: 0, mediation_server: 1, pbx: 2, gateway: 3, endpoint: 4, carrier: 5, unknown: 6 };
  for (const c of cols) c.sort((a, b) => (order[a.role] ?? 9) - (order[b.role] ?? 9) || a.id - b.id);
  const pos = new Map();
  cols.forEach((c, ci) => c.forEach((n, i) => pos.set(n.id, { x: TOPO_X[ci], y: 40 + i * (TOPO_H + TOPO_GAP) })));
  const height = 60 + Math.max(1, ...cols.map((c) => c.length)) * (TOPO_H + TOPO_GAP);
  /* a node's own trunk page: its busiest trunk */
  const busiest = new Map();
  for (const tr of t.trunks)
    for (const id of [tr.local_node, tr.peer_node]) {
      const b = busiest.get(id);
      if (id !== null && (!b || (tr.attempts ?? 0) > (b.attempts ?? 0))) busiest.set(id, tr);
    }
  const go = (tr) => { if (tr) location.hash = "#/trunk/" + tr.id; };
  const lines = t.trunks.filter((tr) => pos.has(tr.local_node) && pos.has(tr.peer_node)).map((tr) => {
    const a = pos.get(tr.local_node), b = pos.get(tr.peer_node);
    const [l, r] = a.x <= b.x ? [a, b] : [b, a];
    const x1 = l.x === r.x ? l.x + TOPO_W : l.x + TOPO_W, y1 = l.y + TOPO_H / 2;
    const x2 = l.x === r.x ? r.x + TOPO_W : r.x, y2 = r.y + TOPO_H / 2;
    const d = l.x === r.x ? `M${x1},${y1} C${x1 + 60},${y1} ${x2 + 60},${y2} ${x2},${y2}` : `M${x1},${y1} L${x2},${y2}`;
    const health = trunkHealth(tr);
    return svg("g", { class: "topo-trunk " + health, "data-trunk": tr.id, onclick: () => go(tr) },
      svg("path", { d, class: "wire" }),
      svg("path", { d, class: "hit" }),
      svg("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6, class: "topo-trunk-label" },
        `${tr.name} · ${tr.attempts ?? 0} att · ASR ${pct(tr.asr)}`),
      svg("title", {}, `${tr.local} ⇄ ${tr.peer} (${tr.type}): ${tr.attempts ?? 0} attempts, ASR ${pct(tr.asr)}, NER ${pct(tr.ner)}`));
  });
  const boxes = t.nodes.filter((n) => pos.has(n.id)).map((n) => {
    const p = pos.get(n.id);
    return svg("g", { class: "topo-node " + n.role, "data-node": n.id, transform: `translate(${p.x},${p.y})`,
                      onclick: () => go(busiest.get(n.id)) },
      svg("rect", { width: TOPO_W, height: TOPO_H, rx: 8 }),
      svg("text", { x: 10, y: 20, class: "role" }, ROLE_LABEL[n.role] || n.role,
        n.b2bua ? " · B2BUA" : "", n.user_agent ? ` · ${n.user_agent.slice(0, 18)}` : ""),
      svg("text", { x: 10, y: 38, class: "addr" }, n.addresses.join(", ")),
      svg("text", { x: 10, y: 55, class: "how" }, `${n.learned_from} · ${n.calls} calls${n.site ? ` · ${n.site}` : ""}`),
      svg("title", {}, `${ROLE_LABEL[n.role] || n.role} (${n.side ?? "side unknown"}), learned from ${n.learned_from}, ` +
        `${n.calls} calls, confidence ${num(n.confidence, 2)}${n.site ? `, site ${n.site}` : ""}`));
  });
  const heads = ["Enterprise", "SBC", "Carriers"].map((s, i) =>
    svg("text", { x: TOPO_X[i], y: 22, class: "topo-col" }, s));
  view(h("h1", {}, "Topology"),
    h("p", { class: "muted" }, "Learned from the traffic: nodes that relay calls (B2BUAs) with their addresses, " +
      "the edge between the enterprise and the carriers, and the trunks between them, coloured by health. " +
      "Click a trunk or a node for its trunk page."),
    h("div", { class: "card topo-wrap" }, t.nodes.length
      ? svg("svg", { id: "topology", viewBox: `0 0 ${TOPO_X[2] + TOPO_W + 20} ${height}`, width: "100%", role: "img",
                     "aria-label": "topology" }, heads, lines, boxes)
      : h("div", { class: "muted" }, "No nodes learned yet.")));
}
