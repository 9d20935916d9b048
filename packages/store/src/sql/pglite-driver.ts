import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import type { ListenHandlers, Row, SqlDriver, SqlQueryable, TransactionOptions } from './driver.js';
import { EmbeddedStoreLock } from './embedded-lock.js';

/**
 * PGlite runs PostgreSQL inside this process. One data directory must never be opened by two PGlite instances
 * (they would corrupt each other), so every store opened on the same directory in this process shares one database,
 * closed when the last store closes. `memory:` is a fresh in-memory database; `memory:<name>` is shared by name.
 */
interface SharedDatabase {
  db: Promise<PGlite>;
  refs: number;
  /** The folder's owner lock (on-disk databases): this process's, for as long as the database is open here. */
  lock?: EmbeddedStoreLock;
}

const open = new Map<string, SharedDatabase>();

/**
 * PostgreSQL's defaults size a server for many clients (128 MB of shared buffers, 4 MB of sort memory per operation,
 * 100 connections). PGlite has one connection, and a flag store is small (1,000 flags is a few megabytes) and read
 * whole into the server's memory, so the embedded database runs with much smaller pools: an idle `vexil serve` on the
 * embedded store holds about 90 MB less (bench/server.bench.ts prints each store's RSS).
 */
export const PGLITE_MEMORY_SETTINGS: readonly string[] = [
  'shared_buffers=8MB',
  'work_mem=1MB',
  'maintenance_work_mem=4MB',
  'temp_buffers=1MB',
  'wal_buffers=256kB',
  'max_connections=2',
];

type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;

interface CompiledPGlite {
  pgliteWasmModule: WasmModule;
  initdbWasmModule: WasmModule;
}

/** The global WebAssembly API (this package's TypeScript settings leave the DOM types out). */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

let compiled: Promise<CompiledPGlite | undefined> | undefined;

/**
 * PGlite's WebAssembly, compiled once per process. Left to itself, PGlite compiles its 9 MB engine for every database
 * it opens, and once more for the `initdb` step of a new database: each compilation leaves tens of megabytes of
 * compiler memory in the process. Undefined (PGlite loads its own) if the files cannot be found.
 */
function compiledPGlite(): Promise<CompiledPGlite | undefined> {
  compiled ??= (async () => {
    try {
      const base = import.meta.resolve('@electric-sql/pglite');
      const [pgliteWasmModule, initdbWasmModule] = await Promise.all(
        ['pglite.wasm', 'initdb.wasm'].map(async (name) => wasm.compile(await readFile(new URL(`./${name}`, base)))),
      );
      return { pgliteWasmModule: pgliteWasmModule!, initdbWasmModule: initdbWasmModule! };
    } catch {
      return undefined;
    }
  })();
  return compiled;
}

async function pgliteOptions(dataDir: string | undefined): Promise<PGliteOptions> {
  const startParams = [...PGlite.defaultStartParams, ...PGLITE_MEMORY_SETTINGS.flatMap((setting) => ['-c', setting])];
  const modules = await compiledPGlite();
  return { ...(dataDir ? { dataDir } : {}), startParams, ...(modules ?? {}) };
}
let anonymous = 0;

export interface PGliteLocation {
  /** `memory:`, `memory:<name>` or a directory. */
  location: string;
  cwd?: string;
}

function registryKey({ location, cwd }: PGliteLocation): { key: string; dataDir: string | undefined } {
  if (location === 'memory:' || location === 'memory://') return { key: `memory:#${++anonymous}`, dataDir: undefined };
  if (location.startsWith('memory:')) return { key: location, dataDir: undefined };
  const dataDir = resolve(cwd ?? process.cwd(), location);
  return { key: `dir:${dataDir}`, dataDir };
}

export async function openPGliteDriver(where: PGliteLocation): Promise<SqlDriver> {
  const { key, dataDir } = registryKey(where);
  let shared = open.get(key);
  if (!shared) {
    const entry: SharedDatabase = { db: Promise.resolve(undefined as never), refs: 0 };
    entry.db = (async () => {
      if (!dataDir) return PGlite.create(await pgliteOptions(undefined));
      await mkdir(dataDir, { recursive: true });
      // One process per folder: take the lock before PGlite touches the files.
      entry.lock = await EmbeddedStoreLock.acquire(dataDir);
      try {
        return await PGlite.create(await pgliteOptions(dataDir));
      } catch (error) {
        await entry.lock.release();
        throw error;
      }
    })();
    const db = entry.db;
    shared = entry;
    open.set(key, shared);
    db.catch(() => {
      if (open.get(key) === shared) open.delete(key);
    });
  }
  shared.refs++;
  let db: PGlite;
  try {
    db = await shared.db;
  } catch (error) {
    shared.refs--;
    throw error;
  }
  return new PGliteDriver(db, key, shared);
}

class PGliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  #closed = false;
  readonly #unlisteners = new Set<() => Promise<void>>();

  constructor(
    private readonly db: PGlite,
    private readonly key: string,
    private readonly shared: SharedDatabase,
  ) {}

  async query<T extends Row = Row>(text: string, params: unknown[] = []): Promise<T[]> {
    this.#checkOpen();
    return (await this.db.query<T>(text, params)).rows;
  }

  async transaction<T>(fn: (tx: SqlQueryable) => Promise<T>, _options?: TransactionOptions): Promise<T> {
    // PGlite runs one transaction at a time, so every transaction is already serialisable.
    this.#checkOpen();
    return this.db.transaction(async (tx) =>
      fn({ query: async <R extends Row = Row>(text: string, params: unknown[] = []) => (await tx.query<R>(text, params)).rows }),
    );
  }

  async listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>> {
    this.#checkOpen();
    const unlisten = await this.db.listen(channel, (payload) => handlers.onNotify(payload));
    const stop = async () => {
      if (!this.#unlisteners.delete(stop)) return;
      if (!this.db.closed) await unlisten().catch(() => undefined);
    };
    this.#unlisteners.add(stop);
    handlers.onReady();
    return stop;
  }

  isUnavailable(error: unknown): boolean {
    return this.#closed || this.db.closed || (error instanceof Error && /closed|aborted/i.test(error.message) && !('code' in error));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const stop of [...this.#unlisteners]) await stop();
    this.#closed = true;
    if (--this.shared.refs === 0 && open.get(this.key) === this.shared) {
      open.delete(this.key);
      await this.db.close();
      await this.shared.lock?.release();
    }
  }

  /** Records in the folder's lock where this process serves (see `EmbeddedStoreLock.advertise`). */
  async advertise(details: { url?: string; command?: string }): Promise<void> {
    await this.shared.lock?.advertise(details);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the database connection is closed');
  }
}
