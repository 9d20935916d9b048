// `vexil events summary|metric`: reading the events store directly (--events) and through a server (--server).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqlEventsStore, openStore, type ExposureRecord, type TrackRecord } from '@vexil/store';
import { buildServer } from '@vexil/server';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');

function vexil(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], { cwd: root, env: { ...process.env, VEXIL_EVENTS: '', VEXIL_STORE: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

let dir: string;
let url: string;
const now = Date.now();
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-events-cli-'));
  url = `pglite:${join(dir, 'events')}`;
  const store = await SqlEventsStore.open(url, { pruneIntervalMs: 0 });
  const exposures: ExposureRecord[] = [];
  const tracks: TrackRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const variation = i % 4 === 0 ? 'v2' : 'v1';
    exposures.push({ flag: 'new-checkout', variation, unit: `u${i}`, at: now - 10 * 60_000 });
    tracks.push({ metric: 'checkout-error', unit: `u${i}`, at: now - 5 * 60_000, value: variation === 'v2' ? 200 : 100, error: variation === 'v2' && i % 8 === 0 });
  }
  await store.write([{ id: 'a', exposures, tracks: [] }]);
  await store.write([{ id: 'b', exposures: [], tracks }]);
  await store.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('vexil events', () => {
  it('summary --flag prints evaluations and distinct units per variation, and the series', async () => {
    const result = await vexil(['events', 'summary', '--events', url, '--flag', 'new-checkout', '--since', '1h']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^new-checkout \(default\)/);
    assert.match(result.stdout, /\nv1\s+30\s+30\s+-\n/);
    assert.match(result.stdout, /\nv2\s+10\s+10\s+-\n/);
    assert.match(result.stdout, /v1 evals\/units/);
  });

  it('metric --flag --by variation --json gives count, rate and percentiles per variation', async () => {
    const result = await vexil(['events', 'metric', 'checkout-error', '--events', url, '--flag', 'new-checkout', '--since', '15m', '--by', 'variation', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout);
    assert.equal(out.metric, 'checkout-error');
    const v2 = out.rows.find((row: { variation: string }) => row.variation === 'v2');
    assert.equal(v2.count, 10);
    assert.equal(v2.errors, 5);
    assert.equal(v2.errorRate, 0.5);
    assert.ok(Math.abs(v2.p99 - 200) <= 2);
    const v1 = out.rows.find((row: { variation: string }) => row.variation === 'v1');
    assert.equal(v1.errorRate, 0);
  });

  it('reads through a server with --server and --admin-key, and says what is wrong with a bad --since', async () => {
    const flags = await openStore(`pglite:memory:cli-events-${process.pid}`);
    const events = await SqlEventsStore.open(url, { pruneIntervalMs: 0 });
    const app = await buildServer({ store: flags, closeStore: true, events, adminKeys: ['k'], defaultMetrics: false, heartbeatMs: 0 });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address() as { port: number };
      const server = `http://127.0.0.1:${address.port}`;
      const result = await vexil(['events', 'metric', 'checkout-error', '--server', server, '--admin-key', 'k', '--flag', 'new-checkout', '--since', '15m', '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).rows.length, 2);
      const table = await vexil(['events', 'summary', '--server', server, '--admin-key', 'k', '--flag', 'new-checkout']);
      assert.match(table.stdout, /\nv2\s+10\s+10\s+-\n/);
      const wrongKey = await vexil(['events', 'summary', '--server', server, '--admin-key', 'nope', '--flag', 'new-checkout']);
      assert.notEqual(wrongKey.code, 0);
      assert.match(wrongKey.stderr, /HTTP 401/);
    } finally {
      await app.close();
      await events.close();
    }
    const bad = await vexil(['events', 'summary', '--events', url, '--flag', 'new-checkout', '--since', 'yesterday']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--since: "yesterday"/);
  });
});
