// The PostgreSQL store against the server on this machine: the conformance suite, one schema per test, dropped
// after; then what only a server does — concurrent migrations, an unreachable server, a connection that comes back.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import postgres from 'postgres';
import type { FlagDefinition } from '@vexil/core';
import { StoreUnavailableError } from '../src/errors.js';
import { SqlFlagStore, MIGRATIONS } from '../src/sql/index.js';
import { openStore } from '../src/open-store.js';
import type { ChangeEvent } from '../src/types.js';
import { runConformanceSuite } from './conformance.js';

const BASE_URL = process.env.VEXIL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `vexil_test_${randomBytes(4).toString('hex')}`;
const by = { actor: 'test' };
const flag: FlagDefinition = { variations: { on: true, off: false }, defaultRule: { variation: 'on' } };

const admin = postgres(BASE_URL, { max: 2, onnotice: () => undefined, connection: { application_name: `${RUN}_admin` } });
const schemas: string[] = [];
let counter = 0;

/** A schema name unique to this run; dropped when the file's tests end. */
function newSchema(): string {
  const schema = `${RUN}_${++counter}`;
  schemas.push(schema);
  return schema;
}

function storeUrl(schema: string, base = BASE_URL): string {
  return `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
}

after(async () => {
  for (const schema of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end({ timeout: 2 });
});

function postgresFactory() {
  let schema = '';
  const open = () => SqlFlagStore.open(storeUrl(schema), { applicationName: schema, pollIntervalMs: 2_000 });
  return {
    open() {
      schema = newSchema();
      return open();
    },
    openSecond: open,
    async dropConnections() {
      assert.ok(schema.startsWith(RUN), 'only ever this run\'s connections');
      // Pick the targets first (MATERIALIZED), then terminate only those: never anyone else's connection.
      const killed = await admin.unsafe<{ pid: number }[]>(
        `WITH targets AS MATERIALIZED (
           SELECT pid FROM pg_stat_activity WHERE application_name = $1::text AND backend_type = 'client backend' AND pid <> pg_backend_pid()
         )
         SELECT pid, pg_terminate_backend(pid) AS terminated FROM targets`,
        [schema],
      );
      const pids = killed.map((row) => row.pid);
      for (let i = 0; i < 100; i++) {
        const left = await admin.unsafe(`SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1::int[])`, [pids]);
        if (left.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async corrupt(key: string) {
      await admin.unsafe(`UPDATE "${schema}".flags SET definition = '{"variations": 42}'::jsonb WHERE key = $1`, [key]);
    },
    async cleanup() {
      // Schemas are dropped once, after every test of this file.
    },
  };
}

runConformanceSuite('postgres', postgresFactory());

/** A TCP proxy to PostgreSQL that a test can take down (refusing and cutting connections) and bring back. */
async function startProxy(): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const target = new URL(BASE_URL);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const down = async () => {
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    });
    server = undefined;
  };
  await listen();
  const url = new URL(BASE_URL);
  url.port = String(port);
  return { url: url.toString(), down, up: listen, close: down };
}

describe('PostgreSQL store', () => {
  it('applies migrations once when several processes start at the same moment', async () => {
    const schema = newSchema();
    const url = storeUrl(schema);
    const script = `
      import { SqlFlagStore } from './packages/store/src/sql/index.ts';
      const store = await SqlFlagStore.open(${JSON.stringify(url)});
      await store.close();`;
    const child = () =>
      new Promise<number>((resolve) => {
        const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        proc.on('exit', (code) => resolve(code ?? 1));
      });
    // Two processes, and three more stores in this one, all racing to create the same schema.
    const [a, b] = await Promise.all([
      child(),
      child(),
      ...Array.from({ length: 3 }, () => SqlFlagStore.open(url).then((store) => store.close())),
    ]);
    assert.deepEqual([a, b], [0, 0]);
    const applied = await admin.unsafe(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
    assert.deepEqual(applied.map((row) => row.version), MIGRATIONS.map((m) => m.version));
    const again = await SqlFlagStore.open(url);
    assert.equal((await again.list()).revision, 0);
    await again.close();
  });

  // "Fast": it gives up instead of retrying forever (the test's time-out catches a hang); no duration is asserted.
  it('fails with StoreUnavailableError when the server does not answer', { timeout: 20_000 }, async () => {
    await assert.rejects(openStore('postgres://postgres@127.0.0.1:1/test'), StoreUnavailableError);
  });

  it('while the server is unreachable, writes fail (not hang) and watchers wait; then both recover with nothing missed', { timeout: 60_000 }, async () => {
    const proxy = await startProxy();
    const schema = newSchema();
    const direct = await SqlFlagStore.open(storeUrl(schema));
    const store = await SqlFlagStore.open(storeUrl(schema, proxy.url), { connectTimeoutSeconds: 2, pollIntervalMs: 500 });
    const received: ChangeEvent[] = [];
    const controller = new AbortController();
    const watching = (async () => {
      for await (const event of store.watch({ fromRevision: 0, signal: controller.signal })) received.push(event);
    })();
    try {
      await store.put('a', flag, by);
      await proxy.down();
      await assert.rejects(store.put('b', flag, by), StoreUnavailableError);
      await assert.rejects(store.list(), StoreUnavailableError);
      // Meanwhile another server writes through its own connection.
      await direct.put('c', flag, by);
      await direct.put('d', flag, by);
      await proxy.up();
      const deadline = Date.now() + 15_000;
      while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      assert.deepEqual(
        received.map((e) => [e.revision, e.type === 'segments' ? '' : e.key]),
        [[1, 'a'], [2, 'c'], [3, 'd']],
      );
      assert.equal((await store.put('b', flag, by)).revision, 4, 'writes work again');
    } finally {
      controller.abort();
      await watching;
      await store.close();
      await direct.close();
      await proxy.close();
    }
  });
});
