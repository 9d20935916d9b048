// Experiments proven by simulation through the real server: simulated units evaluate flags over OFREP (the server
// records each answer as an exposure), convert with known true rates through `/v1/data/collector`, and the results
// come from `GET /admin/v1/flags/{key}/experiment`, i.e. the events store's SQL and the statistics engine together.
// - A/A over 200 flags (200 seeds: each flag key buckets units differently, each has its own conversion event): the
//   fixed-horizon test rejects at about α = 5 %.
// - A/A with the sequential test over 100 flags, looked at after each of 5 batches of units: at most α of them ever
//   reject (peeking is safe).
// - A true +5 % relative uplift on a binomial metric with about 20,000 units per arm is detected.
// (The 52/48 sample-ratio mismatch is in experiment-results.test.ts.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlEventsStore } from '@vexil/store';
import { ADMIN, SDK, eventually, fixtureServer, json, listen } from './helpers.js';

const FIXED = 200;
const SEQUENTIAL = 100;
const UNITS = 400;
const BATCHES = 5;
const seconds = (ms: number) => Math.floor(ms / 1000);

/** A small seeded generator (mulberry32): the same simulated population on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
async function sendTracks(base: string, tracks: unknown[]): Promise<void> {
  for (let i = 0; i < tracks.length; i += 1000) await call(base, 'POST', '/v1/data/collector', { events: tracks.slice(i, i + 1000) }, SDK);
}

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

describe('experiments proven by simulation through the real server', () => {
  it('A/A: the fixed-horizon test rejects at about α over 200 seeds; the sequential test, looked at after every batch, stays at or below α', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-experiment-simulation-'));
    const events = await SqlEventsStore.open(`pglite:${join(dir, 'events')}`, { pruneIntervalMs: 0 });
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const base = await listen(app);
      const fixed = Array.from({ length: FIXED }, (_, i) => `aa-fixed-${i}`);
      const sequential = Array.from({ length: SEQUENTIAL }, (_, i) => `aa-sequential-${i}`);
      for (const flag of fixed) await call(base, 'PUT', `/admin/v1/flags/${flag}`, aaFlag(`convert-${flag}`, false));
      for (const flag of sequential) await call(base, 'PUT', `/admin/v1/flags/${flag}`, aaFlag(`convert-${flag}`, true));
      const all = [...fixed, ...sequential];

      const rng = random(20261204);
      const conversions = new Map(all.map((flag) => [flag, 0]));
      const everRejected = new Set<string>();
      const perBatch = UNITS / BATCHES;
      for (let batch = 0; batch < BATCHES; batch++) {
        const tracks: unknown[] = [];
        for (let u = batch * perBatch; u < (batch + 1) * perBatch; u++) {
          const unit = `unit-${u}`;
          // One bulk evaluation per unit: the server records an exposure for each of the flags.
          const answer = await call(base, 'POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: unit, gofeatureflag: { flagList: all } } }, SDK);
          assert.equal(answer.flags.length, all.length);
          // The same true conversion rate (20 %) on both variations: any difference is noise.
          for (const flag of all) {
            if (rng() < 0.2) {
              tracks.push(track(`convert-${flag}`, unit));
              conversions.set(flag, conversions.get(flag)! + 1);
            }
          }
        }
        await sendTracks(base, tracks);
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
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a true +5 % relative uplift on a binomial metric with about 20,000 units per arm is detected', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-experiment-uplift-'));
    const events = await SqlEventsStore.open(`pglite:${join(dir, 'events')}`, { pruneIntervalMs: 0 });
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    try {
      const base = await listen(app);
      await call(base, 'PUT', '/admin/v1/flags/uplift', {
        variations: { control: 'a', treatment: 'b' },
        defaultRule: { percentage: { control: 50, treatment: 50 } },
        experiment: { engine: 'frequentist', metrics: [{ event: 'purchase', type: 'binomial', goal: true }] },
      });
      const rate: Record<string, number> = { control: 0.3, treatment: 0.315 };
      const rng = random(7);
      const units = 40_000;
      const served = new Array<string>(units);
      // 16 units at a time, each one OFREP call.
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < units) {
            const u = next++;
            served[u] = (await call(base, 'POST', '/ofrep/v1/evaluate/flags/uplift', { context: { targetingKey: `buyer-${u}` } }, SDK)).variant;
          }
        }),
      );
      const tracks: unknown[] = [];
      served.forEach((variant, u) => {
        if (rng() < rate[variant]!) tracks.push(track('purchase', `buyer-${u}`));
      });
      await sendTracks(base, tracks);
      const results = (await resultsOf(base, ['uplift'], units, new Map([['uplift', tracks.length]]))).get('uplift');
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
      await rm(dir, { recursive: true, force: true });
    }
  });
});
