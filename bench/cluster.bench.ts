// `npm run bench -- cluster`: how fast a write reaches every server of a cluster. Three `vexil serve` processes on one
// Redis (a key prefix of its own, removed afterwards); each round writes a flag through one server's admin API (in
// turn) and times its arrival on each server's `/v1/stream`, from the start of the write request. The tests only check
// that every change arrives, in order; this is where the latency budget (100 ms) is measured.
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeRedisPrefix } from './redis-prefix.js';
import { startChild, type Child } from './server.bench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REDIS_URL = process.env.VEXIL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const SERVERS = 3;
const ROUNDS = Number(process.env.BENCH_CLUSTER_ROUNDS ?? 60);
const BUDGET_MS = 100;
const SDK = 'bench-sdk-key-0123456789';
const ADMIN = 'bench-admin-key-0123456789';

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Reads a server's stream and notes when each `"only":<n>}` marker first arrives. */
function follow(url: string): { arrivals: Map<number, number>; ready: Promise<void>; close: () => void } {
  const arrivals = new Map<number, number>();
  const abort = new AbortController();
  let text = '';
  const ready = (async () => {
    const response = await fetch(`${url}/v1/stream?key=${SDK}`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    if (!response.ok || !response.body) throw new Error(`stream: ${response.status}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let snapshot: () => void = () => undefined;
    const gotSnapshot = new Promise<void>((resolveSnapshot) => (snapshot = resolveSnapshot));
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        const at = performance.now();
        text += decoder.decode(value, { stream: true });
        if (text.includes('event: snapshot')) snapshot();
        for (const match of text.matchAll(/"only":(\d+)\}/g)) if (!arrivals.has(Number(match[1]))) arrivals.set(Number(match[1]), at);
        text = text.slice(Math.max(0, text.length - 64));
      }
    })();
    await gotSnapshot;
  })();
  return { arrivals, ready, close: () => abort.abort() };
}

export async function run(): Promise<void> {
  const prefix = `vexil-bench-cluster-${randomBytes(4).toString('hex')}:`;
  const store = `${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(prefix)}`;
  const servers: Child[] = [];
  const streams: ReturnType<typeof follow>[] = [];
  try {
    for (let i = 0; i < SERVERS; i++) {
      servers.push(
        await startChild(
          [
            '--conditions=source', '--import', 'tsx', join(ROOT, 'packages/cli/src/bin/vexil.ts'), 'serve',
            '--store', store, '--port', '0', '--sdk-key', SDK, '--admin-key', ADMIN, '--rate-limit', '0', '--log-level', 'warn', '--no-examples',
          ],
          /listening on (http:\/\/\S+)[\s\S]*\/metrics\n/,
        ),
      );
    }
    for (const server of servers) streams.push(follow(server.url));
    await Promise.all(streams.map((stream) => stream.ready));
    const delays: number[] = [];
    let missed = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const writer = servers[round % SERVERS]!;
      const started = performance.now();
      const response = await fetch(`${writer.url}/admin/v1/flags/shared-flag`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-api-key': ADMIN },
        body: JSON.stringify({ variations: { only: round }, defaultRule: { variation: 'only' } }),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`write: ${response.status}`);
      const deadline = performance.now() + 5000;
      while (streams.some((stream) => !stream.arrivals.has(round)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      for (const stream of streams) {
        const at = stream.arrivals.get(round);
        if (at === undefined) missed++;
        else delays.push(at - started);
      }
    }
    delays.sort((a, b) => a - b);
    console.log(`\nChange fan-out across ${SERVERS} servers on one Redis: ${ROUNDS} admin writes (to each server in turn), time from the write request to each server's /v1/stream`);
    console.log('| arrivals | median ms | p99 ms | max ms | over 100 ms | missed |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| ${delays.length} | ${percentile(delays, 50).toFixed(1)} | ${percentile(delays, 99).toFixed(1)} | ${delays[delays.length - 1]!.toFixed(1)} | ${delays.filter((d) => d > BUDGET_MS).length} | ${missed} |`,
    );
  } finally {
    for (const stream of streams) stream.close();
    await Promise.all(servers.map((server) => server.stop()));
    await removeRedisPrefix(REDIS_URL, prefix);
  }
}
