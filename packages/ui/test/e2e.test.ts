// End-to-end: the admin page in headless Chromium against a real Vexil server on the embedded store.
// Run from the repository root: node --conditions=source --import tsx --test packages/ui/test/e2e.test.ts
// Screenshots of every page land in docs/screenshots/.
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
import { SHOTS } from './screenshots-dir.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UI = join(ROOT, 'packages/ui');
const CHROMIUM = '/usr/bin/chromium';
const ADMIN_KEY = `adm-${randomBytes(12).toString('hex')}`;
const SDK_KEY = `sdk-${randomBytes(12).toString('hex')}`;
const FLAG = 'e2e-checkout';
const USERS = Array.from({ length: 40 }, (_, i) => `user-${i}`);

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`;

let server: { base: string; mode: string; stop(): Promise<void> } | undefined;
let browser: Browser | undefined;
let page: Page;

// ---- helpers --------------------------------------------------------------------------------------------------------

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

/** Builds the page when dist/ is missing or older than the sources (`npm test` has built it already). */
function ensureBuilt(): void {
  const built = join(UI, 'dist/index.html');
  const sources = Math.max(newestMtime(join(UI, 'src')), newestMtime(join(UI, 'index.html')), newestMtime(join(ROOT, 'packages/core/src')));
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

async function waitForHealth(base: string, child: ChildProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const response = await fetch(`${base}/health`);
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return false;
}

async function servesPage(base: string): Promise<boolean> {
  const response = await fetch(`${base}/`).catch(() => undefined);
  return !!response?.ok && (await response.text()).includes('<div id="app">');
}

/** `vexil serve` on the embedded store (PGlite in a temporary directory), as a user runs it. */
async function startVexil(): Promise<NonNullable<typeof server>> {
  const dir = mkdtempSync(join(tmpdir(), 'vexil-ui-e2e-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(ROOT, 'packages/cli/src/bin/vexil.ts'), 'serve', '--store', `pglite:${dir}`, '--port', String(port), '--host', '127.0.0.1', '--admin-key', ADMIN_KEY, '--sdk-key', SDK_KEY, '--no-examples', '--log-level', 'warn'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stopChild = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  };
  if ((await waitForHealth(base, child, 30_000)) && (await servesPage(base))) {
    return { base, mode: 'vexil serve', stop: async () => (await stopChild(), rmSync(dir, { recursive: true, force: true })) };
  }
  await stopChild();
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`vexil serve did not start serving the admin page at ${base}:\n${output.trim()}`);
}

async function adminApi(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server!.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, etag: response.headers.get('etag'), body: (await response.json().catch(() => undefined)) as Record<string, any> };
}

async function ofrep(key: string, targetingKey: string, apiKey = SDK_KEY) {
  const response = await fetch(`${server!.base}/ofrep/v1/evaluate/flags/${key}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ context: { targetingKey } }),
  });
  return { status: response.status, body: (await response.json()) as { value?: unknown; variant?: string; reason?: string; errorCode?: string } };
}

async function variants(key: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const user of USERS) {
    const { body } = await ofrep(key, user);
    const name = body.variant ?? body.reason ?? body.errorCode ?? '?';
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Toasts are fixed overlays: left out of screenshots so full-page images show the page itself. */
const SHOT_STYLE = '.toasts { display: none !important; } .topbar, .editor > .page-head { position: static !important; }';

async function shot(name: string, fullPage = true): Promise<void> {
  await page.waitForTimeout(150); // let transitions settle
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage, style: SHOT_STYLE });
}

async function shotOf(selector: string, name: string): Promise<void> {
  await page.waitForTimeout(150);
  await page.locator(selector).first().screenshot({ path: join(SHOTS, `${name}.png`), style: SHOT_STYLE });
}

async function go(hash: string): Promise<void> {
  await page.goto(`${server!.base}/${hash}`);
}

/** 1,000 flags of every shape, written through the admin API. */
async function seedFlags(count: number): Promise<void> {
  const areas = ['checkout', 'search', 'billing', 'onboarding', 'mobile', 'ads', 'profile', 'notifications'];
  const features = ['new-flow', 'redesign', 'fast-path', 'ml-ranking', 'dark-mode', 'cache', 'beta-api', 'promo'];
  const definitions = Array.from({ length: count }, (_, i) => {
    const area = areas[i % areas.length]!;
    const key = `${area}-${features[(i >> 3) % features.length]}-${String(i).padStart(4, '0')}`;
    const kind = (i * 7 + Math.floor(i / 64)) % 4;
    const flag =
      kind === 0
        ? { variations: { on: true, off: false }, defaultRule: { percentage: { on: (i * 7) % 100, off: 100 - ((i * 7) % 100) } } }
        : kind === 1
          ? { variations: { on: true, off: false }, defaultRule: { variation: i % 3 ? 'on' : 'off' }, targeting: [{ name: 'staff', query: 'email ew "@example.com"', variation: 'on' }] }
          : kind === 2
            ? { variations: { control: 'blue', treatment: 'green' }, defaultRule: { percentage: { control: 50, treatment: 50 } } }
            : { variations: { low: 10, high: 50 }, defaultRule: { variation: 'low' } };
    return [key, { ...flag, ...(i % 11 === 3 ? { disable: true } : {}), metadata: { description: `${area} ${features[(i >> 3) % features.length]} experiment`, tags: [area, ['web', 'ios', 'android'][i % 3]!] } }] as const;
  });
  let next = 0;
  const worker = async () => {
    while (next < definitions.length) {
      const [key, flag] = definitions[next++]!;
      const result = await adminApi('PUT', `/admin/v1/flags/${key}`, flag, { 'if-none-match': '*' });
      assert.equal(result.status, 201, `seeding ${key}: ${JSON.stringify(result.body)}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

// ---- the run ---------------------------------------------------------------------------------------------------------

before(async () => {
  if (skip) return;
  ensureBuilt();
  mkdirSync(SHOTS, { recursive: true });
  server = await startVexil();
  console.log(`# server: ${server.mode} at ${server.base}`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('admin page: sign in, create, target, split, kill, audit, restore', { skip }, async (t) => {
  await t.test('sign in keeps the key out of the URL', async () => {
    await go('');
    await page.getByLabel('Admin key').fill(ADMIN_KEY);
    await shot('sign-in', false);
    await page.getByLabel('Admin key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The server does not know this key.').waitFor();
    await page.getByLabel('Admin key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Flags' }).waitFor();
    assert.ok(!page.url().includes(ADMIN_KEY));
    assert.equal(await page.evaluate(() => sessionStorage.getItem('vexil.adminKey')), ADMIN_KEY);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
  });

  await t.test('1,000 flags: first load of the flags page', async () => {
    const before = (await adminApi('GET', '/admin/v1/flags')).body.flags.length as number;
    const started = Date.now();
    await seedFlags(1000);
    console.log(`# seeded 1,000 flags through the admin API in ${Date.now() - started} ms`);
    await page.reload();
    await page.locator('table.flags tbody tr').first().waitFor();
    const ready = await page.evaluate(() => performance.getEntriesByName('vexil:flags-ready')[0]?.startTime);
    const rows = await page.locator('table.flags tbody tr').count();
    console.log(`# flags page with 1,000 flags: rows on screen ${Math.round(ready ?? NaN)} ms after navigation start (${rows} rows per page)`);
    await page.getByText(`${(before + 1000).toLocaleString('en')} flags`).waitFor();
    await shot('flags', false);
    await page.setViewportSize({ width: 720, height: 860 });
    await shot('flags-half-screen', false);
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await t.test('create a flag with a rule and a split', async () => {
    await page.getByRole('link', { name: 'New flag' }).click();
    await page.getByLabel('Key', { exact: true }).fill(FLAG);
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.locator('#f-targeting-0-name').fill('beta-testers');
    const query = page.locator('#f-targeting-0-query');
    await query.fill('beta eq');
    await page.locator('#f-targeting-0-query-status').getByText(/Column \d+/).waitFor();
    assert.equal(await query.getAttribute('aria-invalid'), 'true');
    await shotOf('.rule-card', 'editor-query-validation');
    await query.fill('beta eq true');
    await page.locator('#f-targeting-0-query-status').getByText('Valid query').waitFor();
    await page.locator('#f-targeting-0-variation').selectOption('on');
    const defaultRule = page.locator('section[aria-labelledby="s-default"]');
    await defaultRule.getByRole('radio', { name: 'Percentage split' }).check();
    assert.equal(await defaultRule.getByLabel('on percentage').inputValue(), '50');
    assert.equal(await defaultRule.getByLabel('off percentage').inputValue(), '50');
    await page.getByRole('button', { name: 'Review and save…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('defaultRule').first().waitFor();
    await dialog.getByLabel('Reason (for the audit log)').fill('e2e: new checkout');
    await dialog.getByRole('button', { name: 'Create flag' }).click();
    await page.getByRole('heading', { name: FLAG }).waitFor();
    const counts = await variants(FLAG);
    assert.ok((counts.on ?? 0) > 5 && (counts.off ?? 0) > 5, `a 50/50 split serves both: ${JSON.stringify(counts)}`);
    const beta = await fetch(`${server!.base}/ofrep/v1/evaluate/flags/${FLAG}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SDK_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'user-0', beta: true } }),
    }).then((response) => response.json() as Promise<{ variant?: string; reason?: string }>);
    assert.deepEqual([beta.variant, beta.reason], ['on', 'TARGETING_MATCH']);
  });

  await t.test('change the split: sliders keep 100 %, OFREP follows', async () => {
    const defaultRule = page.locator('section[aria-labelledby="s-default"]');
    await defaultRule.getByLabel('on percentage').fill('100');
    await defaultRule.getByLabel('on percentage').press('Tab');
    assert.equal(await defaultRule.getByLabel('off percentage').inputValue(), '0');
    await page.getByRole('button', { name: 'Review and save…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('defaultRule.percentage.off').waitFor();
    if ((await adminApi('GET', `/admin/v1/flags/${FLAG}/contexts`)).status === 200) {
      // The server kept the contexts OFREP just evaluated: the page replays them with the old and the new flag.
      const impact = await dialog.locator('.impact').getByText(/of the last \d+ evaluated would get another variation/).textContent();
      const [changed, sampled] = (impact ?? '').match(/[\d,]+/g)!.map((n) => Number(n.replace(',', '')));
      assert.equal(sampled, USERS.length + 1);
      assert.ok(changed! > 5 && changed! < USERS.length, impact ?? '');
      console.log(`# impact preview: ${impact}`);
    } else console.log('# the server keeps no sample of evaluated contexts: no impact preview');
    await shot('review-before-save', false);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByText(`Saved ${FLAG} (version 2)`).waitFor();
    assert.deepEqual(await variants(FLAG), { on: USERS.length });
  });

  await t.test('reorder rules with the keyboard and by dragging; a conflict is reapplied', async () => {
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.locator('#f-targeting-1-name').fill('staff');
    await page.locator('#f-targeting-1-query').fill('email ew "@example.com"');
    await page.locator('#f-targeting-1-variation').selectOption('off');
    await page.getByRole('button', { name: 'Move staff up' }).click();
    await assertRuleOrder(['staff', 'beta-testers']);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Move staff down');
    await page.locator('.rule-card').nth(1).locator('.drag-handle').dragTo(page.locator('.rule-card').nth(0));
    await assertRuleOrder(['beta-testers', 'staff']);
    await page.getByRole('button', { name: 'Move staff up' }).click();
    await assertRuleOrder(['staff', 'beta-testers']);

    // Meanwhile, someone else changes the flag through the API.
    const current = await adminApi('GET', `/admin/v1/flags/${FLAG}`);
    const theirs = { ...current.body.flag, metadata: { owner: 'team-growth', tags: ['checkout'] } };
    assert.equal((await adminApi('PUT', `/admin/v1/flags/${FLAG}`, theirs, { 'if-match': current.etag! })).status, 200);

    await page.getByRole('button', { name: 'Review and save…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    const conflict = page.locator('section.conflict');
    await conflict.getByText('What changed meanwhile').waitFor();
    await conflict.getByText('metadata.owner').waitFor();
    assert.equal(await page.locator('#f-targeting-0-name').inputValue(), 'staff', 'nothing typed is lost on a failed save');
    await shot('editor-conflict', false);
    await conflict.getByRole('button', { name: 'Reapply my changes on version 3' }).click();
    await page.getByRole('button', { name: 'Review and save…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await page.getByText(`Saved ${FLAG} (version 4)`).waitFor();
    const saved = await adminApi('GET', `/admin/v1/flags/${FLAG}`);
    assert.equal(saved.body.flag.metadata.owner, 'team-growth');
    assert.deepEqual(saved.body.flag.targeting.map((rule: { name: string }) => rule.name), ['staff', 'beta-testers']);
    await page.evaluate(() => scrollTo(0, 0));
    await shot('flag-editor');
  });

  await t.test('kill switch from the flags list', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Flags' }).click();
    await page.getByRole('searchbox').fill(FLAG);
    await page.getByText(/^1 flag of /).waitFor();
    await page.getByRole('switch', { name: `${FLAG} on` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason (for the audit log)').fill('e2e: incident drill');
    await dialog.getByRole('button', { name: 'Turn off' }).click();
    await page.locator(`button[role=switch][aria-label="${FLAG} on"][aria-checked=false]`).waitFor();
    const { body } = await ofrep(FLAG, 'user-1');
    assert.equal(body.reason, 'DISABLED');
    assert.equal(body.value, undefined);
  });

  await t.test('audit log shows the change; restore brings the flag back', async () => {
    await go(`#/audit?flag=${FLAG}`);
    const first = page.locator('.audit-entry').first();
    await first.getByText('e2e: incident drill').waitFor();
    assert.ok(((await first.locator('.actor').textContent()) ?? '').trim().length > 0, 'the actor is shown');
    await first.getByText('disable', { exact: false }).first().waitFor();
    // Restoring shows the diff and asks why before writing anything.
    await page.getByRole('button', { name: `Restore ${FLAG} to version 4` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: `Restore ${FLAG} to version 4?` }).waitFor();
    const diff = dialog.getByRole('list', { name: `What restoring ${FLAG} to version 4 changes` });
    await diff.getByText('disable').waitFor();
    const confirm = dialog.getByRole('button', { name: 'Restore', exact: true });
    assert.equal(await confirm.isDisabled(), true, 'no restore without a reason');
    assert.equal((await adminApi('GET', `/admin/v1/flags/${FLAG}`)).body.version, 5, 'nothing written before confirming');
    await dialog.getByLabel('Reason (for the audit log)').fill('e2e: drill over');
    await shotOf('dialog[open]', 'audit-restore-dialog');
    await confirm.click();
    await page.getByText(`Restored ${FLAG} as version 6`).waitFor();
    await page.locator('.audit-entry').first().getByText('restore version 4', { exact: false }).waitFor();
    await page.locator('.audit-entry').first().getByText('e2e: drill over', { exact: false }).waitFor();
    const { body } = await ofrep(FLAG, 'user-1');
    assert.deepEqual([body.variant, body.value], ['on', true]);
    await shot('audit-log');

    // Version 4 again: identical to the current version 6, so the dialog says so and offers no way to write.
    const entriesBefore = (await adminApi('GET', `/admin/v1/flags/${FLAG}/audit`)).body.entries.length;
    await page.getByRole('button', { name: `Restore ${FLAG} to version 4` }).click();
    await dialog.getByText(`${FLAG} is already identical to version 4 (it is version 6 now): nothing to restore`, { exact: false }).waitFor();
    assert.equal(await dialog.getByRole('button', { name: 'Restore', exact: true }).count(), 0);
    await shotOf('dialog[open]', 'audit-restore-identical');
    await dialog.getByRole('button', { name: 'OK', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await adminApi('GET', `/admin/v1/flags/${FLAG}`)).body.version, 6);
    assert.equal((await adminApi('GET', `/admin/v1/flags/${FLAG}/audit`)).body.entries.length, entriesBefore, 'no empty version written');
  });

  await t.test('playground explains a result', async () => {
    await go('#/playground');
    await page.getByLabel('Evaluation context (JSON)').fill(JSON.stringify({ targetingKey: 'user-7', email: 'ada@example.com', beta: true }, null, 2));
    await page.getByLabel('Only this flag (optional)').fill(FLAG);
    await page.getByRole('button', { name: 'Evaluate' }).click();
    const result = page.locator('.result').first();
    await result.getByText('TARGETING_MATCH').waitFor();
    await result.getByText(/Why/).click();
    await result.locator('.explain li').first().waitFor();
    await shot('playground');
  });

  await t.test('keys: create an SDK key, see it once, revoke it', async () => {
    await go('#/keys');
    await page.getByLabel('Name', { exact: true }).fill('e2e-mobile-app');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.locator('.secret-value').textContent())!.trim();
    assert.ok(secret.length >= 16);
    assert.equal((await ofrep(FLAG, 'user-1', secret)).status, 200);
    await page.getByRole('row', { name: /e2e-mobile-app/ }).waitFor();
    await shot('keys');
    await page.getByRole('button', { name: 'Done' }).click();
    assert.equal(await page.locator('.secret-value').count(), 0, 'the secret is shown once');
    await page.getByRole('button', { name: 'Revoke e2e-mobile-app' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('row', { name: /e2e-mobile-app/ }).getByText(/revoked/).waitFor();
    assert.equal((await ofrep(FLAG, 'user-1', secret)).status, 401);
  });
});

test('rollout timeline: scheduled steps and a progressive rollout', { skip }, async () => {
  const day = 86_400_000;
  const iso = (offset: number) => new Date(Math.floor((Date.now() + offset) / 3_600_000) * 3_600_000).toISOString().replace('.000Z', 'Z');
  const flag = {
    variations: { legacy: 'v1', modern: 'v2' },
    targeting: [{ name: 'internal', query: 'email ew "@acme.test"', variation: 'modern' }],
    defaultRule: { progressiveRollout: { initial: { variation: 'legacy', percentage: 0, date: iso(-2 * day) }, end: { variation: 'modern', percentage: 100, date: iso(5 * day) } } },
    scheduledRollout: [
      { date: iso(8 * day), defaultRule: { variation: 'modern' } },
      { date: iso(14 * day), targeting: [] },
    ],
    metadata: { description: 'New rendering pipeline', tags: ['web'] },
  };
  assert.equal((await adminApi('PUT', '/admin/v1/flags/rollout-renderer', flag)).status, 201);
  await go('#/flags/rollout-renderer');
  await page.locator('svg.timeline').waitFor();
  assert.match((await page.locator('svg.timeline').getAttribute('aria-label')) ?? '', /default rule: 0% to 100%/);
  await shotOf('section[aria-labelledby="s-rollout"]', 'editor-rollout-timeline');
});

async function assertRuleOrder(names: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const actual = await page.locator('.rule-card h3').allTextContents();
    const cleaned = actual.map((text) => text.replace(/^\d+\s*/, '').trim());
    if (JSON.stringify(cleaned) === JSON.stringify(names) || attempt > 20) {
      assert.deepEqual(cleaned, names);
      return;
    }
    await page.waitForTimeout(50);
  }
}
