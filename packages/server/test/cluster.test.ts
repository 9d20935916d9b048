// Many servers, one state: three `vexil serve` processes on one Redis (and on one PostgreSQL). A write to any reaches
// every server's stream, in order, none lost, and is then what each evaluates (how fast: `npm run bench -- server`); a server whose store goes away keeps serving its last flags (health `degraded`) and
// catches up when the store returns. Uses the real services, with a key prefix / schema of its own, and never
// touches anything else in them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { openStore } from '@vexil/store';
import { importFlagFiles } from '@vexil/server';
import { ADMIN, FIXTURE, POSTGRES_URL, REDIS_URL, SDK, SseReader, TcpProxy, deleteRedisPrefix, eventually, json, spawnServe, uniqueId, type ServeProcess } from './helpers.js';

const ENV = { VEXIL_HEALTH_INTERVAL_MS: '200', VEXIL_HEARTBEAT_MS: '0', VEXIL_RATE_LIMIT: '0' };
const KEYS = ['--admin-key', ADMIN, '--sdk-key', SDK];

interface Backend {
  name: string;
  /** The store URL, optionally through a proxy port. */
  url(port?: number): string;
  backendPort: number;
  /** Ends, on the backend's side, the connections coming from these local ports (this test's proxy only). */
  killConnections(ports: number[]): Promise<number>;
  cleanup(): Promise<void>;
}

function redisBackend(): Backend {
  const prefix = `${uniqueId('vexil-test-server')}:`;
  const target = new URL(REDIS_URL);
  const admin = new Redis({ host: target.hostname, port: Number(target.port || 6379), lazyConnect: true, maxRetriesPerRequest: 1 });
  return {
    name: 'Redis',
    backendPort: Number(target.port || 6379),
    url: (port) => `redis://${target.hostname}:${port ?? Number(target.port || 6379)}?prefix=${encodeURIComponent(prefix)}`,
    async killConnections(ports) {
      let killed = 0;
      for (const port of ports) killed += Number(await admin.call('CLIENT', 'KILL', 'ADDR', `127.0.0.1:${port}`, 'SKIPME', 'yes').catch(() => 0));
      return killed;
    },
    async cleanup() {
      await deleteRedisPrefix(admin, prefix);
      admin.disconnect();
    },
  };
}

function postgresBackend(): Backend {
  const schema = uniqueId('vexil_test_server');
  const target = new URL(POSTGRES_URL);
  const sql = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
  return {
    name: 'PostgreSQL',
    backendPort: Number(target.port || 5432),
    url: (port) => {
      const url = new URL(POSTGRES_URL);
      if (port) url.port = String(port);
      url.searchParams.set('schema', schema);
      return url.toString();
    },
    async killConnections(ports) {
      const rows = await sql`SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE client_port IN ${sql(ports)} AND pid <> pg_backend_pid()`;
      return rows.filter((row) => row.killed).length;
    },
    async cleanup() {
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.end();
    },
  };
}

const evaluateOn = async (server: ServeProcess, key: string): Promise<unknown> => {
  const response = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${key}`, { method: 'POST', headers: json(SDK), body: '{}' });
  return (await response.json()).value;
};
const healthOf = async (server: ServeProcess): Promise<{ status: string }> => (await fetch(`${server.url}/admin/v1/health`, { headers: { 'x-api-key': ADMIN } })).json();
const setValue = (server: ServeProcess, value: number) =>
  fetch(`${server.url}/admin/v1/flags/shared-flag`, {
    method: 'PUT',
    headers: json(ADMIN),
    body: JSON.stringify({ variations: { only: value }, defaultRule: { variation: 'only' } }),
  });

for (const make of [redisBackend, postgresBackend]) {
  describe(`many servers, one state: ${make === redisBackend ? 'Redis' : 'PostgreSQL'}`, { timeout: 180_000 }, () => {
    let backend: Backend;
    let proxy: TcpProxy;
    let servers: ServeProcess[] = [];

    before(async () => {
      backend = make();
      const seed = await openStore(backend.url());
      await importFlagFiles(seed, [FIXTURE]);
      await seed.put('shared-flag', { variations: { only: 0 }, defaultRule: { variation: 'only' } }, { actor: 'test' });
      await seed.close();
      proxy = new TcpProxy({ host: '127.0.0.1', port: backend.backendPort });
      const proxyPort = await proxy.start();
      servers = await Promise.all([
        spawnServe(['--store', backend.url(), ...KEYS], ENV),
        spawnServe(['--store', backend.url(), ...KEYS], ENV),
        spawnServe(['--store', backend.url(proxyPort), ...KEYS], ENV),
      ]);
    });

    after(async () => {
      await Promise.all(servers.map((server) => server.stop()));
      await proxy?.close();
      await backend?.cleanup();
    });

    test('a write to any server reaches every server, in order, and is what each then evaluates', async () => {
      const streams = await Promise.all(servers.map((server) => SseReader.open(`${server.url}/v1/stream?key=${SDK}`)));
      try {
        await Promise.all(streams.map((stream) => stream.waitFor((e) => e.event === 'snapshot')));
        let value = 0;
        for (let round = 0; round < 2; round++) {
          for (let writer = 0; writer < servers.length; writer++) {
            value++;
            const marks = streams.map((stream) => stream.events.length);
            const response = await setValue(servers[writer]!, value);
            assert.equal(response.status, 200);
            await response.body?.cancel();
            await Promise.all(
              streams.map((stream, index) =>
                stream.waitFor((e) => e.event === 'put' && JSON.parse(e.data).flag.variations.only === value, 15_000, marks[index]),
              ),
            );
            // What the stream announced is what every server now evaluates.
            assert.deepEqual(await Promise.all(servers.map((server) => evaluateOn(server, 'shared-flag'))), [value, value, value]);
          }
        }
        // Nothing lost and in order: each stream saw every value, once, in the order written.
        for (const stream of streams) {
          const seen = stream.events
            .filter((e) => e.event === 'put' && JSON.parse(e.data).key === 'shared-flag')
            .map((e) => JSON.parse(e.data).flag.variations.only as number);
          assert.deepEqual(seen.slice(-value), Array.from({ length: value }, (_, i) => i + 1));
        }
      } finally {
        for (const stream of streams) stream.close();
      }
    });

    test('a server whose store goes away keeps serving (degraded) and catches up when it returns', async () => {
      const [a, b, c] = servers as [ServeProcess, ServeProcess, ServeProcess];
      assert.equal((await setValue(a, 100)).status, 200);
      await eventually(async () => (await evaluateOn(c, 'shared-flag')) === 100);
      assert.equal((await healthOf(c)).status, 'ok');

      // The store goes away for C: no new connections through its proxy, and its open ones are killed by the
      // backend itself (CLIENT KILL / pg_terminate_backend, for this proxy's connections only).
      proxy.block();
      const killed = await backend.killConnections([...proxy.upstreamPorts]);
      assert.ok(killed > 0, 'connections of server C were killed');
      proxy.dropAll();
      await eventually(async () => (await healthOf(c)).status === 'degraded', 10_000, 50);
      const health = await healthOf(c);
      assert.deepEqual([health.status, (health as unknown as { store: { reachable: boolean } }).store.reachable], ['degraded', false]);

      // C keeps evaluating with its last flags, while the others move on.
      assert.equal(await evaluateOn(c, 'shared-flag'), 100);
      assert.equal((await setValue(a, 200)).status, 200);
      await eventually(async () => (await evaluateOn(b, 'shared-flag')) === 200);
      assert.equal(await evaluateOn(c, 'shared-flag'), 100);
      assert.equal(await evaluateOn(c, 'number-flag'), 50, 'every other flag is still served');
      const metrics = await (await fetch(`${c.url}/metrics`)).text();
      assert.match(metrics, /vexil_store_up\{store="(redis|postgres)"\} 0/);

      // The store returns: C catches up without a restart.
      proxy.unblock();
      await eventually(async () => (await evaluateOn(c, 'shared-flag')) === 200, 15_000, 50);
      await eventually(async () => (await healthOf(c)).status === 'ok', 10_000, 50);
      // And follows live changes again.
      assert.equal((await setValue(b, 300)).status, 200);
      await eventually(async () => (await evaluateOn(c, 'shared-flag')) === 300);
    });
  });
}
