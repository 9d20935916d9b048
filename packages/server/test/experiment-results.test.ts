// Experiment results end to end: a real server (listening) with the real events store; simulated units evaluate the
// flag over OFREP and send tracked events with a known true effect; GET /admin/v1/flags/{key}/experiment and
// `vexil experiment results` show it, and a 52/48 split of a 50/50 flag is flagged as a sample ratio mismatch.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlEventsStore } from '@vexil/store';
import { ADMIN, REPO_ROOT, SDK, eventually, fixtureServer, json, listen, random } from './helpers.js';

const bin = join(REPO_ROOT, 'packages/cli/bin/vexil.js');
const seconds = (ms: number) => Math.floor(ms / 1000);
const run = promisify(execFile);

/** Runs the built CLI without blocking this process (the server under test answers it). */
async function vexil(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args]);
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { status: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const CHECKOUT = {
  variations: { control: 'blue', treatment: 'green' },
  defaultRule: { percentage: { control: 50, treatment: 50 } },
  experiment: {
    control: 'control',
    engine: 'frequentist',
    attributionWindow: '72h',
    metrics: [
      { event: 'purchase', type: 'binomial', goal: true, name: 'conversion' },
      { event: 'purchase', type: 'mean', goal: true, name: 'revenue' },
      { event: 'checkout-error', type: 'binomial', guardrail: true, inverse: true },
    ],
  },
};
const SPLIT = {
  variations: { a: 1, b: 2 },
  defaultRule: { percentage: { a: 50, b: 50 } },
  experiment: { metrics: [{ event: 'visit', type: 'binomial' }] },
};

async function call(base: string, method: string, path: string, body?: unknown, key = ADMIN): Promise<Response> {
  return fetch(`${base}${path}`, { method, headers: json(key), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

describe('experiment results through a real server and events store', () => {
  it('shows a known true effect on conversion and revenue, and flags a 52/48 split as SRM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-experiment-results-'));
    const eventsUrl = `pglite:${join(dir, 'events')}`;
    const events = await SqlEventsStore.open(eventsUrl, { pruneIntervalMs: 0 });
    const app = await fixtureServer({ events, eventsOptions: { flushIntervalMs: 50 } });
    let closed = false;
    try {
      const base = await listen(app);
      assert.equal((await call(base, 'PUT', '/admin/v1/flags/checkout-button', CHECKOUT)).status, 201);
      assert.equal((await call(base, 'PUT', '/admin/v1/flags/split-test', SPLIT)).status, 201);
      assert.equal((await call(base, 'GET', '/admin/v1/flags/checkout-button/experiment')).status, 200, 'an experiment with no data yet answers');

      // 2,000 units evaluate over OFREP (the server records each answer as an exposure) and buy with a known rate:
      // 10 % on control, 16 % on treatment (a true relative uplift of +60 %); each purchase is worth 50.
      const rng = random(42);
      const rate: Record<string, number> = { control: 0.1, treatment: 0.16 };
      const seen: Record<string, number> = { control: 0, treatment: 0 };
      const tracks: unknown[] = [];
      for (let i = 0; i < 2000; i++) {
        const unit = `user-${i}`;
        const answer = await (await call(base, 'POST', '/ofrep/v1/evaluate/flags/checkout-button', { context: { targetingKey: unit } }, SDK)).json();
        const variant = answer.variant as string;
        seen[variant]!++;
        if (rng() < rate[variant]!) {
          tracks.push({ kind: 'tracking', key: 'purchase', userKey: unit, contextKind: 'user', creationDate: seconds(Date.now()), evaluationContext: { targetingKey: unit }, trackingEventDetails: { value: 50 } });
        }
      }
      for (let i = 0; i < tracks.length; i += 500) {
        assert.equal((await call(base, 'POST', '/v1/data/collector', { events: tracks.slice(i, i + 500) }, SDK)).status, 200);
      }
      // A 52/48 split where the flag says 50/50: 10,000 units' exposures as SDK feature events.
      const features = Array.from({ length: 10_000 }, (_, i) => ({
        kind: 'feature', key: 'split-test', variation: i < 5200 ? 'a' : 'b', userKey: `visitor-${i}`, contextKind: 'user', creationDate: seconds(Date.now()), value: 1, default: false,
      }));
      for (let i = 0; i < features.length; i += 1000) {
        assert.equal((await call(base, 'POST', '/v1/data/collector', { events: features.slice(i, i + 1000) }, SDK)).status, 200);
      }

      const results = await eventually(async () => {
        const body = await (await call(base, 'GET', '/admin/v1/flags/checkout-button/experiment')).json();
        const units = body.exposures.reduce((n: number, e: { units: number }) => n + e.units, 0);
        const conversions = body.metrics[0].variations.reduce((n: number, v: { conversions: number }) => n + v.conversions, 0);
        return units === 2000 && conversions === tracks.length ? body : undefined;
      }, 20_000, 100);
      assert.deepEqual(results.exposures.map((e: { variation: string; units: number }) => [e.variation, e.units]), [['control', seen.control], ['treatment', seen.treatment]]);
      assert.equal(results.multipleExposures, 0);
      assert.equal(results.srm.mismatch, false);
      const [conversion, revenue, guardrail] = results.metrics;
      assert.deepEqual([conversion.name, conversion.role, revenue.name, revenue.role, guardrail.name, guardrail.role], ['conversion', 'goal', 'revenue', 'goal', 'checkout-error', 'guardrail']);
      const [c, t] = conversion.variations;
      assert.equal(c.variation, 'control');
      assert.ok(Math.abs(c.mean - 0.1) < 0.03, `control conversion ${c.mean}`);
      assert.ok(Math.abs(t.mean - 0.16) < 0.03, `treatment conversion ${t.mean}`);
      assert.equal(c.uplift, undefined, 'no uplift on the control');
      assert.ok(t.uplift.ci[0] < 0.6 && 0.6 < t.uplift.ci[1], `the interval ${t.uplift.ci} covers the true +60 %`);
      assert.ok(t.uplift.ci[0] > 0, 'the uplift is significant');
      assert.ok(t.uplift.pValue < 0.01);
      assert.ok(t.uplift.pValueAdjusted >= t.uplift.pValue, 'Holm-corrected across the two goal metrics');
      assert.equal(t.uplift.significant, 'better');
      // Revenue per unit is 50 × conversion: the same relative uplift.
      assert.ok(Math.abs(revenue.variations[1].uplift.expected - t.uplift.expected) < 1e-9);
      assert.ok(Math.abs(revenue.variations[0].mean - 50 * c.mean) < 1e-9);
      assert.equal(guardrail.variations[1].uplift.error, 'ZERO_NEGATIVE_VARIANCE', 'no errors were tracked: nothing to compare');
      assert.deepEqual(results.warnings.map((w: { code: string }) => w.code), ['peeking'], 'a fixed-horizon test without an end is still running');

      const split = await eventually(async () => {
        const body = await (await call(base, 'GET', '/admin/v1/flags/split-test/experiment')).json();
        return body.exposures.reduce((n: number, e: { units: number }) => n + e.units, 0) === 10_000 ? body : undefined;
      }, 20_000, 100);
      assert.equal(split.engine, 'bayesian');
      assert.equal(split.srm.mismatch, true);
      assert.ok(split.srm.pValue < 0.001);
      const srm = split.warnings.find((w: { code: string }) => w.code === 'srm');
      assert.ok(srm, 'the 52/48 split is flagged');
      assert.match(srm.message, /a 5200, b 4800/);
      assert.ok(split.metrics[0].variations[1].uplift.chanceToWin !== undefined, 'Bayesian results carry a chance to win');

      // The CLI through the server: the same figures.
      const cli = await vexil(['experiment', 'results', 'checkout-button', '--server', base, '--admin-key', ADMIN, '--json']);
      assert.equal(cli.status, 0, cli.stderr);
      const viaCli = JSON.parse(cli.stdout);
      assert.deepEqual(viaCli.metrics, results.metrics);
      const text = await vexil(['experiment', 'results', 'split-test', '--server', base, '--admin-key', ADMIN]);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /srm: sample ratio mismatch/);
      assert.match(text.stdout, /chance to win/);

      assert.equal((await call(base, 'GET', '/admin/v1/flags/nope/experiment')).status, 404);
      const plain = await call(base, 'PUT', '/admin/v1/flags/plain', { variations: { a: 1, b: 2 }, defaultRule: { variation: 'a' } });
      assert.equal(plain.status, 201);
      const none = await call(base, 'GET', '/admin/v1/flags/plain/experiment');
      assert.equal(none.status, 404);
      assert.equal((await none.json()).error, 'no_experiment');

      // The CLI straight from the stores, once the server has let go of the embedded events folder.
      await app.close();
      await events.close();
      closed = true;
      const flagsFile = join(dir, 'flags.yaml');
      await writeFile(flagsFile, JSON.stringify({ 'checkout-button': CHECKOUT }));
      const direct = await vexil(['experiment', 'results', 'checkout-button', '--flags', flagsFile, '--events', eventsUrl, '--json']);
      assert.equal(direct.status, 0, direct.stderr);
      assert.deepEqual(JSON.parse(direct.stdout).metrics, results.metrics);
    } finally {
      if (!closed) {
        await app.close();
        await events.close();
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
