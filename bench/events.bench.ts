// `npm run bench -- events`: durable events on PostgreSQL (the server on this machine, a fresh schema per run).
// 1. Ingestion: BENCH_EVENTS_RATE events/s (default 10,000) into one `vexil serve` for BENCH_EVENTS_SECONDS (default 60)
//    through /v1/data/collector in batches with ids: events lost (sent − stored, must be 0), RSS at start and end,
//    OFREP p50/p99 at a fixed request rate without and with the event load.
// 2. Three servers on one events schema, 10 % of batches sent again to another server: stored totals vs sent.
// 3. Queries on BENCH_EVENTS_UNITS exposed units (default 1,000,000) over 24 h: the flag summary (series and distinct
//    units per variation), and a canary-gate query (error rate and p99 per variation over the last 15 minutes).
// BENCH_EVENTS_SMALL=1 runs a smaller scale (2,000 events/s for 15 s, 100,000 units) on a busy machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { SqlEventsStore, type ExposureRecord, type TrackRecord } from '@vexil/store';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SMALL = process.env.BENCH_EVENTS_SMALL === '1';
const RATE = Number(process.env.BENCH_EVENTS_RATE ?? (SMALL ? 2_000 : 10_000));
const SECONDS = Number(process.env.BENCH_EVENTS_SECONDS ?? (SMALL ? 15 : 60));
const UNITS = Number(process.env.BENCH_EVENTS_UNITS ?? (SMALL ? 100_000 : 1_000_000));
const CLUSTER_BATCHES = Number(process.env.BENCH_EVENTS_CLUSTER_BATCHES ?? (SMALL ? 150 : 600));
const OFREP_RATE = Number(process.env.BENCH_EVENTS_OFREP_RATE ?? 300);
const POSTGRES_URL = process.env.VEXIL_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const SDK = 'bench-sdk-key';
const ADMIN = 'bench-admin-key';
const BATCH = 500;
const RUN = `vexil_bench_events_${randomBytes(4).toString('hex')}`;

const FLAGS = `
new-checkout:
  variations:
    v1: false
    v2: true
  defaultRule:
    percentage:
      v1: 90
      v2: 10
`;

interface Child {
  process: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

function startServer(flagsFile: string, events: string): Promise<Child> {
  const args = ['--conditions=source', '--import', 'tsx', join(ROOT, 'packages/cli/src/bin/vexil.ts'), 'serve', '--flags', flagsFile, '--events', events];
  args.push('--port', '0', '--sdk-key', SDK, '--admin-key', ADMIN, '--rate-limit', '0', '--log-level', 'warn');
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((done, reject) => {
    const timer = setTimeout(() => reject(new Error(`vexil serve did not start:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      done({
        process: child,
        url: match[1]!,
        stop: () =>
          new Promise((stopped) => {
            if (child.exitCode !== null) return stopped();
            child.once('exit', () => stopped());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
          }),
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (process.env.BENCH_DEBUG) process.stderr.write(chunk);
    });
    child.once('exit', (code) => reject(new Error(`vexil serve exited with ${code}:\n${output}`)));
  });
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let batchCounter = 0;
function makeBatch(prefix: string, size: number, now: number): { batchId: string; events: unknown[]; exposures: number; tracks: number } {
  const events: unknown[] = [];
  let exposures = 0;
  for (let i = 0; i < size; i++) {
    const unit = `user-${Math.floor(Math.random() * 50_000)}`;
    const creationDate = Math.floor(now / 1000);
    if (i % 5 === 4) {
      events.push({ kind: 'tracking', key: 'request', userKey: unit, creationDate, trackingEventDetails: { value: 20 + Math.random() * 200, error: Math.random() < 0.02 } });
    } else {
      exposures++;
      events.push({ kind: 'feature', key: 'new-checkout', variation: Math.random() < 0.1 ? 'v2' : 'v1', userKey: unit, creationDate, value: true, default: false, source: 'PROVIDER_CACHE' });
    }
  }
  return { batchId: `${prefix}-${++batchCounter}`, events, exposures, tracks: size - exposures };
}

async function post(base: string, body: unknown): Promise<number> {
  const response = await fetch(`${base}/v1/data/collector`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': SDK }, body: JSON.stringify(body) });
  await response.arrayBuffer();
  return response.status;
}

async function adminGet(base: string, path: string): Promise<any> {
  const response = await fetch(`${base}${path}`, { headers: { 'x-api-key': ADMIN } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function stored(base: string, since: number): Promise<{ evaluations: number; tracks: number }> {
  const q = `since=${new Date(since).toISOString()}`;
  const flag = await adminGet(base, `/admin/v1/flags/new-checkout/events?${q}`);
  const metric = await adminGet(base, `/admin/v1/metrics/request?${q}`);
  return {
    evaluations: flag.variations.reduce((sum: number, v: { evaluations: number }) => sum + v.evaluations, 0),
    tracks: metric.rows.reduce((sum: number, r: { count: number }) => sum + r.count, 0),
  };
}

async function drained(base: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = await (await fetch(`${base}/admin/v1/health`, { headers: { 'x-api-key': ADMIN } })).json();
    if (health.events.buffered === 0) return health;
    if (Date.now() > deadline) throw new Error(`events still buffered: ${JSON.stringify(health.events)}`);
    await sleep(200);
  }
}

async function ofrepLatency(base: string, seconds: number): Promise<{ p50: number; p99: number; rps: number; errors: number }> {
  const result = await autocannon({
    url: `${base}/ofrep/v1/evaluate/flags/new-checkout`,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': SDK },
    body: JSON.stringify({ context: { targetingKey: 'ofrep-user' } }),
    connections: 8,
    overallRate: OFREP_RATE,
    duration: seconds,
  });
  return { p50: result.latency.p50, p99: result.latency.p99, rps: result.requests.average, errors: result.errors + result.timeouts + result.non2xx };
}

/** Sends RATE events/s for SECONDS, in batches of BATCH, paced every 100 ms. */
async function sendLoad(base: string, prefix: string): Promise<{ exposures: number; tracks: number; failed: number; behindMs: number }> {
  // RATE / BATCH batches a second, spread over 10 ticks a second (fractions carried to the next tick).
  const perTickExact = RATE / 10 / BATCH;
  let carried = 0;
  const ticks = SECONDS * 10;
  const started = Date.now();
  let exposures = 0;
  let tracks = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  for (let tick = 0; tick < ticks; tick++) {
    const due = started + tick * 100;
    if (Date.now() < due) await sleep(due - Date.now());
    carried += perTickExact;
    const perTick = Math.floor(carried);
    carried -= perTick;
    for (let i = 0; i < perTick; i++) {
      const batch = makeBatch(prefix, BATCH, Date.now());
      const send = (async () => {
        for (let attempt = 0; attempt < 20; attempt++) {
          const status = await post(base, { batchId: batch.batchId, events: batch.events }).catch(() => 0);
          if (status === 200) return;
          await sleep(250); // 503 (buffer full) or a network error: the same batch again, as SDKs do
        }
        failed += batch.events.length;
      })();
      exposures += batch.exposures;
      tracks += batch.tracks;
      inFlight.add(send);
      void send.finally(() => inFlight.delete(send));
    }
  }
  await Promise.all(inFlight);
  return { exposures, tracks, failed, behindMs: Date.now() - (started + ticks * 100) };
}

async function ingestion(flagsFile: string, lines: string[]): Promise<void> {
  const server = await startServer(flagsFile, `${POSTGRES_URL}?schema=${RUN}_ingest`);
  try {
    const since = Date.now() - 60_000;
    await ofrepLatency(server.url, 2); // warm-up
    const quiet = await ofrepLatency(server.url, Math.min(10, SECONDS));
    await drained(server.url);
    const rssStart = await rssMiB(server.process.pid!);
    const loadStart = Date.now();
    const [sent, loaded] = await Promise.all([sendLoad(server.url, 'ingest'), (async () => (await sleep(2_000), ofrepLatency(server.url, Math.max(3, SECONDS - 4))))()]);
    const elapsed = (Date.now() - loadStart) / 1000;
    const rssEnd = await rssMiB(server.process.pid!);
    const health = await drained(server.url);
    const got = await stored(server.url, since);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const refused = [...metrics.matchAll(/vexil_events_refused_total\{[^}]*\} (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    // The OFREP evaluations are exposures too (server-side, unit `ofrep-user`, first in unit order): taken out.
    const ofrepRow = (await adminGet(server.url, '/admin/v1/flags/new-checkout/exposures?limit=1')).units[0];
    const ofrepExposures = ofrepRow?.unit === 'ofrep-user' ? ofrepRow.evaluations : 0;
    const sentEvents = sent.exposures + sent.tracks;
    lines.push(
      `### Ingestion: one vexil serve, PostgreSQL events store`,
      '',
      `| measure | value |`,
      `|---|---|`,
      `| events sent (${RATE.toLocaleString('en')}/s target, batches of ${BATCH}, ${SECONDS} s) | ${sentEvents.toLocaleString('en')} in ${elapsed.toFixed(1)} s = ${Math.round(sentEvents / elapsed).toLocaleString('en')}/s |`,
      `| tracked events stored / sent | ${got.tracks.toLocaleString('en')} / ${sent.tracks.toLocaleString('en')} (lost: ${sent.tracks - got.tracks}) |`,
      `| exposures stored / sent (besides ${ofrepExposures.toLocaleString('en')} OFREP evaluations recorded server-side) | ${(got.evaluations - ofrepExposures).toLocaleString('en')} / ${sent.exposures.toLocaleString('en')} (lost: ${sent.exposures - (got.evaluations - ofrepExposures)}) |`,
      `| batches given up by the sender / refused events / dropped by the server | ${sent.failed} / ${refused} / ${health.events.dropped} |`,
      `| RSS of vexil serve at start → end of the load | ${rssStart} MiB → ${rssEnd} MiB |`,
      `| OFREP p50 / p99 at ${OFREP_RATE} req/s without event load | ${quiet.p50} ms / ${quiet.p99} ms |`,
      `| OFREP p50 / p99 at ${OFREP_RATE} req/s during the event load | ${loaded.p50} ms / ${loaded.p99} ms (${loaded.errors} errors) |`,
      '',
    );
  } finally {
    await server.stop();
  }
}

async function cluster(flagsFile: string, lines: string[]): Promise<void> {
  const events = `${POSTGRES_URL}?schema=${RUN}_cluster`;
  const servers: Child[] = [];
  try {
    for (let i = 0; i < 3; i++) servers.push(await startServer(flagsFile, events));
    const since = Date.now() - 60_000;
    let exposures = 0;
    let tracks = 0;
    let retried = 0;
    const started = Date.now();
    for (let i = 0; i < CLUSTER_BATCHES; i += 6) {
      await Promise.all(
        Array.from({ length: Math.min(6, CLUSTER_BATCHES - i) }, async (_, j) => {
          const n = i + j;
          const batch = makeBatch('cluster', BATCH, Date.now());
          exposures += batch.exposures;
          tracks += batch.tracks;
          const body = { batchId: batch.batchId, events: batch.events };
          const sends = [post(servers[n % 3]!.url, body)];
          if (n % 10 === 0) {
            retried++;
            sends.push(post(servers[(n + 1) % 3]!.url, body));
          }
          const statuses = await Promise.all(sends);
          if (statuses.some((status) => status !== 200)) throw new Error(`a batch was answered ${statuses.join(', ')}`);
        }),
      );
    }
    for (const server of servers) await drained(server.url);
    const got = await stored(servers[0]!.url, since);
    lines.push(
      `### Three servers, one PostgreSQL events store, 10 % of batches sent twice`,
      '',
      `| measure | value |`,
      `|---|---|`,
      `| batches (of ${BATCH} events) / sent again to another server | ${CLUSTER_BATCHES} / ${retried} |`,
      `| exposures stored / sent | ${got.evaluations.toLocaleString('en')} / ${exposures.toLocaleString('en')} (${got.evaluations === exposures ? 'exact' : 'MISMATCH'}) |`,
      `| tracked events stored / sent | ${got.tracks.toLocaleString('en')} / ${tracks.toLocaleString('en')} (${got.tracks === tracks ? 'exact' : 'MISMATCH'}) |`,
      `| time to send and store | ${((Date.now() - started) / 1000).toFixed(1)} s |`,
      '',
    );
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function queries(lines: string[]): Promise<void> {
  const store = await SqlEventsStore.open(`${POSTGRES_URL}?schema=${RUN}_query`, { pruneIntervalMs: 0 });
  try {
    const now = Date.now();
    const day = 86_400_000;
    const started = Date.now();
    // UNITS units, each exposed 1 to 3 times over the last 24 h; 5 % of units track `request` in the last 15 minutes.
    const chunk = 20_000;
    for (let first = 0; first < UNITS; first += chunk) {
      const exposures: ExposureRecord[] = [];
      const tracks: TrackRecord[] = [];
      for (let u = first; u < Math.min(UNITS, first + chunk); u++) {
        const variation = u % 10 === 0 ? 'v2' : 'v1';
        const at = now - Math.floor(Math.random() * (day - 20 * 60_000)) - 20 * 60_000;
        for (let k = 0; k <= u % 3; k++) exposures.push({ flag: 'new-checkout', variation, unit: `unit-${u}`, at: at + k * 60_000 });
        if (u % 20 === 0)
          tracks.push({ metric: 'request', unit: `unit-${u}`, at: now - Math.floor(Math.random() * 14 * 60_000), value: (variation === 'v2' ? 60 : 50) + Math.random() * 100, error: Math.random() < (variation === 'v2' ? 0.05 : 0.01) });
      }
      await store.write([{ exposures, tracks: [] }]);
      if (tracks.length > 0) await store.write([{ exposures: [], tracks }]);
    }
    const loadSeconds = (Date.now() - started) / 1000;
    const timings: number[] = [];
    let units = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const summary = await store.flagSummary('new-checkout', { since: now - day, until: now + 60_000 });
      timings.push(performance.now() - t);
      units = summary.variations.reduce((sum, v) => sum + v.units, 0);
    }
    const gate: number[] = [];
    let gateRows = '';
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      const summary = await store.metricSummary({ metric: 'request', flag: 'new-checkout', by: 'variation', since: now - 15 * 60_000, until: now + 60_000 });
      gate.push(performance.now() - t);
      gateRows = summary.rows.map((r) => `${r.variation}: error rate ${((r.errorRate ?? 0) * 100).toFixed(2)} %, p99 ${r.p99?.toFixed(1)}`).join('; ');
    }
    // Experiment statistics (`GET /admin/v1/flags/{key}/experiment`): per unit its first variation and its events in
    // the attribution window, then per variation the sufficient statistics of two metrics, all in one SQL query.
    const experiment: number[] = [];
    let experimentUnits = 0;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const statistics = await store.experimentStatistics({
        flag: 'new-checkout',
        since: now - day,
        until: now + 60_000,
        attributionWindowMs: 3 * day,
        metrics: [
          { name: 'requests', event: 'request', type: 'binomial' },
          { name: 'latency', event: 'request', type: 'mean' },
        ],
      });
      experiment.push(performance.now() - t);
      experimentUnits = statistics.units.reduce((sum, v) => sum + v.units, 0);
    }
    lines.push(
      `### Queries (events store on PostgreSQL)`,
      '',
      `| measure | value |`,
      `|---|---|`,
      `| data: exposed units over 24 h / load time (store.write, 20,000 units a write) | ${UNITS.toLocaleString('en')} / ${loadSeconds.toFixed(1)} s |`,
      `| flag summary over 24 h (per-minute series, distinct units per variation): median / max of 5 | ${percentile(timings, 0.5).toFixed(0)} ms / ${Math.max(...timings).toFixed(0)} ms (distinct units estimated: ${units.toLocaleString('en')}) |`,
      `| canary-gate query (error rate, p99 per variation, last 15 min): median / p99 of 30 | ${percentile(gate, 0.5).toFixed(1)} ms / ${percentile(gate, 0.99).toFixed(1)} ms |`,
      `| canary-gate answer | ${gateRows} |`,
      `| experiment statistics (first exposure per unit, two metrics over a 72 h attribution window, per variation): median / max of 3 | ${percentile(experiment, 0.5).toFixed(0)} ms / ${Math.max(...experiment).toFixed(0)} ms (${experimentUnits.toLocaleString('en')} units counted) |`,
      '',
    );
  } finally {
    await store.close();
  }
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-bench-events-'));
  const flagsFile = join(dir, 'flags.yaml');
  await writeFile(flagsFile, FLAGS);
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
  const lines: string[] = [`## Events (${SMALL ? 'small scale' : 'full scale'}; ${new Date().toISOString().slice(0, 16)}Z, ${process.arch}, Node ${process.version})`, ''];
  const only = (process.env.BENCH_EVENTS_PARTS ?? 'ingest,cluster,query').split(',');
  try {
    if (only.includes('ingest')) await ingestion(flagsFile, lines);
    if (only.includes('cluster')) await cluster(flagsFile, lines);
    if (only.includes('query')) await queries(lines);
  } finally {
    for (const part of ['ingest', 'cluster', 'query']) await admin.unsafe(`DROP SCHEMA IF EXISTS "${RUN}_${part}" CASCADE`).catch(() => undefined);
    await admin.end({ timeout: 2 });
    await rm(dir, { recursive: true, force: true });
  }
  const text = lines.join('\n');
  console.log(text);
  // Only a run of every part replaces the kept results: a partial run would otherwise erase the other parts' figures.
  const partial = ['ingest', 'cluster', 'query'].some((part) => !only.includes(part));
  const file = join(ROOT, partial ? `bench/results/events-${only.join('-')}.md` : 'bench/results/events.md');
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(file, text + '\n');
  console.log(`(written to ${file})`);
}
