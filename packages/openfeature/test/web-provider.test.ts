// @openfeature/ofrep-web-provider in headless Chromium, on a page served by this test (another origin than the
// Vexil server, so CORS is exercised): every type and error case, bulk caching with ETag / 304, and a change pushed
// through the SSE stream the bulk response advertises.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { OpenFeature, type Client } from '@openfeature/server-sdk';
import { VexilProvider } from '@vexil/openfeature';
import { eventually, freePort, startServer, type VexilServer } from './helpers/server.js';
import { testFlags } from './helpers/flags.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));

let server: VexilServer;
let pageServer: Server;
let browser: Browser;
let page: Page;
let vexil: Client;
const bulk: Array<{ status: number; ifNoneMatch: string | undefined; etag: string | undefined; query: string }> = [];

before(async () => {
  if (!existsSync(CHROMIUM)) return;
  server = await startServer();
  for (const [key, flag] of Object.entries(testFlags)) await server.putFlag(key, flag);
  await OpenFeature.setProviderAndWait('reference', new VexilProvider({ url: server.url, sdkKey: server.sdkKey, events: false }));
  vexil = OpenFeature.getClient('reference');

  const bundle = await build({ entryPoints: [join(here, 'web', 'page.ts')], bundle: true, format: 'iife', platform: 'browser', target: 'es2020', write: false, logLevel: 'silent' });
  const script = bundle.outputFiles[0]!.text;
  const port = await freePort();
  pageServer = createServer((request, response) => {
    if (request.url === '/page.js') return response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>vexil</title><script src="/page.js"></script>');
  });
  await new Promise<void>((resolve) => pageServer.listen(port, '127.0.0.1', resolve));

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.pathname !== '/ofrep/v1/evaluate/flags' || response.request().method() !== 'POST') return;
    bulk.push({ status: response.status(), ifNoneMatch: response.request().headers()['if-none-match'], etag: response.headers().etag, query: url.search });
  });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.evaluate(({ url, key }) => (window as any).vexilTest.start(url, key, { targetingKey: 'u1', beta: true, country: 'FR', age: 30 }), { url: server.url, key: server.sdkKey });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (pageServer ? pageServer.close(resolve) : resolve(undefined)));
  await OpenFeature.close();
  await server?.stop();
});

const inPage = (key: string, fallback: unknown) => page.evaluate(([k, f]) => (window as any).vexilTest.details(k, f), [key, fallback] as const);

test('every type and error case, as the in-process provider answers', { skip: !existsSync(CHROMIUM) && 'no Chromium' }, async () => {
  const context = { targetingKey: 'u1', beta: true, country: 'FR', age: 30 };
  const cases: Array<[string, unknown, (c: Client) => Promise<any>]> = [
    ['bool-flag', false, (c) => c.getBooleanDetails('bool-flag', false, context)],
    ['string-flag', 'none', (c) => c.getStringDetails('string-flag', 'none', context)],
    ['number-flag', 0, (c) => c.getNumberDetails('number-flag', 0, context)],
    ['object-flag', {}, (c) => c.getObjectDetails('object-flag', {}, context)],
    ['split-flag', 'none', (c) => c.getStringDetails('split-flag', 'none', context)],
  ];
  for (const [key, fallback, reference] of cases) {
    const remote = await inPage(key, fallback);
    const local = await reference(vexil);
    assert.equal(remote.errorCode, undefined, `${key}: ${remote.errorMessage}`);
    assert.deepEqual([remote.value, remote.variant, remote.reason], [local.value, local.variant, local.reason], key);
  }
  assert.equal((await inPage('bool-flag', false)).flagMetadata.owner, 'team-a');
  const missing = await inPage('no-such-flag', 'dflt');
  assert.deepEqual([missing.value, missing.errorCode], ['dflt', 'FLAG_NOT_FOUND']);
  const mismatch = await inPage('string-flag', 5);
  assert.deepEqual([mismatch.value, mismatch.errorCode], [5, 'TYPE_MISMATCH']);
  const disabled = await inPage('disabled-flag', true);
  assert.deepEqual([disabled.value, disabled.errorCode], [true, undefined]);
});

test('bulk caching: ETag, 304 for the same context, 200 when another attribute changes', { skip: !existsSync(CHROMIUM) && 'no Chromium' }, async () => {
  assert.equal(bulk[0]?.status, 200);
  const etag = bulk[0]!.etag;
  assert.ok(etag, 'the bulk response carries an ETag readable across origins');
  const before = bulk.length;
  await page.evaluate(() => (window as any).vexilTest.setContext({ targetingKey: 'u1', beta: true, country: 'FR', age: 30 }));
  await eventually(() => bulk.length > before, 15_000, 'refetch');
  assert.deepEqual([bulk.at(-1)!.status, bulk.at(-1)!.ifNoneMatch], [304, etag]);
  // Same targetingKey, another attribute: the provider sends the old ETag with the new context; it must not match.
  await page.evaluate(() => (window as any).vexilTest.setContext({ targetingKey: 'u1', beta: false, country: 'FR', age: 30 }));
  await eventually(() => bulk.at(-1)!.status === 200 && bulk.at(-1)!.ifNoneMatch === etag, 15_000, '200 for a new context');
  assert.equal((await inPage('bool-flag', true)).value, false);
});

test('a change pushed through the advertised SSE stream', { skip: !existsSync(CHROMIUM) && 'no Chromium' }, async () => {
  const seen = (await page.evaluate(() => (window as any).vexilTest.log.length)) as number;
  const before = bulk.length;
  await server.putFlag('string-flag', { ...(testFlags['string-flag'] as object), targeting: [], defaultRule: { variation: 'green' } });
  await eventually(
    async () => ((await page.evaluate(() => (window as any).vexilTest.log)) as Array<{ event: string; flagsChanged?: string[] }>).slice(seen).some((e) => e.event === 'PROVIDER_CONFIGURATION_CHANGED' && e.flagsChanged?.includes('string-flag')),
    10_000,
    'CONFIGURATION_CHANGED in the page',
  );
  assert.equal((await inPage('string-flag', 'none')).value, 'green');
  const refetch = bulk.slice(before).find((entry) => entry.status === 200);
  assert.ok(refetch, 'a bulk re-fetch after the SSE event');
  assert.match(refetch.query, /flagConfigEtag=/);
});
