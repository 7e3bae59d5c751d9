// The topology graph: services as boxes in columns by call depth (callers
// left of callees), one line per served lane on every edge, its width by
// requests per second, labelled with the edge's gray share. Plain SVG.
const SVG = 'http://www.w3.org/2000/svg';
const BOX_W = 150, BOX_H = 46, COL_GAP = 110, ROW_GAP = 26, PAD = 20;

function el(name, attrs = {}, parent = null) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

// Column of every node: the longest call chain leading to it (cycles cut).
function depths(nodes, edges) {
  const depth = new Map(nodes.map((n) => [n.name, 0]));
  for (let round = 0; round < nodes.length; round++) {
    let moved = false;
    for (const e of edges) {
      const d = depth.get(e.source) + 1;
      if (d < nodes.length && d > depth.get(e.destination)) {
        depth.set(e.destination, d);
        moved = true;
      }
    }
    if (!moved) break;
  }
  return depth;
}

export function pct(share) {
  return `${(100 * share).toFixed(share > 0 && share < 0.01 ? 1 : 0)}%`;
}

// nodes: [{name, gateway, lanes: ["", "gray"]}]; edges: /v1/traffic edges.
export function drawGraph(svg, nodes, edges, laneColor) {
  svg.replaceChildren();
  if (nodes.length === 0) {
    el('text', { x: PAD, y: 40, class: 'muted' }, svg).textContent =
      'No services registered yet.';
    return;
  }
  const depth = depths(nodes, edges);
  // Services no edge names yet stand in a column of their own, right of the rest.
  const linked = new Set(edges.flatMap((e) => [e.source, e.destination]));
  if (linked.size > 0) {
    const last = Math.max(...nodes.filter((n) => linked.has(n.name)).map((n) => depth.get(n.name)));
    for (const n of nodes) if (!linked.has(n.name)) depth.set(n.name, last + 1);
  }
  const columns = [];
  for (const n of nodes) (columns[depth.get(n.name)] ??= []).push(n);
  const pos = new Map();
  let height = 0;
  columns.forEach((col, c) => {
    col.sort((a, b) => a.name.localeCompare(b.name));
    col.forEach((n, r) => {
      pos.set(n.name, { x: PAD + c * (BOX_W + COL_GAP), y: PAD + r * (BOX_H + ROW_GAP) });
      height = Math.max(height, PAD + (r + 1) * (BOX_H + ROW_GAP));
    });
  });
  const width = PAD * 2 + columns.length * (BOX_W + COL_GAP) - COL_GAP;
  svg.setAttribute('viewBox', `0 0 ${Math.max(width, 400)} ${Math.max(height, 120)}`);

  for (const e of edges) {
    const a = pos.get(e.source), b = pos.get(e.destination);
    if (!a || !b) continue;
    const g = el('g', { class: 'edge', 'data-source': e.source, 'data-destination': e.destination,
                        'data-gray-share': e.grayShare ?? 0, 'data-rps': e.rps ?? 0 }, svg);
    const served = new Map();  // lane served -> rps
    for (const l of e.byLane ?? []) served.set(l.laneServed, (served.get(l.laneServed) ?? 0) + l.rps);
    if (served.size === 0) served.set('', e.rps ?? 0);
    const lanes = [...served.keys()].sort();
    const x1 = a.x + BOX_W, x2 = b.x, mid = (x1 + x2) / 2;
    lanes.forEach((lane, i) => {
      const off = (i - (lanes.length - 1) / 2) * 6;
      const y1 = a.y + BOX_H / 2 + off, y2 = b.y + BOX_H / 2 + off;
      const w = 1.5 + Math.min(7, Math.log2(1 + served.get(lane)));
      el('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
                   stroke: laneColor(lane), 'stroke-width': w.toFixed(1),
                   'data-lane': lane || 'base' }, g);
    });
    const label = el('text', { x: mid, y: (a.y + b.y) / 2 + BOX_H / 2 - 8,
                               'text-anchor': 'middle', class: 'edge-label' }, g);
    let text = `${pct(e.grayShare ?? 0)} gray · ${(e.rps ?? 0).toFixed(1)} rps`;
    if (e.errorRate > 0) text += ` · ${pct(e.errorRate)} err`;
    label.textContent = text;
    const title = el('title', {}, g);
    title.textContent = `${e.source} → ${e.destination}\n` +
      lanes.map((l) => `${l || 'base'}: ${served.get(l).toFixed(2)} rps`).join('\n');
  }

  for (const n of nodes) {
    const p = pos.get(n.name);
    const g = el('g', { class: `node${n.gateway ? ' gateway' : ''}`, 'data-service': n.name,
                        transform: `translate(${p.x},${p.y})` }, svg);
    el('rect', { width: BOX_W, height: BOX_H, rx: 6 }, g);
    el('text', { x: 10, y: 19 }, g).textContent = n.name;
    const lanes = el('text', { x: 10, y: 36, class: 'lanes' }, g);
    if (n.gateway) {
      lanes.textContent = 'gateway';
    } else if (n.lanes.length === 0) {
      lanes.textContent = 'no instances';
    } else {
      n.lanes.forEach((l, i) => {
        const t = el('tspan', { fill: laneColor(l) }, lanes);
        t.textContent = (i ? ' · ' : '') + (l || 'base');
      });
    }
  }
}
