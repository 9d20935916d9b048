/**
 * Canary routing, end to end on one machine:
 * - two versions of a service (v1 and v2; `--faulty` makes v2 fail 30% of requests and answer slowly);
 * - a proxy that routes each user to v1 or v2 by the string flag `checkout-service`, evaluated through OFREP, and
 *   measures each version's errors and latency (its `measure()` is the rollout controller's measurement source);
 * - `vexil serve` (in-process, embedded store) with the rollout controller, loaded with ./flags.yaml;
 * - simulated users sending requests through the proxy.
 * It prints each step, and ends when the rollout is promoted (healthy v2) or rolled back (faulty v2).
 *
 *   node --conditions=source --import tsx examples/canary-routing/run.ts            # promotes v2
 *   node --conditions=source --import tsx examples/canary-routing/run.ts --faulty   # rolls v2 back
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { openStore } from '@vexil/store';
import { buildServer, importFlagFiles } from '@vexil/server';
import type { ArmMeasurement, MeasurementRequest, MeasurementSource, Measurements } from '@vexil/analysis';

const faulty = process.argv.includes('--faulty');
const FLAG = 'checkout-service';
const SDK_KEY = 'canary-example-sdk-key';
const ADMIN_KEY = 'canary-example-admin-key';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A version of the checkout service. */
function service(version: string, failureRate: number, delayMs: () => number): Server {
  return createServer((_req, res) => {
    setTimeout(() => {
      const failed = Math.random() < failureRate;
      res.statusCode = failed ? 500 : 200;
      res.end(JSON.stringify({ version, ok: !failed }));
    }, delayMs());
  });
}

interface Sample {
  at: number;
  user: string;
  version: string;
  error: boolean;
  ms: number;
}

/** The proxy: routes by the flag, and keeps what it saw per version for the rollout controller. */
class CanaryProxy implements MeasurementSource {
  readonly name = 'canary-proxy';
  readonly samples: Sample[] = [];
  constructor(
    private readonly vexil: string,
    private readonly upstreams: Record<string, string>,
  ) {}

  async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const user = String(req.headers['x-user-id'] ?? 'anonymous');
    const evaluation = await fetch(`${this.vexil}/ofrep/v1/evaluate/flags/${FLAG}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': SDK_KEY },
      body: JSON.stringify({ context: { targetingKey: user } }),
    }).then((r) => r.json() as Promise<{ value?: string }>);
    const version = evaluation.value === 'v2' ? 'v2' : 'v1';
    const started = performance.now();
    const upstream = new URL(this.upstreams[version]!);
    const forwarded = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      this.samples.push({ at: Date.now(), user, version, error: (answer.statusCode ?? 500) >= 500, ms: performance.now() - started });
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-routed-to': version });
      answer.pipe(res);
    });
    forwarded.on('error', () => {
      this.samples.push({ at: Date.now(), user, version, error: true, ms: performance.now() - started });
      res.statusCode = 502;
      res.end();
    });
    req.pipe(forwarded);
  }

  async measure(request: MeasurementRequest): Promise<Partial<Measurements>> {
    const window = this.samples.filter((s) => s.at >= request.from && s.at < request.to);
    const arm = (version: string): ArmMeasurement => {
      const mine = window.filter((s) => s.version === version);
      const errorsByUser = new Map<string, number>();
      for (const s of mine) if (s.error) errorsByUser.set(s.user, (errorsByUser.get(s.user) ?? 0) + 1);
      const latencies = mine.map((s) => s.ms).sort((a, b) => a - b);
      const metrics: ArmMeasurement['metrics'] = {};
      for (const { metric, quantiles } of request.metrics) {
        metrics[metric] = {
          events: mine.length,
          errors: [...errorsByUser.values()].reduce((a, b) => a + b, 0),
          errorsSumSquares: [...errorsByUser.values()].reduce((a, b) => a + b * b, 0),
          quantiles: Object.fromEntries(quantiles.map((q) => [String(q), latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN])),
        };
      }
      return { variation: version, units: new Set(mine.map((s) => s.user)).size, metrics };
    };
    return { rollout: arm(request.rolloutVariation), control: arm(request.controlVariation), queries: {} };
  }
}

async function main(): Promise<void> {
  const v1 = service('v1', 0.02, () => 20 + Math.random() * 40);
  const v2 = faulty ? service('v2', 0.3, () => 1500 + Math.random() * 500) : service('v2', 0.02, () => 20 + Math.random() * 40);
  const upstreams = { v1: await listen(v1), v2: await listen(v2) };

  const store = await openStore('pglite:memory:canary-routing');
  await importFlagFiles(store, [fileURLToPath(new URL('./flags.yaml', import.meta.url))]);
  let proxy: CanaryProxy | undefined;
  const source: MeasurementSource = { name: 'canary-proxy', measure: (request) => proxy!.measure(request) };
  const vexil = await buildServer({ store, closeStore: true, sdkKeys: [SDK_KEY], adminKeys: [ADMIN_KEY], defaultMetrics: false, rateLimit: false, rollout: { source, leaseMs: 3000, tickMs: 200 } });
  await vexil.listen({ host: '127.0.0.1', port: 0 });
  const vexilUrl = `http://127.0.0.1:${(vexil.server.address() as AddressInfo).port}`;
  proxy = new CanaryProxy(vexilUrl, upstreams);
  const proxyServer = createServer((req, res) => void proxy!.route(req, res));
  const proxyUrl = await listen(proxyServer);
  console.log(`v1 ${upstreams.v1}, v2 ${upstreams.v2}${faulty ? ' (faulty: 30% errors, 1.5-2 s)' : ''}, proxy ${proxyUrl}, vexil ${vexilUrl}`);

  // Users: 1000 of them; 40 requests at a time from random users.
  let running = true;
  const users = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
  const traffic = (async () => {
    while (running) {
      await Promise.all(users.slice(0, 40).map((user) => fetch(proxyUrl, { headers: { 'x-user-id': users[Math.floor(Math.random() * users.length)] ?? user } }).then((r) => r.arrayBuffer()).catch(() => undefined)));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  let seenChecks = 0;
  const deadline = Date.now() + 120_000;
  let outcome = 'timed out';
  while (Date.now() < deadline) {
    const view = (await fetch(`${vexilUrl}/admin/v1/flags/${FLAG}/rollout`, { headers: { 'x-api-key': ADMIN_KEY } }).then((r) => r.json())) as {
      status: string;
      percent: number;
      state: { history: Array<{ decision: string }> } | null;
    };
    for (const entry of view.state?.history.slice(seenChecks) ?? []) console.log(`${new Date().toISOString()}  ${entry.decision}`);
    seenChecks = view.state?.history.length ?? 0;
    if (view.status === 'promoted' || view.status === 'rolled-back') {
      outcome = view.status;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  running = false;
  await traffic;
  let onV2 = 0;
  for (let i = 0; i < 100; i++) {
    const answer = await fetch(proxyUrl, { headers: { 'x-user-id': `check-${i}` } });
    await answer.arrayBuffer();
    if (answer.headers.get('x-routed-to') === 'v2') onV2++;
  }
  console.log(`outcome: ${outcome}; now ${onV2} of 100 users are routed to v2`);
  await vexil.close();
  for (const server of [proxyServer, v1, v2]) server.close();
  process.exitCode = outcome === (faulty ? 'rolled-back' : 'promoted') ? 0 : 1;
}

await main();
