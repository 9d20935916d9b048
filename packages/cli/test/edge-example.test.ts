// examples/edge/worker.ts against a real `vexil serve`: the worker fetches the flag set once, caches it, answers
// locally with the server's own answers, revalidates with If-None-Match (304), picks up a change after its cache
// time, and keeps answering from the last flags while the server is down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');
const workerUrl = pathToFileURL(join(root, 'examples/edge/worker.ts')).href;
const SDK_KEY = 'sdk-edge-example-test';

type Worker = { fetch(request: Request, env: Record<string, string>): Promise<Response> };

const flagsYaml = (checkoutDefault: 'on' | 'off') => `
new-checkout:
  variations: { on: true, off: false }
  targeting:
    - name: staff
      query: 'email ew "@example.com"'
      variation: on
  defaultRule: { variation: ${checkoutDefault} }
banner:
  variations: { summer: "summer-sale", winter: "winter-sale" }
  targeting:
    - query: '{"in": [{"var": "country"}, ["fr", "de"]]}'
      variation: winter
  defaultRule: { percentage: { summer: 50, winter: 50 } }
`;

let dir: string;
let flagFile: string;
let serverUrl: string;
let server: ChildProcess | undefined;
const configurationStatuses: number[] = [];
const realFetch = globalThis.fetch;

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-edge-'));
  flagFile = join(dir, 'flags.goff.yaml');
  writeFileSync(flagFile, flagsYaml('off'));
  const port = await freePort();
  serverUrl = `http://127.0.0.1:${port}`;
  server = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', bin, 'serve', '--flags', flagFile, '--port', String(port), '--sdk-key', SDK_KEY, '--admin-key', 'admin-edge-example-test', '--log-level', 'silent', '--rate-limit', '0'],
    { cwd: root, stdio: 'ignore' },
  );
  await eventually(async () => (await realFetch(`${serverUrl}/health`)).ok, 'the server', 30_000);
  // Watch the worker's calls to the server, to see its revalidations.
  globalThis.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    if (String(input).endsWith('/v1/flag/configuration')) configurationStatuses.push(response.status);
    return response;
  };
});

after(() => {
  globalThis.fetch = realFetch;
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function serverAnswer(key: string, context: Record<string, unknown>) {
  const response = await realFetch(`${serverUrl}/ofrep/v1/evaluate/flags/${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SDK_KEY}` },
    body: JSON.stringify({ context }),
  });
  return (await response.json()) as { value: unknown; variant: string; reason: string };
}

async function ask(worker: Worker, env: Record<string, string>, key: string, context: Record<string, unknown>) {
  const response = await worker.fetch(new Request(`https://edge.example/flags/${key}`, { method: 'POST', body: JSON.stringify({ context }) }), env);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

test('the worker answers locally with the server\'s answers, from one fetch then its cache; GET reads the context from the query', async () => {
  const { default: worker } = (await import(`${workerUrl}?answers`)) as { default: Worker };
  const env = { VEXIL_URL: serverUrl, VEXIL_SDK_KEY: SDK_KEY, VEXIL_CACHE_SECONDS: '60' };
  const contexts = [
    { targetingKey: 'user-1', email: 'a@example.com' },
    { targetingKey: 'user-2', email: 'b@other.org', country: 'fr' },
    { targetingKey: 'user-3', country: 'us' },
    { targetingKey: 'user-4' },
    { targetingKey: 'user-5', country: 'de' },
  ];
  const before = configurationStatuses.length;
  const sources: string[] = [];
  for (const context of contexts) {
    for (const key of ['new-checkout', 'banner']) {
      const local = await ask(worker, env, key, context);
      const remote = await serverAnswer(key, context);
      assert.equal(local.status, 200);
      assert.deepEqual([local.body.value, local.body.variant, local.body.reason], [remote.value, remote.variant, remote.reason], `${key} ${JSON.stringify(context)}`);
      sources.push(local.body.flagsFrom);
    }
  }
  assert.equal(configurationStatuses.length - before, 1, 'one fetch for all the requests');
  assert.deepEqual([sources[0], new Set(sources.slice(1))], ['server', new Set(['cache'])]);
  const viaGet = await worker.fetch(new Request('https://edge.example/flags/new-checkout?targetingKey=u&email=x@example.com'), env);
  assert.equal(((await viaGet.json()) as { value: boolean }).value, true);
  const missing = await ask(worker, env, 'no-such-flag', {});
  assert.deepEqual([missing.status, missing.body.errorCode], [404, 'FLAG_NOT_FOUND']);
});

test('revalidation: 304 while nothing changes, the new flags after an edit, the last flags while the server is down', async () => {
  const { default: worker } = (await import(`${workerUrl}?changes`)) as { default: Worker };
  const env = { VEXIL_URL: serverUrl, VEXIL_SDK_KEY: SDK_KEY, VEXIL_CACHE_SECONDS: '0.05' };
  const user = { targetingKey: 'user-9' };
  assert.equal((await ask(worker, env, 'new-checkout', user)).body.value, false);
  const from = configurationStatuses.length;
  await eventually(async () => configurationStatuses.slice(from).includes(304) || (await ask(worker, env, 'new-checkout', user), false), 'a 304 revalidation');

  writeFileSync(flagFile, flagsYaml('on'));
  await eventually(async () => (await ask(worker, env, 'new-checkout', user)).body.value === true, 'the edited flag');

  server!.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  const down = await eventually(async () => {
    const answer = await ask(worker, env, 'new-checkout', user);
    return answer.body.flagsFrom === 'stale' ? answer : undefined;
  }, 'a stale answer');
  assert.deepEqual([down.status, down.body.value, down.body.variant], [200, true, 'on']);

  // A fresh isolate that never reached the server has nothing to serve.
  const { default: fresh } = (await import(`${workerUrl}?fresh`)) as { default: Worker };
  const none = await ask(fresh, env, 'new-checkout', user);
  assert.equal(none.status, 503);
  assert.match(none.body.message, /no flags yet/);
});
