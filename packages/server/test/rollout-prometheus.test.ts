// The Prometheus measurement source against a REAL Prometheus (Debian's `prometheus` package): the test starts
// /usr/bin/prometheus with its own config and data directory on a free port, scraping a small HTTP service that
// exposes request-latency histograms labelled by version (v1 fast, v2 slow).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Histogram, Registry } from 'prom-client';
import { normalizeRolloutPlan } from '@vexil/core';
import { judgeGate } from '@vexil/analysis';
import { PrometheusMeasurementSource } from '../src/rollout/prometheus-source.js';
import { eventually } from './helpers.js';

const PROMETHEUS = process.env.VEXIL_TEST_PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const p99 = (version: string) => `histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{version="${version}"}[15s])) by (le))`;

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let service: Server;
let traffic: NodeJS.Timeout;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let dir: string;
let prometheusUrl: string;

before(async () => {
  assert.ok(
    existsSync(PROMETHEUS),
    `${PROMETHEUS} is missing: these tests need a real Prometheus. Install Debian's package: apt-get install -y prometheus (CI: .ci/run does it)`,
  );
  // The service under test: latency histograms per version, with steady traffic.
  const registry = new Registry();
  const histogram = new Histogram({ name: 'http_request_duration_seconds', help: 'request latency', labelNames: ['version'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] });
  traffic = setInterval(() => {
    for (let i = 0; i < 50; i++) {
      histogram.observe({ version: 'v1' }, 0.03 + Math.random() * 0.06);
      histogram.observe({ version: 'v2' }, 0.6 + Math.random() * 0.3);
    }
  }, 100);
  service = createServer(async (_req, res) => {
    res.setHeader('content-type', registry.contentType);
    res.end(await registry.metrics());
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  const servicePort = (service.address() as AddressInfo).port;

  dir = await mkdtemp(join(tmpdir(), 'vexil-prometheus-'));
  await writeFile(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: canary\n    static_configs:\n      - targets: ['127.0.0.1:${servicePort}']\n`,
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stdout!.on('data', (chunk) => (prometheusLog += chunk));
  prometheus.stderr!.on('data', (chunk) => (prometheusLog += chunk));
  await eventually(async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.ok, 30_000, 200).catch((error) => {
    throw new Error(`Prometheus did not become ready: ${(error as Error).message}\n${prometheusLog.slice(-2000)}`);
  });
});

after(async () => {
  clearInterval(traffic);
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await new Promise((resolve) => service?.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Prometheus measurement source (a real Prometheus)', () => {
  const plan = normalizeRolloutPlan({
    variation: 'v2',
    steps: [10],
    interval: '1m',
    gates: [
      { name: 'v1 p99', prometheus: p99('v1'), thresholdRange: { max: 0.5 } },
      { name: 'v2 p99', prometheus: p99('v2'), thresholdRange: { max: 0.5 } },
    ],
  });

  it('answers a histogram quantile per version; the fast version passes its gate, the slow one fails', async () => {
    const source = new PrometheusMeasurementSource({ url: prometheusUrl });
    const request = { flagKey: 'f', rolloutVariation: 'v2', controlVariation: 'v1', metrics: [], queries: [p99('v1'), p99('v2')], from: 0, to: Date.now() };
    const measurements = await eventually(async () => {
      const answer = await source.measure(request);
      return Object.values(answer.queries ?? {}).every((result) => result.ok) ? answer : undefined;
    }, 30_000, 500);
    const v1 = measurements.queries![p99('v1')]!;
    const v2 = measurements.queries![p99('v2')]!;
    assert.ok(v1.ok && v1.value > 0.02 && v1.value <= 0.1, JSON.stringify(v1));
    assert.ok(v2.ok && v2.value > 0.5 && v2.value <= 1, JSON.stringify(v2));
    const checks = plan.gates.map((gate) => judgeGate(gate, { queries: measurements.queries! }, { minSampleSize: 1 }));
    assert.deepEqual(checks.map((check) => check.phase), ['successful', 'failed']);
  });

  it('no data, a broken query, several series or an unreachable Prometheus are inconclusive, never a pass', async () => {
    const source = new PrometheusMeasurementSource({ url: prometheusUrl });
    const gate = { kind: 'prometheus' as const, name: 'g', query: '', thresholdRange: { max: 0.5 } };
    const cases: Array<[string, string, RegExp]> = [
      ['no series', p99('v3'), /no-data/],
      ['NaN', 'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{version="v3"}[15s])) by (le)) or vector(NaN)', /no-data/],
      ['a syntax error', 'sum(rate(', /error: bad_data/],
      ['several series', 'sum(rate(http_request_duration_seconds_count[15s])) by (version)', /error: the query returned 2 series/],
    ];
    for (const [what, query, reason] of cases) {
      const result = await source.query(query);
      assert.equal(result.ok, false, `${what}: ${JSON.stringify(result)}`);
      const check = judgeGate({ ...gate, query }, { queries: { [query]: result } }, { minSampleSize: 1 });
      assert.equal(check.phase, 'inconclusive', what);
      assert.match(`${!result.ok && result.reason}: ${check.message}`, reason, what);
    }
    const down = new PrometheusMeasurementSource({ url: `http://127.0.0.1:${await freePort()}` });
    const unreachable = await down.query('up');
    assert.equal(unreachable.ok, false);
    assert.match(!unreachable.ok ? unreachable.message : '', /did not answer/);
  });
});
