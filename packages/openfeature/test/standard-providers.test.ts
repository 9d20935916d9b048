// The standard providers against a real `vexil serve`: @openfeature/ofrep-provider (OFREP, server side) and GO Feature
// Flag's own @openfeature/go-feature-flag-provider (relay API). Both evaluate remotely; the answers must be the
// in-process provider's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFeature, type Client } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { GoFeatureFlagProvider } from '@openfeature/go-feature-flag-provider';
import { VexilProvider } from '@vexil/openfeature';
import { eventually, startServer, type VexilServer } from './helpers/server.js';
import { testFlags } from './helpers/flags.js';

let server: VexilServer;
let vexil: Client;

before(async () => {
  server = await startServer();
  for (const [key, flag] of Object.entries(testFlags)) await server.putFlag(key, flag);
  await OpenFeature.setProviderAndWait('vexil', new VexilProvider({ url: server.url, sdkKey: server.sdkKey, events: false }));
  vexil = OpenFeature.getClient('vexil');
});

after(async () => {
  await OpenFeature.close();
  await server?.stop();
});

type Case = [method: 'Boolean' | 'String' | 'Number' | 'Object', key: string, fallback: any, context: Record<string, unknown>];
const cases: Case[] = [
  ['Boolean', 'bool-flag', false, { targetingKey: 'u1', beta: true }],
  ['Boolean', 'bool-flag', true, { targetingKey: 'u1' }],
  ['String', 'string-flag', 'none', { targetingKey: 'u2', country: 'DE' }],
  ['String', 'string-flag', 'none', { targetingKey: 'u2', email: 'z@example.com' }],
  ['Number', 'number-flag', 0, { targetingKey: 'u3', age: 30 }],
  ['Number', 'number-flag', 0, { targetingKey: 'u3' }],
  ['Object', 'object-flag', {}, { targetingKey: 'u4' }],
  ['String', 'split-flag', 'none', { targetingKey: 'u5' }],
];
const errors: Array<[...Case, string]> = [
  ['Boolean', 'no-such-flag', true, { targetingKey: 'u1' }, 'FLAG_NOT_FOUND'],
  ['Number', 'string-flag', 7, { targetingKey: 'u1' }, 'TYPE_MISMATCH'],
  ['String', 'split-flag', 'dflt', {}, 'TARGETING_KEY_MISSING'],
];

async function details(client: Client, [method, key, fallback, context]: Case) {
  return (client as any)[`get${method}Details`](key, fallback, context);
}

test('@openfeature/ofrep-provider: every type and error case, the same answers as the in-process provider', async () => {
  await OpenFeature.setProviderAndWait('ofrep', new OFREPProvider({ baseUrl: server.url, headers: { Authorization: `Bearer ${server.sdkKey}` } }));
  const ofrep = OpenFeature.getClient('ofrep');
  for (const item of cases) {
    const remote = await details(ofrep, item);
    const local = await details(vexil, item);
    assert.equal(remote.errorCode, undefined, `${item[1]}: ${remote.errorMessage}`);
    assert.deepEqual([remote.value, remote.variant, remote.reason], [local.value, local.variant, local.reason], item[1]);
    assert.equal(remote.flagMetadata.owner, local.flagMetadata.owner);
  }
  for (const [method, key, fallback, context, code] of errors) {
    const remote = await details(ofrep, [method, key, fallback, context]);
    assert.deepEqual([remote.value, remote.reason, remote.errorCode], [fallback, 'ERROR', code], key);
  }
  // A disabled flag answers without a value (OFREP ADR-0006): the code default is served either way.
  const disabled = await ofrep.getBooleanDetails('disabled-flag', true, { targetingKey: 'u1' });
  assert.equal(disabled.value, true);
  // A key that is not accepted.
  await OpenFeature.setProviderAndWait('ofrep-bad-key', new OFREPProvider({ baseUrl: server.url, headers: { Authorization: 'Bearer wrong' } }));
  const refused = await OpenFeature.getClient('ofrep-bad-key').getBooleanDetails('bool-flag', false, { targetingKey: 'u1' });
  assert.deepEqual([refused.value, refused.errorCode], [false, 'GENERAL']);
});

test('@openfeature/go-feature-flag-provider against the relay-compatible API: types, errors, caching, data collection', async () => {
  const goff = new GoFeatureFlagProvider({ endpoint: server.url, apiKey: server.sdkKey, dataFlushInterval: 60_000 });
  await OpenFeature.setProviderAndWait('goff', goff);
  const client = OpenFeature.getClient('goff');
  for (const item of cases) {
    const remote = await details(client, item);
    const local = await details(vexil, item);
    assert.equal(remote.errorCode, undefined, `${item[1]}: ${remote.errorMessage}`);
    assert.deepEqual([remote.value, remote.variant, remote.reason], [local.value, local.variant, local.reason], item[1]);
  }
  // (This provider makes up a key, a hash of the context, when targetingKey is missing: no TARGETING_KEY_MISSING.)
  for (const [method, key, fallback, context, code] of errors.filter(([, , , , code]) => code !== 'TARGETING_KEY_MISSING')) {
    const remote = await details(client, [method, key, fallback, context]);
    assert.deepEqual([remote.value, remote.errorCode], [fallback, code], key);
  }
  const disabled = await client.getBooleanDetails('disabled-flag', true, { targetingKey: 'u1' });
  assert.deepEqual([disabled.value, disabled.reason], [true, 'DISABLED']);
  // The provider caches cacheable results (the relay says which), and reports cached evaluations to the collector.
  const again = await client.getBooleanDetails('bool-flag', false, { targetingKey: 'u1', beta: true });
  assert.deepEqual([again.value, again.reason], [true, 'CACHED']);
  await OpenFeature.clearProviders();
  await eventually(async () => ((await server.admin('GET', '/admin/v1/events')).body.flags['bool-flag']?.on?.count ?? 0) >= 1, 15_000, 'exposure collected');
});
