// The console: polls the control plane's API every few seconds and draws
// the topology (GET /v1/traffic, GET /v1/instances), the instances per
// service, the release events (GET /v1/events) and the rules (GET /v1/rules);
// applies rule documents with POST /v1/apply, the request `graymesh apply`
// makes, so the validation and the error text are the same.
import { drawGraph, pct } from './graph.js';

const REFRESH_MS = 3000;
const PALETTE = ['#f59e0b', '#8b5cf6', '#10b981', '#ec4899', '#06b6d4', '#ef4444'];
const $ = (id) => document.getElementById(id);

export function laneColor(lane) {
  if (!lane) return '#475569';  // base
  if (lane === 'gray') return PALETTE[0];
  let h = 0;
  for (const c of lane) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[1 + (h % (PALETTE.length - 1))];
}

function node(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function laneBadge(lane) {
  const b = node('span', lane || 'base', { class: 'lane' });
  b.style.background = laneColor(lane);
  return b;
}

function token() { return sessionStorage.getItem('graymesh-token') ?? ''; }

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store' });
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

// ---- YAML for the rules list: the documents `graymesh apply` takes back ----
function scalar(v) {
  if (typeof v === 'string') {
    return /^[A-Za-z0-9_./*-][A-Za-z0-9_./:*-]*$/.test(v) &&
      !/^(true|false|null|yes|no|on|off|~|[-+]?[0-9.]+)$/i.test(v) ? v : JSON.stringify(v);
  }
  return JSON.stringify(v);
}
function toYaml(v, indent = '') {
  if (Array.isArray(v)) {
    if (v.length === 0) return ' []';
    return v.map((x) => {
      const inner = toYaml(x, indent + '  ');
      return `\n${indent}-` + (typeof x === 'object' && x !== null && !Array.isArray(x)
        ? ' ' + inner.trimStart() : inner);
    }).join('');
  }
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v);
    if (keys.length === 0) return ' {}';
    return keys.map((k) => `\n${indent}${k}:${toYaml(v[k], indent + '  ')}`).join('');
  }
  return ' ' + scalar(v);
}
export function ruleToYaml(rule) {
  return `kind: ${rule.kind}\nname: ${rule.name}\nspec:${toYaml(rule.spec, '  ')}\n`;
}

// ---- drawing ----
function drawTopology(instances, traffic) {
  const services = new Map();  // name -> {name, gateway, lanes:Set}
  const add = (name, gateway = false) => {
    if (!services.has(name)) services.set(name, { name, gateway, lanes: new Set() });
    return services.get(name);
  };
  for (const i of instances) add(i.service).lanes.add(i.lane);
  const edges = traffic?.edges ?? [];
  const destinations = new Set(edges.map((e) => e.destination));
  for (const s of traffic?.services ?? []) add(s.name);
  for (const e of edges) {
    add(e.destination);
    // A caller that nobody calls and that has no instances is a gateway.
    const src = services.get(e.source) ?? add(e.source, true);
    if (src.lanes.size > 0 || destinations.has(e.source)) src.gateway = false;
  }
  const nodes = [...services.values()].map((s) => ({ ...s, lanes: [...s.lanes].sort() }));
  drawGraph($('graph'), nodes, edges, laneColor);
  $('traffic-note').textContent = traffic
    ? `last ${traffic.windowSeconds}s · ${edges.length} edges`
    : 'no traffic view on this control plane (GET /v1/traffic): services only';
  const lanes = new Set(['']);
  for (const n of nodes) n.lanes.forEach((l) => lanes.add(l));
  for (const e of edges) (e.byLane ?? []).forEach((l) => lanes.add(l.laneServed));
  $('legend').replaceChildren(...[...lanes].sort().map((l) => {
    const s = node('span', l || 'base');
    const i = node('i');
    i.style.background = laneColor(l);
    s.prepend(i);
    return s;
  }));
}

function drawServices(instances, traffic) {
  const byService = new Map();
  for (const i of instances) {
    if (!byService.has(i.service)) byService.set(i.service, []);
    byService.get(i.service).push(i);
  }
  const trafficOf = new Map((traffic?.services ?? []).map((s) => [s.name, s]));
  const health = new Map((traffic?.endpoints ?? []).map((e) => [`${e.service} ${e.address}`, e]));
  // Each instance's own requests, as its sidecar's inbound side reported them.
  const own = new Map((traffic?.instances ?? []).map((i) => [i.instance, i]));
  const out = [];
  for (const [name, list] of [...byService].sort((a, b) => a[0].localeCompare(b[0]))) {
    const t = trafficOf.get(name);
    const div = node('div', null, { class: 'service', 'data-service': name });
    const h = node('h3', name);
    h.append(node('small', t ? ` ${t.rps.toFixed(1)} rps · ${pct(t.errorRate)} errors · p99 ${(1000 * t.p99Seconds).toFixed(0)} ms` : ''));
    div.append(h);
    const table = node('table');
    const head = node('tr');
    for (const c of ['instance', 'address', 'lane', 'state', 'weight', 'rps', 'errors'])
      head.append(node('th', c));
    table.append(head);
    for (const i of list) {
      const e = health.get(`${name} ${i.address}`);
      // A reported health state (ejected, warming) says more than the registry's.
      const state = e && e.state !== 'healthy' ? e.state : i.state;
      const weight = e ? e.weight : i.weight;
      const mine = own.get(i.id);  // absent: its sidecar has not reported (yet)
      const tr = node('tr', null, { 'data-instance': i.id });
      tr.append(node('td', i.id), node('td', i.address));
      const lane = node('td');
      lane.append(laneBadge(i.lane));
      tr.append(lane, node('td', state, { class: `state state-${state}` }),
        node('td', weight, { class: 'num' }),
        node('td', mine ? mine.rps.toFixed(1) : '–', { class: 'num instance-rps' }),
        node('td', mine ? (mine.rps * mine.errorRate).toFixed(2) + '/s' : '–',
          { class: 'num instance-errors' }));
      table.append(tr);
    }
    div.append(table);
    out.push(div);
  }
  if (out.length === 0) out.push(node('p', 'No instances registered.', { class: 'muted' }));
  $('services').replaceChildren(...out);
}

function drawEvents(events) {
  const rows = [];
  let lossy = 0;
  for (const e of [...events].reverse()) {
    const bad = e.failedAfter > 0;
    if (bad) lossy++;
    const tr = node('tr', null, { class: bad ? 'lossy' : '', 'data-kind': e.kind });
    const lane = node('td');
    if (e.lane) lane.append(laneBadge(e.lane));
    tr.append(node('td', new Date(e.timeMs).toLocaleTimeString()), node('td', e.kind),
      node('td', e.service), lane, node('td', e.instance), node('td', e.detail),
      node('td', `${e.failedBefore} → ${e.failedAfter}`, { class: 'num failed' }));
    rows.push(tr);
  }
  $('events').tBodies[0].replaceChildren(...rows);
  $('events-summary').textContent = events.length === 0 ? 'none yet'
    : `${events.length} events · ${lossy === 0 ? 'no failed requests after any' : `${lossy} followed by failed requests`}`;
}

function drawRules(rules) {
  const out = rules.map((r) => {
    const div = node('div', null, { class: 'rule', 'data-kind': r.kind, 'data-name': r.name });
    const h = node('header');
    h.append(node('strong', `${r.kind} ${r.name}`), node('span', `rev ${r.revision}`, { class: 'muted' }));
    const edit = node('button', 'edit', { type: 'button' });
    const yaml = ruleToYaml(r);
    edit.addEventListener('click', () => { $('rule-text').value = yaml; });
    h.append(edit);
    div.append(h, node('pre', yaml));
    return div;
  });
  if (out.length === 0) out.push(node('p', 'No rules applied.', { class: 'muted' }));
  $('rules').replaceChildren(...out);
}

// ---- canaries (GET /v1/canaries; commands POST /v1/canaries/SERVICE/CMD) ----
const ms = (s) => `${(1000 * s).toFixed(0)} ms`;
function sideText(t) {
  if (!t || !t.requests) return 'no requests';
  return `${t.requests} req · ${pct(t.errors / t.requests)} errors · p99 ${ms(t.p99Seconds)}`;
}
// What is judged: the latest check (lane against base over the step), and
// the live error rates of the lane and of base from the traffic view.
function judgement(c, traffic) {
  const out = [];
  const check = c.checks?.[c.checks.length - 1];
  if (check) {
    const line = node('div', `last check (step ${check.step + 1}, ${check.percent}%): ` +
      `lane ${sideText(check.lane)}; base ${sideText(check.base)}: `, { class: 'check' });
    line.append(node('span', check.verdict, {
      class: check.verdict.startsWith('passed') ? 'verdict-pass'
        : check.verdict.startsWith('failed') ? 'verdict-fail' : 'muted' }));
    out.push(line);
  } else {
    out.push(node('div', 'not judged yet', { class: 'muted' }));
  }
  const svc = (traffic?.services ?? []).find((s) => s.name === c.service);
  if (svc) {
    const lane = { rps: 0, err: 0 }, base = { rps: 0, err: 0 };
    for (const l of svc.byLane ?? []) {
      const side = l.laneServed === c.lane ? lane : l.laneServed === '' ? base : null;
      if (side) { side.rps += l.rps; side.err += l.rps * l.errorRate; }
    }
    const rate = (x) => (x.rps > 0 ? pct(x.err / x.rps) : '–');
    out.push(node('div', `now: lane ${lane.rps.toFixed(1)} rps, ${rate(lane)} errors · base ${base.rps.toFixed(1)} rps, ${rate(base)} errors`,
      { class: 'muted live' }));
  }
  return out;
}

async function canaryCommand(service, cmd) {
  $('canary-error').textContent = '';
  const headers = {};
  if (token()) headers.authorization = `Bearer ${token()}`;
  let r, body;
  try {
    r = await fetch(`/v1/canaries/${encodeURIComponent(service)}/${cmd}`, { method: 'POST', headers });
    body = await r.json().catch(() => ({}));
  } catch (err) {
    $('canary-error').textContent = `cannot reach the control plane: ${err.message}`;
    return;
  }
  if (!r.ok) {
    let msg = `${cmd} ${service}: ${body.error ?? r.statusText} (HTTP ${r.status})`;
    if (r.status === 401) msg += '\nwrites need the control plane\'s token: enter it above';
    $('canary-error').textContent = msg;
  }
  refresh();
}

function drawCanaries(canaries, traffic) {
  $('canaries-section').hidden = canaries === null;  // no canary API on this control plane
  const list = canaries ?? [];
  const running = list.filter((c) => c.phase === 'progressing' || c.phase === 'paused').length;
  $('canaries-summary').textContent = list.length === 0 ? 'none' : `${running} running of ${list.length}`;
  const out = list.map((c) => {
    const div = node('div', null, { class: 'canary', 'data-service': c.service, 'data-phase': c.phase });
    const h = node('header');
    h.append(node('strong', c.service), laneBadge(c.lane),
      node('span', c.phase, { class: `phase phase-${c.phase}` }),
      node('span', `share ${c.percent}%`, { class: 'share' }));
    let steps = [];
    try { steps = JSON.parse(c.spec || '{}').steps ?? []; } catch { /* shown without steps */ }
    const bar = node('span', null, { class: 'steps' });
    steps.forEach((p, i) => bar.append(node('span', `${p}%`, {
      class: i < c.step || c.phase === 'promoted' ? 'done' : i === c.step && !/rolled/.test(c.phase) ? 'current' : '' })));
    if (steps.length) h.append(node('span', `step ${c.step + 1}/${steps.length}`, { class: 'step' }), bar);
    const buttons = node('span', null, { class: 'buttons' });
    const cmds = c.phase === 'progressing' ? ['pause', 'promote', 'abort']
      : c.phase === 'paused' ? ['resume', 'promote', 'abort'] : [];
    for (const cmd of cmds) {
      const b = node('button', cmd, { type: 'button', 'data-command': cmd });
      b.addEventListener('click', () => canaryCommand(c.service, cmd));
      buttons.append(b);
    }
    h.append(buttons);
    div.append(h, ...judgement(c, traffic));
    if (c.reason) div.append(node('div', c.reason, { class: 'muted reason' }));
    return div;
  });
  if (out.length === 0) out.push(node('p', 'No canary releases. Start one with graymesh canary start SERVICE --lane TAG.', { class: 'muted' }));
  $('canaries').replaceChildren(...out);
}

// ---- polling ----
let lastOk = 0;
async function refresh() {
  try {
    const [inst, traffic, events, rules, canaries] = await Promise.all([
      getJson('/v1/instances'), getJson('/v1/traffic?window=60s'),
      getJson('/v1/events?limit=200'), getJson('/v1/rules'), getJson('/v1/canaries')]);
    const instances = inst?.instances ?? [];
    drawTopology(instances, traffic);
    drawServices(instances, traffic);
    drawCanaries(canaries ? canaries.canaries : null, traffic);
    drawEvents(events?.events ?? []);
    drawRules(rules?.rules ?? []);
    lastOk = Date.now();
    $('status').textContent = `revision ${inst?.revision ?? '?'} · updated ${new Date().toLocaleTimeString()}`;
    $('status').classList.remove('stale');
    document.body.dataset.loaded = 'true';
  } catch (err) {
    $('status').textContent = `cannot reach the control plane: ${err.message}` +
      (lastOk ? ` (last update ${new Date(lastOk).toLocaleTimeString()})` : '');
    $('status').classList.add('stale');
  }
}

async function apply(ev) {
  ev.preventDefault();
  $('apply-result').textContent = '';
  $('apply-error').textContent = '';
  const headers = { 'content-type': 'application/yaml', 'x-graymesh-file': 'console' };
  if (token()) headers.authorization = `Bearer ${token()}`;
  let r, body;
  try {
    r = await fetch('/v1/apply', { method: 'POST', headers, body: $('rule-text').value });
    body = await r.json().catch(() => ({}));
  } catch (err) {
    $('apply-error').textContent = `cannot reach the control plane: ${err.message}`;
    return;
  }
  if (!r.ok) {
    let msg = `error: ${body.error ?? r.statusText} (HTTP ${r.status})`;
    if (r.status === 401) msg += '\nwrites need the control plane\'s token: enter it above';
    $('apply-error').textContent = msg;
    return;
  }
  $('apply-result').textContent = [
    ...body.results.map((x) => `${x.kind} ${x.name} ${x.result}`),
    ...(body.warnings ?? []).map((w) => `warning: ${w}`)].join('\n');
  refresh();
}

$('token').value = token();
$('token').addEventListener('change', (e) => sessionStorage.setItem('graymesh-token', e.target.value));
$('apply-form').addEventListener('submit', apply);
refresh();
setInterval(refresh, REFRESH_MS);
