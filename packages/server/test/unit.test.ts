import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate, type FlagDefinition } from '@vexil/core';
import type { ChangeEvent, FlagList, FlagStore, WatchOptions } from '@vexil/store';
import {
  ChangeLog,
  ConfigError,
  FileKeyStore,
  KeyRing,
  MemoryKeyStore,
  SnapshotHolder,
  hashSecret,
  mergePatch,
  resolveServeConfig,
  type SnapshotChange,
} from '@vexil/server';
import { etagMatches, parseIfMatch } from '../src/http/etag.js';
import { creationSeconds } from '../src/relay/collector.js';
import { redactUrl } from '../src/app.js';
import { eventually, sleep } from './helpers.js';

const flag = (value: number): FlagDefinition => ({ variations: { v: value }, defaultRule: { variation: 'v' } });

/** A store under the test's control: a list, a change feed fed by `emit`, a ping that can fail. */
class FakeStore implements FlagStore {
  readonly kind = 'fake';
  readonly writable = false;
  state: FlagList = { flags: [], segments: {}, revision: 0, problems: [] };
  down = false;
  watchers = 0;
  #feeds = new Set<{ push: (event: ChangeEvent | Error) => void }>();

  set(key: string, value: number, revision: number): ChangeEvent {
    this.state = {
      ...this.state,
      revision,
      flags: [...this.state.flags.filter((entry) => entry.key !== key), { key, flag: flag(value), version: revision, revision, updatedAt: '', updatedBy: 't' }],
    };
    return { type: 'put', key, flag: flag(value), version: revision, revision, actor: 't', at: new Date().toISOString() };
  }
  emit(event: ChangeEvent | Error): void {
    for (const feed of this.#feeds) feed.push(event);
  }
  async list(): Promise<FlagList> {
    if (this.down) throw new Error('down');
    return structuredClone(this.state);
  }
  async ping(): Promise<void> {
    if (this.down) throw new Error('connection refused');
  }
  watch(options: WatchOptions = {}): AsyncIterable<ChangeEvent> {
    const queue: (ChangeEvent | Error)[] = [];
    let wake: (() => void) | undefined;
    const feed = { push: (event: ChangeEvent | Error) => (queue.push(event), wake?.()) };
    const feeds = this.#feeds;
    this.watchers++;
    return {
      [Symbol.asyncIterator]: async function* () {
        feeds.add(feed);
        try {
          while (!options.signal?.aborted) {
            const next = queue.shift();
            if (next instanceof Error) throw next;
            if (next) {
              yield next;
              continue;
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
              options.signal?.addEventListener('abort', () => resolve(), { once: true });
            });
          }
        } finally {
          feeds.delete(feed);
        }
      },
    };
  }
  get = async () => undefined;
  put = async (): Promise<never> => {
    throw new Error('read-only');
  };
  delete = this.put;
  audit = async () => ({ entries: [] });
  exportSnapshot = async (): Promise<never> => {
    throw new Error('no');
  };
  importSnapshot = this.put;
  close = async () => undefined;
}

describe('SnapshotHolder', () => {
  test('loads, follows the change feed, coalesces bursts into one recompile', async () => {
    const store = new FakeStore();
    store.set('a', 1, 1);
    const holder = new SnapshotHolder(store, { debounceMs: 20, healthIntervalMs: 10_000 });
    await holder.start();
    try {
      assert.equal(holder.revision, 1);
      assert.equal(evaluate(holder.snapshot, 'a', {}).value, 1);
      const changes: SnapshotChange[] = [];
      holder.on('change', (change: SnapshotChange) => changes.push(change));
      store.emit(store.set('a', 2, 2));
      store.emit(store.set('b', 3, 3));
      await eventually(() => changes.length > 0);
      await sleep(40);
      assert.equal(changes.length, 1, 'one recompile for the burst');
      assert.deepEqual(changes[0]!.keys.sort(), ['a', 'b']);
      assert.equal(changes[0]!.revision, 3);
      assert.equal(changes[0]!.events.length, 2);
      assert.equal(evaluate(holder.snapshot, 'b', {}).value, 3);
      // Duplicates and old revisions are ignored.
      store.emit(store.set('a', 99, 2));
      await sleep(40);
      assert.equal(evaluate(holder.snapshot, 'a', {}).value, 2);
    } finally {
      await holder.stop();
    }
  });

  test('serves the last snapshot while the store is down (degraded), catches up when it returns', async () => {
    const store = new FakeStore();
    store.set('a', 1, 1);
    const holder = new SnapshotHolder(store, { debounceMs: 1, healthIntervalMs: 20 });
    await holder.start();
    try {
      assert.equal(holder.status, 'ok');
      store.down = true;
      await eventually(() => holder.status === 'degraded');
      assert.equal(evaluate(holder.snapshot, 'a', {}).value, 1, 'still served');
      assert.match(holder.lastError?.message ?? '', /connection refused/);
      // Changes made while this server could not hear them (the feed missed them).
      store.set('a', 5, 7);
      store.down = false;
      await eventually(() => holder.status === 'ok');
      await eventually(() => holder.revision === 7);
      assert.equal(evaluate(holder.snapshot, 'a', {}).value, 5);
    } finally {
      await holder.stop();
    }
  });

  test('a failing change feed is followed again after a full re-read', async () => {
    const store = new FakeStore();
    store.set('a', 1, 1);
    const holder = new SnapshotHolder(store, { debounceMs: 1, healthIntervalMs: 10_000 });
    await holder.start();
    try {
      const resyncs: SnapshotChange[] = [];
      holder.on('change', (change: SnapshotChange) => change.resync && resyncs.push(change));
      store.set('a', 2, 2);
      store.emit(new Error('feed broke'));
      await eventually(() => holder.revision === 2);
      assert.equal(resyncs.length, 1);
      assert.deepEqual(resyncs[0]!.keys, ['a']);
      await eventually(() => store.watchers >= 2);
      store.emit(store.set('c', 4, 3));
      await eventually(() => holder.revision === 3);
    } finally {
      await holder.stop();
    }
  });

  test('starts degraded with no flags when the store never answers, and loads once it does', async () => {
    const store = new FakeStore();
    store.set('a', 1, 4);
    store.down = true;
    const holder = new SnapshotHolder(store, { startTimeoutMs: 50, healthIntervalMs: 20, debounceMs: 1 });
    await holder.start();
    try {
      assert.equal(holder.status, 'degraded');
      assert.equal(holder.snapshot.flags.size, 0);
      store.down = false;
      await eventually(() => holder.revision === 4);
      assert.equal(holder.status, 'ok');
    } finally {
      await holder.stop();
    }
  });
});

describe('ChangeLog', () => {
  test('keeps the last N changes and says when a resume point is too old', () => {
    const log = new ChangeLog(3);
    log.reset(10);
    const event = (revision: number): ChangeEvent => ({ type: 'delete', key: 'k', version: 1, revision, actor: 'a', at: '' });
    for (let revision = 11; revision <= 15; revision++) log.push(event(revision));
    assert.equal(log.floor, 12);
    assert.deepEqual(log.since(12)?.map((e) => e.revision), [13, 14, 15]);
    assert.deepEqual(log.since(14)?.map((e) => e.revision), [15]);
    assert.deepEqual(log.since(15), []);
    assert.equal(log.since(11), undefined);
  });
});

describe('HTTP helpers', () => {
  test('ETag matching and If-Match parsing', () => {
    assert.ok(etagMatches('"3"', '"3"'));
    assert.ok(etagMatches('W/"3"', '"3"'));
    assert.ok(etagMatches('"1", "3"', '"3"'));
    assert.ok(etagMatches('*', '"3"'));
    assert.ok(!etagMatches('"4"', '"3"'));
    assert.ok(!etagMatches(undefined, '"3"'));
    assert.equal(parseIfMatch('"3"'), 3);
    assert.equal(parseIfMatch('3'), 3);
    assert.equal(parseIfMatch('*'), '*');
    assert.equal(parseIfMatch(undefined), undefined);
    assert.equal(parseIfMatch('"a"'), 'invalid');
    assert.equal(parseIfMatch('"1", "2"'), 'invalid');
  });

  test('JSON merge patch (RFC 7396)', () => {
    assert.deepEqual(mergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } }), { a: 'z', c: { d: 'e' } });
    assert.deepEqual(mergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] });
    assert.deepEqual(mergePatch({ a: 1 }, { __proto__: { polluted: 1 } } as unknown), { a: 1 });
    assert.equal(mergePatch({ a: 1 }, 'x'), 'x');
  });

  test('secrets are masked in logged URLs; millisecond timestamps become seconds', () => {
    assert.equal(redactUrl('/v1/stream?key=secret&x=1'), '/v1/stream?key=***&x=1');
    assert.equal(redactUrl('/ofrep/v1/events?apiKey=s'), '/ofrep/v1/events?apiKey=***');
    assert.equal(creationSeconds(1_700_000_000_123), 1_700_000_000);
    assert.equal(creationSeconds(1_700_000_000), 1_700_000_000);
  });
});

describe('API keys', () => {
  test('configured and stored keys, hashed; revoked keys stop working', async () => {
    const backing = new MemoryKeyStore();
    const ring = new KeyRing({ backing, backingLabel: 'memory', adminKeys: ['a1'], sdkKeys: ['s1', 's1', ' '] });
    await ring.start();
    try {
      assert.equal(ring.activeCount, 2);
      // A configured admin key has its role everywhere: no grants.
      assert.deepEqual(ring.authenticate('a1'), { id: 'config-admin-1', name: 'config admin key 1', kind: 'admin', role: 'admin', grants: [], via: 'key' });
      assert.equal(ring.authenticate('s1')?.kind, 'sdk');
      assert.equal(ring.authenticate('nope'), undefined);
      const created = await ring.create({ name: 'ed', kind: 'admin', role: 'editor', createdBy: 't' });
      const stored = await backing.list();
      assert.equal(stored[0]!.hash, hashSecret(created.secret));
      assert.ok(!JSON.stringify(stored).includes(created.secret));
      assert.equal(ring.authenticate(created.secret)?.role, 'editor');
      assert.equal(await ring.revoke(created.key.id, 't'), 'revoked');
      assert.equal(ring.authenticate(created.secret), undefined);
      assert.equal(await ring.revoke('config-admin-1', 't'), 'config');
    } finally {
      ring.stop();
    }
  });

  test('a key file keeps hashes across restarts; a key created by another server is accepted at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-keys-'));
    try {
      const path = join(dir, 'keys.json');
      const first = new KeyRing({ backing: new FileKeyStore(path), backingLabel: 'file' });
      const second = new KeyRing({ backing: new FileKeyStore(path), backingLabel: 'file', refreshMs: 60_000 });
      await first.start();
      await second.start();
      const { secret } = await first.create({ name: 'sdk', kind: 'sdk', createdBy: 't' });
      assert.equal(second.authenticate(secret), undefined, 'not yet refreshed');
      assert.equal((await second.authenticateFresh(secret))?.name, 'sdk');
      first.stop();
      second.stop();
      const restarted = new KeyRing({ backing: new FileKeyStore(path), backingLabel: 'file' });
      await restarted.start();
      assert.equal(restarted.authenticate(secret)?.kind, 'sdk');
      restarted.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('vexil serve configuration', () => {
  test('defaults: embedded store (SQLite; PGlite where an earlier release made its folder), port 1031, loopback', async () => {
    const cwd = process.cwd();
    const dir = await mkdtemp(join(tmpdir(), 'vexil-default-store-'));
    process.chdir(dir);
    let config: Awaited<ReturnType<typeof resolveServeConfig>>;
    try {
      config = await resolveServeConfig({}, {});
      assert.equal(config.store, 'sqlite:./.vexil/vexil.db');
      assert.equal(config.events, 'sqlite:./.vexil/vexil.db', 'events in the same file');
      await mkdir(join(dir, '.vexil', 'data'), { recursive: true });
      await writeFile(join(dir, '.vexil', 'data', 'PG_VERSION'), '17\n');
      const upgraded = await resolveServeConfig({}, {});
      assert.equal(upgraded.store, 'pglite:./.vexil/data');
      assert.equal(upgraded.events, 'pglite:./.vexil/data');
    } finally {
      process.chdir(cwd);
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(config.storeSource, 'default');
    assert.equal(config.port, 1031);
    assert.equal(config.host, '127.0.0.1');
    assert.deepEqual(config.flags, []);
    assert.equal(config.examples, true);
  });

  test('--flags alone means a read-only file store (GitOps); with a store they are imported', async () => {
    const gitops = await resolveServeConfig({ flags: ['a.yaml', 'b.json'] }, {});
    assert.equal(gitops.store, 'file:a.yaml,b.json');
    assert.equal(gitops.storeSource, 'flags');
    assert.deepEqual(gitops.flags, []);
    assert.equal((await resolveServeConfig({ flags: ['a.yaml,b.json', 'c.toml'] }, {})).store, 'file:a.yaml,b.json,c.toml', 'comma separated too');
    assert.equal((await resolveServeConfig({}, { VEXIL_FLAGS: 'a.yaml, b.json' })).store, 'file:a.yaml,b.json');
    const imported = await resolveServeConfig({ flags: ['a.yaml'], store: 'redis://localhost:6379' }, {});
    assert.equal(imported.store, 'redis://localhost:6379');
    assert.deepEqual(imported.flags, ['a.yaml']);
  });

  test('command line over environment over config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-config-'));
    try {
      const file = join(dir, 'vexil.yaml');
      await writeFile(file, 'port: 2000\nhost: 0.0.0.0\nflags: [flags.yaml]\nstore: pglite:./data\nadminKeys: [k1, k2]\nrateLimit: { max: 50 }\n');
      const fromFile = await resolveServeConfig({ config: file }, {});
      assert.equal(fromFile.port, 2000);
      assert.equal(fromFile.host, '0.0.0.0');
      assert.equal(fromFile.store, `pglite:${join(dir, 'data')}`, 'relative to the config file');
      assert.deepEqual(fromFile.flags, [join(dir, 'flags.yaml')]);
      assert.deepEqual(fromFile.adminKeys, ['k1', 'k2']);
      assert.deepEqual(fromFile.rateLimit, { max: 50, timeWindowMs: 60_000 });
      const fromEnv = await resolveServeConfig({ config: file }, { VEXIL_PORT: '3000', VEXIL_ADMIN_KEYS: 'e1,e2', VEXIL_RATE_LIMIT: '0' });
      assert.equal(fromEnv.port, 3000);
      assert.deepEqual(fromEnv.adminKeys, ['e1', 'e2']);
      assert.equal(fromEnv.rateLimit, false);
      const fromCli = await resolveServeConfig({ config: file, port: '4000', adminKey: ['c1'], examples: false }, { VEXIL_PORT: '3000' });
      assert.equal(fromCli.port, 4000);
      assert.deepEqual(fromCli.adminKeys, ['c1']);
      assert.equal(fromCli.examples, false);

      await writeFile(file, 'store: pglite:memory:\n');
      await assert.rejects(resolveServeConfig({ config: file }, {}), (error: unknown) => error instanceof ConfigError && /store: "pglite:memory:"/.test(error.message));
      await writeFile(file, 'store: "pglite:memory:"\n');
      assert.equal((await resolveServeConfig({ config: file }, {})).store, 'pglite:memory:');

      await writeFile(file, 'prot: 1\n');
      await assert.rejects(resolveServeConfig({ config: file }, {}), (error: unknown) => error instanceof ConfigError && /unknown option prot/.test(error.message));
      await assert.rejects(resolveServeConfig({ port: 'abc' }, {}), ConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
