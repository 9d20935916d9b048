// Runs the handler locally against dynalite (DynamoDB's API, in memory): starts dynalite on a free port, writes two
// flags to a table with @vexil/store, then starts the handler in fresh processes:
//   1. a cold start with no snapshot in the temporary folder (flags read from the table),
//   2. a cold start that finds the snapshot the first one wrote (served at once, reason CACHED),
// each followed by warm invocations, and prints the timings.
// Usage (after `npm install`, which builds the packages): node examples/serverless/run-local.mjs
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import dynalite from 'dynalite';
import { openStore } from '@vexil/store';

const here = dirname(fileURLToPath(import.meta.url));
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
// The SDK warns on Node 20 that its 2027 releases will need Node 22: true, but noise in this example's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const server = dynalite({ createTableMs: 0 });
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${server.address().port}`;
const storeUrl = `dynamodb://vexil-serverless-example?region=eu-west-1&feed=poll&endpoint=${encodeURIComponent(endpoint)}`;
const folder = await mkdtemp(join(tmpdir(), 'vexil-serverless-'));
const snapshot = join(folder, 'vexil-flags.json');

try {
  const store = await openStore(storeUrl);
  await store.put('new-checkout', { variations: { on: true, off: false }, targeting: [{ query: 'plan eq "pro"', variation: 'on' }], defaultRule: { variation: 'off' } }, { actor: 'example' });
  await store.put('banner', { variations: { spring: 'Spring sale', none: 'none' }, defaultRule: { percentage: { spring: 50, none: 50 } } }, { actor: 'example' });
  await store.close();

  const invoke = (label) =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn(process.execPath, [join(here, 'invoke.mjs')], {
        env: { ...process.env, VEXIL_STORE: storeUrl, VEXIL_SNAPSHOT: snapshot },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`${label}: the handler process exited with ${code}`));
        resolve({ label, wall: performance.now() - started, ...JSON.parse(out.trim().split('\n').pop()) });
      });
    });

  const results = [await invoke('cold start, no snapshot (reads DynamoDB)')];
  const written = await stat(snapshot).then(() => true, () => false);
  results.push(await invoke('cold start, snapshot in the temp folder'));
  for (const r of results) {
    console.log(`${r.label}:`);
    console.log(`  import → first response ${r.cold.toFixed(1)} ms (process start → first response ${r.processUptime.toFixed(1)} ms, Node's own start included), first answer ${JSON.stringify(r.first)}`);
    console.log(`  warm invocation: median ${(r.warmMedian * 1000).toFixed(0)} µs, p99 ${(r.warmP99 * 1000).toFixed(0)} µs; last answer ${JSON.stringify(r.last)}`);
  }
  console.log(`snapshot written for the next cold start: ${written ? snapshot : 'NO'}`);
} finally {
  server.close();
  await rm(folder, { recursive: true, force: true });
}
