// End-to-end: the Events page in headless Chromium against `vexil serve` on the embedded store (events kept in the
// same folder): evaluations and distinct units per variation over time, and a tracked metric per variation, as charts.
// Run from the repository root: node --conditions=source --import tsx --test packages/ui/test/e2e-events.test.ts
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ADMIN_KEY, SDK_KEY, SHOTS, skip, startPageHarness, type PageHarness } from './page-harness.js';

const FLAG = 'new-checkout';

let harness: PageHarness | undefined;
let base: string;
let page: Page;
const http: PageHarness['http'] = (...args) => harness!.http(...args);

before(async () => {
  if (skip) return;
  harness = await startPageHarness('events');
  ({ base, page } = harness);
});

after(async () => {
  await harness?.close();
});

test('the Events page charts evaluations, distinct units and a tracked metric per variation', { skip }, async () => {
  const created = await http('PUT', `/admin/v1/flags/${FLAG}`, ADMIN_KEY, {
    variations: { control: false, canary: true },
    defaultRule: { percentage: { control: 70, canary: 30 } },
  });
  assert.ok(created.status === 200 || created.status === 201, JSON.stringify(created.body));
  // Server-side exposures: OFREP evaluations of 60 users.
  const seen: Record<string, string> = {};
  for (let i = 0; i < 60; i++) {
    const result = await http('POST', `/ofrep/v1/evaluate/flags/${FLAG}`, SDK_KEY, { context: { targetingKey: `user-${i}` } });
    assert.equal(result.status, 200);
    seen[`user-${i}`] = result.body.variant;
  }
  // SDK events over the last 20 minutes: exposures and tracked requests (latency and error), in batches with ids.
  const now = Math.floor(Date.now() / 1000);
  for (let minute = 20; minute >= 0; minute--) {
    const events = [];
    for (let i = 0; i < 60; i += 1 + (minute % 3)) {
      const user = `user-${i}`;
      const canary = seen[user] === 'canary';
      events.push({ kind: 'feature', key: FLAG, variation: seen[user], userKey: user, creationDate: now - minute * 60, count: 2 });
      events.push({
        kind: 'tracking',
        key: 'request',
        userKey: user,
        creationDate: now - minute * 60 + 1,
        trackingEventDetails: { value: (canary ? 180 : 120) + ((i * 7 + minute * 13) % 60), error: canary ? i % 4 === 0 : i % 25 === 0 },
      });
    }
    const sent = await http('POST', '/v1/data/collector', SDK_KEY, { batchId: `e2e-${minute}`, events });
    assert.equal(sent.status, 200);
    assert.deepEqual(sent.body.refused, []);
  }
  // Written within a second or two (the server's flush interval).
  const deadline = Date.now() + 20_000;
  for (;;) {
    const metric = await http('GET', `/admin/v1/metrics/request?flag=${FLAG}&since=1h`, ADMIN_KEY);
    if (metric.status === 200 && metric.body.rows.some((r: { count: number }) => r.count > 0)) break;
    assert.ok(Date.now() < deadline, 'events did not reach the events store');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  await page.goto(`${base}/`);
  await page.getByLabel('Admin key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Flags' }).waitFor();
  await page.getByRole('link', { name: 'Events' }).click();
  await page.getByRole('heading', { name: 'Events' }).waitFor();
  await page.getByLabel('Flag').selectOption(FLAG);
  await page.getByRole('cell', { name: 'canary' }).or(page.getByRole('rowheader', { name: 'canary' })).first().waitFor();
  await page.getByLabel('Tracked metric').fill('request');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByText('request events per variation').waitFor();
  // Four charts (evaluations, units, metric events, metric p99), each a uPlot canvas with a legend of the variations.
  await page.locator('.chart-canvas canvas').nth(3).waitFor();
  assert.equal(await page.locator('.chart-canvas canvas').count(), 4);
  const legend = await page.locator('.chart').first().locator('.u-legend').innerText();
  assert.match(legend, /control/);
  assert.match(legend, /canary/);
  const label = await page.locator('.chart-canvas').first().getAttribute('aria-label');
  assert.match(label ?? '', /Evaluations per variation of new-checkout\. Totals over the range: canary: \d+/);
  const canaryRow = page.locator('table.events-totals').nth(1).locator('tr', { hasText: 'canary' });
  const cells = await canaryRow.locator('td').allInnerTexts();
  assert.ok(Number(cells[0]!.replace(/,/g, '')) > 0, `canary events: ${cells[0]}`);
  assert.match(page.url(), /#\/events\?flag=new-checkout&metric=request&since=1h/);
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(SHOTS, 'events.png'), fullPage: true, style: '.toasts { display: none !important; }' });
});
