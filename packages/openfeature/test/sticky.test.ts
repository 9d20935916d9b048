// Sticky assignment in the provider: with `experiment.sticky`, a unit keeps its first variation after the split
// changes, in daemon mode (assignments in Redis, shared with the server and other processes) and against a real
// `vexil serve` (which keeps them in its store). The direct client's synchronous methods serve a unit's assignment
// once it is known.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFeature } from '@openfeature/server-sdk';
import { openStore, type FlagStore } from '@vexil/store';
import { VexilClient, VexilProvider } from '@vexil/openfeature';
import { deletePrefix, redisAvailable, storeUrl, uniquePrefix } from './helpers/redis.js';
import { eventually, startServer } from './helpers/server.js';

const STICKY = {
  variations: { control: 'blue', treatment: 'green' },
  defaultRule: { percentage: { control: 50, treatment: 50 } },
  experiment: { control: 'control', sticky: true, metrics: [{ event: 'purchase', type: 'binomial' }] },
};
const users = Array.from({ length: 80 }, (_, i) => `user-${i}`);
const available = await redisAvailable();
const prefix = uniquePrefix();
const opened: FlagStore[] = [];

after(async () => {
  await OpenFeature.close();
  for (const store of opened) await store.close();
  if (available) await deletePrefix(prefix);
});

test('daemon mode: units keep their variation after the split changes; another process sees the same assignments', { skip: !available && 'no Redis' }, async () => {
  const writer = await openStore(storeUrl(prefix));
  opened.push(writer);
  await writer.put('sticky-button', STICKY as never, { actor: 'test' });
  const provider = new VexilProvider({ store: storeUrl(prefix), events: false });
  await OpenFeature.setProviderAndWait('sticky-daemon', provider);
  const client = OpenFeature.getClient('sticky-daemon');
  const first = new Map<string, string>();
  for (const user of users) first.set(user, (await client.getStringDetails('sticky-button', '', { targetingKey: user })).variant!);
  assert.equal(new Set(first.values()).size, 2, 'both variations served');

  await writer.put('sticky-button', { ...STICKY, defaultRule: { variation: 'control' } } as never, { actor: 'test' });
  await eventually(async () => (await client.getStringDetails('sticky-button', '', { targetingKey: 'someone-new' })).variant === 'control', 10_000, 'the new split');
  for (const user of users) assert.equal((await client.getStringDetails('sticky-button', '', { targetingKey: user })).variant, first.get(user), user);

  // Another process (a direct client of its own) reads the same assignments: its synchronous call serves the
  // flag's own result on a miss, and the kept variation once it is known.
  const other = new VexilClient({ store: storeUrl(prefix), events: false });
  await other.start();
  try {
    const moved = users.find((user) => first.get(user) === 'treatment')!;
    await eventually(() => other.string('sticky-button', { targetingKey: moved }, '') === 'green', 10_000, 'the kept assignment in the other process');
  } finally {
    await other.close();
  }
});

test('server mode: the provider serves the assignments the server keeps', async () => {
  const server = await startServer();
  try {
    await server.putFlag('sticky-button', STICKY);
    const provider = new VexilProvider({ url: server.url, sdkKey: server.sdkKey, events: false });
    await OpenFeature.setProviderAndWait('sticky-server', provider);
    const client = OpenFeature.getClient('sticky-server');
    const first = new Map<string, string>();
    for (const user of users) first.set(user, (await client.getStringDetails('sticky-button', '', { targetingKey: user })).variant!);
    assert.equal(new Set(first.values()).size, 2, 'both variations served');
    await server.putFlag('sticky-button', { ...STICKY, defaultRule: { variation: 'control' } });
    await eventually(async () => (await client.getStringDetails('sticky-button', '', { targetingKey: 'someone-new' })).variant === 'control', 10_000, 'the new split');
    for (const user of users) assert.equal((await client.getStringDetails('sticky-button', '', { targetingKey: user })).variant, first.get(user), user);
    // The server serves the same over OFREP to any other SDK.
    const moved = users.find((user) => first.get(user) === 'treatment')!;
    const response = await fetch(`${server.url}/ofrep/v1/evaluate/flags/sticky-button`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: moved } }),
    });
    assert.equal(((await response.json()) as { variant: string }).variant, 'treatment');
  } finally {
    await server.stop();
  }
});

test('server mode: asking the server for an assignment is not an exposure; serving it is, once', async () => {
  const server = await startServer({ extraArgs: ['--events', 'pglite:memory:'] });
  const since = new Date(Date.now() - 60_000).toISOString();
  try {
    await server.putFlag('sticky-counted', STICKY);
    const provider = new VexilProvider({ url: server.url, sdkKey: server.sdkKey, events: { flushIntervalMs: 100 } });
    await OpenFeature.setProviderAndWait('sticky-counted', provider);
    const client = OpenFeature.getClient('sticky-counted');
    const some = users.slice(0, 20);
    // Each unit: one assignment asked of the server (a miss), then the variation served here, once.
    for (const user of some) assert.notEqual((await client.getStringDetails('sticky-counted', '', { targetingKey: user })).variant, undefined);
    await provider.flush();
    const totals = await eventually(async () => {
      const response = await fetch(`${server.url}/admin/v1/flags/sticky-counted/events?since=${encodeURIComponent(since)}`, { headers: { 'x-api-key': server.adminKey } });
      const summary = (await response.json()) as { variations: Array<{ variation: string; evaluations: number; units: number }> };
      const evaluations = summary.variations.reduce((sum, row) => sum + row.evaluations, 0);
      return evaluations >= some.length ? summary.variations : undefined;
    }, 15_000, 'the exposures written');
    // Another moment for anything else that would still arrive (a second count of the same evaluations).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const response = await fetch(`${server.url}/admin/v1/flags/sticky-counted/events?since=${encodeURIComponent(since)}`, { headers: { 'x-api-key': server.adminKey } });
    const after = ((await response.json()) as { variations: Array<{ evaluations: number; units: number }> }).variations;
    assert.equal(after.reduce((sum, row) => sum + row.evaluations, 0), some.length, `one exposure per unit: ${JSON.stringify(totals)}`);
    assert.equal(after.reduce((sum, row) => sum + row.units, 0), some.length);
  } finally {
    await server.stop();
  }
});
