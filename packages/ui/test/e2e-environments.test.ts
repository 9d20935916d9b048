// End-to-end: projects × environments on the admin page in headless Chromium against `vexil serve` on the embedded
// store: the project and environment switcher, comparing a flag across environments and promoting it into an
// environment that requires approval (a change request), another person reviewing and applying it, and a reader who
// sees no save button.
// Run from the repository root: node --conditions=source --import tsx --test packages/ui/test/e2e-environments.test.ts
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ADMIN_KEY, SHOTS, skip, startPageHarness, type PageHarness } from './page-harness.js';

let harness: PageHarness | undefined;
let base: string;
let page: Page;
const http: PageHarness['http'] = (...args) => harness!.http(...args);
const ENV = '/admin/v1/projects/checkout/environments';

const keys: Record<'ada' | 'bob' | 'rita', string> = { ada: '', bob: '', rita: '' };

before(async () => {
  if (skip) return;
  harness = await startPageHarness('environments');
  ({ base, page } = harness);
  const project = await http('POST', '/admin/v1/projects', ADMIN_KEY, { key: 'checkout', name: 'Checkout', environments: [{ key: 'staging' }, { key: 'production' }] });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  const banner = (text: string, extra: Record<string, unknown> = {}) => ({
    variations: { on: text, off: 'none' },
    defaultRule: { variation: 'off' },
    description: 'The checkout banner',
    ...extra,
  });
  assert.equal((await http('PUT', `${ENV}/production/flags/banner`, ADMIN_KEY, banner('Free shipping'))).status, 201);
  assert.equal(
    (await http('PUT', `${ENV}/staging/flags/banner`, ADMIN_KEY, banner('Free shipping', { targeting: [{ name: 'staff', query: 'email ew "@example.com"', variation: 'on' }], defaultRule: { percentage: { on: 25, off: 75 } } }))).status,
    201,
  );
  // Production requires approval from now on.
  assert.equal((await http('PATCH', `${ENV}/production`, ADMIN_KEY, { requireApproval: true })).status, 200);
  for (const [name, grants] of [
    ['ada', [{ project: 'checkout', environment: '*', role: 'editor' }]],
    ['bob', [{ project: 'checkout', environment: '*', role: 'editor' }]],
    ['rita', [{ project: 'checkout', environment: 'production', role: 'reader' }]],
  ] as const) {
    const created = await http('POST', '/admin/v1/keys', ADMIN_KEY, { name, grants });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    keys[name] = created.body.secret;
  }
});

after(async () => {
  await harness?.close();
});

async function signIn(target: Page, key: string, hash: string): Promise<void> {
  await target.goto(`${base}/`);
  await target.getByLabel('Admin key').fill(key);
  await target.getByRole('button', { name: 'Sign in' }).click();
  await target.getByRole('heading', { name: 'Flags' }).waitFor();
  await target.goto(`${base}/${hash}`);
}

test('switch environments, compare a flag, promote it into production as a change request, approve it as someone else', { skip }, async () => {
  await signIn(page, keys.ada, '#/flags?project=checkout&env=staging');
  const environment = page.getByLabel('Environment', { exact: true });
  await page.getByRole('link', { name: 'banner' }).waitFor();
  assert.equal(await page.getByLabel('Project', { exact: true }).inputValue(), 'checkout');
  assert.equal(await environment.inputValue(), 'staging');
  await page.screenshot({ path: join(SHOTS, 'environment-switcher.png') });

  // The switcher moves the same page to another environment (and the address with it).
  await environment.selectOption('production');
  await page.waitForURL(/env=production/);
  await page.getByRole('link', { name: 'banner' }).waitFor();

  await page.goto(`${base}/#/compare/banner?project=checkout&env=staging`);
  const table = page.getByRole('table', { name: 'Differences of banner between environments' });
  await table.waitFor();
  const rows = await table.locator('tbody th').allInnerTexts();
  assert.ok(rows.some((row) => row.startsWith('targeting')), `differences: ${rows.join(', ')}`);
  assert.ok(rows.some((row) => row.startsWith('defaultRule')), `differences: ${rows.join(', ')}`);
  await page.getByLabel('From').selectOption('staging');
  await page.getByLabel('To').selectOption('production');
  await page.getByRole('button', { name: 'Show changes' }).click();
  await page.getByRole('button', { name: 'Promote to production' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'compare-environments.png'), fullPage: true });
  await page.getByRole('button', { name: 'Promote to production' }).click();
  await page.locator('p.sent-for-review').waitFor();
  const before = await http('GET', `${ENV}/production/flags/banner`, ADMIN_KEY);
  assert.equal(before.body.flag.targeting, undefined, 'nothing applied before the review');

  // Bob reviews it in a browser of his own.
  const bobContext = await page.context().browser()!.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const bobPage = await bobContext.newPage();
    bobPage.setDefaultTimeout(20_000);
    await signIn(bobPage, keys.bob, '#/changes?project=checkout&env=production');
    await bobPage.getByRole('heading', { name: 'Pending changes' }).waitFor();
    await bobPage.getByRole('link', { name: 'banner' }).click();
    await bobPage.getByRole('form', { name: 'Review' }).waitFor();
    await bobPage.screenshot({ path: join(SHOTS, 'change-review.png'), fullPage: true });
    await bobPage.getByLabel('Comment').fill('ship it');
    await bobPage.getByRole('button', { name: 'Approve and apply' }).click();
    await bobPage.getByText(/applied/i).first().waitFor();
  } finally {
    await bobContext.close();
  }
  const applied = await http('GET', `${ENV}/production/flags/banner`, ADMIN_KEY);
  assert.equal(applied.body.flag.targeting?.[0]?.query, 'email ew "@example.com"', 'applied once approved');
  const audit = await http('GET', `${ENV}/production/flags/banner/audit`, ADMIN_KEY);
  assert.match(audit.body.entries[0].reason, /by ada .*approved by bob/);
});

test('a reader sees the flag with no save button and no stop switch', { skip }, async () => {
  const readerContext = await page.context().browser()!.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const readerPage = await readerContext.newPage();
    readerPage.setDefaultTimeout(20_000);
    await readerPage.goto(`${base}/`);
    await readerPage.getByLabel('Admin key').fill(keys.rita);
    await readerPage.getByRole('button', { name: 'Sign in' }).click();
    await readerPage.goto(`${base}/#/flags/banner?project=checkout&env=production`);
    await readerPage.getByRole('heading', { name: 'banner' }).waitFor();
    await readerPage.getByText(/read-only|reader/i).first().waitFor();
    assert.equal(await readerPage.getByRole('button', { name: /Review and (save|propose)/ }).count(), 0);
    assert.equal(await readerPage.getByRole('button', { name: 'Delete' }).count(), 0);
  } finally {
    await readerContext.close();
  }
});
