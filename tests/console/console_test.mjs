// The web console in a real browser: Debian's chromium, driven by
// playwright-core, against the full demo (scripts/demo.sh: control plane,
// gateway, five sidecars, traffic) and against a control plane that needs a
// token. Exits 77 (ctest: skipped) only when chromium cannot start at all.
//
//   node console_test.mjs GRAYMESH_BIN REPO_DIR OUT_DIR
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const [bin, repo, out] = process.argv.slice(2);
const require = createRequire(import.meta.url);
let chromium;
try {
  ({ chromium } = require(join(repo, 'build/node/node_modules/playwright-core')));
} catch (e) {
  console.error(`console_test: playwright-core is not installed in build/node: run scripts/setup.sh (${e.message})`);
  process.exit(1);
}
const SKIP = 77;
const OFFSET = 12000;  // the demo's ports + this: clear of other tests and of a running demo
const CONTROL = `http://127.0.0.1:${15010 + OFFSET}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graymesh-console-'));

function log(msg) { console.log(`console_test: ${msg}`); }

// Polls fn until it returns a truthy value (returned), up to ms.
async function eventually(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await sleep(200);
  }
}

// ---- the demo, in its own process group as a terminal would run it ----
function startDemo() {
  const demo = spawn('bash', [join(repo, 'scripts/demo.sh'), bin], {
    cwd: work, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEMO_DIR: join(work, 'demo'), DEMO_PORT_OFFSET: String(OFFSET) },
  });
  demo.output = '';
  demo.stdout.on('data', (d) => { demo.output += d; });
  demo.stderr.on('data', (d) => { demo.output += d; });
  demo.exited = new Promise((r) => demo.on('exit', (code, sig) => r({ code, sig })));
  return demo;
}
async function stopDemo(demo) {
  try { process.kill(-demo.pid, 'SIGINT'); } catch { return; }  // Ctrl-C: the whole group
  // A test run from a background job inherits SIGINT ignored (no terminal
  // would do that), and bash cannot trap a signal ignored at its start: the
  // demo stops the same way on SIGTERM.
  const term = setTimeout(() => { try { process.kill(-demo.pid, 'SIGTERM'); } catch {} }, 5000);
  const t = setTimeout(() => { try { process.kill(-demo.pid, 'SIGKILL'); } catch {} }, 30000);
  const r = await demo.exited;
  clearTimeout(term);
  clearTimeout(t);
  return r;
}

let browser;
try {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
                                    args: ['--no-sandbox'] });
} catch (e) {
  log(`SKIPPED: chromium cannot start: ${e.message.split('\n')[0]}`);
  process.exit(SKIP);
}

const demo = startDemo();
let failed = false;
try {
  await eventually('the demo to start', () => {
    if (demo.exitCode !== null) throw new Error(`demo exited early:\n${demo.output}`);
    return demo.output.includes('graymesh is running');
  }, 90000);
  log('demo running');
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // A refused apply and an absent /v1/traffic are answers the page handles, not errors.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text());
  });
  await page.goto(`${CONTROL}/`);
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 15000 });

  // Instances show, per service, with their lanes.
  const rows = async (svc) => page.locator(`.service[data-service="${svc}"] tr[data-instance]`).count();
  await eventually('instances in the console', async () =>
    (await rows('order')) === 2 && (await rows('payment')) === 1 && (await rows('data')) === 2);
  const orderLanes = await page.locator('.service[data-service="order"] .lane').allTextContents();
  assert.deepEqual(orderLanes.sort(), ['base', 'gray']);
  for (const svc of ['gateway', 'order', 'payment', 'data']) {
    if (svc === 'gateway') continue;  // a node only once traffic names it
    assert.equal(await page.locator(`#graph .node[data-service="${svc}"]`).count(), 1, svc);
  }
  log('instances and graph nodes show');

  // The events list the registrations (five instances) and the rules applied.
  await eventually('registration events', async () =>
    (await page.locator('#events tr[data-kind="registered"]').count()) >= 5);
  const registered = await page.locator('#events tr[data-kind="registered"]').allTextContents();
  assert.ok(registered.some((t) => t.includes('payment')), registered.join('\n'));
  assert.ok((await page.locator('#events tr[data-kind="rule-applied"]').count()) >= 3);
  log('events list the registrations');

  // An applied rule appears in the rules list, and as an event.
  const policy = 'kind: ServicePolicy\nname: payment\nspec:\n  outlier: { consecutiveErrors: 3 }\n';
  await page.fill('#rule-text', policy);
  await page.click('#apply');
  await eventually('apply result', async () =>
    (await page.textContent('#apply-result')).includes('ServicePolicy payment created'));
  await page.waitForSelector('.rule[data-kind="ServicePolicy"][data-name="payment"]', { timeout: 10000 });
  const shown = await page.textContent('.rule[data-kind="ServicePolicy"][data-name="payment"] pre');
  assert.match(shown, /consecutiveErrors: 3/);
  await eventually('rule event', async () => (await page.locator(
    '#events tr[data-kind="rule-applied"]', { hasText: 'ServicePolicy payment created' }).count()) === 1);
  log('an applied rule appears');

  // What the rules list shows is a document apply takes back unchanged.
  await page.click('.rule[data-kind="TrafficLane"][data-name="gray"] button');
  assert.match(await page.inputValue('#rule-text'), /^kind: TrafficLane\nname: gray\n/);
  await page.click('#apply');
  await eventually('re-apply result', async () =>
    (await page.textContent('#apply-result')).includes('TrafficLane gray unchanged'));
  log('a listed rule applies back unchanged');

  // A bad rule shows the same error, with the line, as `graymesh apply`.
  const bad = 'kind: Route\nname: broken\nspec:\n  pathPrefix: checkout\n  service: order\n';
  await page.fill('#rule-text', bad);
  await page.click('#apply');
  const shownError = await eventually('apply error', async () => page.textContent('#apply-error'));
  const file = join(work, 'console');
  writeFileSync(file, bad);
  const cli = spawnSync(bin, ['apply', '-f', file, '--control', CONTROL], { encoding: 'utf8' });
  assert.equal(cli.status, 1, cli.stderr);
  const cliError = cli.stderr.trim().replace(file, 'console');  // the file name labels errors
  assert.match(shownError, /console:4: /, shownError);
  assert.equal(shownError, cliError, 'console and CLI say the same');
  assert.equal(await page.locator('.rule[data-name="broken"]').count(), 0, 'nothing stored');
  log(`a bad rule shows its error: ${shownError}`);

  // The gray edge: the gateway's calls to order carry 10% of users gray.
  const traffic = await page.evaluate(async () => (await fetch('/v1/traffic?window=60s')).status);
  assert.equal(traffic, 200, 'GET /v1/traffic');
  {
    const edge = page.locator('#graph .edge[data-destination="order"]');
    // The demo's first requests include some sent gray by header, so the
    // share settles near the 10% of users as its trickle fills the window.
    let seen = 'no edge yet';
    const share = await eventually('the gateway -> order edge near 10% gray', async () => {
      if ((await edge.count()) !== 1) return null;
      const rps = Number(await edge.getAttribute('data-rps'));
      if (!(rps > 1)) return null;
      const s = Number(await edge.getAttribute('data-gray-share'));
      seen = `gray share ${s}`;
      return s > 0.03 && s < 0.2 ? s : null;
    }, 40000).catch((e) => { throw new Error(`${e.message}; ${seen}, configured 10% of users`); });
    assert.match(await edge.locator('text').textContent(), /\d+% gray/);
    assert.ok(await edge.locator('path[data-lane="gray"]').count() === 1, 'a gray line');
    log(`the gray edge shows ${(100 * share).toFixed(1)}%`);
  }
  // Each instance's rps is its own: order's gray instance takes about 10%.
  {
    const cell = (lane) => page.locator(
      `.service[data-service="order"] tr[data-instance]:has(.lane:text-is("${lane}")) td.instance-rps`);
    const [base, gray] = await eventually('order instances with their own rps', async () => {
      const b = Number(await cell('base').textContent());
      const g = Number(await cell('gray').textContent());
      return b > 0 && g >= 0 && g < b / 2 ? [b, g] : null;
    }, 20000);
    log(`order instances: base ${base} rps, gray ${gray} rps`);
  }
  // A running canary shows in its panel with its step, share and judgement,
  // and its buttons steer it.
  {
    const started = spawnSync(bin, ['canary', 'start', 'data', '--lane', 'gray', '--steps', '5,25,50,100',
      '--interval', '1h', '--control', CONTROL], { encoding: 'utf8' });
    assert.equal(started.status, 0, started.stderr + started.stdout);
    const panel = page.locator('.canary[data-service="data"]');
    await eventually('the canary panel', async () =>
      (await panel.getAttribute('data-phase')) === 'progressing');
    assert.equal(await panel.locator('.share').textContent(), 'share 5%');
    assert.equal(await panel.locator('.step').textContent(), 'step 1/4');
    assert.equal(await panel.locator('.steps span.current').textContent(), '5%');
    assert.match(await panel.textContent(), /not judged yet|last check/);
    await panel.locator('button[data-command="pause"]').click();
    await eventually('paused', async () => (await panel.getAttribute('data-phase')) === 'paused');
    const status = await page.evaluate(async () => (await fetch('/v1/canaries/data')).json());
    assert.equal(status.phase, 'paused', JSON.stringify(status));
    await panel.locator('button[data-command="resume"]').click();
    await eventually('resumed', async () => (await panel.getAttribute('data-phase')) === 'progressing');
    assert.equal(await page.textContent('#canary-error'), '');
    log('the canary panel shows the run and its buttons steer it');
  }
  await sleep(500);
  await page.screenshot({ path: join(out, 'console.png'), fullPage: true });
  log(`screenshot: ${join(out, 'console.png')}`);
  assert.deepEqual(consoleErrors, [], 'no script errors in the page');
  await page.close();

  // Writes need the token when one is set; the console says so and sends it.
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, 's3cret\n');
  const port = 15011 + OFFSET;
  const cp = spawn(bin, ['control', '--listen', `127.0.0.1:${port}`, '--store',
                         `sqlite:${join(work, 'token.db')}`, '--token-file', tokenFile],
                   { stdio: 'ignore' });
  try {
    const p2 = await browser.newPage();
    await eventually('the token control plane', async () =>
      (await fetch(`http://127.0.0.1:${port}/healthz`)).ok);
    await p2.goto(`http://127.0.0.1:${port}/`);
    await p2.waitForSelector('body[data-loaded="true"]');
    const lane = 'kind: TrafficLane\nname: gray\nspec:\n  tag: gray\n';
    await p2.fill('#rule-text', lane);
    await p2.click('#apply');
    const denied = await eventually('401', async () => p2.textContent('#apply-error'));
    assert.match(denied, /missing or wrong bearer token \(HTTP 401\)/);
    // The canary buttons are writes too.
    const started = spawnSync(bin, ['canary', 'start', 'payment', '--lane', 'gray', '--interval', '1h',
      '--control', `http://127.0.0.1:${port}`, '--token', 's3cret'], { encoding: 'utf8' });
    assert.equal(started.status, 0, started.stderr + started.stdout);
    const pause = p2.locator('.canary[data-service="payment"] button[data-command="pause"]');
    await pause.waitFor({ timeout: 10000 });
    await pause.click();
    const refused = await eventually('canary 401', async () => p2.textContent('#canary-error'));
    assert.match(refused, /^pause payment: .*\(HTTP 401\)\nwrites need the control plane's token/);
    assert.equal(await p2.locator('.canary[data-service="payment"]').getAttribute('data-phase'),
      'progressing', 'nothing changed');
    await p2.fill('#token', 's3cret');
    await p2.dispatchEvent('#token', 'change');
    await p2.click('#apply');
    await eventually('apply with the token', async () =>
      (await p2.textContent('#apply-result')).includes('TrafficLane gray created'));
    log('writes need the token when one is set');
  } finally {
    cp.kill('SIGTERM');
  }
} catch (e) {
  failed = true;
  console.error(`console_test: FAILED: ${e.stack ?? e}`);
  console.error(`---- demo output ----\n${demo.output}`);
} finally {
  await browser.close();
  const r = await stopDemo(demo);
  if (!failed && r && r.code !== 0) {
    failed = true;
    console.error(`console_test: FAILED: the demo did not stop cleanly on Ctrl-C: ${JSON.stringify(r)}\n${demo.output}`);
  }
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
