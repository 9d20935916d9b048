// `npm run bench -- server`: the flag server over loopback.
// - Single-flag evaluations per second with autocannon against a `vexil serve` child process (one Node process, so
//   one core for the server; autocannon runs in this process on the other core): OFREP and the GO Feature Flag relay
//   endpoint, and, in the same run, @unleash/proxy (the Node peer that evaluates over HTTP) on an equivalent flag.
// - The time for a change to reach 1,000 SSE clients of /v1/stream (median, p99), from the admin write.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { BARE_FASTIFY, BARE_FASTIFY_WITH_HEADERS, storeMemory } from './server-baseline.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DURATION_S = Number(process.env.BENCH_SERVER_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_SERVER_CONNECTIONS ?? 50);
const SSE_CLIENTS = Number(process.env.BENCH_SSE_CLIENTS ?? 1000);
const SSE_ROUNDS = Number(process.env.BENCH_SSE_ROUNDS ?? 8);
/** Turns of Vexil's OFREP route and of the bare routes, taken in alternation. */
const ROUNDS = Number(process.env.BENCH_SERVER_ROUNDS ?? 5);
const SDK = 'bench-sdk-key-00001';
const ADMIN = 'bench-admin-key-0001';

// The same flag for both: on for country "fr", off otherwise.
const FLAGS = `
bench-flag:
  variations:
    "on": true
    "off": false
  targeting:
    - name: france
      query: 'country eq "fr"'
      variation: "on"
  defaultRule:
    variation: "off"
fanout-flag:
  variations:
    v: { marker: 0 }
  defaultRule:
    variation: v
`;

const UNLEASH_PROXY = `
// Resolved from bench/ (its own node_modules), not from the working directory.
const { createApp } = require('node:module').createRequire(${JSON.stringify(fileURLToPath(import.meta.url))})('@unleash/proxy');
const toggle = {
  name: 'bench-flag', enabled: true, type: 'release', project: 'default', stale: false, impressionData: false, variants: [],
  strategies: [{ name: 'default', parameters: {}, constraints: [{ contextName: 'country', operator: 'IN', values: ['fr'], inverted: false, caseInsensitive: false }] }],
};
const app = createApp({
  unleashUrl: 'http://127.0.0.1:9/api', unleashApiToken: 'unused', clientKeys: ['${SDK}'],
  expBootstrap: { data: [toggle] }, refreshInterval: 3600000, metricsInterval: 3600000, logLevel: 'fatal',
});
const server = app.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
`;

export interface Child {
  process: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

export function startChild(args: string[], ready: RegExp, startTimeoutMs = 90_000): Promise<Child> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VEXIL_HEARTBEAT_MS: '15000', VEXIL_STREAMS_PER_ADDRESS: String(SSE_CLIENTS + 100) } });
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${output}`)), startTimeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePromise({
          process: child,
          url: match[1]!,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (process.env.BENCH_DEBUG) process.stderr.write(chunk);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
}

export interface LoadResult {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time (user + system) of the server process per request, µs, when its pid was given. */
  cpuUs?: number;
}

/** User + system CPU time of a process so far, in ms (Linux: /proc; clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number | undefined> {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** The turn with the median throughput (its latencies and CPU with it). */
function medianOf(turns: LoadResult[]): LoadResult {
  return [...turns].sort((a, b) => a.rps - b.rps)[turns.length >> 1]!;
}

export async function load(name: string, url: string, headers: Record<string, string>, body: string, check: (text: string) => boolean, pid?: number): Promise<LoadResult> {
  // Correctness first: the answer must be the expected one.
  const probe = await fetch(url, { method: 'POST', headers, body });
  const text = await probe.text();
  if (!probe.ok || !check(text)) throw new Error(`${name}: unexpected answer ${probe.status} ${text}`);
  const options = { url, method: 'POST' as const, headers, body, connections: CONNECTIONS, pipelining: 1 };
  await autocannon({ ...options, duration: 2 }); // warm-up (JIT, connection setup)
  const cpuBefore = pid === undefined ? undefined : await cpuMs(pid);
  const result = await autocannon({ ...options, duration: DURATION_S });
  const cpuAfter = pid === undefined ? undefined : await cpuMs(pid);
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    ...(cpuBefore !== undefined && cpuAfter !== undefined && result.requests.total > 0 ? { cpuUs: ((cpuAfter - cpuBefore) * 1000) / result.requests.total } : {}),
  };
}

/**
 * The SSE clients live in worker threads (the receiving side of 1,000 sockets is itself CPU-bound: one thread would
 * measure its own queue more than the server). Each client notes, in absolute time, when it first sees
 * `"marker":<round>}` in its stream.
 */
const FANOUT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, request } = require('node:http');
const { url, count } = workerData;
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
const clients = [];
let connected = 0;
let armed = 0;
let marker = null;
const now = () => performance.timeOrigin + performance.now();
for (let i = 0; i < count; i++) {
  const client = { seen: new Map(), snapshot: false, req: null };
  clients.push(client);
  client.req = request(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) parentPort.postMessage({ error: 'status ' + res.statusCode });
    res.on('data', (chunk) => {
      if (!client.snapshot && chunk.includes('event: snapshot')) {
        client.snapshot = true;
        if (++connected === count) parentPort.postMessage({ ready: true });
      }
      if (marker && !client.seen.has(armed) && chunk.includes(marker)) client.seen.set(armed, now());
    });
  });
  client.req.on('error', (error) => parentPort.postMessage({ error: String(error) }));
  client.req.end();
}
parentPort.on('message', (message) => {
  if (message.arm !== undefined) {
    armed = message.arm;
    marker = Buffer.from(message.marker ?? '"marker":' + armed + '}');
  } else if (message.collect !== undefined) {
    parentPort.postMessage({ round: message.collect, times: clients.map((client) => client.seen.get(message.collect) ?? null) });
  } else if (message.close) {
    for (const client of clients) client.req.destroy();
    agent.destroy();
    parentPort.close();
  }
});
`;

/**
 * Connects `count` SSE clients to `streamUrl` (default: the SDK key's `/v1/stream`), then makes `rounds` changes; resolves
 * each client's delay per round (Infinity: never seen).
 */
export async function fanOut(
  base: string,
  count: number,
  rounds: number,
  change: (round: number) => Promise<void>,
  streamUrl = `${base}/v1/stream?key=${SDK}`,
  /** The text a client looks for to know round `round` reached it. Default `"marker":<round>}`. */
  markerOf?: (round: number) => string,
): Promise<number[]> {
  const threads = Number(process.env.BENCH_SSE_THREADS ?? 2);
  const { Worker } = await import('node:worker_threads');
  const workers = Array.from({ length: threads }, (_, index) => {
    const share = Math.floor(count / threads) + (index < count % threads ? 1 : 0);
    return new Worker(FANOUT_WORKER, { eval: true, workerData: { url: streamUrl, count: share } });
  });
  const next = (worker: InstanceType<typeof Worker>, key: string): Promise<Record<string, unknown>> =>
    new Promise((resolveMessage, reject) => {
      const onMessage = (message: Record<string, unknown>) => {
        if (message.error) reject(new Error(String(message.error)));
        else if (key in message) {
          worker.off('message', onMessage);
          resolveMessage(message);
        }
      };
      worker.on('message', onMessage);
    });
  const latencies: number[] = [];
  try {
    await Promise.all(workers.map((worker) => next(worker, 'ready')));
    for (let round = 1; round <= rounds; round++) {
      for (const worker of workers) worker.postMessage({ arm: round, ...(markerOf ? { marker: markerOf(round) } : {}) });
      await new Promise((r) => setTimeout(r, 20));
      const started = performance.timeOrigin + performance.now();
      await change(round);
      await new Promise((r) => setTimeout(r, 300));
      const replies = await Promise.all(
        workers.map((worker) => {
          const reply = next(worker, 'times');
          worker.postMessage({ collect: round });
          return reply;
        }),
      );
      for (const reply of replies) for (const at of reply.times as (number | null)[]) latencies.push(at === null ? Number.POSITIVE_INFINITY : at - started);
    }
  } finally {
    for (const worker of workers) worker.postMessage({ close: true });
    await Promise.all(workers.map((worker) => new Promise((r) => worker.once('exit', r))));
  }
  return latencies.sort((a, b) => a - b);
}

export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-bench-server-'));
  const flagsFile = join(dir, 'flags.yaml');
  await writeFile(flagsFile, FLAGS);
  let vexil: Child | undefined;
  let vexilPglite: Child | undefined;
  let unleash: Child | undefined;
  let bare: Child | undefined;
  let bareWithHeaders: Child | undefined;
  try {
    // The built CLI, as users run it, on the embedded default store (SQLite, events in the same file); and on PGlite,
    // the embedded default before it.
    const serve = (store: string) =>
      startChild(
        [join(ROOT, 'packages/cli/dist/bin/vexil.js'), 'serve', '--store', store, '--flags', flagsFile, '--port', '0', '--sdk-key', SDK, '--admin-key', ADMIN, '--rate-limit', '0', '--log-level', 'warn', '--no-examples'],
        /listening on (http:\/\/\S+)[\s\S]*\/metrics\n/,
      );
    vexil = await serve(`sqlite:${join(dir, 'vexil.db')}`);
    vexilPglite = await serve('pglite:memory:');
    unleash = await startChild(['-e', UNLEASH_PROXY], /listening on (http:\/\/\S+)/);
    bare = await startChild(['-e', BARE_FASTIFY], /listening on (http:\/\/\S+)/);
    bareWithHeaders = await startChild(['-e', BARE_FASTIFY_WITH_HEADERS], /listening on (http:\/\/\S+)/);

    const context = { targetingKey: 'user-42', country: 'fr', plan: 'pro' };
    const vexilHeaders = { 'content-type': 'application/json', 'x-api-key': SDK };
    const body = JSON.stringify({ context });
    const isOn = (text: string) => JSON.parse(text).value === true;
    // Vexil, its two ceilings and Vexil on PGlite, in turns (ROUNDS each), medians kept: on a shared 2-core machine one
    // run of each can differ by a third from the next, and taking turns spreads that over all of them.
    const contenders: Array<[string, Child]> = [
      ['vexil OFREP  POST /ofrep/v1/evaluate/flags/{key} (embedded default: SQLite)', vexil],
      // The ceiling: a bare Fastify route answering the same request with a constant.
      ['bare Fastify route (constant answer)', bare],
      // The same, with the response headers Vexil sends (CORS, request id; no rate limit here): the client reads them too.
      ["bare Fastify route + Vexil's response headers", bareWithHeaders],
      // The same server on PGlite: a larger process (WASM PostgreSQL, events written to it) answers more slowly.
      ['vexil OFREP, store pglite:memory:', vexilPglite],
    ];
    const rounds: LoadResult[][] = contenders.map(() => []);
    for (let round = 0; round < ROUNDS; round++)
      for (const [index, [name, child]] of contenders.entries())
        rounds[index]!.push(await load(name, `${child.url}/ofrep/v1/evaluate/flags/bench-flag`, vexilHeaders, body, isOn, child.process.pid));
    const results: LoadResult[] = rounds.map(medianOf);
    const short = ['vexil', 'bare', 'bare + headers', 'vexil on pglite'];
    console.log(`\nOFREP and its ceilings, req/s of each of ${ROUNDS} turns: ${rounds.map((turns, index) => `${short[index]} ${turns.map((turn) => Math.round(turn.rps)).join(' / ')}`).join('; ')}`);
    // Each round's Vexil turn against the bare route's turn that followed it: the machine's speed drifts (other guests
    // on the host), and neighbouring turns share the drift that medians over the whole run do not cancel.
    const ratios = rounds[0]!.map((turn, round) => turn.rps / rounds[1]![round]!.rps).sort((a, b) => a - b);
    console.log(
      `Vexil (SQLite) / bare Fastify, per round: ${ratios.map((ratio) => `${Math.round(100 * ratio)}%`).join(', ')}; median ${Math.round(100 * ratios[ratios.length >> 1]!)}%`,
    );
    await bare.stop();
    bare = undefined;
    await bareWithHeaders.stop();
    bareWithHeaders = undefined;
    await vexilPglite.stop();
    vexilPglite = undefined;
    results.push(
      await load(
        'vexil relay  POST /v1/feature/{key}/eval',
        `${vexil.url}/v1/feature/bench-flag/eval`,
        vexilHeaders,
        JSON.stringify({ evaluationContext: { key: 'user-42', custom: { country: 'fr', plan: 'pro' } }, defaultValue: false }),
        (text) => JSON.parse(text).value === true,
        vexil.process.pid,
      ),
    );
    results.push(
      await load(
        '@unleash/proxy  POST /proxy (one toggle)',
        `${unleash.url}/proxy`,
        { 'content-type': 'application/json', authorization: SDK },
        JSON.stringify({ context: { userId: 'user-42', properties: { country: 'fr', plan: 'pro' } }, toggles: ['bench-flag'] }),
        (text) => JSON.parse(text).toggles[0].enabled === true,
        unleash.process.pid,
      ),
    );
    await unleash.stop();
    unleash = undefined;

    const url = vexil.url;
    const latencies = await fanOut(url, SSE_CLIENTS, SSE_ROUNDS, async (round) => {
      const response = await fetch(`${url}/admin/v1/flags/fanout-flag`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-api-key': ADMIN },
        body: JSON.stringify({ variations: { v: { marker: round } }, defaultRule: { variation: 'v' } }),
      });
      if (!response.ok) throw new Error(`write failed: ${response.status} ${await response.text()}`);
    });

    const unleashRps = results.find((result) => result.name.startsWith('@unleash/proxy'))!.rps;
    const ceilingRps = results[1]!.rps;
    console.log(`\nSingle-flag evaluations over loopback: ${CONNECTIONS} connections, ${DURATION_S} s each after a 2 s warm-up; one server process each`);
    console.log('| endpoint | req/s | p50 ms | p99 ms | errors | server CPU µs/request | vs @unleash/proxy | vs bare Fastify |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const result of results) {
      console.log(
        `| ${result.name} | ${Math.round(result.rps).toLocaleString('en')} | ${result.p50} | ${result.p99} | ${result.errors} | ${result.cpuUs === undefined ? '-' : result.cpuUs.toFixed(1)} | ${(result.rps / unleashRps).toFixed(2)}× | ${Math.round((100 * result.rps) / ceilingRps)}% |`,
      );
    }
    const missed = latencies.filter((latency) => !Number.isFinite(latency)).length;
    console.log(`\nChange fan-out: ${SSE_CLIENTS} SSE clients of /v1/stream, ${SSE_ROUNDS} admin writes (embedded store), time from the write request to each client`);
    console.log('| clients | changes | median ms | p99 ms | max ms | missed |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| ${SSE_CLIENTS} | ${SSE_ROUNDS} | ${percentile(latencies, 50).toFixed(1)} | ${percentile(latencies, 99).toFixed(1)} | ${latencies[latencies.length - 1 - missed]!.toFixed(1)} | ${missed} |`,
    );

    const memory = await storeMemory(ROOT, dir);
    console.log(`\nIdle memory: a fresh \`vexil serve\` per store (built CLI), 1,000 flags, RSS after it has settled`);
    console.log('| store | RSS MB | |');
    console.log('|---|---:|---|');
    for (const row of memory) console.log(`| ${row.store} | ${row.rssMb ?? '-'} | ${row.note} |`);
  } finally {
    await bare?.stop();
    await bareWithHeaders?.stop();
    await unleash?.stop();
    await vexil?.stop();
    await vexilPglite?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
