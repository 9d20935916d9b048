// `npm run bench -- ingest`: the events store's own write throughput, SQLite (the embedded default) against PGlite (the
// default before), on disk and in memory, same run: 200 batches of 500 exposures (20 flags, 2,000 units) and 50
// tracked events each, one write per batch, as a server's buffer flushes them. No HTTP: the store alone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventsStore } from '@vexil/store';

const T0 = Date.UTC(2026, 11, 4, 12);
const BATCHES = 200;

function batch(b: number) {
  return {
    id: `b${b}`,
    exposures: Array.from({ length: 500 }, (_, i) => ({ flag: `f${i % 20}`, variation: i % 2 ? 'on' : 'off', unit: `u${(b * 500 + i) % 2000}`, at: T0 + b * 300 + i })),
    tracks: Array.from({ length: 50 }, (_, i) => ({ metric: 'buy', unit: `u${(b * 50 + i) % 2000}`, at: T0 + b * 300 + i + 1, value: i })),
  };
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-ingest-'));
  try {
    console.log('| events store | events/s | ms per batch of 550 |');
    console.log('|---|---:|---:|');
    for (const [label, url] of [
      ['SQLite, on disk', `sqlite:${join(dir, 'events.db')}`],
      ['PGlite, on disk', `pglite:${join(dir, 'pglite')}`],
      ['SQLite, in memory', 'sqlite:memory:'],
      ['PGlite, in memory', 'pglite:memory:'],
    ] as const) {
      const store = await openEventsStore(url, { pruneIntervalMs: 0 });
      try {
        await store.write([batch(-1)]); // warm-up: tables, statements
        const started = performance.now();
        for (let b = 0; b < BATCHES; b++) await store.write([batch(b)]);
        const ms = performance.now() - started;
        console.log(`| ${label} | ${Math.round((BATCHES * 550) / (ms / 1000)).toLocaleString('en')} | ${(ms / BATCHES).toFixed(1)} |`);
      } finally {
        await store.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
