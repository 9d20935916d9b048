// The DynamoDB store on AWS's DynamoDB Local, which serves DynamoDB Streams (dynalite does not): the conformance suite
// with polling all but switched off (once a minute), so every change another store object writes must reach watchers
// through the stream; then what the stream path alone does, and the fall-back to polling where there is no stream.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient, DeleteTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FlagDefinition } from '@vexil/core';
import { DynamoFlagStore } from '../src/dynamodb/index.js';
import type { ApiKeyChange, ChangeEvent } from '../src/types.js';
import { runConformanceSuite } from './conformance.js';
import { dynamoLocalEndpoint, stopDynamoLocal } from './dynamodb-local.js';
import { dynaliteEndpoint, stopDynalite } from './dynalite.js';

const run = randomBytes(4).toString('hex');
let tables = 0;
let latest = '';
const created: string[] = [];
/** Once a minute: anything a test sees sooner came through the stream (or from a write by the same object). */
const RARELY = 60_000;

const url = (table: string, endpoint: string, params = `poll=${RARELY}&feed=streams`) =>
  `dynamodb://${table}?region=eu-west-1&endpoint=${encodeURIComponent(endpoint)}&${params}`;

function freshTable(): string {
  const table = `vexil-streams-${run}-${++tables}`;
  created.push(table);
  return table;
}

async function admin(): Promise<DynamoDBDocumentClient> {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: await dynamoLocalEndpoint(), region: 'eu-west-1' }));
}

async function cleanup(): Promise<void> {
  const client = await admin();
  for (const table of created.splice(0)) await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  client.destroy();
}

runConformanceSuite('dynamodb (DynamoDB Local, change feed by DynamoDB Streams)', {
  async open() {
    latest = freshTable();
    return DynamoFlagStore.open(url(latest, await dynamoLocalEndpoint()));
  },
  openSecond: async () => DynamoFlagStore.open(url(latest, await dynamoLocalEndpoint())),
  async corrupt(key) {
    const client = await admin();
    await client.send(
      new UpdateCommand({ TableName: latest, Key: { pk: 'flag', sk: key }, UpdateExpression: 'SET body = :body', ExpressionAttributeValues: { ':body': '{"variations": 42}' } }),
    );
    client.destroy();
  },
  cleanup,
}, { writers: 20, rounds: 2 });

const by = { actor: 'test' };
const flag = (serve: 'on' | 'off' = 'on'): FlagDefinition => ({ variations: { on: true, off: false }, defaultRule: { variation: serve } });

/** The next event of `events`, or a failure after `ms`. */
async function next<T>(events: AsyncIterator<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      events.next(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms))),
    ]);
    if (result.done) throw new Error(`${what}: the feed ended`);
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

describe('DynamoDB store: change feed by DynamoDB Streams', () => {
  after(async () => {
    await cleanup();
    await stopDynamoLocal();
    await stopDynalite();
  });

  it('creates the table with a keys-only stream, and says the feed reads it', async () => {
    const table = freshTable();
    const store = await DynamoFlagStore.open(url(table, await dynamoLocalEndpoint(), `poll=${RARELY}`));
    const client = new DynamoDBClient({ endpoint: await dynamoLocalEndpoint(), region: 'eu-west-1' });
    try {
      const description = (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
      assert.deepEqual(description?.StreamSpecification, { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' });
      const deadline = Date.now() + 20_000;
      while (store.changeFeed !== 'streams' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(store.changeFeed, 'streams');
    } finally {
      client.destroy();
      await store.close();
    }
  });

  it("another process's writes, in each environment, and key revocations arrive by the stream, long before a poll", async () => {
    const table = freshTable();
    const endpoint = await dynamoLocalEndpoint();
    const reader = await DynamoFlagStore.open(url(table, endpoint));
    const writer = await DynamoFlagStore.open(url(table, endpoint));
    const aborts = new AbortController();
    try {
      await reader.catalog!.createProject({ key: 'shop' }, [{ key: 'staging' }], by);
      const readerStaging = await reader.catalog!.environment({ project: 'shop', environment: 'staging' });
      const writerStaging = await writer.catalog!.environment({ project: 'shop', environment: 'staging' });
      const root = reader.watch({ signal: aborts.signal })[Symbol.asyncIterator]();
      const scoped = readerStaging.watch({ signal: aborts.signal })[Symbol.asyncIterator]();
      const revoked: ApiKeyChange[] = [];
      const unsubscribe = reader.apiKeys!.onChange!((change) => revoked.push(change));
      // Let the watchers take their starting revision and the key listener its first reading.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await writer.put('checkout', flag('on'), by);
      const put = (await next(root, RARELY / 3, 'root environment')) as ChangeEvent & { key: string };
      assert.equal(put.type, 'put');
      assert.equal(put.key, 'checkout');
      await writerStaging.put('banner', flag('off'), by);
      const scopedPut = (await next(scoped, RARELY / 3, 'staging environment')) as ChangeEvent & { key: string };
      assert.equal(scopedPut.key, 'banner');
      await writer.apiKeys!.create({ id: 'k1', name: 'ci', kind: 'sdk', role: 'reader', hash: 'a'.repeat(64), prefix: 'vxl_sdk_', createdAt: new Date().toISOString(), createdBy: 'test' });
      await writer.apiKeys!.revoke('k1', 'test');
      const deadline = Date.now() + RARELY / 3;
      while (!revoked.some((change) => change.type === 'revoked' && change.id === 'k1') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(revoked.some((change) => change.type === 'revoked' && change.id === 'k1'), `revocation heard: ${JSON.stringify(revoked)}`);
      unsubscribe();
    } finally {
      aborts.abort();
      await reader.close();
      await writer.close();
    }
  });

  it('feed=poll never reads the stream; a table without one polls in auto mode, and feed=streams refuses it', async () => {
    const table = freshTable();
    const polling = await DynamoFlagStore.open(url(table, await dynamoLocalEndpoint(), 'poll=100&feed=poll'));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(polling.changeFeed, 'polling');
    } finally {
      await polling.close();
    }
    // dynalite has no Streams API and ignores a table's stream settings.
    const other = `vexil-nostream-${run}`;
    const auto = await DynamoFlagStore.open(url(other, await dynaliteEndpoint(), 'poll=100'));
    try {
      assert.equal(auto.changeFeed, 'polling');
      const second = await DynamoFlagStore.open(url(other, await dynaliteEndpoint(), 'poll=100'));
      const events = auto.watch()[Symbol.asyncIterator]();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await second.put('f', flag(), by);
      assert.equal(((await next(events, 20_000, 'polled change')) as { key: string }).key, 'f');
      await events.return?.();
      await second.close();
    } finally {
      await auto.close();
    }
    await assert.rejects(DynamoFlagStore.open(url(other, await dynaliteEndpoint(), 'feed=streams')), /has no stream: enable DynamoDB Streams/);
  });
});
