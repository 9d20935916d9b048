// Projects × environments on the Redis server of this machine: the catalog conformance suite (with the connections a
// store holds however many environments it opens: `CLIENT LIST` by connection name), then the flag conformance suite
// against an environment's own store, including a dropped connection. Every key this run makes starts with its prefix
// and is deleted at the end.
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisFlagStore } from '../src/redis/index.js';
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
