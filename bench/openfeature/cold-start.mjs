// Cold start, measured in a fresh Node process: import the provider and the SDK, start from a snapshot file,
// evaluate once. Prints one JSON line. Runs on the built packages (dist), as an app would.
// Usage: node bench/openfeature/cold-start.mjs <snapshot-file>
const t0 = performance.now();
const { OpenFeature } = await import('@openfeature/server-sdk');
const { VexilProvider } = await import('@vexil/openfeature');
const t1 = performance.now();
// A server address nobody listens on: the provider must not wait for it.
const provider = new VexilProvider({ url: 'http://127.0.0.1:9', snapshotFile: process.argv[2], events: false, logger: { error() {}, warn() {}, info() {}, debug() {} } });
await OpenFeature.setProviderAndWait(provider);
const details = await OpenFeature.getClient().getBooleanDetails('checkout-v2', false, { targetingKey: 'user-0', plan: 'pro' });
const t2 = performance.now();
process.stdout.write(`${JSON.stringify({ processStartToFirstEvalMs: t2, importMs: t1 - t0, providerToFirstEvalMs: t2 - t1, value: details.value, reason: details.reason })}\n`);
await OpenFeature.close();
process.exit(0);
