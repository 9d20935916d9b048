// The events store on PGlite (embedded): the conformance suite, one in-memory database, a fresh schema per test.
import { describe, it } from 'node:test';
import { mkdtemp, mkdir, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { SqlEventsStore, UnitSet, EXACT_LIMIT, defaultEventsUrl, EventsFolderLockedError } from '../src/events/index.js';
import { runEventsConformance } from './events-conformance.js';

const database = `memory:events-${randomBytes(4).toString('hex')}`;
let count = 0;
runEventsConformance('pglite', {
  open: (options) => SqlEventsStore.open(`pglite:${database}?schema=events_${++count}`, { pruneIntervalMs: 0, ...options }),
  openSecond: () => SqlEventsStore.open(`pglite:${database}?schema=events_${count}`, { pruneIntervalMs: 0 }),
  cleanup: async () => undefined,
});

describe('distinct units (UnitSet)', () => {
  it('is exact up to the limit, and merging equals the set of the union', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 120 }), fc.array(fc.string(), { maxLength: 120 }), (a, b) => {
        const left = new UnitSet();
        const right = new UnitSet();
        for (const unit of a) left.addUnit(unit);
        for (const unit of b) right.addUnit(unit);
        const merged = UnitSet.parse(left.serialise());
        merged.merge(UnitSet.parse(right.serialise()));
        assert.equal(merged.size(), new Set([...a, ...b]).size);
        assert.ok(merged.exact);
      }),
    );
  });

  it('past the limit, estimates within a few percent, and merging is idempotent', () => {
    const set = new UnitSet();
    for (let i = 0; i < 20_000; i++) set.addUnit(`u${i}`);
    assert.equal(set.exact, false);
    const again = UnitSet.parse(set.serialise());
    again.merge(set);
    assert.equal(again.size(), set.size());
    assert.ok(Math.abs(set.size() - 20_000) / 20_000 < 0.05, `estimate ${set.size()}`);
    const small = new UnitSet();
    for (let i = 0; i <= EXACT_LIMIT; i++) small.addUnit(`s${i}`);
    assert.ok(Math.abs(small.size() - (EXACT_LIMIT + 1)) <= 10);
  });
});

describe('default events URL', () => {
  it('is the flag store\'s database when it is SQL, else SQLite in .vexil, unless an earlier release keeps events in .vexil/data', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'vexil-default-events-'));
    try {
      assert.equal(defaultEventsUrl('postgres://h/db?schema=flags&sslmode=disable', cwd), 'postgres://h/db?schema=flags_events&sslmode=disable');
      assert.equal(defaultEventsUrl('postgres://h/db', cwd), 'postgres://h/db');
      assert.equal(defaultEventsUrl('pglite:./data', cwd), 'pglite:./data');
      assert.equal(defaultEventsUrl('redis://localhost:6379', cwd), 'sqlite:./.vexil/events.db');
      assert.equal(defaultEventsUrl('file:./flags.yaml', cwd), 'sqlite:./.vexil/events.db');
      // No flag store named: the default store's file (what `vexil events` reads beside a default `vexil serve`).
      assert.equal(defaultEventsUrl(undefined, cwd), 'sqlite:./.vexil/vexil.db');
      // A PGlite database left by an earlier release: its events stay where they are.
      await mkdir(join(cwd, '.vexil', 'data'), { recursive: true });
      await writeFile(join(cwd, '.vexil', 'data', 'PG_VERSION'), '17\n');
      assert.equal(defaultEventsUrl('file:./flags.yaml', cwd), 'pglite:./.vexil/data');
      assert.equal(defaultEventsUrl(undefined, cwd), 'pglite:./.vexil/data');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});

describe('embedded events folder', () => {
  it('belongs to one process: another live process\'s lock is refused, a dead one\'s taken over, released on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-events-lock-'));
    const lock = join(dir, 'vexil-events.lock');
    try {
      await writeFile(lock, String(process.ppid));
      await assert.rejects(SqlEventsStore.open(`pglite:${dir}`, { pruneIntervalMs: 0 }), (error: unknown) => error instanceof EventsFolderLockedError && error.pid === process.ppid);
      await writeFile(lock, '2147483646');
      const store = await SqlEventsStore.open(`pglite:${dir}`, { pruneIntervalMs: 0 });
      const again = await SqlEventsStore.open(`pglite:${dir}`, { pruneIntervalMs: 0 });
      await store.close();
      await access(lock);
      await again.close();
      await assert.rejects(access(lock));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
