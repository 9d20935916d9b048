// Sticky assignment through real servers: with `experiment.sticky`, a unit keeps the variation it was first served
// over OFREP (single and bulk) and the relay API after the split and the rules change, on the embedded store and on
// two servers sharing one Redis; a kill switch and the experiment's end still win; without `sticky`, units move.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type FlagStore } from '@vexil/store';
import { Redis } from 'ioredis';
import { ADMIN, REDIS_URL, SDK, fixtureServer, json, listen, uniqueId } from './helpers.js';

const STICKY = {
  variations: { control: 'blue', treatment: 'green' },
  defaultRule: { percentage: { control: 50, treatment: 50 } },
  experiment: { control: 'control', sticky: true, metrics: [{ event: 'purchase', type: 'binomial' }] },
};
const PLAIN = { ...STICKY, experiment: { control: 'control', metrics: [{ event: 'purchase', type: 'binomial' }] } };

async function call(base: string, method: string, path: string, body?: unknown, key = ADMIN): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, { method, headers: json(key), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function putFlag(base: string, key: string, flag: unknown): Promise<void> {
  const current = await call(base, 'GET', `/admin/v1/flags/${key}`);
  const headers = { ...json(ADMIN), ...(current.status === 200 ? { 'if-match': `"${current.body.version}"` } : {}) };
  const response = await fetch(`${base}/admin/v1/flags/${key}`, { method: 'PUT', headers, body: JSON.stringify(flag) });
  assert.ok(response.status === 200 || response.status === 201, `PUT ${key}: ${response.status} ${await response.text()}`);
}

async function ofrep(base: string, key: string, user: string): Promise<{ variant: string; metadata?: Record<string, unknown>; reason: string }> {
  const answer = await call(base, 'POST', `/ofrep/v1/evaluate/flags/${key}`, { context: { targetingKey: user } }, SDK);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);

/** Waits until the server serves a change (its snapshot follows the store). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('sticky assignment on the server', () => {
  it('keeps every unit on its first variation when the split changes (OFREP single and bulk, relay); a plain flag moves; new units follow the new split', async () => {
    const app = await fixtureServer();
    try {
      const base = await listen(app);
      await putFlag(base, 'sticky-button', STICKY);
      await putFlag(base, 'plain-button', PLAIN);
      const first = new Map<string, string>();
      for (const user of users) {
        const answer = await ofrep(base, 'sticky-button', user);
        first.set(user, answer.variant);
        assert.equal(answer.metadata?.sticky, true);
      }
      const onTreatment = users.filter((user) => first.get(user) === 'treatment');
      assert.ok(onTreatment.length > 50 && onTreatment.length < 150, `a 50/50 split: ${onTreatment.length} of 200 on treatment`);

      // Everyone to control now.
      await putFlag(base, 'sticky-button', { ...STICKY, defaultRule: { variation: 'control' } });
      await putFlag(base, 'plain-button', { ...PLAIN, defaultRule: { variation: 'control' } });
      await until(async () => (await ofrep(base, 'plain-button', 'a-new-user')).variant === 'control' && (await ofrep(base, 'sticky-button', 'another-new-user')).variant === 'control', 'the new split');
      for (const user of users) assert.equal((await ofrep(base, 'sticky-button', user)).variant, first.get(user), `${user} keeps its variation`);
      for (const user of users) assert.equal((await ofrep(base, 'plain-button', user)).variant, 'control', 'a plain flag moves');
      assert.equal((await ofrep(base, 'sticky-button', 'a-new-user')).variant, 'control', 'a new unit gets the new split');

      // OFREP bulk and the relay API serve the same kept variations.
      for (const user of onTreatment.slice(0, 10)) {
        const bulk = await call(base, 'POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: user } }, SDK);
        assert.equal(bulk.body.flags.find((flag: { key: string }) => flag.key === 'sticky-button').variant, 'treatment');
        const relay = await call(base, 'POST', '/v1/feature/sticky-button/eval', { evaluationContext: { key: user } }, SDK);
        assert.equal(relay.body.variationType, 'treatment');
        const all = await call(base, 'POST', '/v1/allflags', { evaluationContext: { key: user } }, SDK);
        assert.equal(all.body.flags['sticky-button'].variationType, 'treatment');
      }

      // A kill switch wins over an assignment; turning it back on serves the assignment again.
      await putFlag(base, 'sticky-button', { ...STICKY, defaultRule: { variation: 'control' }, disable: true });
      await until(async () => (await ofrep(base, 'sticky-button', onTreatment[0]!)).reason === 'DISABLED', 'the kill switch');
      await putFlag(base, 'sticky-button', { ...STICKY, defaultRule: { variation: 'control' } });
      await until(async () => (await ofrep(base, 'sticky-button', onTreatment[0]!)).variant === 'treatment', 'the flag back on');

      // The experiment over: every unit gets the flag's own result.
      await putFlag(base, 'sticky-button', { ...STICKY, defaultRule: { variation: 'control' }, experiment: { ...STICKY.experiment, end: new Date(Date.now() - 1000).toISOString() } });
      await until(async () => (await ofrep(base, 'sticky-button', onTreatment[0]!)).variant === 'control', 'the experiment to end');
      for (const user of onTreatment) assert.equal((await ofrep(base, 'sticky-button', user)).variant, 'control');
    } finally {
      await app.close();
    }
  });

  it('a kept variation the flag no longer has is replaced by the current result', async () => {
    const app = await fixtureServer();
    try {
      const base = await listen(app);
      const flag = { ...STICKY, variations: { control: 'blue', treatment: 'green', extra: 'red' }, defaultRule: { variation: 'extra' } };
      await putFlag(base, 'shrinking', flag);
      assert.equal((await ofrep(base, 'shrinking', 'u1')).variant, 'extra');
      await putFlag(base, 'shrinking', { ...STICKY, defaultRule: { variation: 'treatment' } });
      await until(async () => (await ofrep(base, 'shrinking', 'u1')).variant === 'treatment', 'the removed variation to be replaced');
      await putFlag(base, 'shrinking', { ...STICKY, defaultRule: { variation: 'control' } });
      await until(async () => (await ofrep(base, 'shrinking', 'u2')).variant === 'control', 'the new split');
      assert.equal((await ofrep(base, 'shrinking', 'u1')).variant, 'treatment', 'the replacement is kept in turn');
    } finally {
      await app.close();
    }
  });

  describe('two servers on one Redis', () => {
    const prefix = `${uniqueId('vexil-sticky')}:`;
    const stores: FlagStore[] = [];
    after(async () => {
      for (const store of stores) await store.close().catch(() => undefined);
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    /** Two servers, each with its own store object on the same Redis prefix, listening. */
    async function twoServers(keyPrefix: string) {
      const url = `${REDIS_URL}?prefix=${encodeURIComponent(keyPrefix)}`;
      const storeA = await openStore(url);
      const storeB = await openStore(url);
      stores.push(storeA, storeB);
      const a = await fixtureServer({ store: storeA });
      const b = await fixtureServer({ store: storeB });
      return { a, b, baseA: await listen(a), baseB: await listen(b) };
    }

    it('a unit assigned by one server keeps its variation on the other after the split changes', async () => {
      const { a, b, baseA, baseB } = await twoServers(prefix);
      try {
        await putFlag(baseA, 'sticky-button', STICKY);
        await until(async () => (await call(baseB, 'POST', '/ofrep/v1/evaluate/flags/sticky-button', { context: { targetingKey: 'x' } }, SDK)).status === 200, 'server B to see the flag');
        const first = new Map<string, string>();
        for (const user of users.slice(0, 60)) first.set(user, (await ofrep(baseA, 'sticky-button', user)).variant);
        assert.ok(new Set(first.values()).size === 2, 'both variations assigned');
        await putFlag(baseA, 'sticky-button', { ...STICKY, defaultRule: { variation: 'control' } });
        await until(async () => (await ofrep(baseB, 'sticky-button', 'someone-new')).variant === 'control', 'server B to follow the change');
        for (const user of users.slice(0, 60)) assert.equal((await ofrep(baseB, 'sticky-button', user)).variant, first.get(user), `${user} on server B`);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('raising stickyVersion starts the assignments over on every server at once; going back serves the earlier set', async () => {
      const { a, b, baseA, baseB } = await twoServers(`${prefix}version:`);
      try {
        const group = users.slice(0, 60);
        await putFlag(baseA, 'restarted', STICKY);
        await until(async () => (await call(baseB, 'POST', '/ofrep/v1/evaluate/flags/restarted', { context: { targetingKey: 'x' } }, SDK)).status === 200, 'server B to see the flag');
        const first = new Map<string, string>();
        for (const user of group) first.set(user, (await ofrep(baseA, 'restarted', user)).variant);
        // Server B reads (and caches) the same assignments.
        for (const user of group) assert.equal((await ofrep(baseB, 'restarted', user)).variant, first.get(user));
        const onTreatment = group.filter((user) => first.get(user) === 'treatment');
        assert.ok(onTreatment.length > 0);

        // Everyone to control, and the assignments started over: the kept treatment is no longer served, on either server.
        const restarted = { ...STICKY, defaultRule: { variation: 'control' }, experiment: { ...STICKY.experiment, stickyVersion: 1 } };
        await putFlag(baseA, 'restarted', restarted);
        await until(async () => (await ofrep(baseB, 'restarted', onTreatment[0]!)).variant === 'control', 'server B to start over');
        for (const user of group) {
          assert.equal((await ofrep(baseA, 'restarted', user)).variant, 'control', `${user} on server A`);
          const onB = await ofrep(baseB, 'restarted', user);
          assert.equal(onB.variant, 'control', `${user} on server B`);
          assert.equal(onB.metadata?.sticky, true, 'the new assignment is sticky too');
        }

        // The new set is kept in turn: a 50/50 split again leaves every unit on control.
        await putFlag(baseA, 'restarted', { ...restarted, defaultRule: { percentage: { control: 50, treatment: 50 } } });
        let fresh = 0;
        await until(async () => (await ofrep(baseB, 'restarted', `a-new-unit-${fresh++}`)).variant === 'treatment', 'server B to serve the 50/50 split to new units');
        for (const user of group) assert.equal((await ofrep(baseB, 'restarted', user)).variant, 'control', `${user} keeps its new assignment`);

        // Back to version 0: the first set is still there until it expires.
        await putFlag(baseA, 'restarted', { ...restarted, defaultRule: { percentage: { control: 50, treatment: 50 } }, experiment: { ...STICKY.experiment, stickyVersion: 0 } });
        await until(async () => (await ofrep(baseB, 'restarted', onTreatment[0]!)).variant === 'treatment', 'server B back on the first set');
        for (const user of group) assert.equal((await ofrep(baseA, 'restarted', user)).variant, first.get(user), `${user}: its first assignment`);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});
