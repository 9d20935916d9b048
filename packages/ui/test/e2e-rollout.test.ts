// End-to-end: the flag page's progressive delivery panel in headless Chromium against a real server (Redis store for
// the controller's lease, a fake clock and a fixed measurement source, so checks happen when the test moves time):
// the state, each check's figures and thresholds, the gate chart per arm, and pause / resume / abort from the page.
// Run from the repository root: node --conditions=source --import tsx --test packages/ui/test/e2e-rollout.test.ts
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openStore } from '@vexil/store';
import { buildServer } from '@vexil/server';
import type { ArmMeasurement, MeasurementRequest, MeasurementSource } from '@vexil/analysis';
import { SHOTS } from './screenshots-dir.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UI = join(ROOT, 'packages/ui');
const CHROMIUM = '/usr/bin/chromium';
const REDIS_URL = process.env.VEXIL_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const ADMIN_KEY = `adm-${randomBytes(12).toString('hex')}`;
const SDK_KEY = `sdk-${randomBytes(12).toString('hex')}`;
const PREFIX = `vexil-test-e2e-rollout-${randomBytes(6).toString('hex')}:`;
const FLAG = 'new-checkout';
const MINUTE = 60_000;
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`;

let app: FastifyInstance | undefined;
let base: string;
let browser: Browser | undefined;
let page: Page;
let now = Date.parse('2026-03-01T09:00:00Z');
let checkNumber = 0;

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

/** Healthy figures that move a little from check to check (so the chart has a shape): error rate and p99 per arm. */
const source: MeasurementSource = {
  name: 'e2e',
  async measure(request: MeasurementRequest) {
    const n = checkNumber;
    const arm = (variation: string, errors: number, p99: number): ArmMeasurement => ({
      variation,
      units: 2000,
      metrics: Object.fromEntries(request.metrics.map(({ metric }) => [metric, { events: 2000, errors, quantiles: { '0.99': p99 } }])),
    });
    return { rollout: arm(request.rolloutVariation, 40 + n * 2, 410 + n * 15), control: arm(request.controlVariation, 42, 400), queries: {} };
  },
};

async function http(method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json().catch(() => undefined)) as any };
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  if (skip) return;
  ensureBuilt();
  mkdirSync(SHOTS, { recursive: true });
  const store = await openStore(`${REDIS_URL}?prefix=${encodeURIComponent(PREFIX)}`);
  app = await buildServer({
    store,
    closeStore: true,
    adminKeys: [ADMIN_KEY],
    sdkKeys: [SDK_KEY],
    defaultMetrics: false,
    heartbeatMs: 0,
    rateLimit: false,
    logger: false,
    rollout: { source, clock: () => now, leaseMs: 5000, tickMs: 100 },
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
});

after(async () => {
  await browser?.close();
  await app?.close();
  const admin = new Redis(REDIS_URL, { lazyConnect: true });
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length) await admin.del(...keys);
  admin.disconnect();
});

test('the flag page shows the rollout, its checks and gate chart, and pauses, resumes and aborts it', { skip }, async () => {
  const created = await http('PUT', `/admin/v1/flags/${FLAG}`, {
    variations: { on: true, off: false },
    defaultRule: { variation: 'off' },
    rollout: {
      variation: 'on',
      steps: [10, 25, 50, 100],
      interval: '10m',
      gates: [
        { metric: 'checkout', compare: 'control', maxIncrease: '20%' },
        { metric: 'checkout', quantile: 0.99, thresholdRange: { max: 800 } },
      ],
    },
  });
  assert.ok(created.status === 200 || created.status === 201, JSON.stringify(created.body));
  const rollout = async () => (await http('GET', `/admin/v1/flags/${FLAG}/rollout`)).body;
  await waitFor(async () => (await rollout()).percent === 10, 'the controller did not start the rollout');
  // Two intervals pass: two checks, two steps.
  for (const percent of [25, 50]) {
    checkNumber++;
    now += 10 * MINUTE;
    await waitFor(async () => (await rollout()).percent === percent, `the rollout did not reach ${percent}%`);
  }

  await page.goto(`${base}/`);
  await page.getByLabel('Admin key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Flags' }).waitFor();
  await page.goto(`${base}/#/flags/${FLAG}`);
  await page.getByRole('heading', { name: 'Progressive delivery' }).waitFor();
  const status = page.getByTestId('rollout-status');
  await page.waitForFunction(() => document.querySelector('[data-testid="rollout-status"]')?.textContent === 'running');
  assert.equal(await page.getByTestId('rollout-percent').innerText(), '50%');
  assert.match(await page.getByTestId('rollout-step').innerText(), /3 of 3 \(10 → 25 → 50 %\)/);
  // Each check's gates, figures and thresholds.
  const gateRows = page.locator('table.rollout-checks tr.gate');
  await gateRows.first().waitFor();
  assert.equal(await gateRows.count(), 4, 'two checks of two gates');
  const p99Row = (await gateRows.filter({ hasText: 'p99' }).first().allInnerTexts()).join(' ');
  assert.match(p99Row, /440/, `the latest p99 of the rollout arm: ${p99Row}`);
  assert.match(p99Row, /800/);
  assert.match(p99Row, /successful/);
  // One chart per gate, with both arms in its legend.
  await page.locator('.chart-canvas canvas').nth(1).waitFor();
  const legend = await page.locator('.rollout-panel .u-legend').first().innerText();
  assert.match(legend, /on \(rollout\)/);
  assert.match(legend, /control/);

  // Pause, then resume, from the page: the server's state follows.
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="rollout-status"]')?.textContent === 'paused');
  assert.equal((await rollout()).status, 'paused');
  assert.equal(await page.getByRole('button', { name: 'Pause' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="rollout-status"]')?.textContent === 'running');
  assert.equal((await rollout()).status, 'running');
  await page.waitForTimeout(200);
  await page.locator('section[aria-labelledby="s-progressive"]').screenshot({ path: join(SHOTS, 'rollout-timeline.png'), style: '.toasts { display: none !important; } .topbar, .editor > .page-head { position: static !important; }' });

  await page.getByRole('button', { name: 'Abort' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="rollout-status"]')?.textContent === 'aborted');
  const aborted = await rollout();
  assert.equal(aborted.status, 'aborted');
  assert.equal(aborted.percent, 0);
  assert.equal(await status.innerText(), 'aborted');
});
