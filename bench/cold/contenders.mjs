// Cold start, one contender per fresh process: from the first `import` to the first evaluation's result, including
// reading the flags from a file (as a serverless function starting from a cached snapshot does). Prints one JSON line:
// { ms, value }. Usage: node bench/cold/contenders.mjs <contender> <dir with the flag files>
// Peers are imported by package name only (they may live in another workspace).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const [name, dir] = process.argv.slice(2);
const user = { key: 'user-0', plan: 'pro' };
const quiet = { error() {}, warn() {}, info() {}, debug() {} };

const contenders = {
  /** @vexil/core's light entry: a JSON flag file, compileFlags, evaluate. */
  async 'vexil-core'() {
    const { compileFlags, evaluate } = await import('@vexil/core/json');
    const snapshot = compileFlags(await readFile(join(dir, 'vexil-flags.json'), 'utf8'), { format: 'json' });
    return evaluate(snapshot, 'checkout-v2', { targetingKey: user.key, plan: user.plan }).value;
  },
  /** The direct client from a snapshot file (the server address is never contacted before the answer). */
  async 'vexil-client'() {
    const { VexilClient } = await import('@vexil/openfeature/client');
    const client = new VexilClient({ url: 'http://127.0.0.1:9', snapshotFile: join(dir, 'vexil-snapshot.json'), events: false, logger: quiet });
    await client.start();
    return client.boolean('checkout-v2', { targetingKey: user.key, plan: user.plan }, false);
  },
  /** The OpenFeature provider through the OpenFeature server SDK, from the same snapshot file. */
  async 'vexil-provider'() {
    const { OpenFeature } = await import('@openfeature/server-sdk');
    const { VexilProvider } = await import('@vexil/openfeature');
    const provider = new VexilProvider({ url: 'http://127.0.0.1:9', snapshotFile: join(dir, 'vexil-snapshot.json'), events: false, logger: quiet });
    await OpenFeature.setProviderAndWait(provider);
    return OpenFeature.getClient().getBooleanValue('checkout-v2', false, { targetingKey: user.key, plan: user.plan });
  },
  /** GrowthBook's multi-user client, features from a file (inline payload: nothing fetched). */
  async growthbook() {
    const { GrowthBookClient } = await import('@growthbook/growthbook');
    const features = JSON.parse(await readFile(join(dir, 'growthbook-features.json'), 'utf8'));
    const client = new GrowthBookClient().initSync({ payload: { features } });
    return client.isOn('checkout-v2', { attributes: { id: user.key, plan: user.plan } });
  },
  /** flagd's evaluation core, configuration from a file. */
  async 'flagd-core'() {
    const { FlagdCore } = await import('@openfeature/flagd-core');
    const core = new FlagdCore();
    core.setConfigurations(await readFile(join(dir, 'flagd-flags.json'), 'utf8'));
    return core.resolveBooleanEvaluation('checkout-v2', false, { targetingKey: user.key, plan: user.plan }, quiet).value;
  },
  /** LaunchDarkly's Node server SDK on its file data source, events off. */
  async launchdarkly() {
    const ld = await import('@launchdarkly/node-server-sdk');
    const client = ld.init('sdk-cold-start-benchmark', {
      updateProcessor: new ld.integrations.FileDataSourceFactory({ paths: [join(dir, 'launchdarkly-flags.json')] }).getFactory(),
      sendEvents: false,
      diagnosticOptOut: true,
      logger: ld.basicLogger({ level: 'none' }),
    });
    await client.waitForInitialization({ timeout: 10 });
    return client.boolVariation('checkout-v2', { kind: 'user', key: user.key, plan: user.plan }, false);
  },
};

const run = contenders[name];
if (!run) throw new Error(`unknown contender ${name}`);
const start = performance.now();
const value = await run();
const ms = performance.now() - start;
process.stdout.write(`${JSON.stringify({ ms, value })}\n`);
process.exit(0);
