// Spawns a real `vexil serve` for the tests, and talks to its admin API.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { deletePrefix, redisAvailable, storeUrl, uniquePrefix } from './redis.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const bin = join(root, 'packages', 'cli', 'src', 'bin', 'vexil.ts');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface VexilServer {
  url: string;
  port: number;
  adminKey: string;
  sdkKey: string;
  /** SIGKILL: connections drop without a goodbye. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>;
  /** Creates or replaces a flag through the admin API. */
  putFlag(key: string, flag: unknown): Promise<void>;
  deleteFlag(key: string): Promise<void>;
  output(): string;
}

export interface ServeOptions {
  /**
   * Store URL. Default: a Redis store under a unique key prefix (deleted on stop) when Redis answers, which starts
   * in a blink, else a fresh in-memory PGlite.
   */
  store?: string;
  port?: number;
  adminKey?: string;
  sdkKey?: string;
  extraArgs?: string[];
}

/** Starts `vexil serve` and waits until `/health` answers. */
export async function startServer(options: ServeOptions = {}): Promise<VexilServer> {
  const port = options.port ?? (await freePort());
  const adminKey = options.adminKey ?? `admin-${randomBytes(8).toString('hex')}`;
  const sdkKey = options.sdkKey ?? `sdk-${randomBytes(8).toString('hex')}`;
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let ownPrefix: string | undefined;
  let store = options.store;
  if (store === undefined) {
    if (await redisAvailable()) {
      ownPrefix = uniquePrefix();
      store = storeUrl(ownPrefix);
    } else store = 'pglite:memory:';
  }
  let log = '';

  const launch = async () => {
    const args = ['--conditions=source', '--import', 'tsx', bin, 'serve', '--no-examples', '--log-level', 'warn', '--store', store, '--host', '127.0.0.1', '--port', String(port), '--admin-key', adminKey, '--sdk-key', sdkKey, ...(options.extraArgs ?? [])];
    const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } });
    child = proc;
    proc.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`vexil serve exited (${proc.exitCode}):\n${log}`);
      try {
        const response = await fetch(`${url}/health`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`vexil serve did not start in 30 s:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const terminate = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  };

  await launch();

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed as any, headers: response.headers };
  };

  return {
    url,
    port,
    adminKey,
    sdkKey,
    kill: () => terminate('SIGKILL'),
    restart: launch,
    async stop() {
      await terminate('SIGTERM');
      if (ownPrefix) await deletePrefix(ownPrefix);
    },
    admin,
    async putFlag(key, flag) {
      const result = await admin('PUT', `/admin/v1/flags/${encodeURIComponent(key)}`, flag);
      if (result.status >= 300) throw new Error(`PUT ${key}: ${result.status} ${JSON.stringify(result.body)}`);
    },
    async deleteFlag(key) {
      const result = await admin('DELETE', `/admin/v1/flags/${encodeURIComponent(key)}`);
      if (result.status >= 300) throw new Error(`DELETE ${key}: ${result.status} ${JSON.stringify(result.body)}`);
    },
    output: () => log,
  };
}

/** Resolves with the first event handler call that satisfies `accept`, or rejects after `ms`. */
export function waitFor<T>(subscribe: (handler: (value: T) => void) => () => void, accept: (value: T) => boolean = () => true, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let unsubscribe: () => void = () => undefined;
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${ms} ms`));
    }, ms);
    unsubscribe = subscribe((value) => {
      if (!accept(value)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    });
  });
}

/** Polls `check` until it returns a truthy value. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The `flagsChanged` of a PROVIDER_CONFIGURATION_CHANGED event's details ([] when absent). */
export function flagsChanged(details: unknown): string[] {
  const keys = (details as { flagsChanged?: unknown } | undefined)?.flagsChanged;
  return Array.isArray(keys) ? (keys as string[]) : [];
}
