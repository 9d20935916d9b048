// End-to-end: the experiment results page in headless Chromium against `vexil serve` on the embedded store: units
// evaluate over OFREP and buy at a known rate, the page shows the table, the forest plot and the warnings, and
// "stop and ship" sets the flag's defaultRule through the audited flag write.
// Run from the repository root: node --conditions=source --import tsx --test packages/ui/test/e2e-experiment.test.ts
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UI = join(ROOT, 'packages/ui');
const SHOTS = join(ROOT, 'docs/screenshots');
const CHROMIUM = '/usr/bin/chromium';
const ADMIN_KEY = `adm-${randomBytes(12).toString('hex')}`;
const SDK_KEY = `sdk-${randomBytes(12).toString('hex')}`;
const FLAG = 'checkout-button';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`;

let child: ChildProcess | undefined;
let dir: string;
let base: string;
let browser: Browser | undefined;
let page: Page;

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

function ensureBuilt(): void {
  const built = join(UI, 'dist/index.html');
  const sources = Math.max(newestMtime(join(UI, 'src')), newestMtime(join(UI, 'index.html')));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: UI, stdio: 'inherit' });
  assert.equal(result.status, 0, 'vite build failed');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function http(method: string, path: string, key: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json().catch(() => undefined)) as any };
}

before(async () => {
  if (skip) return;
  ensureBuilt();
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'vexil-experiment-e2e-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(ROOT, 'packages/cli/src/bin/vexil.ts'), 'serve', '--store', `pglite:${dir}`, '--port', String(port), '--admin-key', ADMIN_KEY, '--sdk-key', SDK_KEY, '--no-examples', '--log-level', 'warn'],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('vexil serve did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
});

after(async () => {
  await browser?.close();
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the experiment page shows uplifts with intervals and warnings, and stop and ship writes the defaultRule', { skip }, async () => {
  const created = await http('PUT', `/admin/v1/flags/${FLAG}`, ADMIN_KEY, {
    variations: { control: 'blue', treatment: 'green' },
    defaultRule: { percentage: { control: 50, treatment: 50 } },
    experiment: { engine: 'frequentist', metrics: [{ event: 'purchase', type: 'binomial', goal: true }, { event: 'purchase', type: 'mean', name: 'revenue' }] },
  });
  assert.ok(created.status === 200 || created.status === 201, JSON.stringify(created.body));
  const events = [];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 600; i++) {
    const user = `user-${i}`;
    const result = await http('POST', `/ofrep/v1/evaluate/flags/${FLAG}`, SDK_KEY, { context: { targetingKey: user } });
    assert.equal(result.status, 200);
    // Every 10th control unit buys, every 4th treatment unit: a large true uplift.
    if (i % (result.body.variant === 'treatment' ? 4 : 10) === 0) {
      events.push({ kind: 'tracking', key: 'purchase', userKey: user, creationDate: now, trackingEventDetails: { value: 30 } });
    }
  }
  assert.equal((await http('POST', '/v1/data/collector', SDK_KEY, { batchId: 'e2e-experiment', events })).status, 200);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const results = await http('GET', `/admin/v1/flags/${FLAG}/experiment`, ADMIN_KEY);
    const conversions = results.body?.metrics?.[0]?.variations?.reduce((n: number, v: { conversions: number }) => n + v.conversions, 0);
    if (results.status === 200 && conversions === events.length && results.body.exposures.reduce((n: number, e: { units: number }) => n + e.units, 0) === 600) break;
    assert.ok(Date.now() < deadline, 'events did not reach the events store');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  await page.goto(`${base}/`);
  await page.getByLabel('Admin key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Flags' }).waitFor();
  await page.getByRole('link', { name: FLAG }).click();
  await page.getByRole('link', { name: 'experiment results' }).click();
  await page.getByRole('heading', { name: `Experiment: ${FLAG}` }).waitFor();
  const treatmentRow = page.locator('table.experiment-results').first().locator('tr', { hasText: 'treatment' });
  const cells = await treatmentRow.locator('td').allInnerTexts();
  assert.match(cells[2]!, /^\+\d+\.\d %$/, `uplift cell: ${cells[2]}`);
  assert.equal(cells[5], 'better');
  assert.equal(await page.locator('svg.forest-plot').count(), 2);
  assert.equal(await page.locator('svg.forest-plot circle').count(), 2);
  assert.match(await page.locator('.experiment-warnings').innerText(), /peeking/);
  await page.locator('.chart-canvas canvas').first().waitFor();
  assert.match((await page.locator('.chart-canvas').first().getAttribute('aria-label')) ?? '', /Cumulative units per variation of checkout-button/);
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(SHOTS, 'experiment.png'), fullPage: true, style: '.toasts { display: none !important; }' });

  await page.getByRole('button', { name: 'Ship treatment' }).click();
  await page.getByRole('button', { name: 'Stop and ship' }).click();
  await page.getByRole('status').filter({ hasText: 'Shipped' }).waitFor();
  const flag = await http('GET', `/admin/v1/flags/${FLAG}`, ADMIN_KEY);
  assert.deepEqual(flag.body.flag.defaultRule, { variation: 'treatment' });
  const audit = await http('GET', `/admin/v1/flags/${FLAG}/audit`, ADMIN_KEY);
  assert.match(JSON.stringify(audit.body), /experiment stopped: ship \\"treatment\\"/);
});
