// The rollout controller inside the real server: a fake measurement source and a fake clock drive plans of hours in
// seconds; every action is a flag write by `rollout-controller` (or `kill-switch`) in the audit log with its figures,
// served through OFREP; the admin API shows state and history and takes a person's commands; two servers over one
// Redis store elect one leader, and a killed leader is replaced with every step applied once.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { openStore, type FlagStore } from '@vexil/store';
import type { FlagDefinition } from '@vexil/core';
import type { ArmMeasurement, MeasurementRequest, MeasurementSource, Measurements } from '@vexil/analysis';
import { buildServer } from '../src/index.js';
import postgres from 'postgres';
import { ADMIN, SDK, POSTGRES_URL, REDIS_URL, eventually, json, listen, postJson, uniqueId } from './helpers.js';

const MINUTE = 60_000;
const HEADERS = json(ADMIN);

/** A clock the test moves by hand. */
function fakeClock(start = Date.parse('2026-03-01T00:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Measurements from error rates per variation, with `units` units per arm; `requests` records what was asked. */
function fakeSource(rates: () => Record<string, number>, units = () => 5000): MeasurementSource & { requests: MeasurementRequest[] } {
  const requests: MeasurementRequest[] = [];
  const arm = (variation: string, metric: string): ArmMeasurement => {
    const n = units();
    const errors = Math.round(n * (rates()[variation] ?? 0));
    return { variation, units: n, metrics: { [metric]: { events: errors, errors } } };
  };
  return {
    name: 'fake',
    requests,
    async measure(request): Promise<Partial<Measurements>> {
      requests.push(request);
      const metric = request.metrics[0]?.metric ?? 'errors';
      return {
        rollout: arm(request.rolloutVariation, metric),
        control: arm(request.controlVariation, metric),
        ...(request.variations ? { arms: request.variations.map((v) => arm(v, metric)) } : {}),
        queries: {},
      };
    },
  };
}

const plan = (overrides: Record<string, unknown> = {}): FlagDefinition => ({
  variations: { on: true, off: false },
  defaultRule: { variation: 'off' },
  trackEvents: true,
  rollout: {
    variation: 'on',
    steps: [1, 5, 25, 50, 100],
    interval: '10m',
    gates: [{ metric: 'checkout-error', compare: 'control', maxIncrease: '10%' }],
    minSampleSize: 200,
    ...overrides,
  },
});

const opened: FastifyInstance[] = [];
const prefixes: string[] = [];
after(async () => {
  for (const app of opened) await app.close().catch(() => undefined);
  const admin = new Redis(REDIS_URL, { lazyConnect: true });
  for (const prefix of prefixes) {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
  }
  admin.disconnect();
});

/** A store of its own: a Redis key prefix for this test (removed at the end). PGlite would do too, but starts slowly. */
function storeUrl(): string {
  const prefix = `${uniqueId('vexil-test-rollout')}:`;
  prefixes.push(prefix);
  return `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`;
}

async function server(store: FlagStore, source: MeasurementSource, clock: ReturnType<typeof fakeClock>, extra: { holder?: string; leaseMs?: number; webhook?: string } = {}) {
  const app = await buildServer({
    ...(extra.webhook ? { notifiers: [{ kind: 'webhook' as const, url: extra.webhook }], notifyOptions: { batchMs: 10 } } : {}),
    store,
    closeStore: true,
    adminKeys: [ADMIN],
    sdkKeys: [SDK],
    defaultMetrics: false,
    heartbeatMs: 0,
    rollout: { source, clock: clock.now, leaseMs: extra.leaseMs ?? 2000, tickMs: 100, ...(extra.holder ? { holder: extra.holder } : {}) },
  });
  opened.push(app);
  return { app, base: await listen(app) };
}

async function rolloutOf(base: string, key: string): Promise<any> {
  const response = await fetch(`${base}/admin/v1/flags/${key}/rollout`, { headers: HEADERS });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

/** Waits until the rollout reaches `status` at `percent`. */
async function reach(base: string, key: string, status: string, percent: number): Promise<any> {
  return eventually(async () => {
    const view = await rolloutOf(base, key);
    return view.status === status && view.percent === percent ? view : undefined;
  }, 20_000, 20);
}

async function servedOn(base: string, key: string, units: number): Promise<number> {
  let on = 0;
  for (let i = 0; i < units; i++) {
    const response = await postJson(base, `/ofrep/v1/evaluate/flags/${key}`, { context: { targetingKey: `user-${i}` } }, json(SDK));
    if (response.body.value === true) on++;
  }
  return on;
}

describe('rollout controller in vexil serve (fake clock, fake measurements)', () => {
  it('the file applied again goes on with the rollout under way; a changed plan starts it over', async () => {
    const store = await openStore(storeUrl());
    const clock = fakeClock();
    const { base } = await server(store, fakeSource(() => ({ on: 0.02, off: 0.02 })), clock);
    const put = async (flag: FlagDefinition) => {
      const response = await fetch(`${base}/admin/v1/flags/re-applied`, { method: 'PUT', headers: HEADERS, body: JSON.stringify(flag) });
      assert.ok(response.ok, await response.text());
    };
    await put(plan());
    await reach(base, 're-applied', 'running', 1);
    clock.advance(10 * MINUTE);
    await reach(base, 're-applied', 'running', 5);
    // The same file's text again (a GitOps apply): no rolloutState, the baseline as defaultRule.
    await put(plan());
    const stored = (await store.get('re-applied'))!.flag;
    assert.equal(stored.rolloutState?.percent, 5, 'the rollout goes on at its step');
    assert.deepEqual(stored.defaultRule, { percentage: { on: 5, off: 95 } }, 'the step is still served');
    assert.equal((await rolloutOf(base, 're-applied')).percent, 5);
    // A changed plan starts over.
    await put(plan({ steps: [10, 50] }));
    await reach(base, 're-applied', 'running', 10);
    assert.equal((await store.get('re-applied'))!.flag.rolloutState?.stepIndex, 0);
  });

  it('a healthy canary goes through every step to 100%, each step an audited write with its figures', async () => {
    const store = await openStore(storeUrl());
    const clock = fakeClock();
    const source = fakeSource(() => ({ on: 0.02, off: 0.02 }));
    const { app, base } = await server(store, source, clock);
    assert.equal((await postJson(base, '/admin/v1/flags', { key: 'new-checkout', flag: plan() }, HEADERS)).status, 201);

    await reach(base, 'new-checkout', 'running', 1);
    for (const percent of [5, 25, 50]) {
      clock.advance(10 * MINUTE);
      await reach(base, 'new-checkout', 'running', percent);
    }
    const on = await servedOn(base, 'new-checkout', 400);
    assert.ok(on > 400 * 0.4 && on < 400 * 0.6, `${on} of 400 units on "on" at 50%`);
    clock.advance(10 * MINUTE);
    const done = await reach(base, 'new-checkout', 'promoted', 100);
    assert.equal(await servedOn(base, 'new-checkout', 50), 50);

    const audit = await (await fetch(`${base}/admin/v1/flags/new-checkout/audit?limit=50`, { headers: HEADERS })).json();
    const controller = audit.entries.filter((entry: any) => entry.actor === 'rollout-controller').reverse();
    assert.deepEqual(
      controller.map((entry: any) => entry.reason.split(':')[0]),
      ['rollout of "on" starts at 1%', 'advance to 5% after step 1/4 (1%)', 'advance to 25% after step 2/4 (5%)', 'advance to 50% after step 3/4 (25%)', 'promote to 100% after step 4/4 (50%)'],
    );
    assert.match(controller[1].reason, /checkout-error vs control: successful \(value 0\.02, control 0\.02, increase 0%.*units 5000\/5000, threshold increase ≤ 10% over control\)/);
    assert.equal(done.state.history.filter((h: any) => h.phase === 'successful' && h.gates.length > 0).length, 4);
    assert.deepEqual(done.plan.steps, [1, 5, 25, 50]);
    const asked = source.requests.at(-1)!;
    assert.deepEqual([asked.rolloutVariation, asked.controlVariation, asked.metrics], ['on', 'off', [{ metric: 'checkout-error', quantiles: [] }]]);
    await app.close();
  });

  it('a doubled error rate is rolled back at the next check: everyone back on the baseline, reason with the figures, notified', async () => {
    const store = await openStore(storeUrl());
    const clock = fakeClock();
    let rates = { on: 0.02, off: 0.02 };
    const notifications: any[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        notifications.push(JSON.parse(body));
        res.end('ok');
      });
    });
    const webhook = await new Promise<string>((resolve) => hook.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`)));
    const { app, base } = await server(store, fakeSource(() => rates), clock, { webhook });
    await postJson(base, '/admin/v1/flags', { key: 'f', flag: plan() }, HEADERS);
    await reach(base, 'f', 'running', 1);
    clock.advance(10 * MINUTE);
    await reach(base, 'f', 'running', 5);
    rates = { on: 0.04, off: 0.02 };
    clock.advance(10 * MINUTE);
    const view = await reach(base, 'f', 'rolled-back', 0);
    assert.match(view.state.reason, /rollback at step 2\/4 \(5%\): 1 failed checks > failureLimit 0; checkout-error vs control: failed \(value 0\.04, control 0\.02, increase 100%/);
    assert.equal(await servedOn(base, 'f', 50), 0);
    const stored = await store.get('f');
    assert.deepEqual(stored!.flag.defaultRule, { variation: 'off' });
    assert.equal(stored!.updatedBy, 'rollout-controller');
    const rollback = await eventually(() => notifications.find((body) => body.actor === 'rollout-controller' && /^rollback/.test(body.reason ?? '')), 20_000, 20);
    assert.match(rollback.reason, /checkout-error vs control: failed \(value 0\.04, control 0\.02/);
    assert.deepEqual(rollback.flags.updated.f.new_value.defaultRule, { variation: 'off' });
    await app.close();
    hook.close();
  });

  it('too little traffic holds the step for hours: never promotes, never rolls back', async () => {
    const store = await openStore(storeUrl());
    const clock = fakeClock();
    const source = fakeSource(() => ({ on: 0.5, off: 0.02 }), () => 20);
    const { app, base } = await server(store, source, clock);
    await postJson(base, '/admin/v1/flags', { key: 'f', flag: plan() }, HEADERS);
    await reach(base, 'f', 'running', 1);
    for (let i = 1; i <= 6; i++) {
      clock.advance(10 * MINUTE);
      await eventually(async () => (await rolloutOf(base, 'f')).state.checks === i, 20_000, 20);
    }
    const view = await rolloutOf(base, 'f');
    assert.deepEqual([view.status, view.percent, view.state.inconclusive, view.state.failed], ['running', 1, 6, 0]);
    assert.match(view.state.history.at(-1).decision, /too few units \(rollout 20, control 20; need 200 each\)/);
    await app.close();
  });

  it('manual controls: approval, pause, resume, skip, abort through the admin API; 409 and 404 when they do not apply', async () => {
    const store = await openStore(storeUrl());
    const clock = fakeClock();
    const { app, base } = await server(store, fakeSource(() => ({ on: 0.01, off: 0.01 })), clock);
    await postJson(base, '/admin/v1/flags', { key: 'f', flag: plan({ approval: [5] }) }, HEADERS);
    await postJson(base, '/admin/v1/flags', { key: 'plain', flag: { variations: { a: 1 }, defaultRule: { variation: 'a' } } }, HEADERS);
    await reach(base, 'f', 'running', 1);
    clock.advance(10 * MINUTE);
    await reach(base, 'f', 'waiting-for-approval', 1);
    const command = (name: string, body: unknown = { reason: 'looked at the dashboards' }) => postJson(base, `/admin/v1/flags/f/rollout/${name}`, body, HEADERS);
    assert.equal((await command('resume')).status, 409);
    const approved = await command('approve');
    assert.equal(approved.status, 200, approved.text);
    assert.deepEqual([approved.body.action, approved.body.status, approved.body.percent], ['advance', 'running', 5]);
    assert.equal((await command('pause')).body.status, 'paused');
    clock.advance(60 * MINUTE);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await rolloutOf(base, 'f')).status, 'paused', 'a paused rollout does not move');
    assert.equal((await command('resume')).body.status, 'running');
    const skipped = await command('skip');
    assert.deepEqual([skipped.body.action, skipped.body.percent], ['advance', 25]);
    const aborted = await command('abort');
    assert.deepEqual([aborted.body.status, aborted.body.percent], ['aborted', 0]);
    assert.equal((await command('approve')).status, 409);
    assert.equal((await postJson(base, '/admin/v1/flags/f/rollout/explode', {}, HEADERS)).status, 400);
    assert.equal((await postJson(base, '/admin/v1/flags/plain/rollout/pause', {}, HEADERS)).status, 404);
    assert.equal((await postJson(base, '/admin/v1/flags/f/rollout/pause', {}, json(SDK))).status, 403, 'an SDK key cannot command a rollout');
    const audit = await (await fetch(`${base}/admin/v1/flags/f/audit?limit=50`, { headers: HEADERS })).json();
    const manual = audit.entries.filter((entry: any) => entry.actor !== 'rollout-controller' && entry.action === 'update').reverse();
    assert.equal(manual.length, 5);
    assert.match(manual[0].reason, /approved step 2 \(5%\): looked at the dashboards/);
    await app.close();
  });

  it('kill switch: a flag whose error rate crosses its threshold is disabled by actor kill-switch', async () => {
    const store = await openStore(storeUrl());
    const clock = fakeClock();
    let rates = { a: 0.01, b: 0.01 };
    const { app, base } = await server(store, fakeSource(() => rates), clock);
    const flag: FlagDefinition = {
      variations: { a: 'x', b: 'y' },
      defaultRule: { percentage: { a: 50, b: 50 } },
      killSwitch: { metric: 'payment-error', thresholdRange: { max: 0.05 }, window: '5m', minSampleSize: 100 },
    };
    await postJson(base, '/admin/v1/flags', { key: 'pay', flag }, HEADERS);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.notEqual((await store.get('pay'))!.flag.disable, true);
    rates = { a: 0.01, b: 0.2 };
    const stored = await eventually(async () => {
      const s = await store.get('pay');
      return s?.flag.disable === true ? s : undefined;
    }, 20_000, 20);
    assert.equal(stored.updatedBy, 'kill-switch');
    const audit = await store.audit({ key: 'pay', limit: 1 });
    assert.match(audit.entries[0]!.reason!, /kill switch tripped: payment-error error rate 0\.105 over 10000 units \(threshold ≤ 0\.05\)/);
    // The server serves the change from the store's feed.
    await eventually(async () => (await postJson(base, '/ofrep/v1/evaluate/flags/pay', { context: { targetingKey: 'u' } }, json(SDK))).body.reason === 'DISABLED', 20_000, 20);
    await app.close();
  });
});

const pgSchemas: string[] = [];
after(async () => {
  const sql = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
  for (const schema of pgSchemas) await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await sql.end({ timeout: 2 });
});

function postgresUrl(): string {
  const schema = uniqueId('vexil_test_rollout');
  pgSchemas.push(schema);
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
}

for (const [backend, makeUrl] of [['Redis', storeUrl], ['PostgreSQL', postgresUrl]] as const) describe(`rollout controller: one leader over one ${backend} store`, () => {
  it('two servers: one leads; the leader killed mid-plan is replaced and the plan continues, each step applied once', async () => {
    const url = makeUrl();
    const storeA = await openStore(url);
    const storeB = await openStore(url);
    const clock = fakeClock();
    const source = fakeSource(() => ({ on: 0.02, off: 0.02 }));
    const a = await server(storeA, source, clock, { holder: 'server-a', leaseMs: 600 });
    await eventually(() => a.app.vexil.rolloutController?.isLeader, 20_000, 20);
    const b = await server(storeB, source, clock, { holder: 'server-b', leaseMs: 600 });
    await postJson(a.base, '/admin/v1/flags', { key: 'f', flag: plan() }, HEADERS);
    await reach(b.base, 'f', 'running', 1);
    clock.advance(10 * MINUTE);
    await reach(b.base, 'f', 'running', 5);
    assert.equal(b.app.vexil.rolloutController!.isLeader, false, 'only one leader');
    assert.equal((await rolloutOf(b.base, 'f')).controller.holder, 'server-a');

    const before = (await storeB.leases!.get('rollout-controller'))!;
    assert.equal(before.holder, 'server-a');
    a.app.vexil.rolloutController!.kill(); // a crash: the lease is not released
    // Server B takes over once A's lease lapses, never before, and within two lease periods of A's last renewal (all
    // times by the store's clock, which dates the leases).
    const taken = await eventually(async () => {
      const lease = await storeB.leases!.get('rollout-controller');
      return lease?.holder === 'server-b' ? lease : undefined;
    }, 20_000, 20);
    assert.ok(taken.token > before.token, 'a takeover gets a larger fencing token');
    const lastRenewal = Date.parse(before.expiresAt) - 600;
    const takenAt = Date.parse(taken.expiresAt) - 600;
    assert.ok(takenAt >= Date.parse(before.expiresAt), `B took the lease at ${taken.expiresAt} − 600 ms, before A's lapsed at ${before.expiresAt}`);
    console.log(`# leader replaced ${takenAt - lastRenewal} ms after its last renewal (lease 600 ms)`);
    assert.ok(takenAt - lastRenewal <= 2 * 600, `replaced ${takenAt - lastRenewal} ms after the last renewal: more than two lease periods`);
    clock.advance(10 * MINUTE);
    await reach(b.base, 'f', 'running', 25);
    assert.equal(b.app.vexil.rolloutController!.isLeader, true);
    clock.advance(10 * MINUTE);
    await reach(b.base, 'f', 'running', 50);
    clock.advance(10 * MINUTE);
    await reach(b.base, 'f', 'promoted', 100);

    const audit = await storeB.audit({ key: 'f', limit: 100 });
    const steps = audit.entries.filter((entry) => entry.actor === 'rollout-controller').map((entry) => entry.reason!.split(':')[0]).reverse();
    assert.deepEqual(steps, ['rollout of "on" starts at 1%', 'advance to 5% after step 1/4 (1%)', 'advance to 25% after step 2/4 (5%)', 'advance to 50% after step 3/4 (25%)', 'promote to 100% after step 4/4 (50%)']);
    await b.app.close();
    await a.app.close();
  });
});

describe('rollout controller per environment', () => {
  it('a plan in another environment is driven by that environment\'s controller, under its own lease', async () => {
    const store = await openStore(`pglite:memory:${uniqueId('rollout-env')}`);
    const clock = fakeClock();
    const source = fakeSource(() => ({ on: 0.02, off: 0.02 }));
    const { base } = await server(store, source, clock);
    assert.equal((await postJson(base, '/admin/v1/projects', { key: 'shop', environments: [{ key: 'staging' }] }, HEADERS)).status, 201);
    const staging = `${base}/admin/v1/projects/shop/environments/staging`;
    assert.equal((await fetch(`${staging}/flags/new-checkout`, { method: 'PUT', headers: HEADERS, body: JSON.stringify(plan({ steps: [10, 100] })) })).status, 201);
    const view = async () => (await fetch(`${staging}/flags/new-checkout/rollout`, { headers: HEADERS })).json();
    await eventually(async () => ((await view()).percent === 10 ? true : undefined), 20_000, 20);
    clock.advance(10 * MINUTE);
    const done = await eventually(async () => {
      const current = await view();
      return current.status === 'promoted' ? current : undefined;
    }, 20_000, 20);
    assert.equal(done.percent, 100);
    assert.ok(done.controller?.holder, 'the environment\'s lease has a leader');
    const audit = await (await fetch(`${staging}/flags/new-checkout/audit?limit=10`, { headers: HEADERS })).json();
    assert.ok(audit.entries.some((entry: { actor: string }) => entry.actor === 'rollout-controller'), 'the controller wrote in staging');
    assert.ok(source.requests.every((request) => request.flagKey === 'new-checkout'));
    // default/default has no such flag: nothing was written there.
    assert.equal((await fetch(`${base}/admin/v1/flags/new-checkout`, { headers: HEADERS })).status, 404);
  });
});
