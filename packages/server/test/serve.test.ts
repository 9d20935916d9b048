// `vexil serve` as users run it: a separate process, keys generated on first start, graceful shutdown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@vexil/store';
import { hashSecret } from '@vexil/server';
import { ADMIN, FIXTURE, SDK, json, spawnServe } from './helpers.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vexil-serve-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exitOf = (child: import('node:child_process').ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

describe('vexil serve', { timeout: 180_000 }, () => {
  test('first start on a fresh embedded store: examples loaded, keys generated and printed once (stored hashed); restart keeps them; SIGTERM stops gracefully', async () => {
    const store = `pglite:${join(dir, 'data')}`;
    const first = await spawnServe(['--store', store]);
    let sdkKey: string;
    let adminKey: string;
    try {
      const output = first.output();
      assert.match(output, /loaded \d+ example flag\(s\)/);
      sdkKey = /SDK key\s+(vxl_sdk_\S+)/.exec(output)![1]!;
      adminKey = /admin key\s+(vxl_admin_\S+)/.exec(output)![1]!;
      assert.match(output, /in the pglite store/, 'the embedded store keeps the keys');
      assert.match(output, /admin page +(http:\/\/\S+\/|not built)/);

      // The admin page (or, when it is not built, a page saying how to build it) at /, without a key.
      const page = await fetch(`${first.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      await page.text();

      const evaluated = await fetch(`${first.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: json(sdkKey), body: '{"context":{"targetingKey":"u"}}' });
      assert.equal(evaluated.status, 200);
      assert.ok((await evaluated.json()).flags.length > 0);
      const keys = await fetch(`${first.url}/admin/v1/keys`, { headers: { authorization: `Bearer ${adminKey}` } });
      assert.equal(keys.status, 200);
    } finally {
      first.child.kill('SIGTERM');
      assert.equal(await exitOf(first.child), 0);
    }
    assert.match(first.output(), /SIGTERM: shutting down/);

    // Only the keys' hashes were kept.
    const stored = await openStore(store);
    try {
      const records = await stored.apiKeys!.list();
      assert.equal(records.length, 2);
      const text = JSON.stringify(records);
      assert.ok(!text.includes(sdkKey) && !text.includes(adminKey), 'only hashes are kept');
      assert.deepEqual(records.map((record) => record.hash).sort(), [hashSecret(adminKey), hashSecret(sdkKey)].sort());
    } finally {
      await stored.close();
    }

    const second = await spawnServe(['--store', store]);
    try {
      assert.doesNotMatch(second.output(), /generated|example flag/);
      const evaluated = await fetch(`${second.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: json(sdkKey), body: '{}' });
      assert.equal(evaluated.status, 200, 'the key printed on first start still works');
    } finally {
      await second.stop();
    }
  });

  test('--flags alone serves the files read-only (GitOps)', async () => {
    const server = await spawnServe(['--flags', FIXTURE, '--admin-key', ADMIN, '--sdk-key', SDK]);
    try {
      assert.match(server.output(), /\(read-only\)/);
      const value = await (await fetch(`${server.url}/ofrep/v1/evaluate/flags/number-flag`, { method: 'POST', headers: json(SDK), body: '{}' })).json();
      assert.equal(value.value, 50);
      const write = await fetch(`${server.url}/admin/v1/flags/number-flag`, { method: 'PUT', headers: json(ADMIN), body: '{"variations":{"a":1},"defaultRule":{"variation":"a"}}' });
      assert.equal(write.status, 405);
      const openapi = await (await fetch(`${server.url}/openapi.json`)).json();
      assert.ok(openapi.paths['/ofrep/v1/evaluate/flags/{key}']);
    } finally {
      await server.stop();
    }
  });
});
