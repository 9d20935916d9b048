// Projects × environments on the Redis server of this machine: the catalog conformance suite (with the connections a
// store holds however many environments it opens: `CLIENT LIST` by connection name), then the flag conformance suite
// against an environment's own store, including a dropped connection. Every key this run makes starts with its prefix
// and is deleted at the end.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { FlagDefinition } from '@vexil/core';
import { RedisFlagStore } from '../src/redis/index.js';
import { RedisDocumentStore } from '../src/redis/documents.js';
import { StoreConflictError } from '../src/errors.js';
import type { FlagStore } from '../src/types.js';
import { catalogConformance } from './catalog-conformance.js';
import { runConformanceSuite } from './conformance.js';

const REDIS = process.env.VEXIL_TEST_REDIS ?? 'redis://127.0.0.1:6379/0';
const RUN = `vexil-test-cat-${randomBytes(4).toString('hex')}`;
const admin = new Redis(REDIS);
let counter = 0;

after(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${RUN}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
  admin.disconnect();
});

/** This run's connections with the given name, as Redis lists them. */
async function connectionsNamed(name: string): Promise<string[]> {
  const list = String(await admin.call('CLIENT', 'LIST'));
  return list
    .split('\n')
    .map((line) => Object.fromEntries(line.trim().split(' ').map((pair) => pair.split('=') as [string, string])))
    .filter((client) => client.name === name && client.id)
    .map((client) => client.id as string);
}

let name = '';
const openCatalogStore = () => RedisFlagStore.open(`${REDIS}?prefix=${encodeURIComponent(`${name}:`)}`, { connectionName: name, resyncIntervalMs: 1_000 });
catalogConformance('redis', {
  open() {
    name = `${RUN}-${++counter}`;
    return openCatalogStore();
  },
  openSecond: openCatalogStore,
  countConnections: async () => (await connectionsNamed(name)).length,
  // Two per store (commands, and one subscriber for every environment's channel), for the stores the suite opens.
  maxConnections: 6,
});

const roots: FlagStore[] = [];
let scopedName = '';
let environmentPrefix = '';
async function staging(root: RedisFlagStore): Promise<FlagStore> {
  roots.push(root);
  const ref = { project: 'default', environment: 'staging' };
  if (!(await root.catalog!.getEnvironment(ref))) await root.catalog!.createEnvironment('default', { key: 'staging' }, { actor: 'test' });
  environmentPrefix = `${root.prefix}e:${(await root.catalog!.getEnvironment(ref))!.id}:`;
  return root.catalog!.environment(ref);
}
const openScoped = async () => staging(await RedisFlagStore.open(`${REDIS}?prefix=${encodeURIComponent(`${scopedName}:`)}`, { connectionName: scopedName, resyncIntervalMs: 1_000 }));
runConformanceSuite('redis environment store (default/staging)', {
  async open() {
    scopedName = `${RUN}-${++counter}`;
    return openScoped();
  },
  openSecond: openScoped,
  async dropConnections() {
    for (const id of await connectionsNamed(scopedName)) await admin.call('CLIENT', 'KILL', 'ID', id);
  },
  async corrupt(key: string) {
    await admin.set(`${environmentPrefix}flag:${key}`, '{"variations": 42}');
  },
  async cleanup() {
    for (const root of roots.splice(0)) await root.close();
  },
});

const by = { actor: 'test' };
const flag = (): FlagDefinition => ({ variations: { on: true, off: false }, defaultRule: { variation: 'on' } });

/** A root store on a prefix of its own, its connections named after it. */
async function freshRoot(): Promise<{ store: RedisFlagStore; prefix: string; name: string }> {
  const name = `${RUN}-${++counter}`;
  const store = await RedisFlagStore.open(`${REDIS}?prefix=${encodeURIComponent(`${name}:`)}`, { connectionName: name, resyncIntervalMs: 1_000 });
  return { store, prefix: `${name}:`, name };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys.sort();
}

describe('Redis catalog', { timeout: 60_000 }, () => {
  it('keeps catalog records as <version>:<json> in one hash per collection, and each environment under its own prefix', async () => {
    const { store, prefix } = await freshRoot();
    try {
      const qa = await store.catalog!.createEnvironment('default', { key: 'qa', name: 'QA' }, by);
      const raw = (await admin.hget(`${prefix}doc:environments`, 'default/qa'))!;
      assert.equal(raw.slice(0, raw.indexOf(':')), '1');
      const doc = JSON.parse(raw.slice(raw.indexOf(':') + 1));
      assert.deepEqual([doc.name, doc.id], ['QA', qa.id]);
      const environment = await store.catalog!.environment({ project: 'default', environment: 'qa' });
      await environment.put('checkout', flag(), by);
      assert.deepEqual(JSON.parse((await admin.get(`${prefix}e:${qa.id}:flag:checkout`))!), flag());
      assert.equal(await admin.get(`${prefix}e:${qa.id}:revision`), '1');
      assert.equal(await admin.exists(`${prefix}flag:checkout`), 0, 'nothing reached the root');
    } finally {
      await store.close();
    }
  });

  it('deleting an environment unlinks every key under its prefix, and nothing else', async () => {
    const { store, prefix } = await freshRoot();
    try {
      await store.put('root-flag', flag(), by);
      const doomed = await store.catalog!.createEnvironment('default', { key: 'doomed' }, by);
      const kept = await store.catalog!.createEnvironment('default', { key: 'kept' }, by);
      for (const record of [doomed, kept]) {
        const environment = await store.catalog!.environment({ project: 'default', environment: record.key });
        for (let i = 0; i < 30; i++) await environment.put(`f${i}`, flag(), by);
        await environment.putSegments!({ staff: { query: 'email ew "@example.com"' } }, by);
      }
      const doomedPrefix = `${prefix}e:${doomed.id}:`;
      await admin.set(`${doomedPrefix}by-hand`, 'x');
      const keptKeys = await keysUnder(`${prefix}e:${kept.id}:`);
      assert.ok((await keysUnder(doomedPrefix)).length > 30);
      await store.catalog!.deleteEnvironment({ project: 'default', environment: 'doomed' }, by);
      assert.deepEqual(await keysUnder(doomedPrefix), []);
      assert.deepEqual(await keysUnder(`${prefix}e:${kept.id}:`), keptKeys);
      assert.equal((await store.get('root-flag'))?.version, 1);
    } finally {
      await store.close();
    }
  });

  it("closing an environment's store leaves the shared connections open; closing the root closes them", async () => {
    const { store, name } = await freshRoot();
    try {
      await store.catalog!.createProject({ key: 'app' }, [{ key: 'one' }, { key: 'two' }], by);
      const one = await store.catalog!.environment({ project: 'app', environment: 'one' });
      const two = await store.catalog!.environment({ project: 'app', environment: 'two' });
      const watching = (async () => {
        for await (const event of two.watch({ fromRevision: 0 })) return event;
        return undefined;
      })();
      await one.close();
      await assert.rejects(one.list());
      await two.put('still', flag(), by);
      assert.equal((await watching)?.revision, 1, 'the other environment still hears its changes');
      await store.ping();
      assert.equal((await connectionsNamed(name)).length, 2);
    } finally {
      await store.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await connectionsNamed(name), [], 'closing the root closes the connections');
  });

  it('conditional document writes are atomic: 50 racing read-modify-write loops lose no update; documents come back as written', async () => {
    const prefix = `${RUN}-${++counter}:`;
    const client = new Redis(REDIS);
    try {
      const documents = new RedisDocumentStore(
        prefix,
        (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
        (key, id) => client.hget(key, id),
        (key) => client.hgetall(key),
      );
      await documents.put('counters', 'c', { count: 0 }, 0);
      let conflicts = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          for (;;) {
            const current = await documents.get<{ count: number }>('counters', 'c');
            try {
              await documents.put('counters', 'c', { count: current!.doc.count + 1 }, current!.version);
              return;
            } catch (error) {
              assert.ok(error instanceof StoreConflictError);
              assert.equal(error.key, 'counters/c');
              conflicts++;
            }
          }
        }),
      );
      const final = await documents.get<{ count: number }>('counters', 'c');
      assert.deepEqual([final?.doc.count, final?.version], [50, 51]);
      assert.ok(conflicts > 0, 'the writers did race');
      const creates = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => documents.put('counters', 'once', { i }, 0)));
      assert.equal(creates.filter((result) => result.status === 'fulfilled').length, 1, 'of 50 racing creates, one wins');
      await assert.rejects(documents.delete('counters', 'c', 50), (error: unknown) => error instanceof StoreConflictError && error.currentVersion === 51);
      assert.equal(await documents.delete('counters', 'c', 51), true);
      assert.equal(await documents.delete('counters', 'c'), false);
      const shape = { list: [], nested: { empty: {} }, big: 2 ** 53 - 1, text: 'ü "quoted": yes' };
      await documents.put('shapes', 's', shape);
      assert.deepEqual((await documents.list('shapes')).map((stored) => [stored.id, stored.doc, stored.version]), [['s', shape, 1]]);
    } finally {
      client.disconnect();
    }
  });

  it('refuses an environment id that is not lower-case letters and digits (at most 12)', async () => {
    const { store, prefix } = await freshRoot();
    try {
      await store.catalog!.listProjects();
      // A hand-edited record must not reach a key pattern.
      const record = { project: 'default', key: 'bad', name: 'bad', requireApproval: false, id: 'a*b', createdAt: new Date().toISOString(), createdBy: 'x' };
      await admin.hset(`${prefix}doc:environments`, 'default/bad', `1:${JSON.stringify(record)}`);
      await assert.rejects(store.catalog!.environment({ project: 'default', environment: 'bad' }), /invalid environment id "a\*b"/);
    } finally {
      await store.close();
    }
  });
});
