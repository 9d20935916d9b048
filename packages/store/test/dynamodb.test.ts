// The DynamoDB store: the conformance suite against dynalite (DynamoDB's API, in memory, started by this file), then
// what only this store does. Every store opened here gets its own table.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, DeleteTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FlagDefinition } from '@vexil/core';
import { DynamoFlagStore, parseDynamoUrl } from '../src/dynamodb/index.js';
import { openStore } from '../src/open-store.js';
import { StoreValidationError } from '../src/errors.js';
import type { ChangeEvent } from '../src/types.js';
import { runConformanceSuite } from './conformance.js';
import { cutDynaliteRelay, dynaliteEndpoint, dynaliteRelay, stopDynalite, stopDynaliteRelay } from './dynalite.js';

const run = randomBytes(4).toString('hex');
let tables = 0;
let latest = '';
const created: string[] = [];

const url = (table: string, endpoint: string) => `dynamodb://${table}?region=eu-west-1&endpoint=${encodeURIComponent(endpoint)}&poll=100`;

async function openTable(table: string): Promise<DynamoFlagStore> {
  return DynamoFlagStore.open(url(table, await dynaliteEndpoint()));
}

function freshTable(): string {
  const table = `vexil-test-${run}-${++tables}`;
  created.push(table);
  return table;
}

async function admin(): Promise<DynamoDBDocumentClient> {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: await dynaliteEndpoint(), region: 'eu-west-1' }));
}

async function cleanup(): Promise<void> {
  const client = await admin();
  for (const table of created.splice(0)) await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  client.destroy();
}

runConformanceSuite('dynamodb (dynalite)', {
  async open() {
    latest = freshTable();
    return DynamoFlagStore.open(url(latest, await dynaliteRelay()));
  },
  openSecond: async () => DynamoFlagStore.open(url(latest, await dynaliteRelay())),
  async dropConnections() {
    cutDynaliteRelay();
  },
  async corrupt(key) {
    const client = await admin();
    await client.send(
      new UpdateCommand({ TableName: latest, Key: { pk: 'flag', sk: key }, UpdateExpression: 'SET body = :body', ExpressionAttributeValues: { ':body': '{"variations": 42}' } }),
    );
    client.destroy();
  },
  cleanup,
});

const by = { actor: 'test' };
const flag = (serve: 'on' | 'off' = 'on'): FlagDefinition => ({ variations: { on: true, off: false }, defaultRule: { variation: serve } });

describe('DynamoDB store', () => {
  after(async () => {
    await cleanup();
    await stopDynaliteRelay();
    await stopDynalite();
  });

  it('parses dynamodb:// URLs and rejects bad ones with the reason', () => {
    assert.deepEqual(parseDynamoUrl('dynamodb://flags?region=eu-west-1&endpoint=http://127.0.0.1:8000'), {
      table: 'flags',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:8000',
      pollIntervalMs: undefined,
      changeFeed: undefined,
    });
    assert.equal(parseDynamoUrl('dynamodb://flags?feed=poll').changeFeed, 'poll');
    assert.throws(() => parseDynamoUrl('dynamodb://flags?feed=push'), /feed parameter .* auto, streams or poll/);
    assert.equal(parseDynamoUrl('dynamodb://flags?poll=250').pollIntervalMs, 250);
    assert.throws(() => parseDynamoUrl('dynamodb://a?region=x'), /table name/);
    assert.throws(() => parseDynamoUrl('dynamodb://flags?poll=soon'), /poll/);
    assert.throws(() => parseDynamoUrl('redis://flags'), /not a DynamoDB store URL/);
  });

  it('openStore() opens dynamodb:// URLs and creates the table when missing', async () => {
    const table = freshTable();
    const client = new DynamoDBClient({ endpoint: await dynaliteEndpoint(), region: 'eu-west-1' });
    try {
      assert.ok(!(await client.send(new ListTablesCommand({}))).TableNames?.includes(table));
      const store = await openStore(url(table, await dynaliteEndpoint()));
      try {
        assert.equal(store.kind, 'dynamodb');
        assert.ok((await client.send(new ListTablesCommand({}))).TableNames?.includes(table), 'the table was created');
        await store.put('f', flag(), by);
        assert.deepEqual((await store.get('f'))?.flag, flag());
      } finally {
        await store.close();
      }
    } finally {
      client.destroy();
    }
  });

  it('refuses an item above the 400 KB limit with a clear error, and writes nothing; never truncates', async () => {
    const store = await openTable(freshTable());
    try {
      await store.putSegments({ staff: { query: 'email ew "@example.com"' } }, by);
      const revision = (await store.list()).revision;
      // Flags are capped below DynamoDB's limit by the core (256 KiB); segments and long reasons are not.
      const huge = { staff: { query: 'email ew "@example.com"' }, many: { query: `id in [${Array.from({ length: 60_000 }, (_, i) => `"user-${i}"`).join(',')}]` } };
      await assert.rejects(store.putSegments(huge, by), (error: unknown) => {
        assert.ok(error instanceof StoreValidationError, String(error));
        assert.match(error.message, /400 KB/);
        assert.match(error.message, /nothing was written/);
        return true;
      });
      await assert.rejects(store.put('f', flag(), { actor: 'test', reason: 'r'.repeat(410 * 1024) }), /400 KB/);
      assert.equal((await store.list()).revision, revision, 'nothing was written');
      assert.deepEqual(Object.keys((await store.list()).segments), ['staff']);
      // Just under the limit is stored whole.
      const large: FlagDefinition = { ...flag('off'), metadata: { blob: 'y'.repeat(250 * 1024) } };
      await store.put('big', large, { actor: 'test', reason: 'r'.repeat(100 * 1024) });
      assert.equal(((await store.get('big'))?.flag.metadata?.blob as string).length, 250 * 1024);
      assert.equal((await store.audit({ key: 'big' })).entries[0]?.reason?.length, 100 * 1024);
    } finally {
      await store.close();
    }
  });

  it('reads past DynamoDB\'s 1 MB page: the audit and the change feed over large changes miss none', async () => {
    const store = await openTable(freshTable());
    try {
      const big = (i: number): FlagDefinition => ({ ...flag(), metadata: { i, blob: String(i).repeat(240 * 1024) } });
      for (let i = 0; i < 6; i++) await store.put(`big-${i}`, big(i), by);
      const audit = await store.audit({ limit: 10 });
      assert.deepEqual(audit.entries.map((e) => e.key), [5, 4, 3, 2, 1, 0].map((i) => `big-${i}`));
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 15_000);
      const seen: number[] = [];
      for await (const event of store.watch({ fromRevision: 0, signal: controller.signal })) {
        seen.push(event.revision);
        if (seen.length === 6) break;
      }
      clearTimeout(timer);
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
      assert.equal((await store.list()).flags.length, 6);
    } finally {
      await store.close();
    }
  });

  it('a write claimed but never applied (a writer that died) is applied by the next reader and writer', async () => {
    const table = freshTable();
    const store = await openTable(table);
    try {
      await store.put('f', flag('off'), by);
      // Simulate a writer that died after claiming revision 2: the change item exists, the flag item is old.
      const client = await admin();
      const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
      await client.send(
        new PutCommand({
          TableName: table,
          Item: { pk: 'change', sk: '2'.padStart(16, '0'), revision: 2, type: 'put', key: 'f', body: JSON.stringify(flag('on')), version: 2, existed: true, beforeRevision: 1, actor: 'ghost', at: new Date().toISOString() },
        }),
      );
      client.destroy();
      const list = await store.list();
      assert.equal(list.revision, 2);
      assert.deepEqual(list.flags.find((f) => f.key === 'f')?.flag, flag('on'));
      assert.equal((await store.get('f'))?.version, 2);
      const next = await store.put('f', flag('off'), { ...by, expectedVersion: 2 });
      assert.deepEqual([next.version, next.revision], [3, 3]);
    } finally {
      await store.close();
    }
  });

  it('a watcher on another instance receives changes by polling', async () => {
    const table = freshTable();
    const writer = await openTable(table);
    const reader = await openTable(table);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 15_000);
    try {
      const events: ChangeEvent[] = [];
      const watching = (async () => {
        for await (const event of reader.watch({ fromRevision: 0, signal: controller.signal })) {
          events.push(event);
          if (events.length === 3) break;
        }
      })();
      await writer.put('a', flag(), by);
      await writer.put('a', flag('off'), by);
      await writer.delete('a', by);
      await watching;
      assert.deepEqual(events.map((e) => [e.type, e.revision]), [['put', 1], ['put', 2], ['delete', 3]]);
    } finally {
      clearTimeout(timer);
      await writer.close();
      await reader.close();
    }
  });

  it('one instance id for every store opening a new table at once; a new id once the table is recreated', async () => {
    const table = freshTable();
    const stores = await Promise.all(Array.from({ length: 6 }, () => openTable(table)));
    let id: string | undefined;
    try {
      const ids = new Set(stores.map((store) => store.instanceId));
      assert.equal(ids.size, 1, 'one id wins the conditional put');
      id = [...ids][0];
      assert.match(id ?? '', /^[0-9a-f-]{36}$/);
      await stores[0]!.put('kept', flag(), by);
      assert.deepEqual(await stores[1]!.identity(), { instanceId: id, revision: 1 });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
    const client = await admin();
    await client.send(new DeleteTableCommand({ TableName: table }));
    client.destroy();
    const recreated = await openTable(table);
    try {
      assert.notEqual(recreated.instanceId, id, 'the data was recreated: another store');
      assert.deepEqual((await recreated.identity()).revision, 0, 'revisions start again');
    } finally {
      await recreated.close();
    }
  });

  it('names the missing permission when the table does not exist and may not be created', async () => {
    // An endpoint that answers like DynamoDB to credentials without dynamodb:CreateTable.
    const server = createServer((request, response) => {
      const target = String(request.headers['x-amz-target'] ?? '');
      request.resume();
      request.on('end', () => {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(
          JSON.stringify(
            target.endsWith('DescribeTable')
              ? { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' }
              : { __type: 'com.amazon.coral.service#AccessDeniedException', message: 'User is not authorized to perform: dynamodb:CreateTable' },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await assert.rejects(DynamoFlagStore.open(url('no-such-table', endpoint)), /dynamodb:CreateTable/);
      await assert.rejects(DynamoFlagStore.open(url('no-such-table', endpoint), { createTable: false }), /does not exist: create it with key schema pk/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
