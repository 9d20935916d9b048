// `vexil serve` as users run it: a separate process, keys generated on first start, graceful shutdown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@vexil/store';
import { hashSecret } from '@vexil/server';
import { ADMIN, FIXTURE, SDK, SseReader, freePort, json, spawnServe } from './helpers.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vexil-serve-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exitOf = (child: import('node:child_process').ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

/** A second start on the same store generates nothing and loads no examples, and the first start's SDK key works. */
async function restartAcceptsFirstKey(sdkKey: string, ...serve: Parameters<typeof spawnServe>): Promise<void> {
  const second = await spawnServe(...serve);
  try {
    assert.doesNotMatch(second.output(), /generated|example flag/);
    const evaluated = await fetch(`${second.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: json(sdkKey), body: '{}' });
    assert.equal(evaluated.status, 200, 'the key printed on first start still works');
  } finally {
    await second.stop();
  }
}

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
      assert.match(output, /in the embedded pglite store/, 'the embedded store keeps the keys');
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

    await restartAcceptsFirstKey(sdkKey, ['--store', store]);
  });

  test('with no store named, the embedded default is one SQLite file in ./.vexil, events included, kept across a restart', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'vexil-serve-default-'));
    try {
      const first = await spawnServe([], {}, 60_000, true, cwd);
      let sdkKey: string;
      try {
        const output = first.output();
        assert.match(output, /store +sqlite:\.\/\.vexil\/vexil\.db: \d+ flag\(s\)/);
        assert.match(output, /events +sqlite:\.\/\.vexil\/vexil\.db/);
        assert.match(output, /loaded \d+ example flag\(s\)/);
        assert.match(output, /in the embedded sqlite store/);
        sdkKey = /SDK key\s+(vxl_sdk_\S+)/.exec(output)![1]!;
        const evaluated = await fetch(`${first.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: json(sdkKey), body: '{"context":{"targetingKey":"u"}}' });
        assert.equal(evaluated.status, 200);
      } finally {
        await first.stop();
      }
      assert.ok(existsSync(join(cwd, '.vexil', 'vexil.db')));
      await restartAcceptsFirstKey(sdkKey, [], {}, 60_000, true, cwd);
    } finally {
      await rm(cwd, { recursive: true, force: true });
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

  test('every option from the environment alone: VEXIL_STORE, VEXIL_FLAGS, VEXIL_PORT, VEXIL_HOST, VEXIL_ADMIN_KEYS, VEXIL_SDK_KEYS', async () => {
    const port = await freePort();
    const server = await spawnServe(
      [],
      {
        VEXIL_STORE: 'pglite:memory:',
        VEXIL_FLAGS: FIXTURE,
        VEXIL_PORT: String(port),
        VEXIL_HOST: '127.0.0.1',
        VEXIL_ADMIN_KEYS: 'env-admin-key-0001, env-admin-key-0002',
        VEXIL_SDK_KEYS: 'env-sdk-key-000001,env-sdk-key-000002',
        VEXIL_LOG_LEVEL: 'warn',
      },
      60_000,
      false,
    );
    try {
      assert.equal(server.url, `http://127.0.0.1:${port}`);
      assert.match(server.output(), /imported \d+ flag\(s\)/, 'VEXIL_FLAGS with a writable store: imported');
      assert.doesNotMatch(server.output(), /generated/);
      for (const key of ['env-sdk-key-000001', 'env-sdk-key-000002']) {
        const evaluated = await fetch(`${server.url}/ofrep/v1/evaluate/flags/number-flag`, { method: 'POST', headers: json(key), body: '{}' });
        assert.equal((await evaluated.json()).value, 50, key);
      }
      const written = await fetch(`${server.url}/admin/v1/flags/env-flag`, { method: 'PUT', headers: json('env-admin-key-0002'), body: '{"variations":{"a":1},"defaultRule":{"variation":"a"}}' });
      assert.equal(written.status, 201, 'a writable store (VEXIL_STORE), the second admin key');
      assert.equal((await fetch(`${server.url}/admin/v1/flags`, { headers: json('env-sdk-key-000001') })).status, 403);
    } finally {
      await server.stop();
    }
  });

  test('--config vexil.yaml (relative paths from the file), under the environment', async () => {
    const port = await freePort();
    const config = join(dir, 'vexil.yaml');
    await writeFile(join(dir, 'config-flags.yaml'), 'from-config-file:\n  variations: { a: 7 }\n  defaultRule: { variation: a }\n');
    await writeFile(config, `store: "pglite:memory:"\nflags: [config-flags.yaml]\nport: 1\nhost: 127.0.0.1\nadminKeys: [file-admin-key-0001]\nsdkKeys: file-sdk-key-00001\nlogLevel: warn\n`);
    const server = await spawnServe(['--config', config], { VEXIL_PORT: String(port) }, 60_000, false);
    try {
      assert.equal(server.url, `http://127.0.0.1:${port}`, 'VEXIL_PORT over the file');
      const evaluated = await fetch(`${server.url}/ofrep/v1/evaluate/flags/from-config-file`, { method: 'POST', headers: json('file-sdk-key-00001'), body: '{}' });
      assert.equal((await evaluated.json()).value, 7, 'flags relative to the config file, imported into its store');
      assert.equal((await fetch(`${server.url}/admin/v1/keys`, { headers: json('file-admin-key-0001') })).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('graceful shutdown: an in-flight request finishes, streams end, new connections are refused, the process exits by itself', { timeout: 60_000 }, async () => {
    const server = await spawnServe(['--store', 'pglite:memory:', '--flags', FIXTURE, '--admin-key', ADMIN, '--sdk-key', SDK]);
    const stream = await SseReader.open(`${server.url}/v1/stream?key=${SDK}`);
    assert.equal(stream.status, 200);
    await stream.waitFor((event) => event.event === 'snapshot');
    // A request whose body is still arriving when the signal comes.
    const request = httpRequest(`${server.url}/ofrep/v1/evaluate/flags/number-flag`, {
      method: 'POST',
      headers: { 'x-api-key': SDK, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    const answered = new Promise<{ status: number; body: string; connection: string | undefined }>((resolvePromise, reject) => {
      request.on('response', (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolvePromise({ status: response.statusCode ?? 0, body, connection: response.headers.connection }));
      });
      request.on('error', reject);
    });
    request.write('{"context": ');
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 200));
    const exited = exitOf(server.child);
    server.child.kill('SIGTERM');
    await stream.closed;
    assert.ok(stream.ended, 'the stream ended');
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 300));
    await assert.rejects(fetch(`${server.url}/health`), 'no new connection while shutting down');
    request.end('{"targetingKey": "u"}}');
    const response = await answered;
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).value, 50);
    assert.equal(response.connection, 'close', 'the client lets go of the connection');
    // It exits by itself once the last answer is sent (nothing keeps it alive; the test's time-out catches a hang).
    assert.equal(await exited, 0);
  });
});
