// Daemon mode: flags straight from a real Redis store and its change feed, no server in between.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFeature, ProviderEvents, type EventDetails } from '@openfeature/server-sdk';
import { openStore } from '@vexil/store';
import { VexilProvider } from '@vexil/openfeature';
import { deletePrefix, redisAvailable, storeUrl, uniquePrefix } from './helpers/redis.js';
import { flagsChanged, waitFor } from './helpers/server.js';

const prefix = uniquePrefix();
const available = await redisAvailable();
const writer = available ? await openStore(storeUrl(prefix)) : undefined;

before(async () => {
  if (!writer) return;
  await writer.putSegments!({ pro: { query: 'plan eq "pro"' } }, { actor: 'test' });
  await writer.put('checkout', { variations: { on: true, off: false }, targeting: [{ query: '@pro', variation: 'on' }], defaultRule: { variation: 'off' } }, { actor: 'test' });
});

after(async () => {
  await OpenFeature.close();
  await writer?.close();
  if (available) await deletePrefix(prefix);
});

test('reads flags and segments from Redis, follows its change feed', { skip: !available && 'no Redis' }, async () => {
  const provider = new VexilProvider({ store: storeUrl(prefix), events: false });
  await OpenFeature.setProviderAndWait('daemon', provider);
  const client = OpenFeature.getClient('daemon');
  const pro = await client.getBooleanDetails('checkout', false, { targetingKey: 'u1', plan: 'pro' });
  assert.deepEqual([pro.value, pro.variant, pro.reason], [true, 'on', 'TARGETING_MATCH']);
  assert.equal(await client.getBooleanValue('checkout', true, { targetingKey: 'u2', plan: 'free' }), false);

  const changes = (accept: (details: EventDetails | undefined) => boolean) =>
    waitFor<EventDetails | undefined>((handler) => {
      client.addHandler(ProviderEvents.ConfigurationChanged, handler);
      return () => client.removeHandler(ProviderEvents.ConfigurationChanged, handler);
    }, accept);

  // A flag written by another process.
  let changed = changes((d) => flagsChanged(d).includes('banner'));
  await writer!.put('banner', { variations: { a: 'hello', b: 'bye' }, defaultRule: { variation: 'a' } }, { actor: 'test' });
  await changed;
  assert.equal(await client.getStringValue('banner', '', {}), 'hello');

  // A segment change reports the flags that use it.
  changed = changes((d) => flagsChanged(d).includes('checkout'));
  await writer!.putSegments!({ pro: { query: 'plan in ["pro", "enterprise"]' } }, { actor: 'test' });
  assert.deepEqual((await changed)?.flagsChanged, ['checkout']);
  assert.equal(await client.getBooleanValue('checkout', false, { targetingKey: 'u3', plan: 'enterprise' }), true);

  changed = changes((d) => flagsChanged(d).includes('banner'));
  await writer!.delete('banner', { actor: 'test' });
  await changed;
  assert.equal((await client.getStringDetails('banner', '-', {})).errorCode, 'FLAG_NOT_FOUND');
  assert.equal(provider.stats().freshness, 'live');
});

test('daemon mode reads the environment it is given (`environment: "project/env"`), and only that one', async () => {
  const schema = `vexil_daemon_env_${Math.random().toString(36).slice(2, 10)}`;
  const url = `${process.env.VEXIL_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'}?schema=${schema}`;
  const root = await openStore(url);
  const postgresClient = (await import('postgres')).default(process.env.VEXIL_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test', { onnotice: () => undefined });
  try {
    await root.catalog!.createProject({ key: 'shop' }, [{ key: 'staging' }, { key: 'production' }], { actor: 'test' });
    const staging = await root.catalog!.environment({ project: 'shop', environment: 'staging' });
    const production = await root.catalog!.environment({ project: 'shop', environment: 'production' });
    await staging.put('banner', { variations: { a: 'staging', b: 'production' }, defaultRule: { variation: 'a' } }, { actor: 'test' });
    await production.put('banner', { variations: { a: 'staging', b: 'production' }, defaultRule: { variation: 'b' } }, { actor: 'test' });
    const provider = new VexilProvider({ store: url, environment: 'shop/production', events: false });
    await OpenFeature.setProviderAndWait('daemon-env', provider);
    const client = OpenFeature.getClient('daemon-env');
    assert.equal(await client.getStringValue('banner', '-', {}), 'production');
    const changed = waitFor<EventDetails | undefined>((handler) => {
      client.addHandler(ProviderEvents.ConfigurationChanged, handler);
      return () => client.removeHandler(ProviderEvents.ConfigurationChanged, handler);
    }, (details) => flagsChanged(details).includes('banner'));
    await staging.put('banner', { variations: { a: 'staging', b: 'production' }, defaultRule: { variation: 'b' } }, { actor: 'test' });
    await production.put('banner', { variations: { a: 'staging', b: 'production' }, defaultRule: { variation: 'a' } }, { actor: 'test' });
    await changed;
    assert.equal(await client.getStringValue('banner', '-', {}), 'staging', "production's change arrived");
    await provider.onClose();
  } finally {
    await root.close();
    await postgresClient.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    const left = await postgresClient<{ nspname: string }[]>`SELECT nspname FROM pg_namespace WHERE nspname LIKE ${`${schema}_e_%`}`;
    for (const { nspname } of left) await postgresClient.unsafe(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
    await postgresClient.end();
  }
});
