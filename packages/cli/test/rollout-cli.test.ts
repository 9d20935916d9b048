// `vexil rollout status|approve|pause|resume|abort|skip FLAG --server URL --admin-key K` through the real bin, against
// a real server (Redis store with a key prefix of its own, a fake clock and fake measurements for its controller).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { openStore } from '@vexil/store';
import { buildServer } from '@vexil/server';
import type { MeasurementSource } from '@vexil/analysis';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/bin/vexil.js');
const REDIS = process.env.VEXIL_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const PREFIX = `vexil-test-rollout-cli-${randomBytes(4).toString('hex')}:`;
const ADMIN = 'rollout-cli-admin-key';

/** Runs the CLI without blocking this process (the server under test lives in it). */
function vexil(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' }, (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

let app: FastifyInstance;
let base: string;

before(async () => {
  const source: MeasurementSource = {
    name: 'fake',
    measure: async (request) => ({
      rollout: { variation: request.rolloutVariation, units: 1000, metrics: {} },
      control: { variation: request.controlVariation, units: 1000, metrics: {} },
      queries: {},
    }),
  };
  const store = await openStore(`${REDIS}?prefix=${encodeURIComponent(PREFIX)}`);
  await store.put(
    'new-checkout',
    {
      variations: { on: true, off: false },
      defaultRule: { variation: 'off' },
      rollout: { variation: 'on', steps: [10, 50], interval: '10m', approval: [10], gates: [{ metric: 'checkout-error', thresholdRange: { max: 0.02 } }] },
    },
    { actor: 'test' },
  );
  app = await buildServer({ store, closeStore: true, adminKeys: [ADMIN], defaultMetrics: false, heartbeatMs: 0, rollout: { source, leaseMs: 2000, tickMs: 100 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const deadline = Date.now() + 20_000;
  while (!(await store.get('new-checkout'))?.flag.rolloutState) {
    if (Date.now() > deadline) throw new Error('the controller did not start the rollout');
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  await app?.close();
  const admin = new Redis(REDIS, { lazyConnect: true });
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length) await admin.del(...keys);
  admin.disconnect();
});

describe('vexil rollout', () => {
  it('status shows the plan, the state and the history; --json gives the API answer', async () => {
    const status = await vexil(['rollout', 'status', 'new-checkout', '--server', base, '--admin-key', ADMIN]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^new-checkout: waiting-for-approval at 0% \(plan 10 → 50 → 100, every 600 s\)/);
    assert.match(status.stdout, /wait-for-approval: rollout of "on" waits for approval before serving 10%/);
    const json = await vexil(['rollout', 'status', 'new-checkout', '--server', base, '--admin-key', ADMIN, '--json']);
    assert.equal(JSON.parse(json.stdout).plan.approvalSteps[0], 0);
  });

  it('approve, pause, resume, skip and abort each change the rollout, with the reason in the audit log', async () => {
    const run = (command: string, ...extra: string[]) => vexil(['rollout', command, 'new-checkout', '--server', base, '--admin-key', ADMIN, ...extra]);
    const approved = await run('approve', '--reason', 'canary dashboards clean');
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /approved step 1 \(10%\): canary dashboards clean \(now running at 10%\)/);
    assert.match((await run('pause')).stdout, /now paused at 10%/);
    assert.match((await run('resume')).stdout, /now running at 10%/);
    assert.match((await run('skip')).stdout, /now running at 50%/);
    assert.match((await run('abort')).stdout, /now aborted at 0%/);
    const again = await run('abort');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^vexil: 409 the rollout is aborted: nothing to abort/);
    const audit = await (await fetch(`${base}/admin/v1/flags/new-checkout/audit?limit=1`, { headers: { 'x-api-key': ADMIN } })).json();
    assert.match(audit.entries[0].reason, /aborted by/);
  });

  it('errors: a wrong key, an unknown flag, an unknown command', async () => {
    const wrongKey = await vexil(['rollout', 'status', 'new-checkout', '--server', base, '--admin-key', 'nope']);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /^vexil: 401 /);
    const unknown = await vexil(['rollout', 'status', 'missing', '--server', base, '--admin-key', ADMIN]);
    assert.match(unknown.stderr, /404 flag "missing" does not exist/);
    const badCommand = await vexil(['rollout', 'launch', 'new-checkout', '--server', base, '--admin-key', ADMIN]);
    assert.notEqual(badCommand.code, 0);
    assert.match(badCommand.stderr, /value 'launch' is invalid for argument 'command'/);
  });
});
