// `npm run bench -- server-writes` (also part of `npm run bench -- server`): OFREP single-flag evaluations against a
// `vexil serve` child process holding 10,000 flags, first with no writes, then, in the same run, while writers keep
// changing flags through the admin API. A write must cost the size of the change, not of the whole flag set: the goal
// is an OFREP p99 under write load within 2× of the idle p99. Run on the embedded store (PGlite: its SQL runs in the
// server's own process, so each write also costs the server that) and on Redis (the store in another process: what
// is left is the server's own work per write). BENCH_WRITES_STORES=pglite,redis picks them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { redisPrefixUrl, removeRedisPrefix } from './redis-prefix.js';
import { bigFlagSet, toJson } from './core/big-file.js';
import { startChild } from './server.bench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FLAG_COUNT = Number(process.env.BENCH_FLAG_COUNT ?? 10_000);
const DURATION_S = Number(process.env.BENCH_SERVER_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_SERVER_CONNECTIONS ?? 32);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 4);
/** Pause between two writes of one writer (a steady load); 0: each writer writes again as soon as its write is acknowledged. */
const WRITE_PAUSE_MS = Number(process.env.BENCH_WRITE_PAUSE_MS ?? 100);
const STORES = (process.env.BENCH_WRITES_STORES ?? 'pglite,redis').split(',').map((name) => name.trim());
const REDIS_URL = process.env.VEXIL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const SDK = 'bench-sdk-key-0123456789';
const ADMIN = 'bench-admin-key-0123456789';

interface Phase {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  writes: number[];
  failedWrites: number;
}

const percentile = (sorted: number[], p: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);

export async function run(): Promise<void> {
  for (const store of STORES) {
    if (store === 'pglite') await runOn('embedded store, pglite:memory:', 'pglite:memory:');
    else if (store === 'redis') {
      // A key prefix of its own, removed afterwards (never anything else in that Redis).
      const prefix = `vexil-bench-writes-${randomBytes(4).toString('hex')}:`;
      try {
        await runOn('Redis', redisPrefixUrl(REDIS_URL, prefix));
      } finally {
        await removeRedisPrefix(REDIS_URL, prefix);
      }
    } else throw new Error(`BENCH_WRITES_STORES: unknown store ${store} (pglite, redis)`);
  }
}

async function runOn(storeName: string, storeUrl: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-bench-writes-'));
  const flags = bigFlagSet(FLAG_COUNT);
  flags['bench-flag'] = {
    variations: { on: true, off: false },
    targeting: [{ name: 'france', query: 'country eq "fr"', variation: 'on' }],
    defaultRule: { variation: 'off' },
  };
  const flagsFile = join(dir, 'flags.json');
  await writeFile(flagsFile, toJson(flags));
  const keys = Object.keys(flags).filter((key) => key !== 'bench-flag');
  const server = await startChild(
    [
      '--conditions=source',
      '--import',
      'tsx',
      join(ROOT, 'packages/cli/src/bin/vexil.ts'),
      'serve',
      '--store',
      storeUrl,
      '--flags',
      flagsFile,
      '--port',
      '0',
      '--sdk-key',
      SDK,
      '--admin-key',
      ADMIN,
      '--rate-limit',
      '0',
      '--log-level',
      'warn',
      '--no-examples',
    ],
    /listening on (http:\/\/\S+)[\s\S]*\/metrics\n/,
    600_000, // importing 10,000 flags takes a while on a busy machine
  );
  try {
    const url = `${server.url}/ofrep/v1/evaluate/flags/bench-flag`;
    const headers = { 'content-type': 'application/json', 'x-api-key': SDK };
    const body = JSON.stringify({ context: { targetingKey: 'user-42', country: 'fr', plan: 'pro' } });
    const probe = await fetch(url, { method: 'POST', headers, body });
    const answer = (await probe.json()) as { value?: unknown };
    if (!probe.ok || answer.value !== true) throw new Error(`unexpected answer ${probe.status} ${JSON.stringify(answer)}`);
    const options = { url, method: 'POST' as const, headers, body, connections: CONNECTIONS, pipelining: 1 };
    await autocannon({ ...options, duration: 2 }); // warm-up (JIT, connection setup)

    let sequence = 0;
    const write = async (): Promise<number> => {
      const n = sequence++;
      const key = keys[(n * 7919) % keys.length]!;
      const started = performance.now();
      const response = await fetch(`${server.url}/admin/v1/flags/${key}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-api-key': ADMIN },
        body: JSON.stringify({ ...flags[key], metadata: { owner: 'bench', write: n } }),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`write ${key}: ${response.status}`);
      return performance.now() - started;
    };

    const measure = async (name: string, writers: number): Promise<Phase> => {
      let stop = false;
      const writes: number[] = [];
      let failedWrites = 0;
      const loops = Array.from({ length: writers }, async () => {
        while (!stop) {
          try {
            writes.push(await write());
          } catch {
            failedWrites++;
          }
          if (WRITE_PAUSE_MS > 0) await new Promise((r) => setTimeout(r, WRITE_PAUSE_MS));
        }
      });
      const result = await autocannon({ ...options, duration: DURATION_S });
      stop = true;
      await Promise.all(loops);
      return {
        name,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        max: result.latency.max,
        errors: result.errors + result.timeouts + result.non2xx,
        writes: writes.sort((a, b) => a - b),
        failedWrites,
      };
    };

    const idle = await measure('idle', 0);
    const loaded = await measure(`${WRITERS} writers${WRITE_PAUSE_MS > 0 ? `, ${WRITE_PAUSE_MS} ms apart` : ', back to back'}`, WRITERS);

    console.log(
      `\nOFREP POST /ofrep/v1/evaluate/flags/{key} with ${FLAG_COUNT.toLocaleString('en')} flags (${storeName}): ${CONNECTIONS} connections, ${DURATION_S} s per phase after a 2 s warm-up, same server`,
    );
    console.log('| write load | req/s | p50 ms | p99 ms | max ms | errors | writes/s | write p50 ms | write p99 ms |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const phase of [idle, loaded]) {
      const writes = phase.writes.length > 0 ? `${(phase.writes.length / DURATION_S).toFixed(1)} | ${percentile(phase.writes, 50).toFixed(1)} | ${percentile(phase.writes, 99).toFixed(1)}` : '0 | – | –';
      console.log(
        `| ${phase.name} | ${Math.round(phase.rps).toLocaleString('en')} | ${phase.p50} | ${phase.p99} | ${phase.max} | ${phase.errors} | ${writes} |${phase.failedWrites ? ` ${phase.failedWrites} failed writes` : ''}`,
      );
    }
    const ratio = loaded.p99 / Math.max(idle.p99, 1);
    console.log(
      `\np99 under write load / idle p99: ${ratio.toFixed(2)}× (goal ≤ 2×); throughput under load: ${((loaded.rps / idle.rps) * 100).toFixed(0)}% of idle`,
    );
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
