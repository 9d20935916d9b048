// Daemon mode on DynamoDB: flags straight from a DynamoDB table (dynalite, started here on a free port) and its
// polled change feed, no server in between.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import dynalite from 'dynalite';
import { OpenFeature, ProviderEvents, type EventDetails } from '@openfeature/server-sdk';
import { openStore, type FlagStore } from '@vexil/store';
import { VexilProvider } from '@vexil/openfeature';
import { flagsChanged, waitFor } from './helpers/server.js';

process.env.AWS_ACCESS_KEY_ID ??= 'vexil-test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'vexil-test';

const server = dynalite({ createTableMs: 0 }) as Server;
let url = '';
let writer: FlagStore | undefined;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  url = `dynamodb://vexil-daemon-${randomBytes(4).toString('hex')}?region=eu-west-1&endpoint=${encodeURIComponent(endpoint)}&poll=100`;
  writer = await openStore(url);
  await writer.putSegments!({ pro: { query: 'plan eq "pro"' } }, { actor: 'test' });
  await writer.put('checkout', { variations: { on: true, off: false }, targeting: [{ query: '@pro', variation: 'on' }], defaultRule: { variation: 'off' } }, { actor: 'test' });
});

after(async () => {
  await OpenFeature.close();
  await writer?.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('reads flags and segments from DynamoDB, follows its change feed', async () => {
  const provider = new VexilProvider({ store: url, events: false });
  await OpenFeature.setProviderAndWait('daemon-dynamodb', provider);
  const client = OpenFeature.getClient('daemon-dynamodb');
  const pro = await client.getBooleanDetails('checkout', false, { targetingKey: 'u1', plan: 'pro' });
  assert.deepEqual([pro.value, pro.variant, pro.reason], [true, 'on', 'TARGETING_MATCH']);
  assert.equal(await client.getBooleanValue('checkout', true, { targetingKey: 'u2', plan: 'free' }), false);

  const changes = (accept: (details: EventDetails | undefined) => boolean) =>
    waitFor<EventDetails | undefined>((handler) => {
      client.addHandler(ProviderEvents.ConfigurationChanged, handler);
      return () => client.removeHandler(ProviderEvents.ConfigurationChanged, handler);
    }, accept);

  // A flag written by another store object (another process, as far as the provider can tell).
  let changed = changes((d) => flagsChanged(d).includes('banner'));
  await writer!.put('banner', { variations: { a: 'hello', b: 'bye' }, defaultRule: { variation: 'a' } }, { actor: 'test' });
  await changed;
  assert.equal(await client.getStringValue('banner', '', {}), 'hello');

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
