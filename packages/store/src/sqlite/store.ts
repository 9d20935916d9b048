import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { FlagDefinition, Problem, SegmentDefinition } from '@vexil/core';
import { SEGMENTS_KEY } from '@vexil/core';
import { FlagNotFoundError, StoreConflictError, StoreUnavailableError, StoreValidationError } from '../errors.js';
import type {
  ApiKeyChange,
  ApiKeyRecord,
  ApiKeyStore,
  AssignmentStore,
  AuditPage,
  AuditQuery,
  ChangeEvent,
  FlagList,
  FlagSnapshotDocument,
  FlagStore,
  LeaseStore,
  StoredFlag,
  StoreIdentity,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { canonicalJson } from '../snapshot/canonical.js';
import { createSnapshot } from '../snapshot/snapshot.js';
import { assertWritableFlag, assertWritableSegments, readStoredSegments } from '../validation.js';
import { createCatalog, type StoreCatalog } from '../catalog/catalog.js';
import type { CatalogBackend } from '../catalog/types.js';
import {
  apiKeyRecordOf,
  auditPageOf,
  changeEventOf,
  checkApiKeyRecord,
  checkImport,
  checkTime,
  checkWriteOptions,
  decodeCursor,
  isStoreAnswer,
  planImport,
  type ApiKeyRowText,
  type AuditRowText,
  type PendingChange,
} from '../sql/records.js';
import { Wakers } from '../util/wakers.js';
import { StoredFlagReader, type FlagRowText } from '../sql/stored-flags.js';
import { EmbeddedStoreLock } from '../sql/embedded-lock.js';
import { SqliteDatabase } from './database.js';
import { migrateSqlite } from './migrations.js';
import { flagStoreMigrations, ROOT_PREFIX, scopePrefix } from './schema.js';
import { SqliteAssignmentStore, SqliteDocumentStore, SqliteLeaseStore } from './side-tables.js';
import { parseSqliteUrl } from './url.js';

export interface SqliteStoreOptions {
  /** Base directory for a relative database path (default: the process's working directory). */
  cwd?: string;
  /** Watchers re-read the change log at least this often (default 10 s), besides being woken by every write. */
  pollIntervalMs?: number;
}

/** Changes read per catch-up query. */
const CHANGE_BATCH = 500;

type AuditRow = AuditRowText & { revision: number; version: number; at: string };

/**
 * Wakes the watchers and key listeners of one database's tables in this process. One process owns an embedded store
 * (its folder's lock), so every write to it passes here: no other process can write behind its back.
 */
const channels = new Map<string, Set<(payload: string) => void>>();

function publish(channel: string, payload: string): void {
  for (const listener of [...(channels.get(channel) ?? [])]) listener(payload);
}

function subscribe(channel: string, listener: (payload: string) => void): () => void {
  let set = channels.get(channel);
  if (!set) channels.set(channel, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) channels.delete(channel);
  };
}

/** Folder locks of the database files open in this process, shared by every store on the same file. */
const locks = new Map<string, { lock: Promise<EmbeddedStoreLock>; refs: number }>();

async function holdLock(file: string): Promise<() => Promise<void>> {
  let entry = locks.get(file);
  if (!entry) {
    const lock = EmbeddedStoreLock.acquire(dirname(file));
    entry = { lock, refs: 0 };
    locks.set(file, entry);
    lock.catch(() => {
      if (locks.get(file) === entry) locks.delete(file);
    });
  }
  entry.refs++;
  const held = entry;
  try {
    await held.lock;
  } catch (error) {
    held.refs--;
    throw error;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--held.refs > 0) return;
    if (locks.get(file) === held) locks.delete(file);
    await (await held.lock).release();
  };
}

/**
 * The flag store in SQLite (`sqlite:<file>`, `sqlite:memory:`): the embedded default. The same contract as the SQL
 * store on PostgreSQL (sql/store.ts) with the same reader and checks (sql/records.ts, sql/stored-flags.ts), in tables
 * prefixed `vexil_` (an environment's: `vexil_e_<id>_`), so one file holds every environment and the events tables
 * beside them.
 *
 * Every write is one `BEGIN IMMEDIATE` transaction, run synchronously: bump the revision, check `expectedVersion`,
 * write the flag and its audit entry; watchers are woken once it has committed. The audit table is also the change
 * log that `watch()` reads by revision.
 */
export class SqliteFlagStore implements FlagStore {
  readonly kind = 'sqlite' as const;
  readonly writable = true;
  get instanceId(): string {
    return this.#instanceId;
  }
  readonly apiKeys?: ApiKeyStore;
  readonly leases: LeaseStore;
  readonly assignments: AssignmentStore;
  readonly catalog?: StoreCatalog;

  readonly #database: SqliteDatabase;
  readonly #prefix: string;
  readonly #options: SqliteStoreOptions;
  readonly #reader: StoredFlagReader;
  readonly #changes: string;
  readonly #keys: string;
  readonly #releaseLock: (() => Promise<void>) | undefined;
  readonly #root: SqliteFlagStore | undefined;
  #instanceId: string;
  #closed = false;
  readonly #wakers = new Wakers(() => this.#closed);
  #notified = 0;
  readonly #unsubscribe: () => void;
  #unsubscribeKeys: (() => void) | undefined;
  readonly #keyListeners = new Set<(change: ApiKeyChange) => void>();

  private constructor(
    database: SqliteDatabase,
    prefix: string,
    instanceId: string,
    options: SqliteStoreOptions,
    releaseLock: (() => Promise<void>) | undefined,
    root?: SqliteFlagStore,
  ) {
    this.#database = database;
    this.#prefix = prefix;
    this.#instanceId = instanceId;
    this.#options = options;
    this.#releaseLock = releaseLock;
    this.#root = root;
    this.#reader = new StoredFlagReader((key) => `sqlite ${prefix}flags["${key}"]`, `sqlite ${prefix}segments`);
    this.#changes = `${database.location}\u0000${prefix}changes`;
    this.#keys = `${database.location}\u0000${prefix}keys`;
    this.#unsubscribe = subscribe(this.#changes, (payload) => {
      const revision = Number(payload);
      if (revision > this.#notified) this.#notified = revision;
      this.#wakers.wake();
    });
    this.leases = root?.leases ?? new SqliteLeaseStore(database, `${ROOT_PREFIX}leases`);
    this.assignments = new SqliteAssignmentStore(database, `${prefix}assignments`);
    if (root) return;
    this.apiKeys = {
      list: () => this.#listApiKeys(),
      create: (record) => this.#createApiKey(record),
      revoke: (id, actor) => this.#revokeApiKey(id, actor),
      onChange: (listener) => this.#onKeyChange(listener),
    };
    const backend: CatalogBackend = {
      documents: new SqliteDocumentStore(database, `${prefix}documents`, (operation) => this.#run(operation)),
      openScope: (id) => this.#openScope(id),
      dropScope: (id) => this.#dropScope(id),
    };
    this.catalog = createCatalog(this, backend);
  }

  /** Opens `sqlite:<file>` or `sqlite:memory:`, creating or migrating the tables; a file's folder is locked to this process. */
  static async open(url: string, options: SqliteStoreOptions = {}): Promise<SqliteFlagStore> {
    const location = parseSqliteUrl(url);
    let database: SqliteDatabase | undefined;
    let release: (() => Promise<void>) | undefined;
    try {
      database = SqliteDatabase.open(location, options.cwd);
      if (!database.location.startsWith('memory:')) release = await holdLock(database.location);
      const instanceId = await SqliteFlagStore.#prepare(database, ROOT_PREFIX, true);
      return new SqliteFlagStore(database, ROOT_PREFIX, instanceId, options, release);
    } catch (error) {
      await database?.close().catch(() => undefined);
      await release?.();
      if (error instanceof Error && error.name === 'EmbeddedStoreLockedError') throw error;
      throw new StoreUnavailableError('sqlite', new Error(`${url}: ${(error as Error).message}`, { cause: error }));
    }
  }

  /** Migrates a prefix's tables and reads (or makes) its instance id. */
  static async #prepare(database: SqliteDatabase, prefix: string, root: boolean): Promise<string> {
    await migrateSqlite(database, prefix, flagStoreMigrations(prefix, root));
    return database.exclusive(
      (db) => {
        const read = () => db.prepare<[], { instance_id: string }>(`SELECT instance_id FROM ${prefix}instance WHERE id = 1`).get()?.instance_id;
        const id = read();
        if (id !== undefined) return id;
        db.prepare(`INSERT INTO ${prefix}instance (id, instance_id, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING`).run(randomUUID(), new Date().toISOString());
        return read()!;
      },
      { transaction: true },
    );
  }

  async #openScope(id: string): Promise<SqliteFlagStore> {
    const prefix = scopePrefix(id);
    return this.#run(async () => {
      const instanceId = await SqliteFlagStore.#prepare(this.#database, prefix, false);
      return new SqliteFlagStore(this.#database, prefix, instanceId, this.#options, undefined, this);
    });
  }

  async #dropScope(id: string): Promise<void> {
    const prefix = scopePrefix(id);
    await this.#run(() =>
      this.#database.exclusive(
        (db) => {
          const tables = db
            .prepare<[string, string], { name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, length(?)) = ?`)
            .all(prefix, prefix);
          for (const { name } of tables) db.exec(`DROP TABLE "${name}"`);
          db.prepare('DELETE FROM schema_migrations WHERE component = ?').run(prefix);
        },
        { transaction: true },
      ),
    );
  }

  // ---- reading ---------------------------------------------------------------------------------------------------

  async list(): Promise<FlagList> {
    return this.#run(async () => {
      const { revision, rows, segmentRows } = await this.#database.exclusive((db) => ({
        revision: db.prepare<[], { revision: number }>(`SELECT revision FROM ${this.#prefix}state WHERE id = 1`).get()?.revision ?? 0,
        rows: db.prepare<[], FlagRowText>(`SELECT key, definition, version, revision, updated_at, updated_by FROM ${this.#prefix}flags ORDER BY key`).all(),
        segmentRows: db.prepare<[], { name: string; definition: string }>(`SELECT name, definition FROM ${this.#prefix}segments ORDER BY name`).all(),
      }));
      const { segments, problems } = this.#reader.segments(segmentRows);
      const check = this.#reader.checker(segments, segmentRows);
      const flags: StoredFlag[] = [];
      for (const row of rows) {
        const result = this.#reader.flag(row, check);
        if (Array.isArray(result)) problems.push(...result);
        else flags.push(result);
      }
      this.#reader.keepOnly(rows);
      return { flags, segments, revision, problems };
    });
  }

  async get(key: string): Promise<StoredFlag | undefined> {
    return this.#run(async () => {
      const { row, segmentRows } = await this.#database.exclusive((db) => ({
        row: db.prepare<[string], FlagRowText>(`SELECT key, definition, version, revision, updated_at, updated_by FROM ${this.#prefix}flags WHERE key = ?`).get(key),
        segmentRows: db.prepare<[], { name: string; definition: string }>(`SELECT name, definition FROM ${this.#prefix}segments ORDER BY name`).all(),
      }));
      if (!row) return undefined;
      const { segments } = this.#reader.segments(segmentRows);
      const result = this.#reader.flag(row, this.#reader.checker(segments, segmentRows));
      return Array.isArray(result) ? undefined : result;
    });
  }

  // ---- writing ---------------------------------------------------------------------------------------------------

  async put(key: string, flag: FlagDefinition, options: WriteOptions): Promise<WriteResult> {
    checkWriteOptions(options);
    return this.#write((db) => {
      const revision = this.#bump(db, 1);
      const current = this.#current(db, key);
      assertWritableFlag(key, flag, this.#segments(db), 'sqlite store');
      const currentVersion = current ? current.version : 0;
      if (options.expectedVersion !== undefined && options.expectedVersion !== currentVersion)
        throw new StoreConflictError(key, options.expectedVersion, currentVersion);
      const version = (current ? currentVersion : this.#lastVersion(db, key)) + 1;
      this.#apply(db, [{ key, action: current ? 'update' : 'create', definition: flag, before: current?.definition ?? null, version, revision }], options);
      return { key, version, revision };
    });
  }

  async delete(key: string, options: WriteOptions): Promise<WriteResult> {
    checkWriteOptions(options);
    return this.#write((db) => {
      const revision = this.#bump(db, 1);
      const current = this.#current(db, key);
      if (!current) throw new FlagNotFoundError(key);
      if (options.expectedVersion !== undefined && options.expectedVersion !== current.version)
        throw new StoreConflictError(key, options.expectedVersion, current.version);
      const version = current.version + 1;
      this.#apply(db, [{ key, action: 'delete', definition: null, before: current.definition, version, revision }], options);
      return { key, version, revision };
    });
  }

  async putSegments(segments: Record<string, SegmentDefinition>, options: WriteOptions): Promise<{ revision: number }> {
    checkWriteOptions(options);
    const source = 'sqlite store';
    const normalized = assertWritableSegments(segments, source);
    return this.#write((db) => {
      const revision = this.#bump(db, 1);
      const currentVersion = this.#segmentsVersion(db);
      if (options.expectedVersion !== undefined && options.expectedVersion !== currentVersion)
        throw new StoreConflictError(SEGMENTS_KEY, options.expectedVersion, currentVersion);
      const problems: Problem[] = [];
      for (const row of db.prepare<[], { key: string; definition: string }>(`SELECT key, definition FROM ${this.#prefix}flags ORDER BY key`).all()) {
        try {
          assertWritableFlag(row.key, JSON.parse(row.definition), normalized, source);
        } catch (error) {
          if (error instanceof StoreValidationError) problems.push(...error.problems);
          else throw error;
        }
      }
      if (problems.length > 0) throw new StoreValidationError(problems);
      this.#replaceSegments(db, normalized, currentVersion + 1, revision, options);
      return { revision };
    });
  }

  /** Runs a write transaction; once it has committed, wakes this store's watchers (in every store object on the file). */
  async #write<T extends { revision: number }>(fn: (db: BetterSqlite3.Database) => T): Promise<T> {
    const result = await this.#run(() => this.#database.exclusive((db) => fn(db), { transaction: true }));
    publish(this.#changes, String(result.revision));
    return result;
  }

  /** Bumps the revision by `count`; returns the first new revision. */
  #bump(db: BetterSqlite3.Database, count: number): number {
    const row = db.prepare<[number], { revision: number }>(`UPDATE ${this.#prefix}state SET revision = revision + ? WHERE id = 1 RETURNING revision`).get(count);
    if (!row) throw new Error(`${this.#prefix}state has no revision row`);
    return row.revision - count + 1;
  }

  #current(db: BetterSqlite3.Database, key: string): { version: number; definition: string } | undefined {
    return db.prepare<[string], { version: number; definition: string }>(`SELECT version, definition FROM ${this.#prefix}flags WHERE key = ?`).get(key);
  }

  /** The stored segments as one JSON object, by name. */
  #segmentsRaw(db: BetterSqlite3.Database): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const row of db.prepare<[], { name: string; definition: string }>(`SELECT name, definition FROM ${this.#prefix}segments ORDER BY name`).all())
      raw[row.name] = JSON.parse(row.definition);
    return raw;
  }

  #segments(db: BetterSqlite3.Database): Record<string, SegmentDefinition> {
    return readStoredSegments(this.#segmentsRaw(db), `sqlite ${this.#prefix}segments`).segments;
  }

  #segmentsVersion(db: BetterSqlite3.Database): number {
    return db.prepare<[], { segments_version: number }>(`SELECT segments_version FROM ${this.#prefix}state WHERE id = 1`).get()?.segments_version ?? 0;
  }

  /**
   * The last version a key had, from the audit log (which keeps deleted flags' entries): a flag created again counts
   * on from there, so versions never repeat for a key.
   */
  #lastVersion(db: BetterSqlite3.Database, key: string): number {
    return (
      db.prepare<[string], { version: number | null }>(`SELECT max(version) AS version FROM ${this.#prefix}audit WHERE key = ? AND action <> 'segments'`).get(key)
        ?.version ?? 0
    );
  }

  #apply(db: BetterSqlite3.Database, changes: PendingChange[], options: WriteOptions): void {
    const at = new Date().toISOString();
    const upsert = db.prepare(
      `INSERT INTO ${this.#prefix}flags (key, definition, version, revision, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET definition = excluded.definition, version = excluded.version, revision = excluded.revision,
         updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    );
    const remove = db.prepare(`DELETE FROM ${this.#prefix}flags WHERE key = ?`);
    const audit = db.prepare(
      `INSERT INTO ${this.#prefix}audit (revision, key, action, actor, reason, at, before, after, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const change of changes) {
      const after = change.definition === null ? null : JSON.stringify(change.definition);
      if (change.action === 'delete') remove.run(change.key);
      else upsert.run(change.key, after, change.version, change.revision, at, options.actor);
      audit.run(change.revision, change.key, change.action, options.actor, options.reason ?? null, at, change.before, after, change.version);
    }
  }

  #replaceSegments(db: BetterSqlite3.Database, segments: Record<string, SegmentDefinition>, version: number, revision: number, options: WriteOptions): void {
    const before = JSON.stringify(this.#segmentsRaw(db));
    db.prepare(`DELETE FROM ${this.#prefix}segments`).run();
    const insert = db.prepare(`INSERT INTO ${this.#prefix}segments (name, definition, revision) VALUES (?, ?, ?)`);
    for (const [name, definition] of Object.entries(segments)) insert.run(name, JSON.stringify(definition), revision);
    db.prepare(`UPDATE ${this.#prefix}state SET segments_version = ? WHERE id = 1`).run(version);
    db.prepare(
      `INSERT INTO ${this.#prefix}audit (revision, key, action, actor, reason, at, before, after, version) VALUES (?, ?, 'segments', ?, ?, ?, ?, ?, ?)`,
    ).run(revision, SEGMENTS_KEY, options.actor, options.reason ?? null, new Date().toISOString(), before, JSON.stringify(segments), version);
  }

  // ---- change feed -----------------------------------------------------------------------------------------------

  watch(options: WatchOptions = {}): AsyncIterable<ChangeEvent> {
    return { [Symbol.asyncIterator]: () => this.#watch(options) };
  }

  async *#watch(options: WatchOptions): AsyncGenerator<ChangeEvent, void, undefined> {
    const { signal } = options;
    const alive = () => !this.#closed && !signal?.aborted;
    if (!alive()) return;
    let last =
      options.fromRevision ??
      (await this.#database.exclusive((db) => db.prepare<[], { revision: number }>(`SELECT revision FROM ${this.#prefix}state WHERE id = 1`).get()?.revision ?? 0));
    while (alive()) {
      let rows: AuditRow[];
      try {
        const after = last;
        rows = await this.#database.exclusive((db) =>
          db
            .prepare<[number, number], AuditRow>(
              `SELECT revision, key, action, actor, reason, at, before, after, version FROM ${this.#prefix}audit WHERE revision > ? ORDER BY revision LIMIT ?`,
            )
            .all(after, CHANGE_BATCH),
        );
      } catch {
        if (!alive()) return;
        await this.#wakers.wait(() => false, signal, 1000);
        continue;
      }
      for (const row of rows) {
        if (!alive()) return;
        yield changeEventOf(row);
        last = row.revision;
      }
      if (rows.length === CHANGE_BATCH) continue;
      const seen = last;
      await this.#wakers.wait(() => this.#notified > seen, signal, this.#options.pollIntervalMs ?? 10_000);
    }
  }

  // ---- API keys --------------------------------------------------------------------------------------------------

  async #listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = await this.#run(() =>
      this.#database.exclusive((db) =>
        db
          .prepare<[], ApiKeyRowText>(
            `SELECT id, name, kind, role, hash, prefix, created_at, created_by, revoked_at, project, environment, grants FROM ${this.#prefix}api_keys ORDER BY created_at, id`,
          )
          .all(),
      ),
    );
    return rows.map(apiKeyRecordOf);
  }

  async #createApiKey(record: ApiKeyRecord): Promise<void> {
    checkApiKeyRecord(record);
    const hash = record.hash.toLowerCase();
    await this.#run(() =>
      this.#database.exclusive((db) => {
        const inserted = db
          .prepare(
            `INSERT INTO ${this.#prefix}api_keys (id, name, kind, role, hash, prefix, created_at, created_by, revoked_at, project, environment, grants)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          )
          .run(
            record.id,
            record.name,
            record.kind,
            record.role,
            hash,
            record.prefix,
            new Date(record.createdAt).toISOString(),
            record.createdBy,
            record.revokedAt === undefined ? null : new Date(record.revokedAt).toISOString(),
            record.project ?? null,
            record.environment ?? null,
            record.grants === undefined ? null : JSON.stringify(record.grants),
          ).changes;
        if (inserted === 1) return;
        const id = db.prepare(`SELECT 1 FROM ${this.#prefix}api_keys WHERE id = ?`).get(record.id) !== undefined;
        throw new Error(id ? `an API key with id "${record.id}" already exists` : 'an API key with the same hash (the same secret) already exists');
      }),
    );
  }

  async #revokeApiKey(id: string, actor: string): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError('revoke: the key id must be a string');
    const changed = await this.#run(() =>
      this.#database.exclusive((db) => {
        const row = db.prepare<[string], { revoked_at: string | null }>(`SELECT revoked_at FROM ${this.#prefix}api_keys WHERE id = ?`).get(id);
        if (!row) return false;
        // Revoking again keeps the first time and actor.
        if (row.revoked_at === null)
          db.prepare(`UPDATE ${this.#prefix}api_keys SET revoked_at = ?, revoked_by = ? WHERE id = ?`).run(new Date().toISOString(), typeof actor === 'string' ? actor : null, id);
        return true;
      }),
    );
    if (changed) publish(this.#keys, JSON.stringify({ type: 'revoked', id }));
    return changed;
  }

  #onKeyChange(listener: (change: ApiKeyChange) => void): () => void {
    this.#keyListeners.add(listener);
    this.#unsubscribeKeys ??= subscribe(this.#keys, (payload) => {
      const value = JSON.parse(payload) as { id: string };
      for (const each of [...this.#keyListeners]) each({ type: 'revoked', id: value.id });
    });
    return () => void this.#keyListeners.delete(listener);
  }

  // ---- audit, snapshots, health ----------------------------------------------------------------------------------

  async audit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 500);
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (query.key !== undefined) {
      conditions.push('key = ?');
      params.push(query.key);
    }
    const since = checkTime(query.since, 'since');
    const until = checkTime(query.until, 'until');
    if (since) {
      conditions.push('at >= ?');
      params.push(since);
    }
    if (until) {
      conditions.push('at <= ?');
      params.push(until);
    }
    if (query.cursor) {
      conditions.push('revision < ?');
      params.push(decodeCursor(query.cursor));
    }
    const rows = await this.#run(() =>
      this.#database.exclusive((db) =>
        db
          .prepare<unknown[], AuditRow>(
            `SELECT revision, key, action, actor, reason, at, before, after, version FROM ${this.#prefix}audit
             ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY revision DESC LIMIT ${limit + 1}`,
          )
          .all(...params),
      ),
    );
    return auditPageOf(rows, limit);
  }

  async exportSnapshot(): Promise<FlagSnapshotDocument> {
    const { flags, segments, revision } = await this.list();
    return createSnapshot({ revision, flags, segments });
  }

  /**
   * Makes the store hold exactly the document's flags and segments, in one transaction; unchanged flags are left
   * alone (importing the same document twice changes nothing). Each change gets its own revision and audit entry.
   */
  async importSnapshot(doc: FlagSnapshotDocument, options: WriteOptions): Promise<{ revision: number }> {
    const { segments, writeOptions } = checkImport(doc, options, 'sqlite store import');
    return this.#write((db) => {
      const first = this.#bump(db, 0);
      let revision = first - 1;
      const segmentsChanged = canonicalJson(this.#segmentsRaw(db)) !== canonicalJson(segments);
      const segmentsRevision = segmentsChanged ? ++revision : 0;
      const current = new Map(
        db.prepare<[], { key: string; definition: string; version: number }>(`SELECT key, definition, version FROM ${this.#prefix}flags`).all().map((row) => [row.key, row]),
      );
      const lastVersions = new Map(Object.keys(doc.flags).filter((key) => !current.has(key)).map((key) => [key, this.#lastVersion(db, key)]));
      const planned = planImport(doc, current, lastVersions, revision);
      const changes = planned.changes;
      revision = planned.revision;
      if (revision < first) return { revision: first - 1 };
      db.prepare(`UPDATE ${this.#prefix}state SET revision = ? WHERE id = 1`).run(revision);
      if (segmentsChanged) this.#replaceSegments(db, segments, this.#segmentsVersion(db) + 1, segmentsRevision, writeOptions);
      this.#apply(db, changes, writeOptions);
      return { revision };
    });
  }

  async ping(): Promise<void> {
    await this.#run(() => this.#database.exclusive((db) => db.prepare('SELECT 1').get()));
  }

  async identity(): Promise<StoreIdentity> {
    const row = await this.#run(() =>
      this.#database.exclusive((db) =>
        db
          .prepare<[], { instance_id: string | null; revision: number | null }>(
            `SELECT (SELECT instance_id FROM ${this.#prefix}instance WHERE id = 1) AS instance_id, (SELECT revision FROM ${this.#prefix}state WHERE id = 1) AS revision`,
          )
          .get(),
      ),
    );
    if (typeof row?.instance_id === 'string') this.#instanceId = row.instance_id;
    return { instanceId: row?.instance_id ?? undefined, revision: row?.revision ?? 0 };
  }

  async advertise(details: { url?: string; command?: string }): Promise<void> {
    const entry = locks.get(this.#database.location);
    if (entry) await (await entry.lock).advertise(details);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakers.wake();
    this.#unsubscribe();
    this.#unsubscribeKeys?.();
    await this.catalog?.close();
    // An environment's store shares its root's share of the database.
    if (this.#root) return;
    await this.#database.close();
    await this.#releaseLock?.();
  }

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError(this.kind, new Error('the store is closed'));
    try {
      return await operation();
    } catch (error) {
      if (isStoreAnswer(error)) throw error;
      if (this.#closed || this.#database.closed) throw new StoreUnavailableError(this.kind, error);
      throw error;
    }
  }
}
