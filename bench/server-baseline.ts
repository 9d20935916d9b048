// Parts of `npm run bench -- server` (bench/server.bench.ts) that put Vexil's figures beside a baseline:
// - a bare Fastify route answering a constant to the same OFREP request (the ceiling of one Node process on this
//   machine: HTTP parsing, JSON body, serialisation and the socket, nothing else);
// - the resident memory of an idle `vexil serve` on each store, with 1,000 flags.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { deleteKeysWithPrefix } from './redis-prefix.js';

/** The same answer Vexil gives to the OFREP request of the bench, as a constant (fastify resolves from the repository root). */
export const BARE_FASTIFY = `
const app = require('fastify')({ logger: false });
const answer = { key: 'bench-flag', reason: 'TARGETING_MATCH', value: true, variant: 'on', metadata: { evaluatedRuleName: 'france', gofeatureflag_cacheable: true }, cacheable: true };
app.post('/ofrep/v1/evaluate/flags/:key', async () => answer);
app.listen({ port: 0, host: '127.0.0.1' }, (error, address) => { if (error) throw error; console.log('listening on ' + address); });
`;

/** The same constant answer with the headers Vexil's answer carries (CORS, request id). */
export const BARE_FASTIFY_WITH_HEADERS = `
const app = require('fastify')({ logger: false });
const answer = { key: 'bench-flag', reason: 'TARGETING_MATCH', value: true, variant: 'on', metadata: { evaluatedRuleName: 'france', gofeatureflag_cacheable: true }, cacheable: true };
const expose = 'ETag, Retry-After, Last-Modified, Location, X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset';
let id = 0;
app.post('/ofrep/v1/evaluate/flags/:key', async (request, reply) => {
  reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', expose).header('x-request-id', 'bench-' + (++id).toString(36));
  return answer;
});
app.listen({ port: 0, host: '127.0.0.1' }, (error, address) => { if (error) throw error; console.log('listening on ' + address); });
`;

const POSTGRES_URL = process.env.VEXIL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.VEXIL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const MEMORY_FLAGS = 1000;
const SETTLE_MS = Number(process.env.BENCH_MEMORY_SETTLE_MS ?? 10_000);

export interface MemoryRow {
  store: string;
  rssMb: number | undefined;
  note: string;
}

/** 1,000 flags of a realistic shape (a targeting rule, a percentage split, metadata), as one JSON flag file. */
function thousandFlags(): string {
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < MEMORY_FLAGS; i++) {
    flags[`flag-${i}`] = {
      variations: { on: true, off: false },
      targeting: [{ name: 'france', query: 'country eq "fr"', variation: 'on' }],
      defaultRule: { percentage: { on: 10, off: 90 } },
      metadata: { description: `flag number ${i}` },
    };
  }
  return JSON.stringify(flags);
}

/** Resident set size of a process (Linux: /proc), in MB. */
async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

/** A fresh `vexil serve` on `storeUrl` seeded with the flags of `flagsFile`; its RSS once it has settled. */
async function idleRss(root: string, storeUrl: string, flagsFile: string, extra: string[] = []): Promise<number | undefined> {
  // The built CLI (`npm run bench` builds first): what users run, without the TypeScript loader's own memory.
  const args = [join(root, 'packages/cli/dist/bin/vexil.js'), 'serve', '--store', storeUrl, '--port', '0', '--log-level', 'warn', '--no-examples', '--sdk-key', 'bench-sdk-key-00001'];
  if (!storeUrl.startsWith('file:')) args.push('--flags', flagsFile);
  args.push(...extra);
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  try {
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not start:\n${output}`)), 120_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/listening on http/.test(output)) {
          clearTimeout(timer);
          resolveReady();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
    });
    await new Promise((resolveSettled) => setTimeout(resolveSettled, SETTLE_MS));
    return await rssOf(child.pid!);
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      await exited;
    }
  }
}

/** RSS of an idle `vexil serve` per store, each in a fresh process with 1,000 flags (run one after the other). */
export async function storeMemory(root: string, dir: string): Promise<MemoryRow[]> {
  const flagsFile = join(dir, 'flags-1000.json');
  await writeFile(flagsFile, thousandFlags());
  const rows: MemoryRow[] = [];
  const attempt = async (store: string, note: string, url: () => Promise<{ url: string; extra?: string[]; cleanup?: () => Promise<void> } | undefined>) => {
    try {
      const target = await url();
      if (!target) return rows.push({ store, rssMb: undefined, note: 'not reachable, skipped' });
      try {
        rows.push({ store, rssMb: await idleRss(root, target.url, flagsFile, target.extra), note });
      } finally {
        await target.cleanup?.();
      }
    } catch (error) {
      rows.push({ store, rssMb: undefined, note: `failed: ${(error as Error).message.split('\n')[0]}` });
    }
  };
  await attempt('sqlite (embedded default)', 'in this process, on disk (sqlite:<file>, like the default ./.vexil/vexil.db); events in the same file', async () => ({
    url: `sqlite:${join(dir, 'sqlite', 'vexil.db')}`,
  }));
  await attempt('sqlite (embedded default), restarted', 'the same file again', async () => ({ url: `sqlite:${join(dir, 'sqlite', 'vexil.db')}` }));
  await attempt('pglite (the embedded default before SQLite)', 'in this process, on disk (pglite:<dir>, like ./.vexil/data)', async () => ({ url: `pglite:${join(dir, 'pglite-data')}` }));
  // The usual case: a server restarted on its folder (no initdb step, which costs memory once, at creation).
  await attempt('pglite, restarted', 'the same folder again', async () => ({ url: `pglite:${join(dir, 'pglite-data')}` }));
  await attempt('pglite:memory:', 'in this process, in memory', async () => ({ url: 'pglite:memory:' }));
  await attempt('file', 'the flag file itself; events in SQLite (the default for stores that are not SQL)', async () => ({
    url: `file:${flagsFile}`,
    extra: ['--events', `sqlite:${join(dir, 'events.db')}`],
  }));
  await attempt('file, events in PGlite', 'the default for events before SQLite: PGlite in the embedded folder', async () => ({
    url: `file:${flagsFile}`,
    extra: ['--events', `pglite:${join(dir, 'events-pglite')}`],
  }));
  await attempt('file, events off', '--events off', async () => ({ url: `file:${flagsFile}`, extra: ['--events', 'off'] }));
  await attempt('redis', 'other process', async () => {
    const prefix = `vexil-bench-mem-${randomBytes(4).toString('hex')}:`;
    const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await admin.connect();
    } catch {
      admin.disconnect();
      return undefined;
    }
    return {
      url: `${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(prefix)}`,
      cleanup: async () => {
        await deleteKeysWithPrefix(admin, prefix);
        admin.disconnect();
      },
    };
  });
  await attempt('postgres', 'other process', async () => {
    const schema = `vexil_bench_mem_${randomBytes(4).toString('hex')}`;
    return {
      url: `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`,
      cleanup: async () => {
        const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
        await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      },
    };
  });
  return rows;
}
