import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@vexil/store';
import { ADMIN, SDK, SseReader, fixtureServer, json, listen, sleep, uniqueId } from './helpers.js';
import { parseEventId, storeIdentity, storeLocation } from '../src/stream/store-id.js';

let app: FastifyInstance;
let base: string;

before(async () => {
  app = await fixtureServer({ changeLogSize: 5, heartbeatMs: 200 });
  base = await listen(app);
});
after(async () => {
  await app.close();
});

const put = (key: string, flag: unknown) =>
  fetch(`${base}/admin/v1/flags/${key}`, { method: 'PUT', headers: json(ADMIN), body: JSON.stringify(flag) });
const flagWith = (value: number) => ({ variations: { only: value }, defaultRule: { variation: 'only' } });
/** The revision in an event id `<storeId>:<revision>`. */
const revisionOf = (id: string | undefined) => Number(id?.split(':')[1]);
const idOf = (revision: number) => `${app.vexil.storeId}:${revision}`;

describe('/v1/stream (SSE for in-process SDKs)', () => {
  test('a full snapshot on connect, then each change with its revision as id', async () => {
    const stream = await SseReader.open(`${base}/v1/stream?key=${SDK}`);
    try {
      assert.equal(stream.status, 200);
      const snapshot = await stream.waitFor((e) => e.event === 'snapshot');
      const data = JSON.parse(snapshot.data);
      assert.equal(snapshot.id, `${app.vexil.storeId}:${data.revision}`);
      // The embedded store keeps an instance id made with its data: the stream's store id is that.
      assert.ok(app.vexil.store.instanceId);
      assert.equal(app.vexil.storeId, app.vexil.store.instanceId);
      assert.deepEqual(data.flags['number-flag'].variations, { small: 10, large: 50 });
      assert.deepEqual(data.segments, { staff: { query: 'email ew "@example.com"' } });
      assert.equal(data.versions['number-flag'], 1);

      assert.equal((await put('stream-a', flagWith(1))).status, 201);
      const created = await stream.waitFor((e) => e.event === 'put');
      const change = JSON.parse(created.data);
      assert.equal(change.key, 'stream-a');
      assert.equal(change.version, 1);
      assert.deepEqual(change.flag, flagWith(1));
      assert.equal(created.id, idOf(data.revision + 1));

      const removed = await fetch(`${base}/admin/v1/flags/stream-a`, { method: 'DELETE', headers: { 'x-api-key': ADMIN } });
      assert.equal(removed.status, 200);
      const deleted = await stream.waitFor((e) => e.event === 'delete');
      assert.equal(JSON.parse(deleted.data).key, 'stream-a');
      assert.equal(deleted.id, idOf(data.revision + 2));
    } finally {
      stream.close();
    }
  });

  test('Last-Event-ID resumes without a gap; too old gets a full snapshot', async () => {
    const first = await SseReader.open(`${base}/v1/stream`, { 'x-api-key': SDK });
    const snapshot = await first.waitFor((e) => e.event === 'snapshot');
    first.close();
    const from = revisionOf(snapshot.id);

    for (let i = 1; i <= 3; i++) assert.ok((await put('resume-me', flagWith(i))).ok);

    const resumed = await SseReader.open(`${base}/v1/stream`, { 'x-api-key': SDK, 'last-event-id': idOf(from) });
    try {
      await resumed.waitFor((e) => e.id === idOf(from + 3));
      assert.deepEqual(
        resumed.events.map((e) => [e.event, revisionOf(e.id)]),
        [
          ['put', from + 1],
          ['put', from + 2],
          ['put', from + 3],
        ],
      );
      assert.deepEqual(JSON.parse(resumed.events[2]!.data).flag, flagWith(3));
      // Live changes follow, once each.
      assert.ok((await put('resume-me', flagWith(4))).ok);
      await resumed.waitFor((e) => e.id === idOf(from + 4));
      assert.equal(resumed.events.length, 4);
    } finally {
      resumed.close();
    }

    // The ring keeps 5 changes: resuming from before them gets the whole state instead.
    for (let i = 5; i <= 11; i++) assert.ok((await put('resume-me', flagWith(i))).ok);
    const tooOld = await SseReader.open(`${base}/v1/stream?key=${SDK}&lastEventId=${encodeURIComponent(idOf(from))}`);
    try {
      const full = await tooOld.waitFor(() => true);
      assert.equal(full.event, 'snapshot');
      assert.deepEqual(JSON.parse(full.data).flags['resume-me'], flagWith(11));
    } finally {
      tooOld.close();
    }

    // Already current: nothing until the next change.
    const current = await SseReader.open(`${base}/v1/stream?key=${SDK}`, { 'last-event-id': idOf(app.vexil.holder.appliedRevision) });
    try {
      await sleep(100);
      assert.equal(current.events.length, 0);
    } finally {
      current.close();
    }
  });

  test('a plain numeric Last-Event-ID (clients from before store ids) still resumes', async () => {
    const from = app.vexil.holder.appliedRevision;
    assert.ok((await put('plain-id', flagWith(1))).ok);
    const resumed = await SseReader.open(`${base}/v1/stream?key=${SDK}`, { 'last-event-id': String(from) });
    try {
      const event = await resumed.waitFor(() => true);
      assert.equal(event.event, 'put');
      assert.equal(event.id, idOf(from + 1));
    } finally {
      resumed.close();
    }
    // Current: nothing until the next change.
    const current = await SseReader.open(`${base}/v1/stream?key=${SDK}`, { 'last-event-id': String(app.vexil.holder.appliedRevision) });
    try {
      await sleep(100);
      assert.equal(current.events.length, 0);
    } finally {
      current.close();
    }
  });

  test('an id from another store, or a plain id ahead of this server (a fresh store), gets a full snapshot at once', async () => {
    const revision = app.vexil.holder.appliedRevision;
    for (const lastEventId of [`0123456789ab:${revision}`, `0123456789ab:${revision + 50}`, String(revision + 50), 'garbage']) {
      const stream = await SseReader.open(`${base}/v1/stream?key=${SDK}`, { 'last-event-id': lastEventId });
      try {
        const event = await stream.waitFor(() => true);
        assert.equal(event.event, 'snapshot', lastEventId);
        assert.equal(event.id, idOf(revision));
      } finally {
        stream.close();
      }
    }
  });

  test('an id of this store ahead of this server: later changes once it catches up, else a snapshot after the wait', async () => {
    // A client coming from a server that already applied the next change.
    const next = app.vexil.holder.appliedRevision + 1;
    const ahead = await SseReader.open(`${base}/v1/stream?key=${SDK}`, { 'last-event-id': idOf(next) });
    try {
      await sleep(50);
      assert.ok((await put('ahead', flagWith(1))).ok); // revision `next`: the client has it already
      assert.ok((await put('ahead', flagWith(2))).ok);
      const event = await ahead.waitFor(() => true);
      assert.equal(event.event, 'put');
      assert.equal(event.id, idOf(next + 1));
      await sleep(1200);
      assert.deepEqual(
        ahead.events.map((e) => e.id),
        [idOf(next + 1)],
        'no snapshot once caught up',
      );
    } finally {
      ahead.close();
    }

    // This server never reaches it (the store was reset, or this server is stuck): the whole state after the wait.
    const revision = app.vexil.holder.appliedRevision;
    const started = Date.now();
    const stuck = await SseReader.open(`${base}/v1/stream?key=${SDK}`, { 'last-event-id': idOf(revision + 100) });
    try {
      const event = await stuck.waitFor(() => true, 15_000);
      assert.equal(event.event, 'snapshot');
      assert.equal(event.id, idOf(revision));
      assert.ok(Date.now() - started >= 900, 'after the resume wait');
    } finally {
      stuck.close();
    }
  });

  test('store ids: stable for one store, never from credentials, per process for per-process revisions', async () => {
    const store = await openStore(`pglite:memory:${uniqueId('s')}`);
    try {
      const redis = (url: string) => storeLocation({ ...store, kind: 'redis', prefix: new URL(url).searchParams.get('prefix') ?? 'vexil:' } as never, url);
      assert.equal(redis('redis://user:secret@Cache.local:6379/0'), redis('redis://cache.local'));
      assert.doesNotMatch(redis('redis://user:secret@cache.local:6379/0')!, /secret|user/);
      assert.notEqual(redis('redis://cache.local?prefix=a:'), redis('redis://cache.local?prefix=b:'));
      assert.notEqual(redis('redis://cache.local/1'), redis('redis://cache.local/2'));
      const postgres = (url: string) => storeLocation({ kind: 'postgres' } as never, url);
      assert.equal(postgres('postgres://u:p@db:5432/vexil?schema=a'), postgres('postgresql://db/vexil?schema=a'));
      assert.notEqual(postgres('postgres://db/vexil?schema=a'), postgres('postgres://db/vexil?schema=b'));
      assert.doesNotMatch(postgres('postgres://u:p4ss@db/vexil')!, /p4ss/);
      const disk = await mkdtemp(join(tmpdir(), 'vexil-store-id-'));
      try {
        const pglite = (url: string) => storeLocation({ kind: 'pglite', schema: 'vexil' } as never, url);
        assert.equal(pglite(`pglite:${disk}`), pglite(`pglite:${disk}/./`));
        assert.notEqual(pglite(`pglite:${disk}`), pglite(`pglite:${disk}-other`));
      } finally {
        await rm(disk, { recursive: true, force: true });
      }

      const url = 'redis://cache.local:6379?prefix=x:';
      assert.equal(storeIdentity({ kind: 'redis' } as never, url), storeIdentity({ kind: 'redis' } as never, url));
      assert.match(storeIdentity({ kind: 'redis' } as never, url), /^[0-9a-f]{12}$/);
      // Without an id of their own: in-memory and file stores count revisions per process, and a store without a URL
      // cannot be told from another, so each gets a random id.
      const bare = { kind: 'pglite' } as never;
      assert.notEqual(storeIdentity(bare, 'pglite:memory:x'), storeIdentity(bare, 'pglite:memory:x'));
      assert.notEqual(storeIdentity({ kind: 'file' } as never, 'file:./flags.yaml'), storeIdentity({ kind: 'file' } as never, 'file:./flags.yaml'));
      assert.notEqual(storeIdentity(bare, undefined), storeIdentity(bare, undefined));
      // An in-memory store that keeps an instance id (made with it, so new for every such store) is identified by it.
      assert.ok(store.instanceId);
      assert.equal(storeIdentity(store, 'pglite:memory:x'), store.instanceId);
      // A store that keeps its own id is identified by it.
      assert.equal(storeIdentity({ kind: 'redis', instanceId: 'kept-id' } as never, url), 'kept-id');

      assert.deepEqual(parseEventId('abc:12'), { storeId: 'abc', revision: 12 });
      assert.deepEqual(parseEventId(' 12 '), { revision: 12 });
      assert.equal(parseEventId('a:b:12'), undefined);
      assert.equal(parseEventId('-1'), undefined);
      assert.equal(parseEventId(undefined), undefined);
    } finally {
      await store.close();
    }
  });

  test('heartbeats are comment lines; the client count is a metric', async () => {
    const stream = await SseReader.open(`${base}/v1/stream?key=${SDK}`);
    try {
      await stream.waitFor((e) => e.event === 'snapshot');
      const start = stream.comments.length;
      await sleep(450);
      assert.ok(stream.comments.slice(start).filter((comment) => comment === 'ping').length >= 1);
      assert.equal(app.vexil.sse.count('sdk'), 1);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /vexil_sse_clients\{stream="sdk"\} 1/);
    } finally {
      stream.close();
    }
    await sleep(50);
    assert.equal(app.vexil.sse.count('sdk'), 0);
  });

  test('an SDK stream needs a valid key', async () => {
    const anonymous = await fetch(`${base}/v1/stream`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const wrong = await fetch(`${base}/v1/stream?key=wrong`);
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
  });

  test('closing the server ends open streams (graceful shutdown)', { timeout: 20_000 }, async () => {
    const other = await fixtureServer();
    const url = await listen(other);
    const stream = await SseReader.open(`${url}/v1/stream?key=${SDK}`);
    await stream.waitFor((e) => e.event === 'snapshot');
    // close() resolves and the stream ends (a stream that kept the server open would hit the test's time-out).
    await other.close();
    await stream.closed;
    assert.ok(stream.ended);
  });
});
