// The admin page at `/`: a fake build in a temporary folder, so these tests do not depend on `npm run build`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ADMIN, REPO_ROOT, SDK, fixtureServer } from './helpers.js';
import { DEFAULT_UI_ROOT } from '../src/ui/admin-page.js';

const PAGE = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>';

let dir: string;
let uiRoot: string;
let app: FastifyInstance;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vexil-ui-'));
  uiRoot = join(dir, 'dist');
  await mkdir(join(uiRoot, 'assets'), { recursive: true });
  await writeFile(join(uiRoot, 'index.html'), PAGE);
  await writeFile(join(uiRoot, 'assets', 'index-abc123.js'), 'console.log("vexil");');
  app = await fixtureServer({ uiRoot });
});
after(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the admin page', () => {
  test('GET / serves index.html without a key, not cached for good, not frameable', async () => {
    const response = await app.inject({ method: 'GET', url: '/' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/html/);
    assert.equal(response.body, PAGE);
    assert.equal(response.headers['cache-control'], 'no-cache');
    assert.equal(response.headers['x-frame-options'], 'DENY');
    assert.match(String(response.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal(app.vexil.adminPage, uiRoot);

    const head = await app.inject({ method: 'HEAD', url: '/' });
    assert.equal(head.statusCode, 200);
    const byName = await app.inject({ method: 'GET', url: '/index.html' });
    assert.equal(byName.statusCode, 200);
    assert.equal(byName.body, PAGE);
  });

  test('assets under /assets/ are served without a key and cached for good (hashed names)', async () => {
    const response = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /javascript/);
    assert.match(String(response.headers['cache-control']), /immutable/);
    assert.equal(response.body, 'console.log("vexil");');

    // A page rebuilt while the server runs names new files: they are found too.
    await writeFile(join(uiRoot, 'assets', 'index-def456.js'), 'console.log("rebuilt");');
    const rebuilt = await app.inject({ method: 'GET', url: '/assets/index-def456.js' });
    assert.equal(rebuilt.statusCode, 200);
    assert.equal(rebuilt.body, 'console.log("rebuilt");');

    assert.equal((await app.inject({ method: 'GET', url: '/assets/missing.js' })).statusCode, 404);
    const outside = await app.inject({ method: 'GET', url: '/assets/%2e%2e/%2e%2e/package.json' });
    assert.notEqual(outside.statusCode, 200);
  });

  test('no catch-all: unknown paths are JSON 404s, and the API keeps its auth', async () => {
    const unknown = await app.inject({ method: 'GET', url: '/flags/my-flag' });
    assert.equal(unknown.statusCode, 404);
    assert.match(String(unknown.headers['content-type']), /application\/json/);

    assert.equal((await app.inject({ method: 'GET', url: '/admin/v1/flags' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/admin/v1/flags', headers: { 'x-api-key': SDK } })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/admin/v1/flags', headers: { 'x-api-key': ADMIN } })).statusCode, 200);
  });

  test('the static routes stay out of the OpenAPI document', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    assert.ok(document.paths['/v1/flag/configuration']);
    assert.ok(!Object.keys(document.paths).some((path) => path === '/' || path.startsWith('/assets') || path === '/index.html'));
  });

  test('a folder without index.html: / explains how to build the page', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const other = await fixtureServer({ uiRoot: empty });
    try {
      const response = await other.inject({ method: 'GET', url: '/' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      assert.match(response.body, /npm run build -w @vexil\/ui/);
      assert.match(response.body, /href="\/openapi\.json"/);
      assert.equal(other.vexil.adminPage, undefined);
      assert.equal((await other.inject({ method: 'GET', url: '/assets/index-abc123.js' })).statusCode, 404);
    } finally {
      await other.close();
    }
  });

  test('uiRoot: false serves no page', async () => {
    const other = await fixtureServer({ uiRoot: false });
    try {
      assert.equal((await other.inject({ method: 'GET', url: '/' })).statusCode, 404);
    } finally {
      await other.close();
    }
  });

  test('by default the page is the @vexil/ui build beside this package', () => {
    assert.equal(DEFAULT_UI_ROOT, resolve(REPO_ROOT, 'packages', 'ui', 'dist'));
  });
});
