// `vexil serve` as users run it: a separate process, keys generated on first start, graceful shutdown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      const keyFile = await readFile(join(dir, 'data.api-keys.json'), 'utf8');
      assert.ok(!keyFile.includes(sdkKey) && !keyFile.includes(adminKey), 'only hashes are kept');

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
