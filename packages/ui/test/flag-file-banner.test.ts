// End-to-end, in headless Chromium: a flag file that breaks while served shows a banner on the admin page (and it
// clears once fixed); the query check warns about a quoted version compared with ge.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildServer } from '@vexil/server';
import { SHOTS } from './screenshots-dir.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UI = join(ROOT, 'packages/ui');
const CHROMIUM = '/usr/bin/chromium';
const ADMIN_KEY = `adm-${randomBytes(12).toString('hex')}`;
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`;

const GOOD = 'checkout:\n  variations: { on: true, off: false }\n  defaultRule: { variation: on }\n';
const BROKEN = 'checkout:\n  variations: { on: true, off: false }\n  defaultRule: { variation: maybe }\n';

let dir: string;
let file: string;
let app: FastifyInstance | undefined;
let browser: Browser | undefined;
let page: Page;

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

/** Builds the page when dist/ is missing or older than its sources. */
function ensureBuilt(): void {
  const built = join(UI, 'dist/index.html');
  const sources = Math.max(newestMtime(join(UI, 'src')), newestMtime(join(UI, 'index.html')), newestMtime(join(ROOT, 'packages/core/src')));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: UI, stdio: 'inherit' });
  assert.equal(result.status, 0, 'vite build failed');
}

before(async () => {
  if (skip) return;
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'vexil-ui-files-'));
  file = join(dir, 'flags.yaml');
  writeFileSync(file, GOOD);
  // GitOps mode, as `vexil serve --flags flags.yaml` runs it.
  app = await buildServer({ storeUrl: `file:${file}`, storeOptions: { debounceMs: 20 }, adminKeys: [ADMIN_KEY], logger: false, defaultMetrics: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(20_000);
});

after(async () => {
  await browser?.close();
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('admin page on flag files: a broken file shows a banner until it is fixed; quoted versions get a warning', { skip, timeout: 90_000 }, async () => {
  const address = app!.server.address() as { port: number };
  await page.goto(`http://127.0.0.1:${address.port}/`);
  await page.getByLabel('Admin key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Flags' }).waitFor();
  const banner = page.locator('.health-banner[role="alert"]');
  assert.equal(await banner.count(), 0, 'no banner while the files are fine');

  writeFileSync(file, BROKEN);
  await banner.waitFor();
  const text = await banner.innerText();
  assert.match(text, /A flag file has an error: the server keeps serving the last good flags/);
  assert.ok(text.includes(`${file}:3:`), text);
  assert.match(text, /checkout defaultRule\.variation: unknown variation "maybe"/);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'flag-file-banner.png'), style: '.toasts { display: none !important; }' });

  writeFileSync(file, GOOD.replace('variation: on', 'variation: off'));
  await banner.waitFor({ state: 'detached' });

  // The query check (the core's, live) warns that a quoted version is compared as text, with the unquoted form.
  await page.goto(`http://127.0.0.1:${address.port}/#/flags/+new`);
  await page.getByRole('button', { name: 'Add rule' }).click();
  await page.locator('#f-targeting-0-query').fill('appVersion ge "4.2.0"');
  const status = page.locator('#f-targeting-0-query-status');
  await status.getByText('Valid query').waitFor();
  assert.match(await status.innerText(), /"4\.2\.0" is quoted, so ge compares text.*write it unquoted: appVersion ge 4\.2\.0/s);
  await page.locator('#f-targeting-0-query').fill('appVersion ge 4.2.0');
  await status.getByText('Valid query').waitFor();
  assert.doesNotMatch(await status.innerText(), /is quoted/);
});
