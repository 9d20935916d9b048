import type { FlagDefinition, Problem, SegmentDefinition } from '@vexil/core';
import { SEGMENTS_KEY } from '@vexil/core';
import { FlagNotFoundError, StoreConflictError, StoreUnavailableError, StoreValidationError } from '../errors.js';
import type {
  ApiKeyChange,
  ApiKeyRecord,
  ApiKeyStore,
  AuditPage,
  AuditQuery,
  ChangeEvent,
  FlagList,
  FlagSnapshotDocument,
  FlagStore,
  StoredFlag,
  StoreIdentity,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { canonicalJson } from '../snapshot/canonical.js';
import { createSnapshot } from '../snapshot/snapshot.js';
import {
  assertWritableFlag,
  assertWritableSegments,
  readStoredSegments,
} from '../validation.js';
import { createHash } from 'node:crypto';
import { createCatalog, type StoreCatalog } from '../catalog/catalog.js';
import type { CatalogBackend } from '../catalog/types.js';
import type { Row, SqlDriver, SqlQueryable } from './driver.js';
import { SqlDocumentStore } from './documents.js';
import { migrate, SCOPE_MIGRATIONS } from './migrations.js';
import { openPGliteDriver } from './pglite-driver.js';
import { SqlLeaseStore } from './leases.js';
import type { AssignmentStore, LeaseStore } from '../types.js';
import { SqlAssignmentStore } from './assignments.js';
import { openPostgresDriver, type PostgresDriverOptions } from './postgres-driver.js';
import { parseSqlUrl, redact } from './url.js';
import { StoredFlagReader, type FlagRowText } from './stored-flags.js';
import {
  apiKeyRecordOf,
  auditPageOf,
  changeEventOf,
  checkApiKeyRecord,
  checkImport,
  checkTime,
  checkWriteOptions,
  decodeCursor,
  int,
  isStoreAnswer,
  planImport,
  type ApiKeyRowText,
  type AuditRowText,
  type PendingChange,
} from './records.js';
import { Wakers } from '../util/wakers.js';

export interface SqlStoreOptions extends PostgresDriverOptions {
  /** Schema holding the tables (default `vexil`, or `?schema=` in the URL). Lower-case letters, digits and `_`. */
  schema?: string;
  /**
   * Watchers re-read the change log at least this often (default 10 s), even with no notification: a safety net
   * under LISTEN/NOTIFY, which already wakes them within milliseconds.
   */
  pollIntervalMs?: number;
  /** Base directory for a relative PGlite data directory (default: the process's working directory). */
  cwd?: string;
}

const DEFAULT_SCHEMA = 'vexil';
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,47}$/;
/** Changes read per catch-up query. */
const CHANGE_BATCH = 500;

/** Environment ids as the catalog makes them (a schema-name suffix). */
const SCOPE_ID_PATTERN = /^[a-z0-9]{1,12}$/;

/**
 * The NOTIFY channel of a schema's changes. PostgreSQL refuses channel names of 64 bytes or more: an environment's
 * schema (`<schema>_e_<id>`) under a long root schema name gets a hashed channel name instead.
 */
function changeChannel(schema: string): string {
  const plain = `${schema}_changes`;
  return plain.length <= 63 ? plain : `vexil_${createHash('sha256').update(schema).digest('hex').slice(0, 32)}_changes`;
}

/**
 * The schema's instance id (see `SqlFlagStore.instanceId`). Migration 3 creates it with the schema, under the
 * migration lock, so stores opening a fresh schema at the same moment all read the one id. Should the row have been
 * deleted by hand, a new one is created: `ON CONFLICT DO NOTHING` and the second read make every store that finds it
 * missing at the same moment agree on whichever insert won.
 */
async function readInstanceId(driver: SqlDriver, schema: string): Promise<string> {
  const table = `"${schema}".instance`;
  const read = async () =>
    (await driver.query<{ instance_id: string }>(`SELECT instance_id FROM ${table} WHERE id = 1`))[0]?.instance_id;
  let id = await read();
  if (id === undefined) {
    await driver.query(`INSERT INTO ${table} (id, instance_id) VALUES (1, gen_random_uuid()::text) ON CONFLICT (id) DO NOTHING`);
    id = await read();
  }
  if (typeof id !== 'string') throw new Error(`${table} holds no instance id`);
  return id;
}

/**
 * The SQL flag store: one implementation, the same schema and queries, over two drivers — PGlite (embedded, the
 * default) and PostgreSQL.
 *
 * Every write is one transaction that first bumps the store revision (the row lock on the revision counter
 * serialises writers, so revisions commit in order with no gaps), then checks `expectedVersion`, writes the flag,
 * appends an audit entry and NOTIFYs the new revision. The audit table doubles as the change log: `watch()` reads
 * it by revision, first to catch up, then again whenever a notification (or a reconnection) says there is more.
 *
 * API keys (`apiKeys`) live in their own table, outside the revision and the audit log: see `apiKeys`.
 */
export class SqlFlagStore implements FlagStore {
  readonly writable = true;
  readonly kind: 'pglite' | 'postgres';
  readonly schema: string;
  /**
   * The schema's random id (the one-row table `instance`, created by migration 3 together with the schema): the same
   * for every store opened on this schema, new when the schema is dropped and created again. Read at open, and again
   * by every `identity()`.
   */
  get instanceId(): string {
    return this.#instanceId;
  }
  #instanceId: string;
  /**
   * API keys shared by every server on this database (the table `api_keys`; hashes of secrets only). Creating or
   * revoking a key does not bump the store revision and is not written to the audit log: that log is also the change
   * log every watcher replays as flag events, and its entries are flag changes (`before`/`after` flag definitions),
   * so a key entry there would reach SDKs as a bogus flag change. The key's row keeps its own trail instead:
   * `created_at`/`created_by`, and `revoked_at`/`revoked_by` (rows are never deleted).
   */
  readonly apiKeys?: ApiKeyStore;
  /** Leases timed by the database's clock (`sql/leases.ts`): leader election for the rollout controller. */
  readonly leases: LeaseStore;
  /** Sticky experiment assignments of this environment, in its own schema (`sql/assignments.ts`). */
  readonly assignments: AssignmentStore;
  /**
   * Projects × environments (root stores only): this store is default/default; every other environment is a
   * `SqlFlagStore` over the schema `<schema>_e_<id>` on this store's connection (the same PGlite database, the same
   * PostgreSQL pool and LISTEN connection), with no API keys and no catalog of its own.
   */
  readonly catalog?: StoreCatalog;

  readonly #driver: SqlDriver;
  /** Root stores own their driver; an environment's store borrows its root's and never closes it. */
  readonly #ownsDriver: boolean;
  readonly #options: SqlStoreOptions;
  readonly #s: string;
  readonly #channel: string;
  readonly #pollIntervalMs: number;
  #closed = false;
  #listening: Promise<void> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  /** Highest revision announced by a notification. */
  #notified = 0;
  /** Bumped whenever the notification channel is (re)established: changes may have been missed before it. */
  #subscriptions = 0;
  readonly #wakers = new Wakers(() => this.#closed);
  readonly #keyListeners = new Set<(change: ApiKeyChange) => void>();
  #keyListening: Promise<void> | undefined;
  #keyUnlisten: (() => Promise<void>) | undefined;
  readonly #reader: StoredFlagReader;

  private constructor(driver: SqlDriver, schema: string, instanceId: string, options: SqlStoreOptions, root?: SqlFlagStore) {
    this.#driver = driver;
    this.#ownsDriver = root === undefined;
    this.#options = options;
    this.kind = driver.kind;
    this.schema = schema;
    this.#instanceId = instanceId;
    this.#s = `"${schema}"`;
    this.#channel = changeChannel(schema);
    this.#pollIntervalMs = options.pollIntervalMs ?? 10_000;
    this.#reader = new StoredFlagReader((key) => this.#source(key), `${driver.kind} ${schema}.segments`);
    this.leases = root?.leases ?? new SqlLeaseStore(driver, this.#s);
    this.assignments = new SqlAssignmentStore(driver, this.#s);
    if (root) return;
    this.apiKeys = {
      list: () => this.#listApiKeys(),
      create: (record) => this.#createApiKey(record),
      revoke: (id, actor) => this.#revokeApiKey(id, actor),
      onChange: (listener) => this.#onKeyChange(listener),
    };
    const backend: CatalogBackend = {
      documents: new SqlDocumentStore(driver, this.#s, (operation) => this.#run(operation)),
      openScope: (id) => this.#openScope(id),
      dropScope: (id) => this.#dropScope(id),
    };
    this.catalog = createCatalog(this, backend);
  }

  /** The schema of environment `id`: a sibling of this store's schema. */
  #scopeSchema(id: string): string {
    if (typeof id !== 'string' || !SCOPE_ID_PATTERN.test(id))
      throw new TypeError(`invalid environment id ${JSON.stringify(id)}: lower-case letters and digits, at most 12`);
    return `${this.schema}_e_${id}`;
  }

  /** An environment's store on this store's driver, its schema created (or migrated) first. */
  async #openScope(id: string): Promise<SqlFlagStore> {
    const schema = this.#scopeSchema(id);
    return this.#run(async () => {
      await migrate(this.#driver, schema, SCOPE_MIGRATIONS);
      const instanceId = await readInstanceId(this.#driver, schema);
      return new SqlFlagStore(this.#driver, schema, instanceId, this.#options, this);
    });
  }

  async #dropScope(id: string): Promise<void> {
    const schema = this.#scopeSchema(id);
    await this.#run(() => this.#driver.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  }

  /** Opens `pglite:…` or `postgres://…`, creating or migrating the schema. */
  static async open(url: string, options: SqlStoreOptions = {}): Promise<SqlFlagStore> {
    const location = parseSqlUrl(url);
    const schema = options.schema ?? location.schema ?? DEFAULT_SCHEMA;
    if (!SCHEMA_PATTERN.test(schema))
      throw new TypeError(`invalid schema name "${schema}": lower-case letters, digits and _, at most 48 characters`);
    const kind = location.driver;
    let driver: SqlDriver | undefined;
    try {
      driver =
        location.driver === 'pglite'
          ? await openPGliteDriver({ location: location.location, ...(options.cwd ? { cwd: options.cwd } : {}) })
          : openPostgresDriver(location.url, options);
      await migrate(driver, schema);
      const instanceId = await readInstanceId(driver, schema);
      return new SqlFlagStore(driver, schema, instanceId, options);
    } catch (error) {
      await driver?.close().catch(() => undefined);
      if (driver?.isUnavailable(error))
        throw new StoreUnavailableError(kind, new Error(`${redact(url)}: ${(error as Error).message}`, { cause: error }));
      throw error;
    }
  }

  /** Where problems in stored data come from, for messages. */
  #source(key: string): string {
    return `${this.kind} ${this.schema}.flags["${key}"]`;
  }

  // ---- reading ---------------------------------------------------------------------------------------------------

  async list(): Promise<FlagList> {
    return this.#run(async () => {
      const [state, rows, segmentRows] = await this.#driver.transaction(
        async (tx) => [
          await tx.query<{ revision: string }>(`SELECT revision FROM ${this.#s}.state WHERE id = 1`),
          await tx.query<FlagRowText & Row>(
            `SELECT key, definition::text AS definition, version, revision, updated_at, updated_by FROM ${this.#s}.flags ORDER BY key COLLATE "C"`,
          ),
          await tx.query<{ name: string; definition: string }>(
            `SELECT name, definition::text AS definition FROM ${this.#s}.segments ORDER BY name COLLATE "C"`,
          ),
        ],
        { readOnly: true },
      );
      const { segments, problems } = this.#reader.segments(segmentRows);
      const check = this.#reader.checker(segments, segmentRows);
      const flags: StoredFlag[] = [];
      for (const row of rows) {
        const result = this.#reader.flag(row, check);
        if (Array.isArray(result)) problems.push(...result);
        else flags.push(result);
      }
      this.#reader.keepOnly(rows);
      return { flags, segments, revision: int(state[0]?.revision ?? 0), problems };
    });
  }

  async get(key: string): Promise<StoredFlag | undefined> {
    return this.#run(async () => {
      const [rows, segmentRows] = await Promise.all([
        this.#driver.query<FlagRowText & Row>(
          `SELECT key, definition::text AS definition, version, revision, updated_at, updated_by FROM ${this.#s}.flags WHERE key = $1::text`,
          [key],
        ),
        this.#driver.query<{ name: string; definition: string }>(
          `SELECT name, definition::text AS definition FROM ${this.#s}.segments ORDER BY name COLLATE "C"`,
        ),
      ]);
      if (!rows[0]) return undefined;
      const { segments } = this.#reader.segments(segmentRows);
      const result = this.#reader.flag(rows[0], this.#reader.checker(segments, segmentRows));
      // A malformed stored flag is skipped here as in list(), where its problems are reported.
      return Array.isArray(result) ? undefined : result;
    });
  }

  // ---- writing ---------------------------------------------------------------------------------------------------

  async put(key: string, flag: FlagDefinition, options: WriteOptions): Promise<WriteResult> {
    checkWriteOptions(options);
    return this.#run(() =>
      this.#driver.transaction(async (tx) => {
        const revision = await this.#bump(tx, 1);
        const { current, segments } = await this.#current(tx, key);
        assertWritableFlag(key, flag, segments, `${this.kind} store`);
        const currentVersion = current ? current.version : 0;
        if (options.expectedVersion !== undefined && options.expectedVersion !== currentVersion)
          throw new StoreConflictError(key, options.expectedVersion, currentVersion);
        const change: PendingChange = {
          key,
          action: current ? 'update' : 'create',
          definition: flag,
          before: current ? current.definition : null,
          version: (current ? currentVersion : await this.#lastVersions(tx, [key]).then((last) => last.get(key) ?? 0)) + 1,
          revision,
        };
        await this.#apply(tx, [change], options, revision);
        return { key, version: change.version, revision };
      }),
    );
  }

  async delete(key: string, options: WriteOptions): Promise<WriteResult> {
    checkWriteOptions(options);
    return this.#run(() =>
      this.#driver.transaction(async (tx) => {
        const revision = await this.#bump(tx, 1);
        const { current } = await this.#current(tx, key);
        if (!current) throw new FlagNotFoundError(key);
        if (options.expectedVersion !== undefined && options.expectedVersion !== current.version)
          throw new StoreConflictError(key, options.expectedVersion, current.version);
        const change: PendingChange = {
          key,
          action: 'delete',
          definition: null,
          before: current.definition,
          version: current.version + 1,
          revision,
        };
        await this.#apply(tx, [change], options, revision);
        return { key, version: change.version, revision };
      }),
    );
  }

  /**
   * Replaces the whole segment set. `expectedVersion` compares with the segment set's own version. Every stored flag
   * is validated against the new segments first: removing a segment a flag still uses is rejected.
   */
  async putSegments(segments: Record<string, SegmentDefinition>, options: WriteOptions): Promise<{ revision: number }> {
    checkWriteOptions(options);
    const source = `${this.kind} store`;
    const normalized = assertWritableSegments(segments, source);
    return this.#run(() =>
      this.#driver.transaction(async (tx) => {
        const revision = await this.#bump(tx, 1);
        const [state] = await tx.query<{ segments_version: number; segments: string | null }>(
          `SELECT segments_version, (SELECT jsonb_object_agg(name, definition) FROM ${this.#s}.segments)::text AS segments
           FROM ${this.#s}.state WHERE id = 1`,
        );
        const currentVersion = int(state?.segments_version ?? 0);
        if (options.expectedVersion !== undefined && options.expectedVersion !== currentVersion)
          throw new StoreConflictError(SEGMENTS_KEY, options.expectedVersion, currentVersion);
        const rows = await tx.query<{ key: string; definition: string }>(
          `SELECT key, definition::text AS definition FROM ${this.#s}.flags ORDER BY key COLLATE "C"`,
        );
        const problems: Problem[] = [];
        for (const row of rows) {
          try {
            assertWritableFlag(row.key, JSON.parse(row.definition), normalized, source);
          } catch (error) {
            if (error instanceof StoreValidationError) problems.push(...error.problems);
            else throw error;
          }
        }
        if (problems.length > 0) throw new StoreValidationError(problems);
        await this.#replaceSegments(tx, normalized, state?.segments ?? '{}', currentVersion + 1, revision, options);
        await this.#notify(tx, revision);
        return { revision };
      }),
    );
  }

  /** Bumps the store revision by `count` (taking the lock that serialises writers); returns the first new revision. */
  async #bump(tx: SqlQueryable, count: number): Promise<number> {
    const [row] = await tx.query<{ revision: string }>(
      `UPDATE ${this.#s}.state SET revision = revision + $1::int WHERE id = 1 RETURNING revision`,
      [count],
    );
    if (!row) throw new Error(`${this.schema}.state has no revision row`);
    return int(row.revision) - count + 1;
  }

  /**
   * The last version each key had, from the audit log (which keeps deleted flags' last entries): a flag created again
   * counts on from there, so versions never repeat for a key and a stale `expectedVersion` of a deleted flag is a
   * conflict, never an overwrite of the new flag.
   */
  async #lastVersions(tx: SqlQueryable, keys: string[]): Promise<Map<string, number>> {
    if (keys.length === 0) return new Map();
    const rows = await tx.query<{ key: string; version: number | string }>(
      `SELECT key, max(version) AS version FROM ${this.#s}.audit WHERE key IN (SELECT jsonb_array_elements_text($1::text::jsonb)) AND action <> 'segments' GROUP BY key`,
      [JSON.stringify(keys)],
    );
    return new Map(rows.map((row) => [row.key, int(row.version)]));
  }

  /** The flag as stored now (read after taking the write lock), with the segments to validate against. */
  async #current(
    tx: SqlQueryable,
    key: string,
  ): Promise<{ current: { version: number; definition: string } | undefined; segments: Record<string, SegmentDefinition> }> {
    const [row] = await tx.query<{ version: number | null; definition: string | null; segments: string | null }>(
      `SELECT f.version, f.definition::text AS definition,
              (SELECT jsonb_object_agg(name, definition) FROM ${this.#s}.segments)::text AS segments
       FROM (SELECT 1) AS one LEFT JOIN ${this.#s}.flags AS f ON f.key = $1::text`,
      [key],
    );
    const segments = row?.segments
      ? readStoredSegments(JSON.parse(row.segments) as Record<string, unknown>, `${this.kind} ${this.schema}.segments`).segments
      : {};
    const current =
      row && row.version !== null && row.definition !== null ? { version: int(row.version), definition: row.definition } : undefined;
    return { current, segments };
  }

  /** Writes flag changes and their audit entries in two statements, then notifies `notifyRevision`. */
  async #apply(tx: SqlQueryable, changes: PendingChange[], options: WriteOptions, notifyRevision: number): Promise<void> {
    if (changes.length > 0) {
      const input = JSON.stringify(
        changes.map((c) => ({ key: c.key, action: c.action, definition: c.definition, before: c.before === null ? null : JSON.parse(c.before), version: c.version, revision: c.revision })),
      );
      await tx.query(
        `WITH input AS (
           SELECT e->>'key' AS key, e->>'action' AS action, e->'definition' AS definition, e->'before' AS before,
                  (e->>'version')::int AS version, (e->>'revision')::bigint AS revision
           FROM jsonb_array_elements($1::text::jsonb) AS e
         ),
         upserted AS (
           INSERT INTO ${this.#s}.flags AS f (key, definition, version, revision, updated_at, updated_by)
           SELECT key, definition, version, revision, date_trunc('milliseconds', now()), $2::text FROM input WHERE action <> 'delete'
           ON CONFLICT (key) DO UPDATE SET definition = EXCLUDED.definition, version = EXCLUDED.version,
             revision = EXCLUDED.revision, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
           RETURNING f.key
         ),
         deleted AS (
           DELETE FROM ${this.#s}.flags WHERE key IN (SELECT key FROM input WHERE action = 'delete') RETURNING key
         )
         INSERT INTO ${this.#s}.audit (revision, key, action, actor, reason, at, before, after, version)
         SELECT revision, key, action, $2::text, $3::text, date_trunc('milliseconds', now()),
                CASE WHEN jsonb_typeof(before) = 'null' THEN NULL ELSE before END,
                CASE WHEN jsonb_typeof(definition) = 'null' THEN NULL ELSE definition END, version
         FROM input`,
        [input, options.actor, options.reason ?? null],
      );
    }
    await this.#notify(tx, notifyRevision);
  }

  async #replaceSegments(
    tx: SqlQueryable,
    segments: Record<string, SegmentDefinition>,
    before: string,
    version: number,
    revision: number,
    options: WriteOptions,
  ): Promise<void> {
    const after = JSON.stringify(segments);
    await tx.query(`DELETE FROM ${this.#s}.segments`);
    await tx.query(
      `INSERT INTO ${this.#s}.segments (name, definition, revision) SELECT key, value, $2::bigint FROM jsonb_each($1::text::jsonb)`,
      [after, revision],
    );
    await tx.query(`UPDATE ${this.#s}.state SET segments_version = $1::int WHERE id = 1`, [version]);
    await tx.query(
      `INSERT INTO ${this.#s}.audit (revision, key, action, actor, reason, at, before, after, version)
       VALUES ($1::bigint, $2::text, 'segments', $3::text, $4::text, date_trunc('milliseconds', now()), $5::text::jsonb, $6::text::jsonb, $7::int)`,
      [revision, SEGMENTS_KEY, options.actor, options.reason ?? null, before, after, version],
    );
  }

  async #notify(tx: SqlQueryable, revision: number): Promise<void> {
    await tx.query(`SELECT pg_notify($1::text, $2::text)`, [this.#channel, String(revision)]);
  }

  // ---- change feed -----------------------------------------------------------------------------------------------

  watch(options: WatchOptions = {}): AsyncIterable<ChangeEvent> {
    return { [Symbol.asyncIterator]: () => this.#watch(options) };
  }

  async *#watch(options: WatchOptions): AsyncGenerator<ChangeEvent, void, undefined> {
    const { signal } = options;
    const alive = () => !this.#closed && !signal?.aborted;
    if (!alive()) return;
    // Subscribe before reading, so that nothing committed after the read can be missed.
    await this.#listen();
    let failures = 0;
    let last = options.fromRevision;
    while (last === undefined) {
      try {
        const [row] = await this.#driver.query<{ revision: string }>(`SELECT revision FROM ${this.#s}.state WHERE id = 1`);
        last = int(row?.revision ?? 0);
      } catch {
        if (!alive()) return;
        await this.#wakers.wait(() => false, signal, Math.min(50 * 2 ** failures++, 2000));
      }
    }
    while (alive()) {
      const subscriptions = this.#subscriptions;
      let rows: AuditRowText[];
      try {
        rows = await this.#driver.query<AuditRowText & Row>(
          `SELECT revision, key, action, actor, at, after::text AS after, version
           FROM ${this.#s}.audit WHERE revision > $1::bigint ORDER BY revision LIMIT ${CHANGE_BATCH}`,
          [last],
        );
        failures = 0;
      } catch {
        // The backend is unreachable: keep trying (the iterator only ends on close or abort).
        if (!alive()) return;
        await this.#wakers.wait(() => false, signal, Math.min(50 * 2 ** failures++, 2000));
        continue;
      }
      for (const row of rows) {
        if (!alive()) return;
        yield changeEventOf(row);
        last = int(row.revision);
      }
      if (rows.length === CHANGE_BATCH) continue;
      const seen = last;
      await this.#wakers.wait(() => this.#notified > seen || this.#subscriptions !== subscriptions, signal, this.#pollIntervalMs);
    }
  }

  #listen(): Promise<void> {
    this.#listening ??= this.#driver
      .listen(this.#channel, {
        onNotify: (payload) => {
          const revision = Number(payload);
          if (revision > this.#notified) this.#notified = revision;
          this.#wakers.wake();
        },
        onReady: () => {
          this.#subscriptions++;
          this.#wakers.wake();
        },
      })
      .then(
        (unlisten) => {
          if (this.#closed) void unlisten().catch(() => undefined);
          else this.#unlisten = unlisten;
        },
        () => {
          // Could not subscribe: watchers still poll; the next watch() tries again.
          this.#listening = undefined;
        },
      );
    return this.#listening;
  }

  // ---- API keys --------------------------------------------------------------------------------------------------

  /** Every key, revoked ones included, oldest first. */
  async #listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = await this.#run(() =>
      this.#driver.query<ApiKeyRowText & Row>(
        `SELECT id, name, kind, role, hash, prefix, created_at, created_by, revoked_at, project, environment, grants::text AS grants
         FROM ${this.#s}.api_keys ORDER BY created_at, id COLLATE "C"`,
      ),
    );
    return rows.map(apiKeyRecordOf);
  }

  /** Adds a key. Rejects (and changes nothing) when a key with the same id or the same hash exists. */
  async #createApiKey(record: ApiKeyRecord): Promise<void> {
    checkApiKeyRecord(record);
    // Hex is case-insensitive: store it in lower case, so one secret can never be stored twice.
    const hash = record.hash.toLowerCase();
    await this.#run(async () => {
      const inserted = await this.#driver.query(
        `INSERT INTO ${this.#s}.api_keys (id, name, kind, role, hash, prefix, created_at, created_by, revoked_at, project, environment, grants)
         VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::timestamptz, $8::text, $9::timestamptz, $10::text, $11::text, $12::text::jsonb)
         ON CONFLICT DO NOTHING RETURNING id`,
        [
          record.id,
          record.name,
          record.kind,
          record.role,
          hash,
          record.prefix,
          record.createdAt,
          record.createdBy,
          record.revokedAt ?? null,
          record.project ?? null,
          record.environment ?? null,
          record.grants === undefined ? null : JSON.stringify(record.grants),
        ],
      );
      if (inserted.length === 1) return;
      // A unique constraint stopped it. Rows are never deleted, so the one in the way is still there.
      const [taken] = await this.#driver.query<{ id: boolean; hash: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM ${this.#s}.api_keys WHERE id = $1::text) AS id,
                EXISTS (SELECT 1 FROM ${this.#s}.api_keys WHERE hash = $2::text) AS hash`,
        [record.id, hash],
      );
      throw new Error(
        taken?.id
          ? `an API key with id "${record.id}" already exists`
          : taken?.hash
            ? `an API key with the same hash (the same secret) already exists`
            : `an API key with id "${record.id}" or the same hash already exists`,
      );
    });
  }

  /**
   * Marks the key revoked, once: revoking it again keeps the first time and actor. False when there is no such key.
   * The revocation is announced in the same transaction (NOTIFY on `<schema>_keys`), so every server hears of it once
   * it is committed.
   */
  async #revokeApiKey(id: string, actor: string): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError('revoke: the key id must be a string');
    const rows = await this.#run(() =>
      this.#driver.transaction(async (tx) => {
        const updated = await tx.query(
          `UPDATE ${this.#s}.api_keys
           SET revoked_at = COALESCE(revoked_at, date_trunc('milliseconds', now())),
               revoked_by = CASE WHEN revoked_at IS NULL THEN $2::text ELSE revoked_by END
           WHERE id = $1::text RETURNING id`,
          [id, typeof actor === 'string' ? actor : null],
        );
        if (updated.length > 0)
          await tx.query(`SELECT pg_notify($1::text, $2::text)`, [this.#keyChannel, JSON.stringify({ type: 'revoked', id })]);
        return updated;
      }),
    );
    return rows.length > 0;
  }

  get #keyChannel(): string {
    return `${this.schema}_keys`;
  }

  /** Key changes announced by any process (see `ApiKeyStore.onChange`), over one LISTEN shared by every listener. */
  #onKeyChange(listener: (change: ApiKeyChange) => void): () => void {
    this.#keyListeners.add(listener);
    this.#keyListening ??= this.#driver
      .listen(this.#keyChannel, {
        onNotify: (payload) => {
          let change: ApiKeyChange = { type: 'resync' };
          try {
            const value = JSON.parse(payload) as { type?: unknown; id?: unknown };
            if (value.type === 'revoked' && typeof value.id === 'string') change = { type: 'revoked', id: value.id };
          } catch {
            // not ours: re-read
          }
          for (const each of [...this.#keyListeners]) each(change);
        },
        // (Re)subscribed: announcements may have been missed while not listening.
        onReady: () => {
          for (const each of [...this.#keyListeners]) each({ type: 'resync' });
        },
      })
      .then(
        (unlisten) => {
          if (this.#closed) void unlisten().catch(() => undefined);
          else this.#keyUnlisten = unlisten;
        },
        () => {
          this.#keyListening = undefined;
        },
      );
    return () => void this.#keyListeners.delete(listener);
  }

  // ---- audit, snapshots, health ----------------------------------------------------------------------------------

  async audit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 500);
    const conditions: string[] = [];
    const params: unknown[] = [];
    const add = (condition: string, value: unknown) => {
      params.push(value);
      conditions.push(condition.replace('?', `$${params.length}`));
    };
    if (query.key !== undefined) add('key = ?::text', query.key);
    const since = checkTime(query.since, 'since');
    const until = checkTime(query.until, 'until');
    if (since) add('at >= ?::timestamptz', since);
    if (until) add('at <= ?::timestamptz', until);
    if (query.cursor) add('revision < ?::bigint', decodeCursor(query.cursor));
    return this.#run(async () => {
      const rows = await this.#driver.query<AuditRowText & Row>(
        `SELECT revision, key, action, actor, reason, at, before::text AS before, after::text AS after, version
         FROM ${this.#s}.audit ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
         ORDER BY revision DESC LIMIT ${limit + 1}`,
        params,
      );
      return auditPageOf(rows, limit);
    });
  }

  async exportSnapshot(): Promise<FlagSnapshotDocument> {
    const { flags, segments, revision } = await this.list();
    return createSnapshot({ revision, flags, segments });
  }

  /**
   * Makes the store hold exactly the document's flags and segments, in one transaction: changed and new flags are
   * written, flags absent from the document are deleted, unchanged ones are left alone (so importing the same
   * document twice changes nothing). Each change gets its own revision and audit entry, by `options.actor`.
   * The document's hash is checked and every flag validated first; `expectedVersion` is not used.
   */
  async importSnapshot(doc: FlagSnapshotDocument, options: WriteOptions): Promise<{ revision: number }> {
    const { segments, writeOptions } = checkImport(doc, options, `${this.kind} store import`);
    return this.#run(() =>
      this.#driver.transaction(async (tx) => {
        // Take the write lock first; the revisions are assigned once the changes are known.
        const first = await this.#bump(tx, 0);
        const [state] = await tx.query<{ segments_version: number; segments: string | null }>(
          `SELECT segments_version, (SELECT jsonb_object_agg(name, definition) FROM ${this.#s}.segments)::text AS segments
           FROM ${this.#s}.state WHERE id = 1`,
        );
        const rows = await tx.query<{ key: string; definition: string; version: number }>(
          `SELECT key, definition::text AS definition, version FROM ${this.#s}.flags`,
        );
        let revision = first - 1;
        const segmentsChanged =
          canonicalJson(state?.segments ? JSON.parse(state.segments) : {}) !== canonicalJson(segments);
        const segmentsRevision = segmentsChanged ? ++revision : 0;
        const current = new Map(rows.map((row) => [row.key, row]));
        const created = await this.#lastVersions(tx, Object.keys(doc.flags).filter((key) => !current.has(key)));
        const planned = planImport(doc, current, created, revision);
        const changes = planned.changes;
        revision = planned.revision;
        if (revision < first) return { revision: first - 1 }; // nothing to do
        await tx.query(`UPDATE ${this.#s}.state SET revision = $1::bigint WHERE id = 1`, [revision]);
        if (segmentsChanged)
          await this.#replaceSegments(tx, segments, state?.segments ?? '{}', int(state?.segments_version ?? 0) + 1, segmentsRevision, writeOptions);
        await this.#apply(tx, changes, writeOptions, revision);
        return { revision };
      }),
    );
  }

  async ping(): Promise<void> {
    await this.#run(() => this.#driver.query('SELECT 1'));
  }

  async identity(): Promise<StoreIdentity> {
    const [row] = await this.#run(() =>
      this.#driver.query<{ instance_id: string | null; revision: string | null }>(
        `SELECT (SELECT instance_id FROM ${this.#s}.instance WHERE id = 1) AS instance_id,
                (SELECT revision FROM ${this.#s}.state WHERE id = 1) AS revision`,
      ),
    );
    if (typeof row?.instance_id === 'string') this.#instanceId = row.instance_id;
    return { instanceId: row?.instance_id ?? undefined, revision: int(row?.revision ?? 0) };
  }

  async advertise(details: { url?: string; command?: string }): Promise<void> {
    await this.#driver.advertise?.(details);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakers.wake();
    await this.#listening;
    await this.#unlisten?.().catch(() => undefined);
    await this.#keyListening;
    await this.#keyUnlisten?.().catch(() => undefined);
    // Environments first: they borrow this store's driver.
    await this.catalog?.close();
    if (this.#ownsDriver) await this.#driver.close();
  }

  // ---- errors ----------------------------------------------------------------------------------------------------

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError(this.kind, new Error('the store is closed'));
    try {
      return await operation();
    } catch (error) {
      if (isStoreAnswer(error)) throw error;
      if (this.#closed || this.#driver.isUnavailable(error)) throw new StoreUnavailableError(this.kind, error);
      throw error;
    }
  }
}

