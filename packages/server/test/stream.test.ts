import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { ADMIN, SDK, SseReader, fixtureServer, json, listen, sleep } from './helpers.js';

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

describe('/v1/stream (SSE for in-process SDKs)', () => {
  test('a full snapshot on connect, then each change with its revision as id', async () => {
    const stream = await SseReader.open(`${base}/v1/stream?key=${SDK}`);
    try {
      assert.equal(stream.status, 200);
      const snapshot = await stream.waitFor((e) => e.event === 'snapshot');
      const data = JSON.parse(snapshot.data);
      assert.equal(String(data.revision), snapshot.id);
      assert.deepEqual(data.flags['number-flag'].variations, { small: 10, large: 50 });
      assert.deepEqual(data.segments, { staff: { query: 'email ew "@example.com"' } });
      assert.equal(data.versions['number-flag'], 1);

      assert.equal((await put('stream-a', flagWith(1))).status, 201);
      const created = await stream.waitFor((e) => e.event === 'put');
      const change = JSON.parse(created.data);
      assert.equal(change.key, 'stream-a');
      assert.equal(change.version, 1);
      assert.deepEqual(change.flag, flagWith(1));
      assert.equal(Number(created.id), data.revision + 1);

      const removed = await fetch(`${base}/admin/v1/flags/stream-a`, { method: 'DELETE', headers: { 'x-api-key': ADMIN } });
      assert.equal(removed.status, 200);
      const deleted = await stream.waitFor((e) => e.event === 'delete');
      assert.equal(JSON.parse(deleted.data).key, 'stream-a');
      assert.equal(Number(deleted.id), data.revision + 2);
    } finally {
      stream.close();
    }
  });

  test('Last-Event-ID resumes without a gap; too old gets a full snapshot', async () => {
    const first = await SseReader.open(`${base}/v1/stream`, { 'x-api-key': SDK });
    const snapshot = await first.waitFor((e) => e.event === 'snapshot');
    first.close();
    const from = Number(snapshot.id);

    for (let i = 1; i <= 3; i++) assert.ok((await put('resume-me', flagWith(i))).ok);

    const resumed = await SseReader.open(`${base}/v1/stream`, { 'x-api-key': SDK, 'last-event-id': String(from) });
    try {
      await resumed.waitFor((e) => e.id === String(from + 3));
      assert.deepEqual(
        resumed.events.map((e) => [e.event, Number(e.id)]),
        [
          ['put', from + 1],
          ['put', from + 2],
          ['put', from + 3],
        ],
      );
      assert.deepEqual(JSON.parse(resumed.events[2]!.data).flag, flagWith(3));
      // Live changes follow, once each.
      assert.ok((await put('resume-me', flagWith(4))).ok);
      await resumed.waitFor((e) => e.id === String(from + 4));
      assert.equal(resumed.events.length, 4);
    } finally {
      resumed.close();
    }

    // The ring keeps 5 changes: resuming from before them gets the whole state instead.
    for (let i = 5; i <= 11; i++) assert.ok((await put('resume-me', flagWith(i))).ok);
    const tooOld = await SseReader.open(`${base}/v1/stream?key=${SDK}&lastEventId=${from}`);
    try {
      const full = await tooOld.waitFor(() => true);
      assert.equal(full.event, 'snapshot');
      assert.deepEqual(JSON.parse(full.data).flags['resume-me'], flagWith(11));
    } finally {
      tooOld.close();
    }

    // Already current: nothing until the next change.
    const current = await SseReader.open(`${base}/v1/stream?key=${SDK}`, { 'last-event-id': String(app.vexil.holder.appliedRevision) });
    try {
      await sleep(100);
      assert.equal(current.events.length, 0);
    } finally {
      current.close();
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

  test('closing the server ends open streams (graceful shutdown)', async () => {
    const other = await fixtureServer();
    const url = await listen(other);
    const stream = await SseReader.open(`${url}/v1/stream?key=${SDK}`);
    await stream.waitFor((e) => e.event === 'snapshot');
    const started = Date.now();
    await other.close();
    await stream.closed;
    assert.ok(stream.ended);
    assert.ok(Date.now() - started < 5000);
  });
});
