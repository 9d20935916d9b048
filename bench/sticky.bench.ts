// `npm run bench -- sticky`: what sticky assignment (`experiment.sticky`) costs the server. OFREP single-flag
// evaluations against a `vexil serve` child process, same run, three cases per store:
// - a plain 50/50 flag (no experiment), units drawn from 1,000;
// - the same flag with `sticky: true`, units drawn from 1,000 (after the first round, every unit's assignment is in
//   the server's cache);
// - the sticky flag with a new unit on every request (every request writes an assignment to the store).
// Stores: the embedded one (PGlite, in the server's process) and Redis. BENCH_STICKY_STORES=pglite,redis picks them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { redisPrefixUrl, removeRedisPrefix } from './redis-prefix.js';
import { startChild } from './server.bench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DURATION_S = Number(process.env.BENCH_SERVER_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_SERVER_CONNECTIONS ?? 32);
const STORES = (process.env.BENCH_STICKY_STORES ?? 'pglite,redis').split(',').map((name) => name.trim());
const REDIS_URL = process.env.VEXIL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const SDK = 'bench-sdk-key-0123456789';
const ADMIN = 'bench-admin-key-0123456789';

const SPLIT = { variations: { control: 'blue', treatment: 'green' }, defaultRule: { percentage: { control: 50, treatment: 50 } } };
const FLAGS = {
  'plain-button': SPLIT,
  'sticky-button': { ...SPLIT, experiment: { control: 'control', sticky: true, metrics: [{ event: 'purchase', type: 'binomial' }] } },
};

interface Row {
  store: string;
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

export async function run(): Promise<void> {
  const rows: Row[] = [];
  for (const store of STORES) {
    if (store === 'pglite') rows.push(...(await runOn('embedded (PGlite)', 'pglite:memory:')));
    else if (store === 'redis') {
      const prefix = `vexil-bench-sticky-${randomBytes(4).toString('hex')}:`;
      try {
        rows.push(...(await runOn('Redis', redisPrefixUrl(REDIS_URL, prefix))));
      } finally {
        await removeRedisPrefix(REDIS_URL, prefix);
      }
    } else throw new Error(`BENCH_STICKY_STORES: unknown store ${store} (pglite, redis)`);
  }
  console.log(`\nOFREP single-flag evaluations, ${CONNECTIONS} connections, ${DURATION_S} s per case, same run:`);
  console.log('store              case                                  req/s   p50 ms  p99 ms  errors');
  for (const row of rows) {
    console.log(
      `${row.store.padEnd(18)} ${row.name.padEnd(36)} ${String(Math.round(row.rps)).padStart(7)} ${row.p50.toFixed(1).padStart(8)} ${row.p99.toFixed(1).padStart(7)} ${String(row.errors).padStart(7)}`,
    );
  }
}

async function runOn(storeName: string, storeUrl: string): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-bench-sticky-'));
  const flagsFile = join(dir, 'flags.json');
  await writeFile(flagsFile, JSON.stringify(FLAGS));
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
      '--events',
      'off',
    ],
    /listening on (http:\/\/\S+)[\s\S]*\/metrics\n/,
  );
  const rows: Row[] = [];
  try {
    const headers = { 'content-type': 'application/json', 'x-api-key': SDK };
    const probe = await fetch(`${server.url}/ofrep/v1/evaluate/flags/sticky-button`, { method: 'POST', headers, body: JSON.stringify({ context: { targetingKey: 'probe' } }) });
    const answer = (await probe.json()) as { metadata?: { sticky?: boolean } };
    if (!probe.ok || answer.metadata?.sticky !== true) throw new Error(`unexpected answer ${probe.status} ${JSON.stringify(answer)}`);
    let sequence = 0;
    const runCase = async (name: string, flag: string, unit: () => string): Promise<void> => {
      const options = {
        url: `${server.url}/ofrep/v1/evaluate/flags/${flag}`,
        method: 'POST' as const,
        headers,
        connections: CONNECTIONS,
        pipelining: 1,
        requests: [{ setupRequest: (request: Record<string, unknown>) => ({ ...request, body: JSON.stringify({ context: { targetingKey: unit() } }) }) }],
      };
      await autocannon({ ...options, duration: 2 }); // warm-up: JIT, connections, and the 1,000 units' assignments
      const result = await autocannon({ ...options, duration: DURATION_S });
      rows.push({ store: storeName, name, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx });
    };
    await runCase('plain split, 1,000 units', 'plain-button', () => `user-${sequence++ % 1000}`);
    await runCase('sticky, 1,000 units (cached)', 'sticky-button', () => `user-${sequence++ % 1000}`);
    await runCase('sticky, a new unit per request', 'sticky-button', () => `new-${sequence++}`);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
