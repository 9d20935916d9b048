// A store that goes back in time (issue 9, item 3). Before: after Redis lost the prefix's keys, or PostgreSQL was
// restored from an older backup or had its schema recreated, servers kept serving flags that no longer existed and
// ignored acknowledged writes whose revision was lower than one they had seen, all while reporting ok. Now the holder
// notices (instance id or revision check, periodically and on reconnect), re-reads every flag, logs it and counts it
// in vexil_store_resets_total. Real Redis and PostgreSQL, with a prefix / schema of this test's own.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { FastifyInstance } from 'fastify';
import { openStore, type FlagStore } from '@vexil/store';
import { buildServer } from '@vexil/server';
import { ADMIN, POSTGRES_URL, REDIS_URL, SDK, SseReader, deleteRedisPrefix, eventually, json, listen, uniqueId } from './helpers.js';

const flag = (serve: 'on' | 'off') => ({ variations: { on: true, off: false }, defaultRule: { variation: serve } });
const by = { actor: 'test' };

async function serverOn(store: FlagStore, healthIntervalMs = 200): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildServer({ store, adminKeys: [ADMIN], sdkKeys: [SDK], defaultMetrics: false, heartbeatMs: 0, healthIntervalMs, closeStore: true });
  return { app, url: await listen(app) };
}

async function served(url: string, key: string): Promise<unknown> {
  const response = await fetch(`${url}/ofrep/v1/evaluate/flags/${key}`, { method: 'POST', headers: json(SDK), body: '{"context":{"targetingKey":"u"}}' });
  const body = (await response.json()) as { value?: unknown; errorCode?: string };
  return body.errorCode ?? body.value;
}

async function resets(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^vexil_store_resets_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

async function put(url: string, key: string, serve: 'on' | 'off'): Promise<number> {
  const response = await fetch(`${url}/admin/v1/flags/${key}`, { method: 'PUT', headers: json(ADMIN), body: JSON.stringify(flag(serve)) });
  const text = await response.text();
  assert.ok(response.ok, `${response.status} ${text}`);
  return (JSON.parse(text) as { revision: number }).revision;
}

describe('a store that goes back in time is noticed and re-read', { timeout: 120_000 }, () => {
  test('Redis: the prefix loses its keys (restarted empty): deleted flags go, new writes are served', async () => {
    const prefix = `${uniqueId('vexil-test-reset')}:`;
    const url = `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`;
    const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const deletePrefix = () => deleteRedisPrefix(admin, prefix);
    const { app, url: base } = await serverOn(await openStore(url));
    try {
      for (const key of ['old-1', 'old-2', 'old-3', 'kept']) await put(base, key, 'on');
      assert.equal(await served(base, 'old-1'), true);
      assert.equal(await resets(base), 0);

      const stream = await SseReader.open(`${base}/v1/stream?key=${SDK}`);
      const firstSnapshot = await stream.waitFor((event) => event.event === 'snapshot');
      const before = stream.events.length;

      await deletePrefix();
      const resetAt = performance.now();
      // A write acknowledged after the reset, through this very server: revision 1, lower than the 4 it has seen.
      const revision = await put(base, 'after-reset', 'on');
      assert.equal(revision, 1, 'the emptied store counts from 1 again');
      await eventually(async () => (await served(base, 'after-reset')) === true, 15_000);
      // Reported, not asserted: bounded by the health interval (200 ms here, 2 s by default).
      console.log(`# redis: the reset was noticed and the new data served ${Math.round(performance.now() - resetAt)} ms after the prefix's keys were deleted`);
      for (const key of ['old-1', 'old-2', 'old-3', 'kept']) assert.equal(await served(base, key), 'FLAG_NOT_FOUND', `${key} no longer exists`);
      assert.ok((await resets(base)) >= 1, 'counted in vexil_store_resets_total');
      // SDKs on the stream get the new state whole.
      // (The reset may be noticed before or after the write: then the write follows the snapshot as a put.)
      const resent = await stream.waitFor((event) => event.event === 'snapshot', 15_000, before);
      const resentFlags = Object.keys(JSON.parse(resent.data).flags);
      assert.ok(resentFlags.every((key) => key === 'after-reset'), `no flag of the old data: ${resentFlags.join(', ')}`);
      if (resentFlags.length === 0)
        await stream.waitFor((event) => event.event === 'put' && JSON.parse(event.data).key === 'after-reset', 15_000, stream.events.indexOf(resent));
      stream.close();
      // Event ids name the new data: a client resuming with an id from before the reset gets the whole state, even
      // when the new data has reached that revision number.
      const [oldStoreId] = firstSnapshot.id!.split(':');
      const [newStoreId, newRevision] = resent.id!.split(':');
      assert.notEqual(newStoreId, oldStoreId);
      const resumed = await SseReader.open(`${base}/v1/stream?key=${SDK}&lastEventId=${oldStoreId}:${newRevision}`);
      const resumedSnapshot = await resumed.waitFor((event) => event.event === 'snapshot', 15_000);
      assert.deepEqual(Object.keys(JSON.parse(resumedSnapshot.data).flags), ['after-reset']);
      resumed.close();
      const health = (await (await fetch(`${base}/health`)).json()) as { status: string };
      assert.equal(health.status, 'ok');

      // And it keeps following the new data's change feed.
      const second = await openStore(url);
      await second.put('from-another-server', flag('off'), by);
      await second.close();
      await eventually(async () => (await served(base, 'from-another-server')) === false, 15_000);
    } finally {
      await app.close();
      await deletePrefix();
      admin.disconnect();
    }
  });

  test('Redis: a write through this server right after the reset is served in its response (read-your-writes)', async () => {
    const prefix = `${uniqueId('vexil-test-reset-ryw')}:`;
    const url = `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`;
    const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const deletePrefix = () => deleteRedisPrefix(admin, prefix);
    // No health check during the test: only the write itself can reveal the reset.
    const { app, url: base } = await serverOn(await openStore(url), 600_000);
    try {
      for (const key of ['old-1', 'old-2', 'old-3']) await put(base, key, 'on');
      await deletePrefix();
      assert.equal(await put(base, 'after-reset', 'on'), 1);
      assert.equal(await served(base, 'after-reset'), true, 'served as soon as the write is acknowledged');
      assert.equal(await served(base, 'old-1'), 'FLAG_NOT_FOUND');
      assert.equal(await resets(base), 1);
    } finally {
      await app.close();
      await deletePrefix();
      admin.disconnect();
    }
  });

  describe('PostgreSQL', () => {
    const sql = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
    const schemas: string[] = [];
    after(async () => {
      for (const schema of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.end();
    });

    test('restored from an older backup (same instance, lower revision): the backup is served', async () => {
      const schema = uniqueId('vexil_test_restore');
      schemas.push(schema);
      const url = `${POSTGRES_URL}?schema=${schema}`;
      const { app, url: base } = await serverOn(await openStore(url));
      try {
        await put(base, 'in-backup', 'on');
        // The backup: the data at revision 1.
        for (const table of ['flags', 'audit', 'state', 'segments'])
          await sql.unsafe(`CREATE TABLE "${schema}".backup_${table} AS SELECT * FROM "${schema}".${table}`);
        await put(base, 'in-backup', 'off');
        await put(base, 'after-backup-1', 'on');
        await put(base, 'after-backup-2', 'on');
        assert.equal(await served(base, 'after-backup-2'), true);

        // Restore the backup (the instance row is part of it: same instance id, revisions back to 1).
        await sql.begin(async (tx) => {
          for (const table of ['flags', 'audit', 'state', 'segments']) {
            await tx.unsafe(`DELETE FROM "${schema}".${table}`);
            await tx.unsafe(`INSERT INTO "${schema}".${table} SELECT * FROM "${schema}".backup_${table}`);
          }
        });
        // A write acknowledged after the restore by another server: revision 2, below the 4 this server has seen.
        const other = await openStore(url);
        const written = await other.put('after-restore', flag('on'), by);
        await other.close();
        assert.equal(written.revision, 2);

        await eventually(async () => (await served(base, 'after-restore')) === true, 15_000);
        assert.equal(await served(base, 'in-backup'), true, 'the backup\'s version of the flag');
        assert.equal(await served(base, 'after-backup-1'), 'FLAG_NOT_FOUND');
        assert.equal(await served(base, 'after-backup-2'), 'FLAG_NOT_FOUND');
        assert.ok((await resets(base)) >= 1);
      } finally {
        await app.close();
      }
    });

    test('schema dropped and created again (a new instance id): the new data is served', async () => {
      const schema = uniqueId('vexil_test_recreate');
      schemas.push(schema);
      const url = `${POSTGRES_URL}?schema=${schema}`;
      const { app, url: base } = await serverOn(await openStore(url));
      try {
        for (const key of ['a', 'b', 'c']) await put(base, key, 'on');
        await sql.unsafe(`DROP SCHEMA "${schema}" CASCADE`);
        const fresh = await openStore(url); // migrates: a new schema, a new instance id
        await fresh.put('fresh', flag('on'), by);
        await fresh.close();
        await eventually(async () => (await served(base, 'fresh')) === true, 15_000);
        for (const key of ['a', 'b', 'c']) assert.equal(await served(base, key), 'FLAG_NOT_FOUND');
        assert.ok((await resets(base)) >= 1);
      } finally {
        await app.close();
      }
    });
  });
});
