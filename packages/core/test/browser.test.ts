// @vexil/core runs unchanged in a browser and in a Web Worker: the package's source, bundled for the browser as an ES
// module (the bundler would fail on any Node-only import), evaluates every flag of the conformance files for
// generated contexts at several dates in headless Chromium, page and worker, with the same answers as Node.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import fc from 'fast-check';
import { chromium, type Browser, type Page } from 'playwright-core';
import * as core from '../src/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const conformance = join(root, 'packages/server/test/fixtures/conformance');

interface FlagFile {
  name: string;
  text: string;
  format: 'yaml' | 'json' | 'toml';
}

const files: FlagFile[] = [
  ...readdirSync(conformance)
    .filter((name) => /\.goff\.(yaml|json|toml)$/.test(name))
    .map((name) => ({ name, text: readFileSync(join(conformance, name), 'utf8'), format: core.detectFormat(name) })),
  { name: 'flags.goff.yaml', text: readFileSync(join(root, 'examples/flags.goff.yaml'), 'utf8'), format: 'yaml' as const },
];

/** Contexts over the attributes the conformance files' queries read, reproducible (fixed seed). */
const contexts = fc.sample(
  fc.record(
    {
      targetingKey: fc.oneof(fc.uuid(), fc.constantFrom('user-1', 'user-2', 'user-6', 'carol', 'été-😀', '785a14bf-d2c5-4caa-9c70-2bbc4e3732a5', '')),
      email: fc.constantFrom('john.doe@example.com', 'a@gofeatureflag.org', 'x@other.org', ''),
      country: fc.constantFrom('fr', 'FR', 'de', 'us', 'it'),
      beta: fc.constantFrom(true, false, 'true', 'false'),
      anonymous: fc.boolean(),
      age: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true })),
      name: fc.constantFrom('john', 'John', 'Jane'),
      version: fc.constantFrom('1.0.0', '1.0.0-2', '1.0.0-11', '2.1.3'),
      score: fc.integer({ min: 0, max: 20 }),
      tier: fc.integer({ min: 0, max: 4 }),
      plan: fc.constantFrom('free', 'pro', 'enterprise'),
      company: fc.record({ id: fc.constantFrom('acme', 'globex'), size: fc.integer({ min: 0, max: 50 }) }, { requiredKeys: [] }),
      a: fc.integer({ min: 0, max: 1 }),
      b: fc.integer({ min: 0, max: 1 }),
      c: fc.integer({ min: 0, max: 1 }),
      x: fc.constantFrom(1, 2, 'a', null),
    },
    { requiredKeys: [] },
  ),
  { numRuns: 60, seed: 1303 },
);
const dates = ['2020-01-01T00:00:00Z', '2021-03-20T17:00:00Z', '2023-01-01T00:00:00Z', '2026-12-03T00:00:00Z'].map((date) => Date.parse(date));

/** What both sides run: the public API only. */
function evaluateEverything(engine: typeof core, input: { files: FlagFile[]; contexts: unknown[]; dates: number[] }): unknown[] {
  const out: unknown[] = [];
  for (const file of input.files) {
    const snapshot = engine.compileFlags(file.text, { format: file.format, source: file.name });
    out.push({ file: file.name, flags: [...snapshot.flags.keys()], invalid: [...snapshot.invalid.keys()], problems: snapshot.problems.map(engine.formatProblem) });
    for (const now of input.dates) for (const context of input.contexts) out.push(engine.evaluateAll(snapshot, context as never, { now }));
  }
  return out;
}

let server: Server;
let browser: Browser;
let page: Page;
let origin: string;

before(async () => {
  const bundle = await build({
    entryPoints: [join(root, 'packages/core/src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const engine = bundle.outputFiles[0]!.text;
  const worker = `import * as engine from '/core.js';\n${evaluateEverything.toString()}\nself.onmessage = (event) => self.postMessage(evaluateEverything(engine, event.data));\n`;
  server = createServer((request, response) => {
    if (request.url === '/core.js') return response.writeHead(200, { 'content-type': 'text/javascript' }).end(engine);
    if (request.url === '/worker.js') return response.writeHead(200, { 'content-type': 'text/javascript' }).end(worker);
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>vexil core</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  await page.goto(`${origin}/`);
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

const input = { files, contexts, dates };
const inNode = JSON.parse(JSON.stringify(evaluateEverything(core, input))) as unknown[];

test('the engine as an ES module in a Chromium page: the same answers as Node over the conformance files', async () => {
  assert.ok(files.length >= 10);
  assert.ok(inNode.length > 3000, `${inNode.length} results`);
  const inBrowser = await page.evaluate(
    async ({ source, data }) => {
      const path = '/core.js'; // served by this test's page server
      const engine: unknown = await import(path);
      const run = new Function(`return (${source})`)() as (engine: unknown, data: unknown) => unknown[];
      return JSON.parse(JSON.stringify(run(engine, data)));
    },
    { source: evaluateEverything.toString(), data: input },
  );
  assert.equal(inBrowser.length, inNode.length);
  assert.deepEqual(inBrowser, inNode);
});

test('the engine in a Web Worker (module worker): the same answers as Node', async () => {
  const inWorker = await page.evaluate(
    (data) =>
      new Promise<unknown[]>((resolve, reject) => {
        const worker = new Worker('/worker.js', { type: 'module' });
        worker.onmessage = (event) => resolve(event.data as unknown[]);
        worker.onerror = (event) => reject(new Error(event.message));
        worker.postMessage(data);
      }),
    input,
  );
  assert.deepEqual(JSON.parse(JSON.stringify(inWorker)), inNode);
});
