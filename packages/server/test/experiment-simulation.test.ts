// Experiments proven by simulation through the real server. Simulated units are assigned as an in-process SDK does it
// (the flags the server serves, from `/v1/flag/configuration`, evaluated by the same engine) and their exposures and
// conversions, with known true rates, go through the server's collector (`/v1/data/collector`) into its events store;
// the results come from `GET /admin/v1/flags/{key}/experiment`: the events store's SQL and the statistics engine
// together. (Exposures recorded from OFREP answers are covered by experiment-results.test.ts.)
// - A/A over 200 flags (200 seeds: each flag key buckets units differently, each has its own conversion event): the
//   fixed-horizon test rejects at about α = 5 %.
// - A/A with the sequential test over 100 flags, looked at after each of 5 batches of units: at most α of them ever
//   reject (peeking is safe).
// - A true +5 % relative uplift on a binomial metric with about 20,000 units per arm is detected.
// (The 52/48 sample-ratio mismatch is in experiment-results.test.ts.)
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { SqlEventsStore } from '@vexil/store';
import { compileFlagSet, evaluate, type Snapshot } from '@vexil/core';
import { ADMIN, POSTGRES_URL, SDK, eventually, fixtureServer, json, listen, random, uniqueId } from './helpers.js';

const FIXED = 200;
const SEQUENTIAL = 100;
const UNITS = 400;
const BATCHES = 5;
const seconds = (ms: number) => Math.floor(ms / 1000);

async function call(base: string, method: string, path: string, body?: unknown, key = ADMIN): Promise<any> {
  const response = await fetch(`${base}${path}`, { method, headers: json(key), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

function aaFlag(event: string, sequential: boolean) {
  return {
    variations: { control: 'a', treatment: 'b' },
    defaultRule: { percentage: { control: 50, treatment: 50 } },
    experiment: { engine: 'frequentist', ...(sequential ? { sequential: true } : {}), minUnits: 10, metrics: [{ event, type: 'binomial' }] },
  };
}

/** Whether the treatment's interval excludes 0 (the test rejects "no difference"). */
function rejects(results: any): boolean {
  const uplift = results.metrics[0].variations[1].uplift;
  return uplift.ci[0] > 0 || uplift.ci[1] < 0;
}

/** Sends tracking events in batches the collector takes. */
async function sendEvents(base: string, events: unknown[]): Promise<void> {
  for (let i = 0; i < events.length; i += 2000) await call(base, 'POST', '/v1/data/collector', { events: events.slice(i, i + 2000) }, SDK);
}

/** The flags the server serves, compiled as an in-process SDK holds them. */
async function servedFlags(base: string): Promise<Snapshot> {
  const configuration = await call(base, 'POST', '/v1/flag/configuration', {}, SDK);
  return compileFlagSet(configuration.flags);
}

const exposure = (flag: string, variation: string, unit: string) => ({ kind: 'feature', key: flag, variation, userKey: unit, contextKind: 'user', creationDate: seconds(Date.now()), value: variation, default: false });

const track = (event: string, unit: string) => ({ kind: 'tracking', key: event, userKey: unit, contextKind: 'user', creationDate: seconds(Date.now()), evaluationContext: { targetingKey: unit }, trackingEventDetails: {} });

/** Waits until every flag's results count `units` units and `conversions[flag]` conversions. */
async function resultsOf(base: string, flags: string[], units: number, conversions: Map<string, number>): Promise<Map<string, any>> {
  const out = new Map<string, any>();
  for (const flag of flags) {
    out.set(
      flag,
      await eventually(async () => {
        const body = await call(base, 'GET', `/admin/v1/flags/${flag}/experiment`);
        const seen = body.exposures.reduce((n: number, e: { units: number }) => n + e.units, 0);
        const converted = body.metrics[0].variations.reduce((n: number, v: { conversions: number }) => n + v.conversions, 0);
        return seen === units && converted === conversions.get(flag) ? body : undefined;
      }, 60_000, 50),
    );
  }
  return out;
}

// The events store on the PostgreSQL server (as servers sharing one store use it), a schema of its own per test.
const schemas: string[] = [];
async function eventsStore(): Promise<SqlEventsStore> {
  const schema = uniqueId('vexil_simulation').replace(/[^a-z0-9_]/g, '_');
  schemas.push(schema);
  return SqlEventsStore.open(`${POSTGRES_URL}?schema=${schema}`, { pruneIntervalMs: 0 });
}
after(async () => {
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
  for (const schema of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end({ timeout: 2 });
});

describe('experiments proven by simulation through the real server', () => {
  it('A/A: the fixed-horizon test rejects at about α over 200 seeds; the sequential test, looked at after every batch, stays at or below α', async () => {
    const events = await eventsStore();
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const base = await listen(app);
      const fixed = Array.from({ length: FIXED }, (_, i) => `aa-fixed-${i}`);
      const sequential = Array.from({ length: SEQUENTIAL }, (_, i) => `aa-sequential-${i}`);
      for (const flag of fixed) await call(base, 'PUT', `/admin/v1/flags/${flag}`, aaFlag(`convert-${flag}`, false));
      for (const flag of sequential) await call(base, 'PUT', `/admin/v1/flags/${flag}`, aaFlag(`convert-${flag}`, true));
      const all = [...fixed, ...sequential];

      const snapshot = await servedFlags(base);
      const rng = random(20261204);
      const conversions = new Map(all.map((flag) => [flag, 0]));
      const everRejected = new Set<string>();
      const perBatch = UNITS / BATCHES;
      for (let batch = 0; batch < BATCHES; batch++) {
        const events: unknown[] = [];
        for (let u = batch * perBatch; u < (batch + 1) * perBatch; u++) {
          for (const flag of all) {
            // Each experiment its own population (a unit in all 300 would make every conversion count for 300 flags).
            const unit = `${flag}:unit-${u}`;
            events.push(exposure(flag, evaluate(snapshot, flag, { targetingKey: unit }).variant!, unit));
            // The same true conversion rate (20 %) on both variations: any difference is noise.
            if (rng() < 0.2) {
              events.push(track(`convert-${flag}`, unit));
              conversions.set(flag, conversions.get(flag)! + 1);
            }
          }
        }
        await sendEvents(base, events);
        // A look at every sequential experiment after each batch.
        const looked = await resultsOf(base, sequential, (batch + 1) * perBatch, conversions);
        for (const [flag, results] of looked) if (rejects(results)) everRejected.add(flag);
      }
      const final = await resultsOf(base, fixed, UNITS, conversions);
      const fixedRejections = [...final.values()].filter(rejects).length;
      const peekingFixed = [...final.values()].filter((results) => results.warnings.some((w: { code: string }) => w.code === 'peeking')).length;
      console.log(`# A/A through the server: fixed horizon rejected ${fixedRejections} of ${FIXED} (α = 5 %, expected 10); sequential, ${BATCHES} looks each: ${everRejected.size} of ${SEQUENTIAL} ever rejected`);
      // 200 trials at 5 %: mean 10, standard deviation 3.1; 2..20 is beyond ±2.5 sd.
      assert.ok(fixedRejections >= 2 && fixedRejections <= 20, `fixed horizon: ${fixedRejections} rejections of ${FIXED}`);
      // Always-valid intervals: the chance of ever rejecting stays at or below α (5 of 100), with binomial noise.
      assert.ok(everRejected.size <= 10, `sequential with peeking: ${everRejected.size} of ${SEQUENTIAL} ever rejected`);
      assert.equal(peekingFixed, FIXED, 'a fixed-horizon test still running warns about peeking');
    } finally {
      await app.close();
      await events.close();
    }
  });

  it('a true +5 % relative uplift on a binomial metric with about 20,000 units per arm is detected', async () => {
    const events = await eventsStore();
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const base = await listen(app);
      await call(base, 'PUT', '/admin/v1/flags/uplift', {
        variations: { control: 'a', treatment: 'b' },
        defaultRule: { percentage: { control: 50, treatment: 50 } },
        experiment: { engine: 'frequentist', metrics: [{ event: 'purchase', type: 'binomial', goal: true }] },
      });
      const snapshot = await servedFlags(base);
      const rate: Record<string, number> = { control: 0.3, treatment: 0.315 };
      const rng = random(7);
      const units = 40_000;
      const events: unknown[] = [];
      let purchases = 0;
      for (let u = 0; u < units; u++) {
        const unit = `buyer-${u}`;
        const variant = evaluate(snapshot, 'uplift', { targetingKey: unit }).variant!;
        events.push(exposure('uplift', variant, unit));
        if (rng() < rate[variant]!) {
          events.push(track('purchase', unit));
          purchases++;
        }
      }
      await sendEvents(base, events);
      const results = (await resultsOf(base, ['uplift'], units, new Map([['uplift', purchases]]))).get('uplift');
      const [control, treatment] = results.metrics[0].variations;
      console.log(
        `# +5 % true uplift: ${control.units} / ${treatment.units} units, conversion ${(control.mean * 100).toFixed(2)} % → ${(treatment.mean * 100).toFixed(2)} %, ` +
          `uplift ${(treatment.uplift.expected * 100).toFixed(1)} % [${treatment.uplift.ci.map((x: number) => (x * 100).toFixed(1)).join(', ')}], p = ${treatment.uplift.pValue.toExponential(2)}`,
      );
      assert.ok(control.units > 19_000 && treatment.units > 19_000, 'about 20,000 units per arm');
      assert.equal(treatment.uplift.significant, 'better');
      assert.ok(treatment.uplift.ci[0] > 0 && treatment.uplift.ci[0] < 0.05 && treatment.uplift.ci[1] > 0.05, `the interval ${treatment.uplift.ci} covers +5 % and excludes 0`);
      assert.equal(results.srm.mismatch, false, 'a 50/50 split is no sample-ratio mismatch');
    } finally {
      await app.close();
      await events.close();
    }
  });

  it('CUPED: what units spent before their first exposure narrows the interval of the same true effect', async () => {
    const events = await eventsStore();
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const base = await listen(app);
      const flag = (cuped: boolean) => ({
        variations: { control: 'a', treatment: 'b' },
        defaultRule: { percentage: { control: 50, treatment: 50 } },
        experiment: { engine: 'frequentist', ...(cuped ? { cuped: true } : {}), metrics: [{ event: 'spend', type: 'mean', name: 'spend' }] },
      });
      await call(base, 'PUT', '/admin/v1/flags/cuped', flag(true));
      const snapshot = await servedFlags(base);
      const rng = random(11);
      const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
      const units = 2_000;
      const before = Date.now() - 3 * 86_400_000;
      const sent: unknown[] = [];
      let spentAfter = 0;
      for (let u = 0; u < units; u++) {
        const unit = `shopper-${u}`;
        const variant = evaluate(snapshot, 'cuped', { targetingKey: unit }).variant!;
        // Each shopper's habit drives both periods; the treatment adds 2 to what they spend after exposure.
        const habit = 50 + 40 * rng();
        sent.push({ ...track('spend', unit), creationDate: seconds(before), trackingEventDetails: { value: habit + 5 * normal() } });
        sent.push(exposure('cuped', variant, unit));
        const after = habit + 5 * normal() + (variant === 'treatment' ? 2 : 0);
        spentAfter += after;
        sent.push({ ...track('spend', unit), trackingEventDetails: { value: after } });
      }
      await sendEvents(base, sent);
      // Every unit and every purchase after exposure in (the mean × units of both arms adds up to what was spent).
      const complete = (body: any) =>
        body.exposures.reduce((n: number, e: { units: number }) => n + e.units, 0) === units &&
        Math.abs(body.metrics[0].variations.reduce((n: number, v: { mean: number; units: number }) => n + v.mean * v.units, 0) - spentAfter) < 1e-6 * spentAfter;
      const results = await eventually(async () => {
        const body = await call(base, 'GET', '/admin/v1/flags/cuped/experiment');
        return complete(body) ? body : undefined;
      }, 60_000, 50);
      await call(base, 'PUT', '/admin/v1/flags/cuped', flag(false));
      const plain = await eventually(async () => {
        const body = await call(base, 'GET', '/admin/v1/flags/cuped/experiment');
        return body.cupedLookbackDays === null ? body : undefined;
      });
      assert.equal(results.cupedLookbackDays, 14);
      const width = (r: any) => r.metrics[0].variations[1].uplift.ci[1] - r.metrics[0].variations[1].uplift.ci[0];
      console.log(`# CUPED: 95 % interval width ${(width(results) * 100).toFixed(2)} points of uplift with, ${(width(plain) * 100).toFixed(2)} without (same data)`);
      assert.ok(width(results) < 0.7 * width(plain), `CUPED narrows the interval: ${width(results)} vs ${width(plain)}`);
      // The true effect is 2 on a mean of about 70: about +2.9 %.
      const uplift = results.metrics[0].variations[1].uplift;
      assert.ok(uplift.ci[0] < 0.029 && 0.029 < uplift.ci[1], `the adjusted interval ${uplift.ci} covers the true +2.9 %`);
    } finally {
      await app.close();
      await events.close();
    }
  });
});
