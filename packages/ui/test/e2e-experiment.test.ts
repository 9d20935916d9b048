// End-to-end: the experiment results page in headless Chromium against `vexil serve` on the embedded store: units
// evaluate over OFREP and buy at a known rate, the page shows the table, the forest plot and the warnings, and
// "stop and ship" sets the flag's defaultRule through the audited flag write.
// Run from the repository root: node --conditions=source --import tsx --test packages/ui/test/e2e-experiment.test.ts
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ADMIN_KEY, SDK_KEY, SHOTS, skip, startPageHarness, type PageHarness } from './page-harness.js';

const FLAG = 'checkout-button';

let harness: PageHarness | undefined;
let base: string;
let page: Page;
const http: PageHarness['http'] = (...args) => harness!.http(...args);

before(async () => {
  if (skip) return;
  harness = await startPageHarness('experiment');
  ({ base, page } = harness);
});

after(async () => {
  await harness?.close();
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
  const end = Date.parse(flag.body.flag.experiment.end);
  assert.ok(end <= Date.now() && end > Date.now() - 120_000, `the experiment ends when it is shipped: ${flag.body.flag.experiment.end}`);
  const audit = await http('GET', `/admin/v1/flags/${FLAG}/audit`, ADMIN_KEY);
  assert.match(JSON.stringify(audit.body), /experiment stopped: ship \\"treatment\\"/);
});

test('the flag editor edits the experiment as JSON: a mistake is shown at its field and blocks saving; a fix saves', { skip }, async () => {
  const key = 'editor-experiment';
  const created = await http('PUT', `/admin/v1/flags/${key}`, ADMIN_KEY, {
    variations: { control: 'blue', treatment: 'green' },
    defaultRule: { percentage: { control: 50, treatment: 50 } },
    experiment: { metrics: [{ event: 'purchase', type: 'binomial' }] },
  });
  assert.ok(created.status === 200 || created.status === 201, JSON.stringify(created.body));
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Flags' }).waitFor();
  await page.getByRole('link', { name: key }).click();
  const editor = page.getByLabel('Experiment (JSON)');
  assert.deepEqual(JSON.parse(await editor.inputValue()), { metrics: [{ event: 'purchase', type: 'binomial' }] });

  await editor.fill(JSON.stringify({ sticky: 'for ever', metrics: [{ event: 'purchase', type: 'binomial' }] }));
  await page.locator('#f-plan-experiment-errors').getByText(/sticky: sticky is true, false or how long/).waitFor();
  await page.getByRole('button', { name: 'Review and save…' }).click();
  assert.ok(await page.getByRole('dialog').getByRole('button', { name: 'Save' }).isDisabled(), 'an invalid experiment cannot be saved');
  await page.getByRole('dialog').getByRole('button', { name: 'Keep editing' }).click();

  await editor.fill('{ "sticky": "30d", ');
  await page.locator('#f-plan-experiment-errors').getByText(/invalid JSON/).waitFor();
  await editor.fill(JSON.stringify({ sticky: '30d', metrics: [{ event: 'purchase', type: 'binomial' }] }));
  await page.getByRole('button', { name: 'Review and save…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
  await page.getByText(`Saved ${key} (version 2)`).waitFor();
  const saved = await http('GET', `/admin/v1/flags/${key}`, ADMIN_KEY);
  assert.deepEqual(saved.body.flag.experiment, { sticky: '30d', metrics: [{ event: 'purchase', type: 'binomial' }] });
  // The server serves it sticky now.
  const answer = await http('POST', `/ofrep/v1/evaluate/flags/${key}`, SDK_KEY, { context: { targetingKey: 'u1' } });
  assert.equal(answer.body.metadata.sticky, true);
});

test('start assignments over: a sticky experiment is assigned afresh by the current split, through an audited write', { skip }, async () => {
  const key = 'sticky-restart';
  const sticky = {
    variations: { control: 'blue', treatment: 'green' },
    defaultRule: { variation: 'treatment' },
    experiment: { sticky: true, metrics: [{ event: 'purchase', type: 'binomial' }] },
  };
  const created = await http('PUT', `/admin/v1/flags/${key}`, ADMIN_KEY, sticky);
  assert.ok(created.status === 200 || created.status === 201, JSON.stringify(created.body));
  const evaluate = async () => (await http('POST', `/ofrep/v1/evaluate/flags/${key}`, SDK_KEY, { context: { targetingKey: 'kept-unit' } })).body.variant;
  assert.equal(await evaluate(), 'treatment');
  const moved = await http('PUT', `/admin/v1/flags/${key}`, ADMIN_KEY, { ...sticky, defaultRule: { variation: 'control' } });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(await evaluate(), 'treatment', 'the unit keeps its first variation');

  await page.goto(`${base}/#/experiment/${key}`);
  await page.getByRole('heading', { name: `Experiment: ${key}` }).waitFor();
  await page.getByText('Each unit keeps the variation it was first served (stickyVersion 0).').waitFor();
  await page.getByRole('button', { name: 'Start assignments over' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Start over' }).click();
  await page.getByRole('status').filter({ hasText: 'Started over' }).waitFor();

  const flag = await http('GET', `/admin/v1/flags/${key}`, ADMIN_KEY);
  assert.equal(flag.body.flag.experiment.stickyVersion, 1);
  assert.deepEqual(flag.body.flag.defaultRule, { variation: 'control' }, 'nothing else changed');
  const audit = await http('GET', `/admin/v1/flags/${key}/audit`, ADMIN_KEY);
  assert.match(JSON.stringify(audit.body), /sticky assignments started over \(stickyVersion 1\)/);
  const deadline = Date.now() + 10_000;
  while ((await evaluate()) !== 'control') {
    assert.ok(Date.now() < deadline, 'the unit was not assigned afresh');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});
