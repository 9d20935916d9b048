// Store benchmarks: how long a change takes to reach a watcher, and how long list() takes for 10,000 flags.
//   npm run bench -- store
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { deleteKeysWithPrefix } from './redis-prefix.js';
import { createSnapshot, openStore, type FlagStore } from '@vexil/store';
import type { FlagDefinition } from '@vexil/core';

const here = dirname(fileURLToPath(import.meta.url));
const POSTGRES_URL = process.env.VEXIL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.VEXIL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const CHANGES = 1_000;
const PGLITE_CHANGES = 500;
const WARMUP = 20;
const LIST_FLAGS = 10_000;

const now = () => performance.timeOrigin + performance.now();

interface Row {
  backend: string;
  how: string;
  changes: number;
  median: number;
  p99: number;
  /** Median time of the put() itself (the durable commit), included in write-to-seen. */
  commit: number;
  max: number;
  list: { first: number; median: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Watches `watcher` for `total` changes of the latency flag; returns each one's write-to-seen time in ms. */
async function measure(watcher: FlagStore, total: number, write: () => Promise<number[]>): Promise<{ latencies: number[]; commit: number }> {
  const from = (await watcher.list()).revision;
  const latencies: number[] = [];
  const controller = new AbortController();
  const watching = (async () => {
    for await (const change of watcher.watch({ fromRevision: from, signal: controller.signal })) {
      if (change.type !== 'put' || change.key !== 'bench-latency') continue;
      latencies.push(now() - (change.flag.metadata?.sentAt as number));
      if (latencies.length === total) break;
    }
  })();
  const timer = setTimeout(() => controller.abort(), 90_000);
  const durations = (await write()).slice(WARMUP).sort((a, b) => a - b);
  await watching;
  clearTimeout(timer);
  if (latencies.length < total) throw new Error(`saw only ${latencies.length} of ${total} changes`);
  return { latencies: latencies.slice(WARMUP).sort((a, b) => a - b), commit: percentile(durations, 50) };
}

/** Runs the writer in a child process: the change crosses a process boundary, as between two servers. */
function childWriter(url: string, count: number, options: Record<string, unknown> = {}): () => Promise<number[]> {
  return () =>
    new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', join(here, 'store-writer.ts'), url, String(count), JSON.stringify(options)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`writer exited with ${code}`));
        const last = output.trim().split('\n').pop() ?? '{}';
        resolve((JSON.parse(last) as { durations: number[] }).durations);
      });
    });
}

function flagSet(count: number) {
  const flags = Array.from({ length: count }, (_, i) => {
    const flag: FlagDefinition = {
      variations: { on: true, off: false, half: i % 7 === 0 },
      targeting: [{ name: 'beta', query: `plan eq "pro" and country in ["FR", "DE"]`, variation: 'on' }],
      defaultRule: { percentage: { on: 10, off: 90 } },
      metadata: { owner: `team-${i % 13}`, description: 'a benchmark flag of ordinary size' },
    };
    return { key: `flag-${String(i).padStart(5, '0')}`, flag, version: 1 };
  });
  return createSnapshot({ revision: 0, flags, segments: {} });
}

/**
 * list() on a store holding LIST_FLAGS flags: the first call (every flag read and validated) and the median of the
 * next `runs` (stores may skip validating definitions they already validated).
 */
async function listTime(store: FlagStore, runs = 5): Promise<{ first: number; median: number }> {
  await store.importSnapshot(flagSet(LIST_FLAGS), { actor: 'bench' });
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const started = performance.now();
    const list = await store.list();
    times.push(performance.now() - started);
    if (list.flags.length < LIST_FLAGS) throw new Error(`list() returned ${list.flags.length} flags`);
  }
  const first = times.shift()!;
  return { first, median: times.sort((a, b) => a - b)[Math.floor(runs / 2)]! };
}

async function benchPostgres(): Promise<Row> {
  const schema = `vexil_bench_${randomBytes(4).toString('hex')}`;
  const url = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  const watcher = await openStore(url);
  try {
    const latencies = await measure(watcher, WARMUP + CHANGES, childWriter(url, WARMUP + CHANGES));
    const list = await listTime(watcher);
    return row('postgres', 'other process, LISTEN/NOTIFY', latencies, list);
  } finally {
    await watcher.close();
    const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

async function benchPGlite(): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-bench-'));
  const url = `pglite:${join(dir, 'data')}`;
  try {
    const watcher = await openStore(url);
    const writer = await openStore(url); // a second store on the same database, in this process
    try {
      const latencies = await measure(watcher, WARMUP + PGLITE_CHANGES, async () => {
        const durations: number[] = [];
        for (let i = 0; i < WARMUP + PGLITE_CHANGES; i++) {
          const started = performance.now();
          await writer.put(
            'bench-latency',
            { variations: { on: true, off: false }, defaultRule: { variation: 'on' }, metadata: { sentAt: now(), i } },
            { actor: 'bench' },
          );
          durations.push(performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        return durations;
      });
      const list = await listTime(watcher);
      return row('pglite', 'same process (PGlite is single-process)', latencies, list);
    } finally {
      await writer.close();
      await watcher.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchRedis(): Promise<Row | undefined> {
  const prefix = `vexil-bench-${randomBytes(4).toString('hex')}:`;
  const url = `${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(prefix)}`;
  const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
  } catch {
    admin.disconnect();
    return undefined;
  }
  const watcher = await openStore(url);
  try {
    const latencies = await measure(watcher, WARMUP + CHANGES, childWriter(url, WARMUP + CHANGES));
    const list = await listTime(watcher);
    return row('redis', 'other process, pub/sub', latencies, list);
  } finally {
    await watcher.close();
    await deleteKeysWithPrefix(admin, prefix);
    admin.disconnect();
  }
}

function row(
  backend: string,
  how: string,
  { latencies, commit }: { latencies: number[]; commit: number },
  list: { first: number; median: number },
): Row {
  const median = percentile(latencies, 50);
  return { backend, how, changes: latencies.length, median, p99: percentile(latencies, 99), max: latencies[latencies.length - 1]!, commit, list };
}

export async function run(): Promise<void> {
  const rows: Row[] = [];
  const attempt = async (name: string, bench: () => Promise<Row | undefined>) => {
    try {
      const result = await bench();
      if (result) rows.push(result);
      else console.log(`${name}: not reachable, skipped`);
    } catch (error) {
      console.log(`${name}: failed: ${(error as Error).message}`);
    }
  };
  await attempt('postgres', benchPostgres);
  await attempt('redis', benchRedis);
  await attempt('pglite', benchPGlite);
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  console.table(
    rows.map((r) => ({
      store: r.backend,
      'writer → watcher': r.how,
      changes: r.changes,
      'median write-to-seen': ms(r.median),
      'p99 write-to-seen': ms(r.p99),
      max: ms(r.max),
      'put() median': ms(r.commit),
      [`list() of ${LIST_FLAGS.toLocaleString('en')} flags, first`]: ms(r.list.first),
      'list(), again': ms(r.list.median),
    })),
  );
  console.log(
    'write-to-seen: from just before put() in the writer to the change arriving from watch() in this process, ' +
      `after ${WARMUP} warm-up changes, one change at a time; it includes the put() itself (its durable commit, ` +
      'shown apart). PGlite is an embedded, single-process database: ' +
      'its writer is a second store on the same database in this process. list(): the first call reads and validates every flag; "again": median of 5 more.',
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
