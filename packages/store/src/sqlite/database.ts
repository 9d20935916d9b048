import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * SQLite through better-sqlite3: a file (or memory) database in this process, a few megabytes of native code where
 * PGlite's PostgreSQL takes over a hundred. Its calls are synchronous and short; what the stores do across `await`s
 * (an events write folds its batches between statements) runs under this class's lock, so two operations of this
 * process never interleave inside one transaction. Other processes on the same file wait on SQLite's own lock
 * (`busy_timeout`), and read a consistent snapshot meanwhile (WAL).
 */
const registry = new Map<string, SqliteDatabase>();
let anonymous = 0;

export class SqliteDatabase {
  readonly db: BetterSqlite3.Database;
  readonly location: string;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #refs = 1;

  private constructor(db: BetterSqlite3.Database, location: string) {
    this.db = db;
    this.location = location;
  }

  /**
   * `memory:` (a fresh database in memory), `memory:<name>` (shared by name in this process) or a file path, relative
   * to `cwd`; its folder is created when missing. Every store of this process on the same file shares one connection
   * (and so one lock queue), closed when the last of them closes: two connections in one process would wait on each
   * other's SQLite lock inside one thread, each blocking the very event loop the other needs to finish.
   */
  static open(location: string, cwd: string = process.cwd()): SqliteDatabase {
    const key = location === 'memory:' ? `memory:#${++anonymous}` : location.startsWith('memory:') ? location : resolve(cwd, location);
    const shared = registry.get(key);
    if (shared) {
      shared.#refs++;
      return shared;
    }
    // Loaded here, not at import: only processes that open a SQLite database load the native module.
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    const inMemory = key.startsWith('memory:');
    if (!inMemory) mkdirSync(dirname(key), { recursive: true });
    const db = new Database(inMemory ? ':memory:' : key);
    try {
      if (!inMemory) db.pragma('journal_mode = WAL');
      // WAL with NORMAL sync: a committed write survives a process crash; a power cut may lose the last moments.
      db.pragma('synchronous = NORMAL');
      // Another process holding the write lock: wait for it (this blocks this thread, so briefly).
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
    } catch (error) {
      db.close();
      throw error;
    }
    const database = new SqliteDatabase(db, key);
    registry.set(key, database);
    return database;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `fn` with the database to itself: after every operation queued before it, and before any queued after.
   * With `transaction`, inside `BEGIN IMMEDIATE … COMMIT` (rolled back when `fn` throws).
   */
  exclusive<T>(fn: (db: BetterSqlite3.Database) => T | Promise<T>, options: { transaction?: boolean } = {}): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.#closed) throw new Error('the SQLite database is closed');
      if (!options.transaction) return fn(this.db);
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.db);
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Lets go of this store's share; the last one waits for the queued operations, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed || --this.#refs > 0) return;
    await this.#queue;
    this.#closed = true;
    if (registry.get(this.location) === this) registry.delete(this.location);
    this.db.close();
  }
}
