// OpenFeature providers, in one run: `client.getBooleanValue` through the OpenFeature server SDK with
// - VexilProvider (in-process evaluation with @vexil/core), offline and with exposure counting on;
// - the flagd in-process pattern (@openfeature/flagd-core under OpenFeature);
// - LaunchDarkly's OpenFeature provider on a file data source (no network);
// all on the same flag and the same contexts. Then cold start to first evaluation from a snapshot file.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { OpenFeature, type Client, type Provider } from '@openfeature/server-sdk';
import { VexilClient, VexilProvider, writeSnapshotFile } from '@vexil/openfeature';
import { compileFlagSet, evaluate } from '@vexil/core/json';
import { FlagdInProcessProvider } from './openfeature/flagd-provider.js';
import { contexts, flagdFlags, growthbookFeatures, launchDarklyFlags, unleashFeatures, vexilFlags } from './openfeature/flags.js';

const here = dirname(fileURLToPath(import.meta.url));
const quiet = { error() {}, warn() {}, info() {}, debug() {} };
const FLAG = 'checkout-v2';

async function launchDarkly(dir: string): Promise<Provider | undefined> {
  try {
    const file = join(dir, 'launchdarkly.json');
    await writeFile(file, JSON.stringify(launchDarklyFlags));
    const { integrations, basicLogger } = await import('@launchdarkly/node-server-sdk');
    const { LaunchDarklyProvider } = await import('@launchdarkly/openfeature-node-server');
    return new LaunchDarklyProvider('bench-sdk-key', {
      updateProcessor: new integrations.FileDataSourceFactory({ paths: [file] }).getFactory(),
      sendEvents: false,
      diagnosticOptOut: true,
      logger: basicLogger({ level: 'none' }),
    }) as unknown as Provider;
  } catch (error) {
    console.log(`(LaunchDarkly provider unavailable: ${(error as Error).message})`);
    return undefined;
  }
}

type Task = [name: string, fn: () => Promise<void>];

/**
 * Runs the tasks in several rounds, rotating their order (the machine's load and the JIT favour whoever runs when),
 * and reports per task the median over rounds of the mean time per call.
 */
async function measure(tasks: Task[], timeMs: number, rounds = 3): Promise<Array<Record<string, string>>> {
  const means = new Map<string, number[]>(tasks.map(([name]) => [name, []]));
  const p99s = new Map<string, number[]>(tasks.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: timeMs, warmup: true });
    for (let i = 0; i < tasks.length; i++) {
      const [name, fn] = tasks[(i + round) % tasks.length]!;
      bench.add(name, fn);
    }
    await bench.run();
    for (const task of bench.tasks) {
      const latency = (task.result as { latency?: { mean: number; p99?: number } } | undefined)?.latency;
      means.get(task.name)!.push(latency?.mean ?? Number.NaN);
      p99s.get(task.name)!.push(latency?.p99 ?? Number.NaN);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  return tasks.map(([name]) => {
    const mean = median(means.get(name)!); // ms
    return {
      provider: name,
      'evaluations/s': Math.round(1000 / mean).toLocaleString('en-US'),
      'mean µs': (mean * 1000).toFixed(2),
      'p99 µs': (median(p99s.get(name)!) * 1000).toFixed(2),
    };
  });
}

type Loop = (fn: (i: number) => unknown) => number;

/** The direct (non-OpenFeature) APIs: each checked for the right answers first, then timed on the same contexts. */
async function directApis(pool: ReturnType<typeof contexts>, frozen: ReadonlyArray<Readonly<Record<string, unknown>>>, loop: Loop): Promise<Array<Record<string, string>>> {
  const rows: Array<[string, number]> = [];
  const check = (name: string, pro: unknown, free: unknown) => {
    if (pro !== true || free !== false) throw new Error(`${name} answers ${String(pro)}/${String(free)}, expected true/false`);
  };
  const snapshot = compileFlagSet(vexilFlags);
  const engine = (i: number) => evaluate(snapshot, FLAG, frozen[i & 1023], { defaultValue: false, expectedType: 'boolean' }).value;
  check('engine', engine(0), engine(1));
  rows.push(['Vexil engine: evaluate(snapshot, key, context).value', loop(engine)]);

  const client = new VexilClient({ bootstrap: { flags: vexilFlags }, logger: quiet });
  await client.start();
  const direct = (i: number) => client.boolean(FLAG, frozen[i & 1023], false);
  check('client', direct(0), direct(1));
  rows.push(['Vexil direct client: client.boolean(key, context, false)', loop(direct)]);

  const counting = new VexilClient({ url: 'http://127.0.0.1:9', bootstrap: { flags: vexilFlags }, logger: quiet, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
  await counting.start();
  const countingCall = (i: number) => counting.boolean(FLAG, frozen[i & 1023], false);
  check('client + exposures', countingCall(0), countingCall(1));
  rows.push(['Vexil direct client + exposure counting', loop(countingCall)]);

  const { GrowthBookClient } = await import('@growthbook/growthbook');
  const growthbook = new GrowthBookClient().initSync({ payload: { features: growthbookFeatures } });
  const gbContexts = pool.map((user) => ({ attributes: { id: user.targetingKey, plan: user.plan, country: user.country } }));
  const gb = (i: number) => growthbook.isOn(FLAG, gbContexts[i & 1023]!);
  check('GrowthBook', gb(0), gb(1));
  rows.push(['GrowthBook: GrowthBookClient#isOn(key, userContext)', loop(gb)]);

  const { startUnleash, InMemStorageProvider } = await import('unleash-client');
  const unleash = await startUnleash({
    appName: 'vexil-openfeature-bench',
    url: 'http://127.0.0.1:9/api/',
    refreshInterval: 0,
    disableMetrics: true,
    bootstrap: { data: unleashFeatures as never },
    storageProvider: new InMemStorageProvider(),
    skipInstanceCountWarning: true,
  });
  const unleashContexts = pool.map((user) => ({ userId: user.targetingKey, properties: { plan: user.plan, country: user.country } }));
  const un = (i: number) => unleash.isEnabled(FLAG, unleashContexts[i & 1023]!);
  check('Unleash', un(0), un(1));
  rows.push(['Unleash: unleash.isEnabled(key, context)', loop(un)]);
  unleash.destroy();

  const flagd = new FlagdInProcessProvider(flagdFlags);
  const fd = (i: number) => flagd.core.resolveBooleanEvaluation(FLAG, false, frozen[i & 1023] as never, quiet).value;
  check('flagd-core', fd(0), fd(1));
  rows.push(['flagd-core: resolveBooleanEvaluation(key, false, context)', loop(fd)]);

  const ldRow = await launchDarklyVariation(pool);
  if (ldRow) rows.push(ldRow);
  await client.close();
  await counting.close();

  const engineNs = rows[0]![1];
  return rows.map(([call, ns]) => ({
    call,
    'ns per call': ns.toFixed(0),
    'calls/s': Math.round(1e9 / ns).toLocaleString('en-US'),
    '÷ Vexil engine': (ns / engineNs).toFixed(2),
  }));
}

async function launchDarklyVariation(pool: ReturnType<typeof contexts>): Promise<[string, number] | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-of-bench-ld-'));
  try {
    const file = join(dir, 'launchdarkly.json');
    await writeFile(file, JSON.stringify(launchDarklyFlags));
    const ld = await import('@launchdarkly/node-server-sdk');
    const client = ld.init('bench-sdk-key', {
      updateProcessor: new ld.integrations.FileDataSourceFactory({ paths: [file] }).getFactory(),
      sendEvents: false,
      diagnosticOptOut: true,
      logger: ld.basicLogger({ level: 'none' }),
    });
    await client.waitForInitialization({ timeout: 10 });
    const ldContexts = pool.map((user) => ({ kind: 'user', key: user.targetingKey, plan: user.plan, country: user.country }));
    const pro = await client.variation(FLAG, ldContexts[0]!, false);
    const free = await client.variation(FLAG, ldContexts[1]!, true);
    if (pro !== true || free !== false) throw new Error(`LaunchDarkly answers ${pro}/${free}, expected true/false`);
    for (let i = 0; i < 20_000; i++) await client.variation(FLAG, ldContexts[i & 1023]!, false);
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 5; round++) {
      const start = performance.now();
      for (let i = 0; i < 100_000; i++) await client.variation(FLAG, ldContexts[i & 1023]!, false);
      best = Math.min(best, ((performance.now() - start) * 1e6) / 100_000);
    }
    client.close();
    return ['LaunchDarkly: await client.variation(key, context, false)', best];
  } catch (error) {
    console.log(`(LaunchDarkly unavailable: ${(error as Error).message})`);
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-of-bench-'));
  const snapshotFile = join(dir, 'snapshot.json');
  await writeSnapshotFile(snapshotFile, { flags: vexilFlags, segments: {}, revision: 1 });
  try {
    const pool = contexts(1024);
    const frozen = pool.map((context) => Object.freeze({ ...context }));
    const loop = (fn: (i: number) => unknown): number => {
      for (let i = 0; i < 200_000; i++) fn(i);
      let best = Number.POSITIVE_INFINITY;
      for (let round = 0; round < 5; round++) {
        const start = performance.now();
        for (let i = 0; i < 1_000_000; i++) fn(i);
        best = Math.min(best, (performance.now() - start) * 1e6 / 1_000_000);
      }
      return best;
    };

    // 0. Direct APIs, no OpenFeature: Vexil's direct client beside the engine alone and the peers' own direct calls.
    // First, while the process has run nothing else: the OpenFeature sections below pass contexts of other shapes
    // through the same code, and the slower polymorphic code they leave behind would be charged to the direct calls.
    console.log('direct APIs, no OpenFeature SDK (best of 5 × 1,000,000; LaunchDarkly\'s is async: best of 5 × 100,000 awaited):');
    console.table(await directApis(pool, frozen, loop));

    const providers: Array<[string, Provider]> = [
      ['vexil (VexilProvider, in-process)', new VexilProvider({ bootstrap: { flags: vexilFlags }, logger: quiet })],
      // With a server url, exposures are counted for the collector (the server here is unreachable: events wait).
      ['vexil + exposure counting', new VexilProvider({ url: 'http://127.0.0.1:9', bootstrap: { flags: vexilFlags }, logger: quiet, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } })],
      ['flagd-core in-process', new FlagdInProcessProvider(flagdFlags)],
    ];
    const ld = await launchDarkly(dir);
    if (ld) providers.push(['launchdarkly (file data source)', ld]);

    const clients: Array<[string, Client]> = [];
    for (const [name, provider] of providers) {
      await OpenFeature.setProviderAndWait(name, provider);
      const client = OpenFeature.getClient(name);
      // Same answers everywhere, or the comparison means nothing.
      const pro = await client.getBooleanValue(FLAG, false, pool[0]!);
      const free = await client.getBooleanValue(FLAG, true, pool[1]!);
      if (pro !== true || free !== false) throw new Error(`${name} answers ${pro}/${free}, expected true/false`);
      clients.push([name, client]);
    }

    // 1. Through OpenFeature, as an app calls it (the SDK's hooks, context merging and freezing included).
    const sdkTasks: Task[] = clients.map(([name, client]) => {
      let i = 0;
      return [name, async () => void (await client.getBooleanValue(FLAG, false, pool[i++ & 1023]!))];
    });
    console.log('client.getBooleanValue through the OpenFeature server SDK (median of 3 rounds):');
    console.table(await measure(sdkTasks, 1_000));

    // 2. The provider's own cost: its resolveBooleanEvaluation called directly (what the SDK adds is left out).
    const directTasks: Task[] = providers.map(([name, provider]) => {
      let i = 0;
      return [name, async () => void (await provider.resolveBooleanEvaluation(FLAG, false, frozen[i++ & 1023]!, quiet))];
    });
    console.log('provider.resolveBooleanEvaluation called directly (median of 3 rounds):');
    console.table(await measure(directTasks, 500));

    // 3. Engines that evaluate synchronously, without the promise: tight loop, best of 5 × 1M (least noisy).
    const vexilSync = providers[0]![1] as VexilProvider;
    const countingSync = providers[1]![1] as VexilProvider;
    const flagdSync = providers[2]![1] as FlagdInProcessProvider;
    const sync = [
      ['vexil resolve()', loop((i) => vexilSync.resolve(FLAG, false, frozen[i & 1023], 'boolean'))],
      ['vexil resolve() + exposure counting', loop((i) => countingSync.resolve(FLAG, false, frozen[i & 1023], 'boolean'))],
      ['flagd-core resolveBooleanEvaluation()', loop((i) => flagdSync.core.resolveBooleanEvaluation(FLAG, false, frozen[i & 1023]))],
    ] as const;
    console.log('synchronous evaluation, no promise (best of 5 × 1,000,000):');
    console.table(sync.map(([name, ns]) => ({ call: name, 'ns per call': ns.toFixed(0), 'calls/s': Math.round(1e9 / ns).toLocaleString('en-US') })));
    await OpenFeature.close();


    // Cold start, in this process (modules already loaded): new provider from the snapshot file → first evaluation.
    const samples: number[] = [];
    for (let i = 0; i < 30; i++) {
      const start = performance.now();
      const provider = new VexilProvider({ url: 'http://127.0.0.1:9', snapshotFile, events: false, logger: quiet });
      await OpenFeature.setProviderAndWait(`cold-${i}`, provider);
      const value = await OpenFeature.getClient(`cold-${i}`).getBooleanValue(FLAG, false, pool[0]!);
      samples.push(performance.now() - start);
      if (value !== true) throw new Error('cold start served the wrong value');
    }
    await OpenFeature.close();
    samples.sort((a, b) => a - b);
    const median = samples[samples.length >> 1]!;
    console.log(`cold start from a snapshot file, provider created → first evaluation (in process, warm modules): median ${median.toFixed(2)} ms, max ${samples.at(-1)!.toFixed(2)} ms (goal < 20 ms)`);

    // And in a fresh process on the built packages, as a serverless cold start sees it.
    const script = join(here, 'openfeature', 'cold-start.mjs');
    if (!existsSync(join(here, '..', 'packages', 'openfeature', 'dist', 'index.js'))) {
      console.log('fresh-process cold start skipped: build the packages first (npm run build)');
      return;
    }
    const runs: Array<{ processStartToFirstEvalMs: number; importMs: number; providerToFirstEvalMs: number }> = [];
    for (let i = 0; i < 5; i++) {
      const child = spawnSync(process.execPath, [script, snapshotFile], { encoding: 'utf8', cwd: join(here, '..') });
      const line = child.stdout.trim().split('\n').at(-1);
      if (child.status !== 0 || !line) {
        console.log(`fresh-process cold start failed: ${child.stderr.trim().split('\n').slice(-3).join(' ')}`);
        return;
      }
      runs.push(JSON.parse(line));
    }
    const med = (pick: (r: (typeof runs)[number]) => number) => runs.map(pick).sort((a, b) => a - b)[runs.length >> 1]!.toFixed(1);
    const min = (pick: (r: (typeof runs)[number]) => number) => Math.min(...runs.map(pick)).toFixed(1);
    console.log(
      `cold start in a fresh process (median / best of ${runs.length}): provider created → first evaluation ${med((r) => r.providerToFirstEvalMs)} / ${min((r) => r.providerToFirstEvalMs)} ms (goal < 20 ms); ` +
        `importing the SDK and provider ${med((r) => r.importMs)} ms; process start → first evaluation ${med((r) => r.processStartToFirstEvalMs)} ms`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
