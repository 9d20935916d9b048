// Durable events in `vexil serve`: what the collector takes reaches the events store (per-event refusal, batch ids
// counted once), evaluations the server answers are exposures, the buffer holds events while the store is down and
// drains when it returns, and three servers on one PostgreSQL add up exactly.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { SqlEventsStore, type EventBatch, type EventsStore } from '@vexil/store';
import { buildServer } from '@vexil/server';
import { ADMIN, POSTGRES_URL, SDK, eventually, fixtureServer, fixtureStore, json, uniqueId } from './helpers.js';

const MINUTE = 60_000;
const seconds = (ms: number) => Math.floor(ms / 1000);

async function memoryEvents(): Promise<SqlEventsStore> {
  return SqlEventsStore.open(`pglite:memory:${uniqueId('events')}`, { pruneIntervalMs: 0 });
}

/** An events store that fails like a database that went away while `down` is true. */
class FlakyEvents implements EventsStore {
  down = false;
  readonly kind = 'postgres' as const;
  readonly schema = 'flaky';
  constructor(private readonly inner: EventsStore) {}
  #check(): void {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  }
  async write(batches: EventBatch[]) {
    this.#check();
    return this.inner.write(batches);
  }
  flagSummary: EventsStore['flagSummary'] = async (...args) => (this.#check(), this.inner.flagSummary(...args));
  metricSummary: EventsStore['metricSummary'] = async (...args) => (this.#check(), this.inner.metricSummary(...args));
  firstExposures: EventsStore['firstExposures'] = async (...args) => (this.#check(), this.inner.firstExposures(...args));
  unitMetricTotals: EventsStore['unitMetricTotals'] = async (...args) => (this.#check(), this.inner.unitMetricTotals(...args));
  experimentStatistics: EventsStore['experimentStatistics'] = async (...args) => (this.#check(), this.inner.experimentStatistics(...args));
  prune: EventsStore['prune'] = async (now) => (this.#check(), this.inner.prune(now));
  ping = async () => !this.down;
  isUnavailable = (error: unknown) => (error as { code?: string }).code === 'ECONNREFUSED';
  close = () => this.inner.close();
}

const feature = (key: string, variation: string, userKey: string, extra: Record<string, unknown> = {}) => ({
  kind: 'feature',
  key,
  variation,
  userKey,
  contextKind: 'user',
  creationDate: seconds(Date.now()),
  value: true,
  default: false,
  ...extra,
});
const tracking = (key: string, userKey: string, details: Record<string, unknown>) => ({
  kind: 'tracking',
  key,
  userKey,
  contextKind: 'user',
  creationDate: seconds(Date.now()),
  evaluationContext: { targetingKey: userKey },
  trackingEventDetails: details,
});

describe('durable events in vexil serve', () => {
  it('keeps the valid events of a batch, refuses each bad one with a reason, and counts the refusals in /metrics', async () => {
    const events = await memoryEvents();
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const now = Date.now();
      const response = await app.inject({
        method: 'POST',
        url: '/v1/data/collector',
        headers: json(),
        payload: {
          batchId: 'b-1',
          events: [
            feature('new-checkout', 'v2', 'alice'),
            'not an event',
            feature('new-checkout', 'v1', 'bob', { count: 0 }),
            tracking('request', 'alice', { value: 120, error: true }),
            tracking('request', 'alice', { value: 'slow' }),
            tracking('request', 'alice', { value: 1, error: 'yes' }),
            feature('new-checkout', 'v2', 'carol', { creationDate: seconds(now + 48 * 3_600_000) }),
            feature('new-checkout', 'v2', 'dave', { creationDate: seconds(now - 30 * 86_400_000) }),
            feature('new-checkout', 'v1', 'erin', { metadata: { blob: 'x'.repeat(10_000) } }),
            feature('', 'v1', 'frank'),
            feature('new-checkout', 'v1', 'grace', { creationDate: seconds(now + 60_000) }),
          ],
        },
      });
      assert.equal(response.statusCode, 200);
      const body = response.json();
      assert.equal(body.ingestedContentCount, 11);
      assert.equal(body.accepted, 3);
      assert.deepEqual(body.refused, [
        { index: 1, reason: 'not_an_object' },
        { index: 2, reason: 'invalid_count' },
        { index: 4, reason: 'invalid_value' },
        { index: 5, reason: 'invalid_error' },
        { index: 6, reason: 'timestamp_in_future' },
        { index: 7, reason: 'timestamp_too_old' },
        { index: 8, reason: 'too_large' },
        { index: 9, reason: 'invalid_key' },
      ]);
      const summary = await eventually(async () => {
        const s = await events.flagSummary('new-checkout', { since: now - 5 * MINUTE });
        return s.variations.reduce((sum, v) => sum + v.evaluations, 0) === 2 ? s : undefined;
      }, 15_000);
      // alice's v2, and grace's v1 (a minute ahead: clamped to now).
      assert.deepEqual(
        summary.variations.map((v) => [v.variation, v.evaluations, v.units]),
        [
          ['v1', 1, 1],
          ['v2', 1, 1],
        ],
      );
      const metric = await events.metricSummary({ metric: 'request', since: now - 5 * MINUTE });
      assert.equal(metric.rows[0]!.count, 1);
      assert.equal(metric.rows[0]!.errors, 1);
      const scrape = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(scrape, /vexil_events_refused_total\{reason="invalid_value"\} 1/);
      assert.match(scrape, /vexil_events_refused_total\{reason="timestamp_in_future"\} 1/);
    } finally {
      await app.close();
      await events.close();
    }
  });

  it('counts a batch sent twice with the same batchId once', async () => {
    const events = await memoryEvents();
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const since = Date.now() - MINUTE;
      const payload = { batchId: 'retry-me', events: [feature('f', 'a', 'u1', { count: 3 }), feature('f', 'b', 'u2')] };
      for (let i = 0; i < 3; i++) assert.equal((await app.inject({ method: 'POST', url: '/v1/data/collector', headers: json(), payload })).statusCode, 200);
      await app.inject({ method: 'POST', url: '/v1/data/collector', headers: json(), payload: { events: [feature('f', 'a', 'u3')] } });
      await eventually(async () => (await app.inject({ method: 'GET', url: '/admin/v1/health', headers: { 'x-api-key': ADMIN } })).json().events.buffered === 0, 15_000);
      const summary = await events.flagSummary('f', { since });
      assert.deepEqual(summary.variations.map((v) => [v.variation, v.evaluations]), [['a', 4], ['b', 1]]);
    } finally {
      await app.close();
      await events.close();
    }
  });

  it('records the evaluations it answers (OFREP, relay) of flags with trackEvents as exposures, and no others', async () => {
    const events = await memoryEvents();
    const store = await fixtureStore();
    await store.put('quiet', { variations: { on: true, off: false }, defaultRule: { variation: 'on' }, trackEvents: false }, { actor: 'test' });
    const app = await fixtureServer({ store, events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const since = Date.now() - MINUTE;
      const headers = json();
      await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/bool-flag', headers, payload: { context: { targetingKey: 'u1' } } });
      await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/bool-flag', headers, payload: { context: { targetingKey: 'u1', email: 'a@example.com' } } });
      await app.inject({ method: 'POST', url: '/v1/feature/bool-flag/eval', headers, payload: { evaluationContext: { key: 'u2' } } });
      await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/quiet', headers, payload: { context: { targetingKey: 'u1' } } });
      await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/no-such-flag', headers, payload: { context: { targetingKey: 'u1' } } });
      const summary = await eventually(async () => {
        const s = await events.flagSummary('bool-flag', { since });
        return s.variations.reduce((sum, v) => sum + v.evaluations, 0) === 3 ? s : undefined;
      }, 15_000);
      assert.deepEqual(summary.variations.map((v) => [v.variation, v.evaluations, v.units]), [['off', 2, 2], ['on', 1, 1]]);
      const units = await events.firstExposures({ flag: 'bool-flag' });
      assert.deepEqual(units.map((u) => [u.unit, u.firstVariation, u.variations]), [['u1', 'off', ['off', 'on']], ['u2', 'off', ['off']]]);
      assert.equal((await events.flagSummary('quiet', { since })).variations.length, 0);
      assert.equal((await events.flagSummary('no-such-flag', { since })).variations.length, 0);
    } finally {
      await app.close();
      await events.close();
    }
  });

  it('buffers while the events store is down (flags still served, health degraded), drains when it returns, counts what it drops', async () => {
    const flaky = new FlakyEvents(await memoryEvents());
    const app = await fixtureServer({
      events: flaky,
      eventsOptions: { flushIntervalMs: 30, retryDelayMs: 20, maxBufferedEvents: 30 },
    });
    try {
      const since = Date.now() - MINUTE;
      flaky.down = true;
      for (let i = 0; i < 5; i++) {
        const payload = { batchId: `down-${i}`, events: Array.from({ length: 5 }, (_, j) => feature('canary', 'v2', `u${i}-${j}`)) };
        assert.equal((await app.inject({ method: 'POST', url: '/v1/data/collector', headers: json(), payload })).statusCode, 200);
      }
      const degraded = await eventually(async () => {
        const health = (await app.inject({ method: 'GET', url: '/admin/v1/health', headers: { 'x-api-key': ADMIN } })).json();
        return health.events.status === 'degraded' ? health : undefined;
      }, 15_000);
      assert.equal(degraded.status, 'ok', 'the flags are fine');
      assert.equal(degraded.events.buffered, 25);
      // Flags keep being served.
      const evaluation = await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/bool-flag', headers: json(), payload: { context: { targetingKey: 'x' } } });
      assert.equal(evaluation.statusCode, 200);
      // The buffer is full (30 events): this batch is refused with 503 and counted as dropped.
      const full = await app.inject({
        method: 'POST',
        url: '/v1/data/collector',
        headers: json(),
        payload: { batchId: 'too-many', events: Array.from({ length: 10 }, (_, j) => feature('canary', 'v1', `w${j}`)) },
      });
      assert.equal(full.statusCode, 503);
      assert.equal(full.headers['retry-after'], '5');
      assert.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /vexil_events_dropped_total\{reason="buffer_full"\} 10/);

      flaky.down = false;
      const healthy = await eventually(async () => {
        const health = (await app.inject({ method: 'GET', url: '/admin/v1/health', headers: { 'x-api-key': ADMIN } })).json();
        return health.events.status === 'ok' && health.events.buffered === 0 ? health : undefined;
      }, 15_000);
      assert.equal(healthy.events.dropped, 10);
      const summary = await flaky.flagSummary('canary', { since });
      assert.deepEqual(summary.variations.map((v) => [v.variation, v.evaluations, v.units]), [['v2', 25, 25]]);
      // The evaluation answered while the store was down was kept too.
      assert.equal((await flaky.flagSummary('bool-flag', { since })).variations[0]?.evaluations, 1);
    } finally {
      await app.close();
      await flaky.close();
    }
  });

  it('answers the admin queries: flag series, metric per variation, first exposures', async () => {
    const events = await memoryEvents();
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const batch = [
        ...Array.from({ length: 20 }, (_, i) => feature('new-checkout', i % 2 ? 'v2' : 'v1', `u${i}`)),
      ];
      await app.inject({ method: 'POST', url: '/v1/data/collector', headers: json(), payload: { batchId: 'exp', events: batch } });
      await eventually(async () => (await events.firstExposures({ flag: 'new-checkout' })).length === 20, 15_000);
      const tracks = Array.from({ length: 20 }, (_, i) => tracking('checkout-error', `u${i}`, { value: 10 * (i + 1), error: i % 2 === 1 && i < 10 }));
      await app.inject({ method: 'POST', url: '/v1/data/collector', headers: json(), payload: { batchId: 'tracks', events: tracks } });
      const admin = { 'x-api-key': ADMIN };
      const metric = await eventually(async () => {
        const response = await app.inject({ method: 'GET', url: '/admin/v1/metrics/checkout-error?flag=new-checkout&since=15m&by=variation', headers: admin });
        const body = response.json();
        return response.statusCode === 200 && body.rows.reduce((sum: number, r: { count: number }) => sum + r.count, 0) === 20 ? body : undefined;
      }, 15_000);
      const v2 = metric.rows.find((r: { variation: string }) => r.variation === 'v2');
      assert.equal(v2.count, 10);
      assert.equal(v2.errors, 5);
      assert.equal(v2.errorRate, 0.5);
      assert.equal(v2.exposedUnits, 10);
      const flag = await app.inject({ method: 'GET', url: '/admin/v1/flags/new-checkout/events?since=1h', headers: admin });
      assert.equal(flag.statusCode, 200);
      assert.deepEqual(flag.json().variations.map((v: { variation: string; units: number }) => [v.variation, v.units]), [['v1', 10], ['v2', 10]]);
      const exposures = await app.inject({ method: 'GET', url: '/admin/v1/flags/new-checkout/exposures?limit=5', headers: admin });
      assert.equal(exposures.json().units.length, 5);
      assert.equal(exposures.json().next, exposures.json().units[4].unit);
      const bad = await app.inject({ method: 'GET', url: '/admin/v1/flags/new-checkout/events?since=yesterday', headers: admin });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().message, /since: "yesterday"/);
      const sdk = await app.inject({ method: 'GET', url: '/admin/v1/flags/new-checkout/events', headers: { 'x-api-key': SDK } });
      assert.ok(sdk.statusCode === 401 || sdk.statusCode === 403);
    } finally {
      await app.close();
      await events.close();
    }
  });
});

describe('three servers on one PostgreSQL events store', () => {
  const schema = uniqueId('vexil_events_srv');
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
  after(async () => {
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end({ timeout: 2 });
  });

  it('totals equal the events sent, exactly, with 10 % of batches retried on another server', async () => {
    const eventsUrl = `${POSTGRES_URL}?schema=${schema}`;
    const servers = await Promise.all(
      [0, 1, 2].map(async () =>
        buildServer({
          store: await fixtureStore(),
          closeStore: true,
          sdkKeys: [SDK],
          adminKeys: [ADMIN],
          defaultMetrics: false,
          heartbeatMs: 0,
          eventsUrl,
          eventsOptions: { flushIntervalMs: 50, maxConnections: 3, pruneIntervalMs: 0 },
        }),
      ),
    );
    let sent = 0;
    let sentTracks = 0;
    try {
      const since = Date.now() - MINUTE;
      const posts: Promise<unknown>[] = [];
      for (let i = 0; i < 120; i++) {
        const payload = {
          batchId: `srv-${i}`,
          events: [
            ...Array.from({ length: 10 }, (_, j) => feature('new-checkout', (i + j) % 4 === 0 ? 'v2' : 'v1', `user-${(i * 3 + j) % 200}`, { count: 1 + (j % 2) })),
            tracking('request', `user-${i % 200}`, { value: i, error: i % 7 === 0 }),
          ],
        };
        sent += payload.events.slice(0, 10).reduce((sum, e) => sum + ((e as { count?: number }).count ?? 1), 0);
        sentTracks++;
        const send = (server: number) => servers[server]!.inject({ method: 'POST', url: '/v1/data/collector', headers: json(), payload });
        posts.push(send(i % 3));
        if (i % 10 === 0) posts.push(send((i + 1) % 3));
      }
      await Promise.all(posts);
      const reader = servers[0]!;
      await eventually(async () => {
        const response = await reader.inject({ method: 'GET', url: `/admin/v1/flags/new-checkout/events?since=${new Date(since).toISOString()}`, headers: { 'x-api-key': ADMIN } });
        const total = response.json().variations?.reduce((sum: number, v: { evaluations: number }) => sum + v.evaluations, 0);
        return total === sent;
      }, 20_000);
      // Nothing more arrives later (no double count from the retries).
      for (const server of servers) await server.vexil.events!.flush();
      const response = await reader.inject({ method: 'GET', url: `/admin/v1/flags/new-checkout/events?since=${new Date(since).toISOString()}`, headers: { 'x-api-key': ADMIN } });
      assert.equal(response.json().variations.reduce((sum: number, v: { evaluations: number }) => sum + v.evaluations, 0), sent);
      const metric = await reader.inject({ method: 'GET', url: `/admin/v1/metrics/request?since=${new Date(since).toISOString()}`, headers: { 'x-api-key': ADMIN } });
      assert.equal(metric.json().rows[0].count, sentTracks);
    } finally {
      await Promise.all(servers.map((server) => server.close()));
    }
  });
});

describe('vexil serve --events', () => {
  it('defaults to the flag store\'s database when it is SQL, a SQLite file in .vexil otherwise; off disables', async () => {
    const { resolveServeConfig, ConfigError } = await import('@vexil/server');
    // An embedded store keeps events in its own database.
    assert.equal((await resolveServeConfig({ store: 'pglite:./data' }, {})).events, 'pglite:./data');
    assert.equal((await resolveServeConfig({ store: 'sqlite:./flags.db' }, {})).events, 'sqlite:./flags.db');
    assert.equal((await resolveServeConfig({ store: 'postgres://db/x?schema=flags' }, {})).events, 'postgres://db/x?schema=flags_events');
    assert.equal((await resolveServeConfig({ store: 'postgres://db/x' }, {})).events, 'postgres://db/x');
    const cwd = process.cwd();
    process.chdir(await mkdtemp(join(tmpdir(), 'vexil-events-default-')));
    try {
      assert.equal((await resolveServeConfig({ store: 'redis://localhost:6379' }, {})).events, 'sqlite:./.vexil/events.db');
      assert.equal((await resolveServeConfig({ flags: ['flags.yaml'] }, {})).events, 'sqlite:./.vexil/events.db');
    } finally {
      process.chdir(cwd);
    }
    assert.equal((await resolveServeConfig({ events: 'sqlite:./e.db' }, {})).events, 'sqlite:./e.db');
    assert.equal((await resolveServeConfig({ events: 'off' }, {})).events, 'off');
    assert.equal((await resolveServeConfig({}, { VEXIL_EVENTS: 'postgres://db/e?schema=ev' })).events, 'postgres://db/e?schema=ev');
    await assert.rejects(resolveServeConfig({ events: 'redis://x' }, {}), (error: unknown) => error instanceof ConfigError && /--events must be/.test(error.message));
  });
});
