import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { openStore, type FlagStore } from '@vexil/store';
import { buildServer, importFlagFiles, type ServerOptions } from '@vexil/server';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const EXAMPLES = resolve(REPO_ROOT, 'examples', 'flags.goff.yaml');
export const FIXTURE = resolve(REPO_ROOT, 'packages', 'server', 'test', 'fixtures', 'flags.yaml');
export const ADMIN = 'test-admin-key-0001';
export const SDK = 'test-sdk-key-00001';
export const REDIS_URL = process.env.VEXIL_TEST_REDIS ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL = process.env.VEXIL_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

export function uniqueId(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export const json = (key: string = SDK, extra: Record<string, string> = {}): Record<string, string> => ({
  'content-type': 'application/json',
  'x-api-key': key,
  ...extra,
});

/** A POST with a JSON body (a string is sent as it is, `undefined` sends none), answered with status, headers, text and parsed JSON. */
export interface PostAnswer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}
export async function postJson(base: string, path: string, body: unknown, headers: Record<string, string>): Promise<PostAnswer> {
  const init: RequestInit = { method: 'POST', headers };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** One admin API call with a key: status and parsed JSON body (a body, when given, is sent as JSON). */
export async function callJson(base: string, method: string, path: string, body: unknown, key: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** A seeded generator (mulberry32) of numbers in [0, 1): simulations draw the same population on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Deletes every key under a Redis prefix in one DEL, as a restart or FLUSHALL would: a store never sees half of them
 * gone (its instance id still there but its revision missing, say), which a real reset never shows either.
 */
export async function deleteRedisPrefix(admin: Redis, prefix: string): Promise<void> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  if (keys.length > 0) await admin.del(...keys);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs`. */
// Generous time-outs: they only bound a wait for a behaviour; a busy machine must not fail it (speed is for bench/).
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** An embedded in-memory store with the test flags (fixtures/flags.yaml). */
export async function fixtureStore(): Promise<FlagStore> {
  const store = await openStore(`pglite:memory:${uniqueId('t')}`);
  await importFlagFiles(store, [FIXTURE]);
  return store;
}

/** A server on an embedded store with the test flags, keys ADMIN and SDK, no logs. */
export async function fixtureServer(options: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
  const store = options.store ?? (await fixtureStore());
  return buildServer({
    adminKeys: [ADMIN],
    sdkKeys: [SDK],
    defaultMetrics: false,
    heartbeatMs: 0,
    ...options,
    store,
    closeStore: true,
  });
}

/** Listens on a random loopback port; returns the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
  /** When the event was parsed (ms, performance.now()). */
  at: number;
}

/** A minimal server-sent-events client over fetch, recording every event. */
export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  headers: Headers | undefined;
  readonly #abort = new AbortController();
  #waiters: (() => void)[] = [];
  #done = false;
  closed: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const reader = new SseReader();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: reader.#abort.signal });
    reader.status = response.status;
    reader.headers = response.headers;
    if (response.ok && response.body) reader.closed = reader.#pump(response.body);
    else {
      await response.text().catch(() => undefined);
      reader.#done = true;
    }
    return reader;
  }

  async #pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', data: '', at: performance.now() };
          const data: string[] = [];
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              this.comments.push(line.slice(1).trim());
              continue;
            }
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') {
              data.push(value);
              any = true;
            } else if (field === 'id') event.id = value;
            else if (field === 'event') event.event = value;
          }
          if (any) {
            event.data = data.join('\n');
            this.events.push(event);
          }
          this.#wake();
        }
      }
    } catch {
      // aborted
    } finally {
      this.#done = true;
      this.#wake();
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  get ended(): boolean {
    return this.#done;
  }

  /** Resolves with the first event (from index `from`) matching `predicate`. */
  async waitFor(predicate: (event: SseEvent) => boolean, timeoutMs = 15_000, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(predicate);
      if (found) return found;
      if (this.#done) throw new Error(`stream ended without the event (got ${this.events.map((e) => e.event).join(', ')})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms (got ${this.events.map((e) => `${e.event}#${e.id}`).join(', ')})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#abort.abort();
  }
}

/** A TCP proxy in front of Redis or PostgreSQL, to make the store "go away" for one server only. */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Local ports of the proxy's connections to the backend (how the backend sees this server's clients). */
  readonly upstreamPorts = new Set<number>();
  #blocked = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.#server = createServer((client) => this.#accept(client));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this.port;
  }

  #accept(client: Socket): void {
    if (this.#blocked) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    upstream.connect(this.target.port, this.target.host, () => {
      if (upstream.localPort) this.upstreamPorts.add(upstream.localPort);
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const cleanup = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('error', cleanup);
    upstream.on('error', cleanup);
    client.on('close', cleanup);
    upstream.on('close', cleanup);
  }

  /** Refuse new connections (the backend is "down" for whoever goes through the proxy). */
  block(): void {
    this.#blocked = true;
  }

  unblock(): void {
    this.#blocked = false;
  }

  /** Drops every open connection from the proxy's side. */
  dropAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  async close(): Promise<void> {
    this.block();
    this.dropAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

/** A TCP port free right now on the loopback interface. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
  return port;
}

/**
 * Spawns `vexil serve …` as a separate process and waits for its "listening on" line. Unless `defaults` is false, it
 * listens on a free loopback port and logs warnings only (`--host 127.0.0.1 --port 0 --log-level warn`).
 */
export async function spawnServe(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000, defaults = true, cwd = REPO_ROOT): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      // Resolved here: the server may run in a folder with no node_modules.
      import.meta.resolve('tsx'),
      resolve(REPO_ROOT, 'packages/cli/src/bin/vexil.ts'),
      'serve',
      ...(defaults ? ['--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'] : []),
      ...args,
    ],
    { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`vexil serve did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (): void => {
      const match = /listening on (http:\/\/[^\s]+)[\s\S]*metrics \S+\/metrics\n/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vexil serve exited with ${code}:\n${output}`));
    });
  });
  return {
    child,
    url,
    output: () => output,
    stop: () =>
      new Promise<void>((resolvePromise) => {
        if (child.exitCode !== null) return resolvePromise();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolvePromise();
        });
        child.kill('SIGTERM');
      }),
  };
}
