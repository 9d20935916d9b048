// The events store on SQLite (the embedded default): the conformance suite, a fresh database file per test, and what a
// file on disk must do besides: keep what was written across a reopen, and let a second process read it meanwhile.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventsStore, SqliteEventsStore } from '../src/events/index.js';
import { runEventsConformance } from './events-conformance.js';

const folder = await mkdtemp(join(tmpdir(), 'vexil-events-sqlite-'));
let count = 0;
runEventsConformance('sqlite', {
  open: (options) => SqliteEventsStore.open(`sqlite:${join(folder, `events-${++count}.db`)}`, { pruneIntervalMs: 0, ...options }),
  openSecond: () => SqliteEventsStore.open(`sqlite:${join(folder, `events-${count}.db`)}`, { pruneIntervalMs: 0 }),
  cleanup: () => rm(folder, { recursive: true, force: true }),
});

describe('events store on SQLite: the file', () => {
  const own = mkdtemp(join(tmpdir(), 'vexil-events-sqlite-file-'));
  after(async () => rm(await own, { recursive: true, force: true }));
  const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

  it('keeps what was written across a reopen; openEventsStore picks SQLite for sqlite: URLs; a relative path follows cwd', async () => {
    const cwd = await own;
    const first = await openEventsStore('sqlite:data/events.db', { cwd, pruneIntervalMs: 0 });
    assert.equal(first.kind, 'sqlite');
    await first.write([{ id: 'b1', exposures: [{ flag: 'f', variation: 'on', unit: 'u1', at: T0 }], tracks: [{ metric: 'buy', unit: 'u1', at: T0 + 1_000, value: 12 }] }]);
    await first.close();
    const again = await openEventsStore(`sqlite:${join(cwd, 'data', 'events.db')}`, { pruneIntervalMs: 0 });
    try {
      const summary = await again.flagSummary('f', { since: T0, until: T0 + 60_000 });
      assert.deepEqual(summary.variations, [{ variation: 'on', evaluations: 1, units: 1, errors: {} }]);
      // The batch id is remembered too: a retry after the restart is not counted twice.
      const retried = await again.write([{ id: 'b1', exposures: [{ flag: 'f', variation: 'on', unit: 'u1', at: T0 }], tracks: [] }]);
      assert.deepEqual(retried, { written: 0, duplicates: 1, events: 0 });
      const metric = await again.metricSummary({ metric: 'buy', flag: 'f', by: 'variation', since: T0, until: T0 + 60_000 });
      assert.equal(metric.rows[0]?.mean, 12);
    } finally {
      await again.close();
    }
  });

  it('rejects a URL that names no file, and a file it cannot create, with the path', async () => {
    await assert.rejects(openEventsStore('sqlite:'), /not a SQLite URL/);
    // A folder that cannot be made: its parent is a file.
    const file = join(await own, 'not-a-folder');
    await writeFile(file, '');
    await assert.rejects(openEventsStore(`sqlite:${file}/events.db`), (error: Error) => error.message.includes(`${file}/events.db`));
  });
});
