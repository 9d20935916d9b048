// Projects × environments on the DynamoDB store, against dynalite (DynamoDB's API, in memory, started by this file):
// the catalog conformance suite, then the flag conformance suite against an environment's own store. Every store
// opened here gets its own table, deleted at the end.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FlagDefinition } from '@vexil/core';
import { DynamoDocumentStore } from '../src/dynamodb/documents.js';
import { StoreConflictError, StoreValidationError } from '../src/errors.js';
import { DynamoFlagStore } from '../src/dynamodb/index.js';
import type { FlagStore } from '../src/types.js';
import { catalogConformance } from './catalog-conformance.js';
import { runConformanceSuite } from './conformance.js';
import { cutDynaliteRelay, dynaliteEndpoint, dynaliteRelay, stopDynalite, stopDynaliteRelay } from './dynalite.js';

const run = randomBytes(4).toString('hex');
let tables = 0;
const created: string[] = [];
const url = (table: string, endpoint: string) => `dynamodb://${table}?region=eu-west-1&endpoint=${encodeURIComponent(endpoint)}&poll=100`;

function freshTable(): string {
  const table = `vexil-test-cat-${run}-${++tables}`;
  created.push(table);
  return table;
}

async function admin(): Promise<DynamoDBDocumentClient> {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: await dynaliteEndpoint(), region: 'eu-west-1' }));
}

async function openTable(table: string): Promise<DynamoFlagStore> {
  return DynamoFlagStore.open(url(table, await dynaliteEndpoint()));
}

/** Every item key of a table, as `pk/sk`. */
async function itemKeys(table: string): Promise<string[]> {
  const client = await admin();
  try {
    const keys: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ProjectionExpression: 'pk, sk', ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const item of page.Items ?? []) keys.push(`${String(item.pk)}/${String(item.sk)}`);
      start = page.LastEvaluatedKey;
    } while (start);
    return keys.sort();
  } finally {
    client.destroy();
  }
}

after(async () => {
  const client = await admin();
  for (const table of created.splice(0)) await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  client.destroy();
  await stopDynaliteRelay();
  await stopDynalite();
});

let catalogTable = '';
catalogConformance('dynamodb (dynalite)', {
  async open() {
    catalogTable = freshTable();
    return DynamoFlagStore.open(url(catalogTable, await dynaliteEndpoint()));
  },
  openSecond: async () => DynamoFlagStore.open(url(catalogTable, await dynaliteEndpoint())),
});

const roots: FlagStore[] = [];
let scopedTable = '';
let environmentId = '';
async function staging(root: DynamoFlagStore): Promise<FlagStore> {
  roots.push(root);
  const ref = { project: 'default', environment: 'staging' };
  if (!(await root.catalog!.getEnvironment(ref))) await root.catalog!.createEnvironment('default', { key: 'staging' }, { actor: 'test' });
  environmentId = (await root.catalog!.getEnvironment(ref))!.id;
  return root.catalog!.environment(ref);
}
runConformanceSuite('dynamodb environment store (default/staging)', {
  async open() {
    scopedTable = freshTable();
    return staging(await DynamoFlagStore.open(url(scopedTable, await dynaliteRelay())));
  },
  openSecond: async () => staging(await DynamoFlagStore.open(url(scopedTable, await dynaliteRelay()))),
  async dropConnections() {
    cutDynaliteRelay();
  },
  async corrupt(key: string) {
    const client = await admin();
    await client.send(
      new UpdateCommand({
        TableName: scopedTable,
        Key: { pk: `e#${environmentId}#flag`, sk: key },
        UpdateExpression: 'SET body = :body',
        ExpressionAttributeValues: { ':body': '{"variations": 42}' },
      }),
    );
    client.destroy();
  },
  async cleanup() {
    for (const root of roots.splice(0)) await root.close();
  },
});

const by = { actor: 'test' };
const flag = (serve: 'on' | 'off' = 'on'): FlagDefinition => ({ variations: { on: true, off: false }, defaultRule: { variation: serve } });

describe('DynamoDB catalog', () => {

  /** A document store on a fresh table, as the root store gives the catalog. */
  async function documentStore(): Promise<{ documents: DynamoDocumentStore; table: string; close(): Promise<void> }> {
    const table = freshTable();
    const store = await openTable(table);
    const client = await admin();
    return {
      documents: new DynamoDocumentStore(table, client, (request) => request()),
      table,
      async close() {
        client.destroy();
        await store.close();
      },
    };
  }

  it('documents: versions, conditional writes and deletes, conflicts naming collection/id, lists by collection', async () => {
    const { documents, close } = await documentStore();
    try {
      assert.equal(await documents.get('things', 'a'), undefined);
      assert.equal(await documents.put('things', 'a', { n: 1 }, 0), 1);
      await assert.rejects(documents.put('things', 'a', { n: 2 }, 0), (error: unknown) => {
        assert.ok(error instanceof StoreConflictError);
        assert.equal(error.key, 'things/a');
        assert.equal(error.currentVersion, 1);
        return true;
      });
      assert.equal(await documents.put('things', 'a', { n: 2 }, 1), 2);
      await assert.rejects(documents.put('things', 'a', { n: 3 }, 1), StoreConflictError);
      assert.equal(await documents.put('things', 'a', { n: 3 }), 3, 'unconditional writes count versions too');
      assert.equal(await documents.put('things', 'new', { n: 1 }), 1, 'an unconditional write creates at version 1');
      await assert.rejects(documents.put('things', 'missing', {}, 4), (error: unknown) => error instanceof StoreConflictError && error.currentVersion === 0);
      assert.deepEqual(await documents.get('things', 'a'), { id: 'a', doc: { n: 3 }, version: 3 });
      await documents.put('others', 'z', { other: true });
      await documents.put('things', 'b/c', { '': 'empty key', nested: [1, { x: null }] });
      assert.deepEqual((await documents.list('things')).map((d) => [d.id, d.version]), [['a', 3], ['b/c', 1], ['new', 1]]);
      assert.deepEqual((await documents.get('things', 'b/c'))?.doc, { '': 'empty key', nested: [1, { x: null }] });
      assert.deepEqual(await documents.list('nothing'), []);

      await assert.rejects(documents.delete('things', 'a', 2), (error: unknown) => error instanceof StoreConflictError && error.key === 'things/a');
      assert.equal(await documents.delete('things', 'a', 3), true);
      assert.equal(await documents.delete('things', 'a', 3), false, 'nothing left to delete');
      assert.equal(await documents.delete('things', 'new'), true);
      assert.equal(await documents.delete('things', 'new'), false);
      assert.deepEqual((await documents.list('things')).map((d) => d.id), ['b/c']);
      await assert.rejects(documents.put('', 'a', {}), TypeError);
      await assert.rejects(documents.get('things', ''), TypeError);
    } finally {
      await close();
    }
  });

  it('documents: 50 racing writers each add one to a counter, none loses an update', { timeout: 120_000 }, async () => {
    const { documents, close } = await documentStore();
    try {
      await documents.put('counters', 'c', { value: 0 }, 0);
      let conflicts = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          for (;;) {
            const current = (await documents.get<{ value: number }>('counters', 'c'))!;
            try {
              await documents.put('counters', 'c', { value: current.doc.value + 1 }, current.version);
              return;
            } catch (error) {
              if (!(error instanceof StoreConflictError)) throw error;
              conflicts++;
            }
          }
        }),
      );
      const final = await documents.get<{ value: number }>('counters', 'c');
      assert.deepEqual([final?.doc.value, final?.version], [50, 51]);
      assert.ok(conflicts > 0, 'the writers did race');
      // Unconditional writes racing: each one a version of its own.
      const versions = await Promise.all(Array.from({ length: 50 }, (_, i) => documents.put('counters', 'free', { i })));
      assert.deepEqual([...versions].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    } finally {
      await close();
    }
  });

  it('documents: one above the 400 KB item limit is refused with a clear error, and nothing is written', async () => {
    const { documents, close } = await documentStore();
    try {
      await assert.rejects(documents.put('big', 'doc', { blob: 'x'.repeat(401 * 1024) }), (error: unknown) => {
        assert.ok(error instanceof StoreValidationError, String(error));
        assert.match(error.message, /400 KB/);
        assert.match(error.message, /big\/doc/);
        assert.match(error.message, /nothing was written/);
        return true;
      });
      assert.equal(await documents.get('big', 'doc'), undefined);
      assert.equal(await documents.put('big', 'doc', { blob: 'x'.repeat(390 * 1024) }), 1, 'just under the limit is stored');
      assert.equal((await documents.get<{ blob: string }>('big', 'doc'))?.doc.blob.length, 390 * 1024);
    } finally {
      await close();
    }
  });

  it("keeps each environment's items under e#<id>#, documents under doc#, the root's where they always were", async () => {
    const table = freshTable();
    const store = await openTable(table);
    try {
      await store.put('root-flag', flag(), by);
      const record = await store.catalog!.createEnvironment('default', { key: 'qa' }, by);
      const qa = await store.catalog!.environment({ project: 'default', environment: 'qa' });
      await qa.put('qa-flag', flag(), by);
      const keys = await itemKeys(table);
      assert.ok(keys.includes('flag/root-flag') && keys.includes(`change/${'1'.padStart(16, '0')}`), 'the root layout is unchanged');
      assert.ok(keys.includes(`e#${record.id}#flag/qa-flag`));
      assert.ok(keys.includes(`e#${record.id}#change/${'1'.padStart(16, '0')}`));
      assert.ok(keys.includes(`e#${record.id}#meta/instance`));
      assert.ok(keys.includes('doc#environments/default/qa') && keys.includes('doc#projects/default'));
      const partitions = new Set(keys.map((key) => key.slice(0, key.indexOf('/'))));
      for (const partition of partitions)
        assert.ok(
          ['flag', 'change', 'meta'].includes(partition) || partition.startsWith('doc#') || partition.startsWith(`e#${record.id}#`),
          `unexpected partition ${partition}`,
        );
    } finally {
      await store.close();
    }
  });

  it("deleting an environment deletes all of its items (more than one batch), and nothing of the root's or another's", { timeout: 120_000 }, async () => {
    const table = freshTable();
    const store = await openTable(table);
    try {
      const catalog = store.catalog!;
      await store.put('root-flag', flag(), by);
      await catalog.createProject({ key: 'shop' }, [{ key: 'doomed' }, { key: 'kept' }], by);
      const doomed = await catalog.environment({ project: 'shop', environment: 'doomed' });
      const kept = await catalog.environment({ project: 'shop', environment: 'kept' });
      // 40 flags: 40 flag items and 40 change items, beyond one 25-item batch per partition.
      for (let i = 0; i < 40; i++) await doomed.put(`f-${i}`, flag(), by);
      await kept.put('k', flag(), by);
      const id = (await catalog.getEnvironment({ project: 'shop', environment: 'doomed' }))!.id;
      const before = await itemKeys(table);
      assert.equal(before.filter((key) => key.startsWith(`e#${id}#`)).length, 81);

      await catalog.deleteEnvironment({ project: 'shop', environment: 'doomed' }, by);
      const afterwards = await itemKeys(table);
      assert.deepEqual(afterwards.filter((key) => key.startsWith(`e#${id}#`)), []);
      const client = await admin();
      try {
        const left = await client.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `e#${id}#change` } }));
        assert.equal(left.Count, 0);
      } finally {
        client.destroy();
      }
      assert.deepEqual(
        afterwards.filter((key) => !key.startsWith('doc#')),
        before.filter((key) => !key.startsWith(`e#${id}#`) && !key.startsWith('doc#')),
        "the root's and the other environment's items are untouched",
      );
      assert.deepEqual((await kept.list()).flags.map((f) => f.key), ['k']);
      assert.deepEqual((await store.list()).flags.map((f) => f.key), ['root-flag']);
    } finally {
      await store.close();
    }
  });

  it("an environment's store borrows the root's client: closing it leaves the root working; closing the root closes it", async () => {
    const store = await openTable(freshTable());
    try {
      await store.catalog!.createEnvironment('default', { key: 'dev' }, by);
      const dev = await store.catalog!.environment({ project: 'default', environment: 'dev' });
      await dev.put('f', flag(), by);
      await dev.close();
      await assert.rejects(dev.list());
      await store.put('g', flag(), by);
      assert.equal((await store.get('g'))?.version, 1, 'the shared client still works');
      assert.equal(await store.catalog!.revision() > 0, true);
      assert.ok(store.apiKeys, 'the root keeps the API keys');
      assert.equal((dev as DynamoFlagStore).apiKeys, undefined);
      // Ids become part of partition keys: only what the catalog makes is accepted.
      for (const id of ['Upper', 'a#b', 'x'.repeat(13), ''])
        await assert.rejects(store['openScope'](id), /invalid environment id .*lower-case letters and digits, at most 12/);
      await assert.rejects(store['dropScope']('../root'), TypeError);
    } finally {
      await store.close();
    }
  });
});
