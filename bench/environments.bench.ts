// `npm run bench -- environments`: one `vexil serve` holding 1 environment, then one holding 100 environments, each
// with 2,000 flags (embedded store), measured the same way in the same run:
// - how long the server takes to start and how much memory it holds once it serves;
// - OFREP evaluations per second with the SDK key of the first and of the last environment;
// - the time for a change in one environment to reach that environment's SSE clients, while as many clients of
//   another environment listen too (they must receive nothing: a change reaches only its environment's streams).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlagDefinition } from '@vexil/core';
import { SqlFlagStore, createSnapshot } from '@vexil/store';
import { fanOut, load, percentile, startChild, type Child, type LoadResult } from './server.bench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FLAGS_PER_ENVIRONMENT = Number(process.env.BENCH_ENV_FLAGS ?? 2000);
const ENVIRONMENTS = Number(process.env.BENCH_ENVIRONMENTS ?? 100);
const SSE_CLIENTS = Number(process.env.BENCH_ENV_SSE_CLIENTS ?? 200);
const ROUNDS = Number(process.env.BENCH_ENV_ROUNDS ?? 6);
const ADMIN = 'bench-admin-key-0001';
const PROJECT = 'default';
/** `pglite` (the embedded default: the whole database lives in the server's memory) or a `postgres://…` URL. */
const STORE = process.env.BENCH_ENV_STORE ?? 'pglite';
const RUN_ID = Math.random().toString(36).slice(2, 8);

/** Environment keys: `default` first, then env-001 … */
const environmentKeys = (count: number) => ['default', ...Array.from({ length: count - 1 }, (_, i) => `env-${String(i + 1).padStart(3, '0')}`)];

/** 2,000 flags of the usual shapes: targeting rules, percentage splits, string and JSON variations. */
function flagsOf(environment: string): Array<{ key: string; flag: FlagDefinition; version: number }> {
  const flags: Array<{ key: string; flag: FlagDefinition; version: number }> = [];
  flags.push({
    key: 'bench-flag',
    version: 1,
    flag: {
      variations: { on: true, off: false },
      targeting: [{ name: 'france', query: 'country eq "fr"', variation: 'on' }],
      defaultRule: { variation: 'off' },
    },
  });
  flags.push({ key: 'fanout-flag', version: 1, flag: { variations: { v: { marker: 0 } }, defaultRule: { variation: 'v' } } });
  for (let i = flags.length; i < FLAGS_PER_ENVIRONMENT; i++) {
    const flag: FlagDefinition =
      i % 3 === 0
        ? { variations: { on: true, off: false }, defaultRule: { percentage: { on: (i * 7) % 100, off: 100 - ((i * 7) % 100) } } }
        : i % 3 === 1
          ? {
              variations: { a: `a-${environment}`, b: `b-${i}` },
              targeting: [{ query: `plan eq "pro" and email ew "@corp${i % 10}.com"`, variation: 'b' }],
              defaultRule: { variation: 'a' },
            }
          : { variations: { small: { size: 1 }, large: { size: i } }, defaultRule: { variation: i % 2 ? 'small' : 'large' } };
    flags.push({ key: `flag-${String(i).padStart(5, '0')}`, flag, version: 1 });
  }
  return flags;
}

/** Writes the store the server will open: `count` environments of FLAGS_PER_ENVIRONMENT flags. Resolves seconds. */
/** The store of one measurement: a folder of the embedded store, or a schema of its own on PostgreSQL. */
function storeUrlOf(dir: string, count: number): string {
  if (STORE === 'pglite') return `pglite:${join(dir, `store-${count}`)}`;
  return `${STORE}${STORE.includes('?') ? '&' : '?'}schema=bench_env_${RUN_ID}_${count}`;
}

async function seed(url: string, count: number): Promise<number> {
  const started = performance.now();
  const store = await SqlFlagStore.open(url);
  try {
    for (const environment of environmentKeys(count)) {
      if (environment !== 'default') await store.catalog!.createEnvironment(PROJECT, { key: environment }, { actor: 'bench' });
      const target = await store.catalog!.environment({ project: PROJECT, environment });
      await target.importSnapshot(createSnapshot({ revision: 0, flags: flagsOf(environment), segments: {} }), { actor: 'bench' });
    }
  } finally {
    await store.close();
  }
  return (performance.now() - started) / 1000;
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': ADMIN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function sdkKey(base: string, environment: string): Promise<string> {
  const created = await api(base, 'POST', '/admin/v1/keys', { kind: 'sdk', name: `bench ${environment}`, project: PROJECT, environment });
  return String(created.secret ?? created.key);
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

interface Row {
  environments: number;
  seedS: number;
  startS: number;
  allServedS: number;
  firstAnswerMs: number;
  rssMb: number;
  first: LoadResult;
  last: LoadResult;
  fanOut: number[];
  leaked: number;
}

async function measure(dir: string, count: number): Promise<Row> {
  const storeUrl = storeUrlOf(dir, count);
  const seedS = await seed(storeUrl, count);
  const started = performance.now();
  let server: Child | undefined;
  try {
    server = await startChild(
      [
        join(ROOT, 'packages/cli/dist/bin/vexil.js'),
        'serve',
        '--store',
        storeUrl,
        '--port',
        '0',
        '--admin-key',
        ADMIN,
        '--rate-limit',
        '0',
        '--log-level',
        'warn',
        '--no-examples',
      ],
      /listening on (http:\/\/\S+)[\s\S]*\/metrics\n/,
      300_000,
    );
    const startS = (performance.now() - started) / 1000;
    const base = server.url;
    // The server answers as soon as default/default is loaded and opens the others in the background: measure once
    // every environment is served, and say how long that took.
    for (;;) {
      const health = (await (await fetch(`${base}/admin/v1/health`, { headers: { 'x-api-key': ADMIN } })).json()) as { environments?: unknown[] };
      if ((health.environments?.length ?? 0) >= count) break;
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
    const allServedS = (performance.now() - started) / 1000;
    const keys = environmentKeys(count);
    const firstEnv = keys[0]!;
    const lastEnv = keys[keys.length - 1]!;
    const [firstKey, lastKey] = [await sdkKey(base, firstEnv), await sdkKey(base, lastEnv)];
    const body = JSON.stringify({ context: { targetingKey: 'user-42', country: 'fr', plan: 'pro' } });
    const headers = (key: string) => ({ 'content-type': 'application/json', 'x-api-key': key });
    const url = `${base}/ofrep/v1/evaluate/flags/bench-flag`;
    const probeStarted = performance.now();
    const probe = await fetch(`${base}/ofrep/v1/evaluate/flags/flag-00004`, { method: 'POST', headers: headers(lastKey), body });
    const probeBody = (await probe.json()) as { value?: unknown };
    if (probeBody.value !== `a-${lastEnv}`) throw new Error(`the last environment's key was not served its own flags: ${JSON.stringify(probeBody)}`);
    const firstAnswerMs = performance.now() - probeStarted;
    const isOn = (text: string) => JSON.parse(text).value === true;
    const first = await load(`OFREP, key of ${firstEnv}`, url, headers(firstKey), body, isOn);
    const last = await load(`OFREP, key of ${lastEnv}`, url, headers(lastKey), body, isOn);
    const rss = await rssMb(server.process.pid!);

    // Clients of the first environment listen while the last one changes: none of them may see its rule.
    const bystanders = count > 1 ? SSE_CLIENTS : 0;
    let leaked = 0;
    const bystanderControl = new AbortController();
    const bystanderReads = Array.from({ length: bystanders }, async () => {
      try {
        const response = await fetch(`${base}/v1/stream?key=${firstKey}`, { headers: { accept: 'text/event-stream' }, signal: bystanderControl.signal });
        const decoder = new TextDecoder();
        for await (const chunk of response.body!) if (/"round-[1-9]/.test(decoder.decode(chunk as Uint8Array))) leaked++;
      } catch {
        // aborted at the end
      }
    });
    const latencies = await fanOut(
      base,
      SSE_CLIENTS,
      ROUNDS,
      async (round) => {
        // A change of the environment's own serving (a rule): variations are shared by every environment.
        await api(base, 'PUT', `/admin/v1/projects/${PROJECT}/environments/${lastEnv}/flags/fanout-flag`, {
          variations: { v: { marker: 0 } },
          targeting: [{ name: `round-${round}`, query: 'targetingKey eq "nobody"', variation: 'v' }],
          defaultRule: { variation: 'v' },
        });
      },
      `${base}/v1/stream?key=${lastKey}`,
      (round) => `"name":"round-${round}"`,
    );
    bystanderControl.abort();
    await Promise.all(bystanderReads);
    return { environments: count, seedS, startS, allServedS, firstAnswerMs, rssMb: rss, first, last, fanOut: latencies, leaked };
  } finally {
    await server?.stop();
  }
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-bench-environments-'));
  try {
    const rows = [await measure(dir, 1), await measure(dir, ENVIRONMENTS)];
    console.log(
      `\nOne server (${STORE === 'pglite' ? 'embedded store' : 'PostgreSQL'}), ${FLAGS_PER_ENVIRONMENT.toLocaleString('en')} flags per environment; OFREP over loopback with autocannon; fan-out to ${SSE_CLIENTS} SSE clients of the changed environment, ${ROUNDS} changes`,
    );
    console.log('| environments | flags | seed s | start s | all served s | RSS MB | 1st answer, last env ms | OFREP req/s (first env) | OFREP req/s (last env) | p99 ms (last env) | fan-out median ms | fan-out p99 ms | missed | seen by another env |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of rows) {
      const missed = row.fanOut.filter((latency) => !Number.isFinite(latency)).length;
      console.log(
        `| ${row.environments} | ${(row.environments * FLAGS_PER_ENVIRONMENT).toLocaleString('en')} | ${row.seedS.toFixed(1)} | ${row.startS.toFixed(2)} | ${row.allServedS.toFixed(2)} | ${row.rssMb} | ${row.firstAnswerMs.toFixed(1)} | ${Math.round(row.first.rps).toLocaleString('en')} | ${Math.round(row.last.rps).toLocaleString('en')} | ${row.last.p99} | ${percentile(row.fanOut, 50).toFixed(1)} | ${percentile(row.fanOut, 99).toFixed(1)} | ${missed} | ${row.environments > 1 ? row.leaked : '-'} |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (STORE !== 'pglite') await dropSchemas(`bench_env_${RUN_ID}_`);
  }
}

/** Removes the schemas a PostgreSQL run made (each environment is a schema of its own). */
async function dropSchemas(prefix: string): Promise<void> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(STORE.replace(/\?.*$/, ''), { onnotice: () => undefined });
  try {
    const schemas = await sql<{ nspname: string }[]>`SELECT nspname FROM pg_namespace WHERE nspname LIKE ${`${prefix}%`}`;
    for (const { nspname } of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
  } finally {
    await sql.end();
  }
}
