import { spawn } from 'node:child_process';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
  initdbWasmModule?: WasmModule;
}

/** The global WebAssembly API (this package's TypeScript settings leave the DOM types out). */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

const compiled = new Map<string, Promise<WasmModule | undefined>>();

/** One of PGlite's WebAssembly modules, compiled once per process; undefined (PGlite loads its own) if not found. */
function compiledModule(name: 'pglite.wasm' | 'initdb.wasm'): Promise<WasmModule | undefined> {
  let module = compiled.get(name);
  if (!module) {
    module = (async () => {
      try {
        return await wasm.compile(await readFile(new URL(`./${name}`, import.meta.resolve('@electric-sql/pglite'))));
      } catch {
        return undefined;
      }
    })();
    compiled.set(name, module);
  }
  return module;
}

/**
 * PGlite's WebAssembly, compiled once per process. Left to itself, PGlite compiles its 9 MB engine for every database
 * it opens: each compilation leaves tens of megabytes of compiler memory in the process. The `initdb` module is
 * compiled only for a database that needs it (in memory; a new folder is made in another process, see below).
 */
async function compiledPGlite(withInitdb: boolean): Promise<CompiledPGlite | undefined> {
  const [pgliteWasmModule, initdbWasmModule] = await Promise.all([compiledModule('pglite.wasm'), withInitdb ? compiledModule('initdb.wasm') : undefined]);
  if (!pgliteWasmModule) return undefined;
  return { pgliteWasmModule, ...(initdbWasmModule ? { initdbWasmModule } : {}) };
}

async function pgliteOptions(dataDir: string | undefined, withInitdb: boolean): Promise<PGliteOptions> {
  const startParams = [...PGlite.defaultStartParams, ...PGLITE_MEMORY_SETTINGS.flatMap((setting) => ['-c', setting])];
  const modules = await compiledPGlite(withInitdb);
  return { ...(dataDir ? { dataDir } : {}), startParams, ...(modules ?? {}) };
}

/** True when `dataDir` holds a PostgreSQL database already (`initdb` ran there). */
async function isDatabaseFolder(dataDir: string): Promise<boolean> {
  try {
    await access(join(dataDir, 'PG_VERSION'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a new database folder in a short-lived child process. PGlite's `initdb` step leaves well over 100 MB in the
 * process that runs it, which neither closing the database nor collecting garbage gives back (a worker thread keeps
 * it too): made elsewhere, the folder is then opened here like any existing one, and a first `vexil serve` idles about
 * 100 MB lower (bench/server.bench.ts prints it). Resolves false when the child could not do it (the caller then runs
 * `initdb` here).
 */
function initialiseInChildProcess(dataDir: string): Promise<boolean> {
  const script = `const { PGlite } = await import(${JSON.stringify(import.meta.resolve('@electric-sql/pglite'))});
const db = await PGlite.create({ dataDir: ${JSON.stringify(dataDir)} });
await db.close();`;
  return new Promise((done) => {
    try {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore', env: process.env });
      child.once('error', () => done(false));
      child.once('exit', (code) => done(code === 0));
    } catch {
      done(false);
    }
  });
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
      if (!dataDir) return PGlite.create(await pgliteOptions(undefined, true));
      await mkdir(dataDir, { recursive: true });
      // One process per folder: take the lock before PGlite touches the files.
      entry.lock = await EmbeddedStoreLock.acquire(dataDir);
      try {
        // The engine compiles here meanwhile (the child takes the other core).
        void compiledModule('pglite.wasm');
        const made = (await isDatabaseFolder(dataDir)) || (await initialiseInChildProcess(dataDir));
        return await PGlite.create(await pgliteOptions(dataDir, !made));
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
