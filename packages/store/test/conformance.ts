// The conformance suite: one set of tests that every writable FlagStore passes against its real backend.
// Each store test file calls `runConformanceSuite(name, factory)` with a factory for its backend.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FlagDefinition } from '@vexil/core';
import { FlagNotFoundError, StoreConflictError, StoreUnavailableError, StoreValidationError } from '../src/errors.js';
import { snapshotHash } from '../src/snapshot/index.js';
import type { ChangeEvent, FlagStore, WriteOptions } from '../src/types.js';

export interface ConformanceFactory {
  /** A store on a fresh, empty namespace (a new schema, key prefix…). */
  open(): Promise<FlagStore>;
  /** Another instance on the namespace of the latest `open()`, with its own connections, as a second server has. */
  openSecond(): Promise<FlagStore>;
  /**
   * Makes the backend drop the connections of the stores on the latest namespace (PostgreSQL: `pg_terminate_backend`;
   * Redis: `CLIENT KILL`). Resolves once they are gone. Without it, the reconnection test is skipped.
   */
  dropConnections?(): Promise<void>;
  /** Writes a malformed flag `key` straight into the latest namespace, bypassing validation. */
  corrupt?(key: string): Promise<void>;
  /** Removes every namespace the factory created. */
  cleanup(): Promise<void>;
}

export interface ConformanceOptions {
  /** Writers racing on one flag (default 50) and rounds of the race (default 3). */
  writers?: number;
  rounds?: number;
}

const by: WriteOptions = { actor: 'conformance', reason: 'testing' };

function boolFlag(serve: 'on' | 'off' = 'on'): FlagDefinition {
  return { variations: { on: true, off: false }, defaultRule: { variation: serve } };
}

function counterFlag(counter: number): FlagDefinition {
  return { variations: { on: true, off: false }, defaultRule: { variation: 'off' }, metadata: { counter } };
}

/** Reads `count` changes from `store.watch()`, giving up after `timeoutMs`. */
async function take(store: FlagStore, count: number, fromRevision: number, timeoutMs = 10_000): Promise<ChangeEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: ChangeEvent[] = [];
  try {
    if (count > 0)
      for await (const event of store.watch({ fromRevision, signal: controller.signal })) {
        events.push(event);
        if (events.length >= count) break;
      }
  } finally {
    clearTimeout(timer);
  }
  return events;
}

function assertConsecutive(events: ChangeEvent[], from: number): void {
  assert.deepEqual(
    events.map((event) => event.revision),
    events.map((_, index) => from + index + 1),
    'changes arrive once each, in revision order, with no gap',
  );
}

/** Retries an operation while the store reports its backend unavailable (right after connections were dropped). */
async function retrying<T>(operation: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof StoreUnavailableError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function revisionOf(store: FlagStore): Promise<number> {
  return (await store.list()).revision;
}

export function runConformanceSuite(name: string, factory: ConformanceFactory, options: ConformanceOptions = {}): void {
  const writers = options.writers ?? 50;
  const rounds = options.rounds ?? 3;

  /** Runs `body` with a store on a fresh namespace (and, when asked, a second instance on it), closing both after. */
  async function withStores(body: (store: FlagStore, second: () => Promise<FlagStore>) => Promise<void>): Promise<void> {
    const opened: FlagStore[] = [];
    try {
      const store = await factory.open();
      opened.push(store);
      await body(store, async () => {
        const second = await factory.openSecond();
        opened.push(second);
        return second;
      });
    } finally {
      await Promise.all(opened.map((store) => store.close()));
    }
  }

  describe(`FlagStore conformance: ${name}`, { timeout: 60_000 }, () => {
    after(() => factory.cleanup());

    it('creates a flag and reads it back with version 1 and the store revision', () =>
      withStores(async (store) => {
        assert.equal(store.writable, true);
        await store.ping();
        const flag: FlagDefinition = {
          variations: { on: { color: 'green', sizes: [1, 2.5] }, off: { color: 'grey', sizes: [] } },
          targeting: [{ name: 'beta', query: 'plan eq "pro"', variation: 'on' }],
          defaultRule: { percentage: { on: 25, off: 75 } },
          metadata: { owner: 'team-ü', ticket: 42 },
        };
        const before = await revisionOf(store);
        const result = await store.put('new-checkout', flag, { ...by, expectedVersion: 0 });
        assert.deepEqual(result, { key: 'new-checkout', version: 1, revision: before + 1 });
        const stored = await store.get('new-checkout');
        assert.ok(stored);
        assert.deepEqual(stored.flag, flag);
        assert.equal(stored.key, 'new-checkout');
        assert.equal(stored.version, 1);
        assert.equal(stored.revision, before + 1);
        assert.equal(stored.updatedBy, 'conformance');
        assert.ok(Math.abs(Date.parse(stored.updatedAt) - Date.now()) < 60_000, 'updatedAt is a current ISO date');
        assert.equal(await store.get('missing'), undefined);
      }));

    it('updates with the right version; a stale version is a conflict that changes nothing', () =>
      withStores(async (store) => {
        await store.put('f', boolFlag('off'), by);
        const second = await store.put('f', boolFlag('on'), { ...by, expectedVersion: 1 });
        assert.equal(second.version, 2);
        const revision = await revisionOf(store);
        await assert.rejects(store.put('f', boolFlag('off'), { ...by, expectedVersion: 1 }), (error: unknown) => {
          assert.ok(error instanceof StoreConflictError);
          assert.equal(error.key, 'f');
          assert.equal(error.expectedVersion, 1);
          assert.equal(error.currentVersion, 2);
          return true;
        });
        const stored = await store.get('f');
        assert.equal(stored?.version, 2);
        assert.deepEqual(stored?.flag, boolFlag('on'));
        assert.equal(await revisionOf(store), revision, 'a rejected write does not bump the revision');
        const audit = await store.audit({ key: 'f' });
        assert.equal(audit.entries.length, 2, 'a rejected write leaves no audit entry');
      }));

    it('expectedVersion 0 creates only; a version for a missing flag is a conflict', () =>
      withStores(async (store) => {
        await store.put('f', boolFlag(), { ...by, expectedVersion: 0 });
        await assert.rejects(store.put('f', boolFlag('off'), { ...by, expectedVersion: 0 }), (error: unknown) => {
          assert.ok(error instanceof StoreConflictError);
          assert.equal(error.currentVersion, 1);
          return true;
        });
        await assert.rejects(store.put('g', boolFlag(), { ...by, expectedVersion: 3 }), (error: unknown) => {
          assert.ok(error instanceof StoreConflictError);
          assert.equal(error.currentVersion, 0);
          return true;
        });
        assert.equal(await store.get('g'), undefined);
        const unconditional = await store.put('f', boolFlag('off'), by);
        assert.equal(unconditional.version, 2, 'no expectedVersion: the write applies whatever the version');
      }));

    it('deletes with and without a version; deleting a missing flag is FlagNotFoundError', () =>
      withStores(async (store) => {
        await store.put('a', boolFlag(), by);
        await store.put('b', boolFlag(), by);
        await assert.rejects(store.delete('a', { ...by, expectedVersion: 7 }), StoreConflictError);
        assert.ok(await store.get('a'), 'a conflicting delete leaves the flag');
        const deleted = await store.delete('a', { ...by, expectedVersion: 1 });
        assert.equal(deleted.key, 'a');
        assert.equal(deleted.revision, (await revisionOf(store)));
        assert.equal(await store.get('a'), undefined);
        await store.delete('b', by);
        assert.equal(await store.get('b'), undefined);
        await assert.rejects(store.delete('b', by), (error: unknown) => {
          assert.ok(error instanceof FlagNotFoundError);
          assert.equal(error.key, 'b');
          return true;
        });
        const recreated = await store.put('a', boolFlag(), { ...by, expectedVersion: 0 });
        assert.ok(recreated.version >= 1, 'a deleted flag can be created again');
        assert.deepEqual((await store.list()).flags.map((f) => f.key), ['a']);
      }));

    it('versions never repeat for a key: after delete and re-create, a stale version of the old flag is a conflict', () =>
      withStores(async (store) => {
        const old = await store.put('reborn', boolFlag('off'), { ...by, expectedVersion: 0 });
        assert.equal(old.version, 1);
        const deleted = await store.delete('reborn', { ...by, expectedVersion: 1 });
        const recreated = await store.put('reborn', boolFlag('on'), { ...by, expectedVersion: 0 });
        assert.ok(recreated.version > deleted.version, `the new flag's version ${recreated.version} follows the tombstone's ${deleted.version}`);
        assert.equal((await store.get('reborn'))?.version, recreated.version);
        // A client that read the old flag (version 1) writes with If-Match "1": it must not overwrite the new flag.
        await assert.rejects(store.put('reborn', boolFlag('off'), { ...by, expectedVersion: 1 }), (error: unknown) => {
          assert.ok(error instanceof StoreConflictError);
          assert.equal(error.currentVersion, recreated.version);
          return true;
        });
        await assert.rejects(store.delete('reborn', { ...by, expectedVersion: 1 }), StoreConflictError);
        assert.deepEqual((await store.get('reborn'))?.flag, boolFlag('on'), 'the new flag is untouched');
        // The same through a snapshot import: a flag deleted by an import and re-created by another keeps counting up.
        const doc = await store.exportSnapshot();
        const withoutIt = { ...doc, flags: {} as typeof doc.flags, segments: doc.segments };
        withoutIt.hash = snapshotHash({}, doc.segments);
        await store.importSnapshot(withoutIt, by);
        await store.importSnapshot(doc, by);
        const reimported = await store.get('reborn');
        assert.ok(reimported && reimported.version > recreated.version + 1, `re-created by an import: version ${reimported?.version}`);
        const versions = (await store.audit({ key: 'reborn', limit: 500 })).entries.map((entry) => entry.version);
        assert.equal(new Set(versions).size, versions.length, `audit versions are all different: ${versions.join(', ')}`);
      }));

    it('identity() reads the instance id and the revision from the backend, now', () =>
      withStores(async (store, second) => {
        assert.ok(store.identity, 'a writable store tells its identity (to notice a reset)');
        const before = await store.identity();
        assert.equal(before.instanceId, store.instanceId);
        assert.equal(before.revision, await revisionOf(store));
        const other = await second();
        await other.put('f', boolFlag(), by);
        const after = await store.identity();
        assert.equal(after.revision, before.revision + 1, 'a write by another instance is seen at once');
        assert.equal(after.instanceId, before.instanceId);
        assert.equal((await other.identity!()).instanceId, before.instanceId, 'every instance on the same data reads the same id');
      }));

    it('lists every flag with its version, and the store revision', () =>
      withStores(async (store) => {
        const empty = await store.list();
        assert.deepEqual(empty.flags, []);
        assert.deepEqual(empty.problems, []);
        await store.put('c', boolFlag(), by);
        await store.put('a', boolFlag(), by);
        await store.put('b', boolFlag(), by);
        const last = await store.put('a', boolFlag('off'), by);
        const list = await store.list();
        assert.deepEqual(list.flags.map((f) => f.key).sort(), ['a', 'b', 'c']);
        assert.equal(list.revision, last.revision);
        assert.deepEqual(list.problems, []);
        const a = list.flags.find((f) => f.key === 'a');
        assert.equal(a?.version, 2);
        assert.equal(a?.revision, last.revision);
        assert.deepEqual(a?.flag, boolFlag('off'));
      }));

    it('bumps the revision by exactly one per write, never on a rejected write', () =>
      withStores(async (store) => {
        const start = await revisionOf(store);
        const revisions: number[] = [];
        revisions.push((await store.put('x', boolFlag(), by)).revision);
        revisions.push((await store.put('y', boolFlag(), by)).revision);
        await store.put('x', boolFlag(), { ...by, expectedVersion: 5 }).catch(() => undefined);
        await store.put('x', { variations: 'oops' } as unknown as FlagDefinition, by).catch(() => undefined);
        await store.delete('nope', by).catch(() => undefined);
        revisions.push((await store.put('x', boolFlag('off'), by)).revision);
        revisions.push((await store.delete('y', by)).revision);
        assert.deepEqual(revisions, [start + 1, start + 2, start + 3, start + 4]);
        assert.equal(await revisionOf(store), start + 4);
      }));

    it('rejects an invalid flag with the core validation problems, and stores nothing', () =>
      withStores(async (store) => {
        await store.put('f', boolFlag(), by);
        const revision = await revisionOf(store);
        const invalid = [
          { variations: 'not a map' },
          { variations: { on: true, off: false }, defaultRule: { variation: 'missing' } },
          { variations: { on: true }, defaultRule: { variation: 'on' }, targeting: [{ query: 'plan eq', variation: 'on' }] },
          'not a flag',
        ];
        for (const flag of invalid) {
          await assert.rejects(store.put('f', flag as unknown as FlagDefinition, by), (error: unknown) => {
            assert.ok(error instanceof StoreValidationError, `expected a validation error for ${JSON.stringify(flag)}`);
            assert.ok(error.problems.some((problem) => problem.severity === 'error'));
            return true;
          });
          await assert.rejects(store.put('g', flag as unknown as FlagDefinition, by), StoreValidationError);
        }
        await assert.rejects(store.put('', boolFlag(), by), StoreValidationError, 'an empty key is rejected');
        await assert.rejects(store.put('$segments', boolFlag(), by), StoreValidationError, 'a $ key is reserved');
        assert.deepEqual((await store.get('f'))?.flag, boolFlag());
        assert.equal(await store.get('g'), undefined);
        assert.equal(await revisionOf(store), revision);
      }));

    it('audits every write: who, when, why, before and after; paged newest first; filtered by key and time', () =>
      withStores(async (store) => {
        const t0 = Date.now();
        await store.put('f', boolFlag('off'), { actor: 'alice', reason: 'create it' });
        await store.put('other', boolFlag(), { actor: 'bob' });
        await store.put('f', boolFlag('on'), { actor: 'bob', reason: 'turn it on', expectedVersion: 1 });
        await store.delete('f', { actor: 'carol', reason: 'done' });
        const { entries, next } = await store.audit({ key: 'f' });
        assert.equal(next, undefined);
        assert.deepEqual(
          entries.map((e) => [e.action, e.actor, e.reason, e.version]),
          [
            ['delete', 'carol', 'done', entries[0]!.version],
            ['update', 'bob', 'turn it on', 2],
            ['create', 'alice', 'create it', 1],
          ],
        );
        const [deleted, updated, created] = entries as [typeof entries[0], typeof entries[0], typeof entries[0]];
        assert.deepEqual([created.before, created.after], [null, boolFlag('off')]);
        assert.deepEqual([updated.before, updated.after], [boolFlag('off'), boolFlag('on')]);
        assert.deepEqual([deleted.before, deleted.after], [boolFlag('on'), null]);
        assert.ok(deleted.revision > updated.revision && updated.revision > created.revision);
        for (const entry of entries) {
          assert.equal(entry.key, 'f');
          assert.equal(typeof entry.id, 'string');
          assert.ok(Date.parse(entry.at) >= t0 - 5_000 && Date.parse(entry.at) <= Date.now() + 5_000, 'at is an ISO date');
        }
        assert.equal(new Set((await store.audit()).entries.map((e) => e.id)).size, 4, 'ids are unique');
        const noReason = (await store.audit({ key: 'other' })).entries[0];
        assert.equal(noReason?.reason, undefined);

        // Paging: 3 + 3 + 1, newest first, no duplicates, same order as one big page.
        for (let i = 0; i < 3; i++) await store.put('other', boolFlag(i % 2 ? 'on' : 'off'), { actor: 'dave' });
        const all = (await store.audit({ limit: 500 })).entries;
        assert.equal(all.length, 7);
        const paged: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.audit({ limit: 3, ...(cursor ? { cursor } : {}) });
          assert.ok(page.entries.length <= 3);
          paged.push(...page.entries.map((e) => e.id));
          cursor = page.next;
          pages++;
        } while (cursor && pages < 10);
        assert.equal(pages, 3);
        assert.deepEqual(paged, all.map((e) => e.id));
        assert.deepEqual(
          all.map((e) => e.revision),
          [...all.map((e) => e.revision)].sort((a, b) => b - a),
          'newest first',
        );

        // Time bounds are inclusive.
        const newest = all[0]!;
        const oldest = all[all.length - 1]!;
        const since = (await store.audit({ since: newest.at })).entries;
        assert.ok(since.some((e) => e.id === newest.id));
        assert.ok(since.every((e) => Date.parse(e.at) >= Date.parse(newest.at)));
        const until = (await store.audit({ until: oldest.at })).entries;
        assert.ok(until.some((e) => e.id === oldest.id));
        assert.ok(until.every((e) => Date.parse(e.at) <= Date.parse(oldest.at)));
        assert.deepEqual((await store.audit({ since: new Date(Date.now() + 3_600_000).toISOString() })).entries, []);
        const other = await store.audit({ key: 'other', limit: 2 });
        assert.equal(other.entries.length, 2);
        assert.ok(other.entries.every((e) => e.key === 'other'));
        assert.ok(other.next);
      }));

    it(`${writers} concurrent writers racing on one flag: exactly one wins each round, no lost update`, () =>
      withStores(async (store, openSecond) => {
        const second = await openSecond();
        await store.put('counter', counterFlag(0), { ...by, expectedVersion: 0 });
        let wins = 0;
        const winningRevisions: number[] = [];
        for (let round = 0; round < rounds; round++) {
          // Every writer reads first, so all of them hold the same version when they race to write.
          const instances = Array.from({ length: writers }, (_, i) => (i % 2 ? second : store));
          const reads = await Promise.all(instances.map((s) => s.get('counter')));
          const results = await Promise.allSettled(
            reads.map((read, i) => {
              assert.ok(read);
              const counter = (read.flag.metadata?.counter as number) + 1;
              return instances[i]!.put('counter', counterFlag(counter), {
                actor: `writer-${i}`,
                expectedVersion: read.version,
              });
            }),
          );
          const won = results.filter((r) => r.status === 'fulfilled');
          const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          assert.equal(won.length, 1, `round ${round}: exactly one writer wins`);
          for (const failure of lost) assert.ok(failure.reason instanceof StoreConflictError, String(failure.reason));
          winningRevisions.push((won[0] as PromiseFulfilledResult<{ revision: number }>).value.revision);
          wins++;
        }
        const final = await store.get('counter');
        assert.equal(final?.flag.metadata?.counter, wins, 'the counter equals the number of winning writes');
        assert.equal(final?.version, wins + 1);
        assert.deepEqual(winningRevisions, [...winningRevisions].sort((a, b) => a - b));
        assert.equal(new Set(winningRevisions).size, winningRevisions.length);
        assert.equal((await store.audit({ key: 'counter', limit: 500 })).entries.length, wins + 1, 'only winners are audited');
      }));

    it('a second instance sees every change, from every writer, in revision order', () =>
      withStores(async (store, openSecond) => {
        const second = await openSecond();
        const start = await revisionOf(second);
        const total = 24;
        const watching = take(second, total, start);
        for (let i = 0; i < 8; i++) await store.put(`seq-${i % 3}`, boolFlag(i % 2 ? 'on' : 'off'), by);
        await store.delete('seq-0', by);
        await second.put('from-second', boolFlag(), by);
        // 14 concurrent writers from both instances.
        await Promise.all(
          Array.from({ length: 14 }, (_, i) => (i % 2 ? store : second).put(`burst-${i}`, boolFlag(), { actor: `w${i}` })),
        );
        const events = await watching;
        assert.equal(events.length, total, `received ${events.length} of ${total} changes`);
        assertConsecutive(events, start);
        assert.deepEqual(
          events.slice(0, 10).map((e) => [e.type, e.type === 'segments' ? '' : e.key]),
          [
            ['put', 'seq-0'], ['put', 'seq-1'], ['put', 'seq-2'], ['put', 'seq-0'], ['put', 'seq-1'],
            ['put', 'seq-2'], ['put', 'seq-0'], ['put', 'seq-1'], ['delete', 'seq-0'], ['put', 'from-second'],
          ],
        );
        const put = events[7]!;
        assert.ok(put.type === 'put');
        assert.deepEqual(put.flag, boolFlag('on'));
        assert.equal(put.version, 3);
        assert.equal(put.actor, 'conformance');
        assert.ok(!Number.isNaN(Date.parse(put.at)));
        assert.equal(events[8]!.type, 'delete');
        const burst = events.slice(10).map((e) => (e.type === 'put' ? e.key : ''));
        assert.deepEqual([...burst].sort(), Array.from({ length: 14 }, (_, i) => `burst-${i}`).sort());
        // The watcher's view, applied in order, is the store's state.
        const state = new Map<string, FlagDefinition>();
        for (const e of events) {
          if (e.type === 'put') state.set(e.key, e.flag);
          else if (e.type === 'delete') state.delete(e.key);
        }
        const list = await second.list();
        assert.deepEqual(new Map(list.flags.map((f) => [f.key, f.flag])), state);
      }));

    it('watch({ fromRevision }) catches up from the change log, then continues live', () =>
      withStores(async (store) => {
        const results = [];
        for (let i = 0; i < 5; i++) results.push(await store.put(`k${i}`, boolFlag(), by));
        const from = results[1]!.revision;
        const watching = take(store, 4, from);
        const live = await store.put('k-live', boolFlag('off'), by);
        const events = await watching;
        assert.deepEqual(
          events.map((e) => (e.type === 'segments' ? '' : e.key)),
          ['k2', 'k3', 'k4', 'k-live'],
        );
        assertConsecutive(events, from);
        assert.equal(events[3]!.revision, live.revision);
        assert.deepEqual(await take(store, 0, live.revision), []);
      }));

    it(
      'after the backend drops its connections, a watcher reconnects and misses nothing',
      { skip: factory.dropConnections ? false : 'the factory cannot drop connections' },
      () =>
        withStores(async (store, openSecond) => {
          const second = await openSecond();
          const start = await revisionOf(store);
          const received: ChangeEvent[] = [];
          const controller = new AbortController();
          const watching = (async () => {
            for await (const event of second.watch({ fromRevision: start, signal: controller.signal })) {
              received.push(event);
            }
          })();
          const waitFor = async (count: number) => {
            const deadline = Date.now() + 15_000;
            while (received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
            assert.equal(received.length, count, `the watcher received ${received.length} of ${count} changes`);
          };
          try {
            for (let i = 0; i < 3; i++) await store.put(`before-${i}`, boolFlag(), by);
            await waitFor(3);
            await factory.dropConnections!();
            // Written while the watcher's connection is down or coming back.
            for (let i = 0; i < 5; i++) await retrying(() => store.put(`during-${i}`, boolFlag(), by));
            await waitFor(8);
            await factory.dropConnections!();
            await retrying(() => second.put('after', boolFlag(), by));
            await waitFor(9);
            const end = await retrying(() => revisionOf(store));
            assertConsecutive(received, start);
            assert.equal(received[received.length - 1]!.revision, end);
            assert.equal((await retrying(() => second.list())).flags.length, 9);
          } finally {
            controller.abort();
            await watching;
          }
        }),
    );

    it('exports a snapshot and imports it elsewhere with the same hash', () =>
      withStores(async (store) => {
        if (store.putSegments) await store.putSegments({ staff: { query: 'email ew "@example.com"' } }, by);
        await store.put('a', boolFlag(), by);
        await store.put('b', { ...boolFlag('off'), targeting: [{ query: store.putSegments ? '@staff' : 'beta eq true', variation: 'on' }] }, by);
        await store.put('c', counterFlag(7), by);
        const doc = await store.exportSnapshot();
        assert.equal(doc.format, 'vexil-snapshot/1');
        assert.equal(doc.revision, await revisionOf(store));
        assert.deepEqual(Object.keys(doc.flags).sort(), ['a', 'b', 'c']);
        assert.equal(doc.flags.c?.version, 1);
        assert.equal(doc.hash, snapshotHash(doc.flags, doc.segments));
        const roundTripped = JSON.parse(JSON.stringify(doc)) as typeof doc;

        const target = await factory.open();
        try {
          await target.put('stale', boolFlag(), by);
          await target.put('a', boolFlag('off'), by);
          const imported = await target.importSnapshot(roundTripped, { actor: 'importer' });
          assert.equal(imported.revision, await revisionOf(target));
          const copy = await target.exportSnapshot();
          assert.equal(copy.hash, doc.hash, 'same content, same hash');
          assert.deepEqual(Object.keys(copy.flags).sort(), ['a', 'b', 'c'], 'flags absent from the snapshot are removed');
          assert.deepEqual(copy.segments, doc.segments);
          assert.ok((await target.audit()).entries.some((e) => e.actor === 'importer'));
          const again = await target.importSnapshot(roundTripped, { actor: 'importer' });
          assert.equal(again.revision, imported.revision, 'importing the same content again changes nothing');
          const tampered = { ...roundTripped, flags: { ...roundTripped.flags, a: { flag: boolFlag('off'), version: 9 } } };
          await assert.rejects(target.importSnapshot(tampered, { actor: 'importer' }), StoreValidationError);
          assert.equal((await target.exportSnapshot()).hash, doc.hash);
        } finally {
          await target.close();
        }
      }));

    it(
      'reports a malformed stored flag with its key and skips it; readers never crash',
      { skip: factory.corrupt ? false : 'the factory cannot corrupt stored data' },
      () =>
        withStores(async (store) => {
          await store.put('good', boolFlag(), by);
          await store.put('bad', boolFlag(), by);
          await factory.corrupt!('bad');
          const list = await store.list();
          assert.deepEqual(list.flags.map((f) => f.key), ['good']);
          assert.ok(
            list.problems.some((p) => p.flagKey === 'bad' && p.severity === 'error'),
            `a problem names the key: ${JSON.stringify(list.problems)}`,
          );
          assert.equal(await store.get('bad'), undefined, 'get() skips it too');
          assert.ok((await store.exportSnapshot()).flags.good);
          const fixed = await store.put('bad', boolFlag('off'), by);
          assert.ok(fixed.version > 0, 'a malformed flag can be overwritten');
          assert.deepEqual((await store.list()).problems, []);
        }),
    );

    it('closing the store, or aborting, ends watch iterators', () =>
      withStores(async (store, openSecond) => {
        const second = await openSecond();
        const from = await revisionOf(second);
        const iterator = second.watch({ fromRevision: from })[Symbol.asyncIterator]();
        const pending = iterator.next();
        await store.put('x', boolFlag(), by);
        const first = await pending;
        assert.equal(first.done, false);
        const waiting = iterator.next();
        const closed = second.close();
        const result = await Promise.race([
          waiting,
          // unref: the timer must not keep the test process alive once the race is decided
          new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5_000).unref()),
        ]);
        assert.notEqual(result, 'timeout', 'close() ends a waiting iterator');
        assert.equal((result as IteratorResult<ChangeEvent>).done, true);
        await closed;

        const controller = new AbortController();
        const aborted = store.watch({ signal: controller.signal })[Symbol.asyncIterator]().next();
        setTimeout(() => controller.abort(), 20);
        assert.equal((await aborted).done, true, 'aborting ends a waiting iterator');
      }));

    it('shares segments between flags, validates references, and announces segment changes', async (t) => {
      await withStores(async (store) => {
        if (!store.putSegments) return t.skip('this store has no segments');
        const from = await revisionOf(store);
        await store.putSegments({ staff: { query: 'email ew "@example.com"', description: 'employees' } }, { ...by, expectedVersion: 0 });
        await store.put('beta', { ...boolFlag('off'), targeting: [{ query: '@staff', variation: 'on' }] }, by);
        await assert.rejects(
          store.put('other', { ...boolFlag('off'), targeting: [{ query: '@nobody', variation: 'on' }] }, by),
          StoreValidationError,
        );
        await assert.rejects(store.putSegments({}, by), StoreValidationError, 'a segment still used cannot be removed');
        await assert.rejects(store.putSegments({ staff: { query: 'x eq 1' } }, { ...by, expectedVersion: 0 }), StoreConflictError);
        const list = await store.list();
        assert.deepEqual(list.segments, { staff: { query: 'email ew "@example.com"', description: 'employees' } });
        const events = await take(store, 2, from);
        assert.equal(events[0]?.type, 'segments');
        assert.deepEqual(events[0]?.type === 'segments' && events[0].segments, list.segments);
        assert.equal(events[1]?.type, 'put');
      });
    });
  });
}
