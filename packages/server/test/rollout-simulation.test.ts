// Progressive delivery proven by simulation through the real server: a population of units evaluates every flag
// through OFREP (bulk evaluation) after each step, then sends simulated tracked events (errors and latencies per
// variation) that a fake measurement source aggregates per flag × variation × window, as the events store will.
// A fake clock moves ten minutes per interval; the controller in the server decides and writes.
//
// Scenarios run side by side, one flag each, on one server: a healthy canary, a doubled error rate, a p99 over its
// threshold, too little traffic, and 100 A/A rollouts (two identical variations).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { openStore, type FlagStore } from '@vexil/store';
import type { FlagDefinition, RolloutStateDefinition } from '@vexil/core';
import type { ArmMeasurement, MeasurementRequest, MeasurementSource, Measurements } from '@vexil/analysis';
import { buildServer } from '../src/index.js';
import { ADMIN, REDIS_URL, SDK, eventually, json, listen, postJson, random, uniqueId } from './helpers.js';

const MINUTE = 60_000;
const INTERVAL = 10 * MINUTE;
const POPULATION = 2000;
const BASE_ERROR_RATE = 0.05;

interface SimEvent {
  at: number;
  unit: number;
  variation: string;
  error: boolean;
  latencyMs: number;
}

/** The stand-in for the events store: simulated events per flag, aggregated per variation over a window. */
class SimulatedEvents implements MeasurementSource {
  readonly name = 'simulation';
  readonly events = new Map<string, SimEvent[]>();

  record(flag: string, event: SimEvent): void {
    let list = this.events.get(flag);
    if (!list) this.events.set(flag, (list = []));
    list.push(event);
  }

  async measure(request: MeasurementRequest): Promise<Partial<Measurements>> {
    const events = (this.events.get(request.flagKey) ?? []).filter((event) => event.at >= request.from && event.at < request.to);
    const arm = (variation: string): ArmMeasurement => {
      const mine = events.filter((event) => event.variation === variation);
      const units = new Set(mine.map((event) => event.unit)).size;
      const perUnit = new Map<number, number>();
      for (const event of mine) if (event.error) perUnit.set(event.unit, (perUnit.get(event.unit) ?? 0) + 1);
      const errors = [...perUnit.values()].reduce((a, b) => a + b, 0);
      const errorsSumSquares = [...perUnit.values()].reduce((a, b) => a + b * b, 0);
      const latencies = mine.map((event) => event.latencyMs).sort((a, b) => a - b);
      const metrics: ArmMeasurement['metrics'] = {};
      for (const { metric, quantiles } of request.metrics) {
        metrics[metric] = {
          events: mine.length,
          errors,
          errorsSumSquares,
          ...(latencies.length ? { quantiles: Object.fromEntries(quantiles.map((q) => [String(q), latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!])) } : {}),
        };
      }
      return { variation, units, metrics };
    };
    return { rollout: arm(request.rolloutVariation), control: arm(request.controlVariation), queries: {} };
  }
}

interface Scenario {
  /** Error rate per unit per interval, and latency, by variation, for interval `i` (0-based) of the simulation. */
  errorRate(variation: string, interval: number): number;
  latencyMs(variation: string, rng: () => number): number;
  /** How many of the population use this flag. */
  units: number;
}

const normalLatency = (_variation: string, rng: () => number) => 200 + rng() * 300;

function plan(extraGates: NonNullable<FlagDefinition['rollout']>['gates'] = []): FlagDefinition {
  return {
    variations: { on: true, off: false },
    defaultRule: { variation: 'off' },
    rollout: {
      variation: 'on',
      steps: [10, 25, 50],
      interval: '10m',
      gates: [{ metric: 'checkout-error', compare: 'control', maxIncrease: '10%' }, ...extraGates],
      minSampleSize: 150,
    },
  };
}

const prefixes: string[] = [];
let app: FastifyInstance | undefined;
after(async () => {
  await app?.close();
  const admin = new Redis(REDIS_URL, { lazyConnect: true });
  for (const prefix of prefixes) {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
  }
  admin.disconnect();
});

describe('progressive delivery simulation through the real server', () => {
  it('healthy promotes, doubled errors and slow p99 roll back, thin traffic holds, A/A does not roll back', async () => {
    const prefix = `${uniqueId('vexil-test-rollout-sim')}:`;
    prefixes.push(prefix);
    const store: FlagStore = await openStore(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`);
    let now = Date.parse('2026-03-01T00:00:00Z');
    const source = new SimulatedEvents();
    app = await buildServer({ store, closeStore: true, adminKeys: [ADMIN], sdkKeys: [SDK], defaultMetrics: false, heartbeatMs: 0, rateLimit: false, rollout: { source, clock: () => now, leaseMs: 5000, tickMs: 100 } });
    const base = await listen(app);

    const REGRESSION_AT = 1; // the doubled error rate starts with the second interval
    const scenarios: Record<string, Scenario> = {
      healthy: { units: POPULATION, errorRate: () => BASE_ERROR_RATE, latencyMs: normalLatency },
      doubled: { units: POPULATION, errorRate: (v, i) => (v === 'on' && i >= REGRESSION_AT ? 2 * BASE_ERROR_RATE : BASE_ERROR_RATE), latencyMs: normalLatency },
      slow: { units: POPULATION, errorRate: () => BASE_ERROR_RATE, latencyMs: (v, rng) => (v === 'on' ? 850 + rng() * 200 : 200 + rng() * 300) },
      thin: { units: 100, errorRate: (v) => (v === 'on' ? 0.5 : BASE_ERROR_RATE), latencyMs: normalLatency },
    };
    for (let i = 0; i < 100; i++) scenarios[`aa-${i}`] = { units: POPULATION, errorRate: () => BASE_ERROR_RATE, latencyMs: normalLatency };
    for (const key of Object.keys(scenarios)) {
      const flag = key === 'slow' ? plan([{ metric: 'checkout-error', quantile: 0.99, thresholdRange: { max: 800 } }]) : plan();
      assert.equal((await postJson(base, '/admin/v1/flags', { key, flag }, json(ADMIN))).status, 201);
    }
    const states = async (): Promise<Record<string, RolloutStateDefinition | undefined>> =>
      Object.fromEntries((await store.list()).flags.map((stored) => [stored.key, stored.flag.rolloutState]));
    await eventually(async () => Object.values(await states()).every((state) => state?.percent === 10), 30_000, 50);

    const rng = random(42);
    const history: Array<Record<string, string>> = [];
    for (let interval = 0; interval < 6; interval++) {
      // Every unit evaluates every flag through OFREP once the server serves the current steps.
      const current = await states();
      const active = Object.keys(scenarios).filter((key) => current[key]?.status === 'running');
      if (active.length === 0) break;
      await eventually(async () => {
        const probe = await postJson(base, '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'probe' } }, json(SDK));
        return probe.status === 200;
      }, 10_000);
      const served = new Map<string, string[]>();
      for (let unit = 0; unit < POPULATION; unit++) {
        const response = await postJson(base, '/ofrep/v1/evaluate/flags', { context: { targetingKey: `unit-${unit}` } }, json(SDK));
        for (const result of response.body.flags as Array<{ key: string; variant: string }>) {
          let list = served.get(result.key);
          if (!list) served.set(result.key, (list = []));
          list[unit] = result.variant;
        }
      }
      // Ten minutes of traffic: each unit of each active flag sends one tracked event.
      for (const key of active) {
        const scenario = scenarios[key]!;
        for (let unit = 0; unit < scenario.units; unit++) {
          const variation = served.get(key)![unit]!;
          source.record(key, { at: now + Math.floor(rng() * INTERVAL), unit, variation, error: rng() < scenario.errorRate(variation, interval), latencyMs: scenario.latencyMs(variation, rng) });
        }
      }
      now += INTERVAL;
      // The controller checks every active flag once the interval is over.
      const checkedAt = new Date(now).toISOString();
      await eventually(async () => {
        const after = await states();
        return active.every((key) => after[key]!.lastCheckAt === checkedAt || after[key]!.stepStartedAt === checkedAt);
      }, 60_000, 100);
      const after = await states();
      history.push(Object.fromEntries(Object.entries(after).map(([key, state]) => [key, `${state!.status} ${state!.percent}%`])));
    }

    const final = await states();
    const aa = Object.keys(scenarios).filter((key) => key.startsWith('aa-'));
    const aaRolledBack = aa.filter((key) => final[key]!.status === 'rolled-back');
    const aaPaused = aa.filter((key) => final[key]!.status === 'paused');
    const aaPromoted = aa.filter((key) => final[key]!.status === 'promoted');
    console.log(`simulation: A/A ${aaRolledBack.length} false rollbacks, ${aaPaused.length} pauses, ${aaPromoted.length} promoted of 100; ` + `per interval: ${JSON.stringify(history.map((h) => ({ healthy: h.healthy, doubled: h.doubled, slow: h.slow, thin: h.thin })))}`);

    assert.equal(final.healthy!.status, 'promoted', JSON.stringify(history.map((h) => h.healthy)));
    assert.equal(final.doubled!.status, 'rolled-back');
    const rolledBackAt = history.findIndex((h) => h.doubled!.startsWith('rolled-back'));
    assert.ok(rolledBackAt - REGRESSION_AT + 1 <= 2, `the doubled error rate was rolled back ${rolledBackAt - REGRESSION_AT + 1} intervals after it started`);
    assert.equal(final.slow!.status, 'rolled-back');
    assert.match(final.slow!.reason!, /checkout-error p99: failed \(value (8[5-9]\d|9\d\d|10\d\d)/);
    assert.deepEqual([final.thin!.status, final.thin!.percent, final.thin!.failed], ['running', 10, 0], 'too little traffic holds the first step');
    assert.ok(aaRolledBack.length <= 5, `${aaRolledBack.length} A/A rollouts rolled back`);
    assert.equal(aaPaused.length, 0);
    // What the server serves follows the store: the doubled canary is off for everyone again.
    const check = await postJson(base, '/ofrep/v1/evaluate/flags/doubled', { context: { targetingKey: 'unit-1' } }, json(SDK));
    assert.equal(check.body.value, false);
  });
});
