// Progressive delivery driven by the server's own events store (no stand-in source): units evaluate through OFREP,
// and send what an SDK sends to the collector (the exposure it got, and tracked events with error true/false and a
// latency), stamped on the controller's fake clock; the controller measures them in the events store (embedded
// PGlite) and decides. A healthy canary advances to promotion; a canary with a doubled error rate rolls back.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { openStore, SqlEventsStore, type EventsStore, type FlagStore } from '@vexil/store';
import type { FlagDefinition, RolloutStateDefinition } from '@vexil/core';
import { buildServer } from '../src/index.js';
import { ADMIN, REDIS_URL, SDK, eventually, json, listen, postJson, random, uniqueId } from './helpers.js';

const MINUTE = 60_000;
const INTERVAL = 10 * MINUTE;
const POPULATION = 1500;
const BASE_ERROR_RATE = 0.1;

const plan = (metric: string): FlagDefinition => ({
  variations: { on: true, off: false },
  defaultRule: { variation: 'off' },
  rollout: {
    variation: 'on',
    steps: [20, 50],
    interval: '10m',
    gates: [
      { metric, compare: 'control', maxIncrease: '10%' },
      { metric, quantile: 0.99, thresholdRange: { max: 800 } },
    ],
    minSampleSize: 150,
  },
});

const prefixes: string[] = [];
let app: FastifyInstance | undefined;
let events: EventsStore | undefined;
after(async () => {
  await app?.close();
  await events?.close();
  const admin = new Redis(REDIS_URL, { lazyConnect: true });
  for (const prefix of prefixes) {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
  }
  admin.disconnect();
});

describe('progressive delivery measured in the events store', () => {
  it('a healthy canary advances to promotion; a doubled error rate rolls back', async () => {
    const prefix = `${uniqueId('vexil-test-rollout-events')}:`;
    prefixes.push(prefix);
    const store: FlagStore = await openStore(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`);
    events = await SqlEventsStore.open(`pglite:memory:${uniqueId('rollout-events')}`, { pruneIntervalMs: 0 });
    // The fake clock starts six hours ago, on a minute: events stamped on it are in the past for the collector.
    let now = Math.floor((Date.now() - 6 * 60 * MINUTE) / MINUTE) * MINUTE;
    app = await buildServer({
      store,
      closeStore: true,
      events,
      adminKeys: [ADMIN],
      sdkKeys: [SDK],
      defaultMetrics: false,
      heartbeatMs: 0,
      rateLimit: false,
      rollout: { clock: () => now, leaseMs: 5000, tickMs: 100 },
    });
    const base = await listen(app);

    const errorRate: Record<string, (variation: string) => number> = {
      healthy: () => BASE_ERROR_RATE,
      doubled: (variation) => (variation === 'on' ? 2 * BASE_ERROR_RATE : BASE_ERROR_RATE),
    };
    for (const key of Object.keys(errorRate)) assert.equal((await postJson(base, '/admin/v1/flags', { key, flag: plan(`${key}-checkout`) }, json(ADMIN))).status, 201);
    const states = async (): Promise<Record<string, RolloutStateDefinition | undefined>> =>
      Object.fromEntries((await store.list()).flags.map((stored) => [stored.key, stored.flag.rolloutState]));
    await eventually(async () => Object.values(await states()).every((state) => state?.percent === 20), 30_000, 50);

    const rng = random(7);
    const history: Array<Record<string, string>> = [];
    for (let interval = 0; interval < 5; interval++) {
      const current = await states();
      const active = Object.keys(errorRate).filter((key) => current[key]?.status === 'running');
      if (active.length === 0) break;
      await eventually(async () => {
        const probe = await postJson(base, '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'probe' } }, json(SDK));
        return probe.status === 200 && (probe.body.flags as Array<{ key: string }>).length === Object.keys(errorRate).length;
      }, 10_000);
      // Each unit evaluates through OFREP, then reports (as an SDK does) the exposure and one tracked checkout.
      const collected: unknown[] = [];
      for (let unit = 0; unit < POPULATION; unit++) {
        const userKey = `unit-${unit}`;
        const response = await postJson(base, '/ofrep/v1/evaluate/flags', { context: { targetingKey: userKey } }, json(SDK));
        assert.equal(response.status, 200);
        for (const result of response.body.flags as Array<{ key: string; variant: string }>) {
          if (!active.includes(result.key)) continue;
          // Inside the interval, after its first minute (the store keeps minutes; the window starts on a whole one).
          const at = now + MINUTE + Math.floor(rng() * (INTERVAL - 2 * MINUTE));
          collected.push({ kind: 'feature', key: result.key, userKey, variation: result.variant, creationDate: at });
          collected.push({
            kind: 'tracking',
            key: `${result.key}-checkout`,
            userKey,
            creationDate: at + 1000,
            trackingEventDetails: { value: 200 + rng() * 300, error: rng() < errorRate[result.key]!(result.variant) },
          });
        }
      }
      for (let i = 0; i < collected.length; i += 500) {
        const answer = await postJson(base, '/v1/data/collector', { events: collected.slice(i, i + 500) }, json(SDK));
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
      }
      now += INTERVAL;
      const checkedAt = new Date(now).toISOString();
      await eventually(async () => {
        const later = await states();
        return active.every((key) => later[key]!.lastCheckAt === checkedAt || later[key]!.stepStartedAt === checkedAt);
      }, 60_000, 100);
      const later = await states();
      history.push(Object.fromEntries(Object.entries(later).map(([key, state]) => [key, `${state!.status} ${state!.percent}% ${state!.reason ?? ''}`])));
    }

    const final = await states();
    const trail = JSON.stringify(history, null, 1);
    assert.equal(final.healthy!.status, 'promoted', trail);
    assert.equal(final.doubled!.status, 'rolled-back', trail);
    assert.match(final.doubled!.reason!, /doubled-checkout/, 'the rollback names the failing metric');
    // The checks carry the events store's figures: units per arm and the p99 the quantile gate read.
    const rollout = await (await fetch(`${base}/admin/v1/flags/healthy/rollout`, { headers: json(ADMIN) })).json() as { state: { history?: unknown[] } };
    const recorded = JSON.stringify(rollout.state.history ?? []);
    assert.match(recorded, /p99/);
    // What the server serves follows: the doubled canary is off for everyone again, the healthy one on.
    assert.equal((await postJson(base, '/ofrep/v1/evaluate/flags/doubled', { context: { targetingKey: 'unit-1' } }, json(SDK))).body.value, false);
    assert.equal((await postJson(base, '/ofrep/v1/evaluate/flags/healthy', { context: { targetingKey: 'unit-1' } }, json(SDK))).body.value, true);
  });
});
