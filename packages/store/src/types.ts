import type { FlagDefinition, Problem, SegmentDefinition } from '@vexil/core';
import type { EnvironmentCatalog, RoleGrant } from './catalog/types.js';

/** One flag as a store holds it: the definition plus the store's bookkeeping. */
export interface StoredFlag {
  key: string;
  flag: FlagDefinition;
  /** Per-flag counter, 1 on create, +1 on every write. Used for optimistic concurrency (`expectedVersion`). */
  version: number;
  /** The store revision at which this flag was last written. */
  revision: number;
  updatedAt: string;
  updatedBy: string;
}

export interface FlagList {
  flags: StoredFlag[];
  /** Reusable segments (Vexil extension), shared by every flag of the store. */
  segments: Record<string, SegmentDefinition>;
  /** The store-wide revision: increases by one on every write, so a reader can tell whether it is current. */
  revision: number;
  /** Problems found in stored data (a hand-edited key, a bad row): reported and skipped, never thrown. */
  problems: Problem[];
}

export interface WriteOptions {
  /**
   * Optimistic concurrency. A number: the write applies only when the stored version equals it.
   * `0`: create only (the flag must not exist). `undefined`: unconditional.
   */
  expectedVersion?: number;
  /** Who made the change (an API key's name, `cli`, `rollout-controller`). */
  actor: string;
  reason?: string;
}

export interface WriteResult {
  key: string;
  version: number;
  revision: number;
}

export type ChangeEvent =
  | { type: 'put'; key: string; flag: FlagDefinition; version: number; revision: number; actor: string; at: string }
  | { type: 'delete'; key: string; version: number; revision: number; actor: string; at: string }
  | { type: 'segments'; segments: Record<string, SegmentDefinition>; revision: number; actor: string; at: string };

export interface AuditEntry {
  id: string;
  revision: number;
  key: string;
  action: 'create' | 'update' | 'delete';
  actor: string;
  reason?: string;
  at: string;
  before: FlagDefinition | null;
  after: FlagDefinition | null;
  version: number;
}

export interface AuditQuery {
  key?: string;
  /** ISO 8601 bounds, inclusive. */
  since?: string;
  until?: string;
  /** Page size (default 50, max 500). */
  limit?: number;
  /** Opaque cursor from the previous page's `next`. */
  cursor?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Newest first. Cursor for the next (older) page; absent on the last page. */
  next?: string;
}

export interface WatchOptions {
  /** Deliver every change after this revision first (catch-up), then live changes. Default: the current revision. */
  fromRevision?: number;
  signal?: AbortSignal;
}

/** A whole flag set as one JSON document, for cold starts before the store answers. */
export interface FlagSnapshotDocument {
  format: 'vexil-snapshot/1';
  revision: number;
  createdAt: string;
  /**
   * Hex SHA-256 of the canonical JSON (keys sorted) of `{ flags: { key: definition }, segments }`: content only, not
   * versions, so the same flags and segments always hash the same (`snapshotHash` in `snapshot/`).
   */
  hash: string;
  flags: Record<string, { flag: FlagDefinition; version: number }>;
  segments: Record<string, SegmentDefinition>;
}

/** An API key as stored: never the secret itself, only its SHA-256 hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** `sdk` keys evaluate; `admin` keys manage (with their role). */
  kind: 'sdk' | 'admin';
  role: 'reader' | 'editor' | 'admin';
  /** Hex SHA-256 of the secret. */
  hash: string;
  /** The first characters of the secret, to recognise a key in lists. */
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  /** SDK keys: the one environment they serve, from the key alone. Absent: `default`/`default` (keys made before environments). */
  project?: string;
  environment?: string;
  /**
   * Admin keys: roles per project × environment. Absent: `role` on every project and environment (keys made before
   * environments, and keys made without a scope).
   */
  grants?: RoleGrant[];
}

/**
 * A key change announced to every process on the same backend: `revoked` (that key must stop working now: refuse it,
 * end its open streams), or `resync` (the announcements may have been missed, e.g. after a reconnection: re-read).
 */
export type ApiKeyChange = { type: 'revoked'; id: string } | { type: 'resync' };

/** Optional capability of writable stores: API keys shared by every server on the same backend. */
export interface ApiKeyStore {
  list(): Promise<ApiKeyRecord[]>;
  create(record: ApiKeyRecord): Promise<void>;
  /** Marks the key revoked (kept for the audit trail), and announces it (`onChange`). Resolves false when no such key exists. */
  revoke(id: string, actor: string): Promise<boolean>;
  /**
   * Key changes from every process, as they happen, on the store's notification channel (PostgreSQL NOTIFY, Redis
   * pub/sub, in-process for PGlite), beside its flag change feed. Returns a function that stops listening.
   */
  onChange?(listener: (change: ApiKeyChange) => void): () => void;
}

/** See `FlagStore.identity()`. */
export interface StoreIdentity {
  instanceId?: string;
  revision: number;
}

/**
 * What is wrong now with data that can break without a write (flag files edited by hand): read `current()`, and
 * `subscribe()` to hear each change of the set, including when it clears. The last good flags keep being served.
 */
export interface SourceProblemFeed {
  current(): Problem[];
  /** Calls `listener` with the whole current set each time it changes. Returns the unsubscribe function. */
  subscribe(listener: (problems: Problem[]) => void): () => void;
}

export interface FlagStore {
  /** What kind of store this is, for logs and health (`file`, `pglite`, `postgres`, `redis`). */
  readonly kind: string;
  /** False for the read-only file store. */
  readonly writable: boolean;
  /**
   * The identity of the data this store holds: a random id created together with the store's data (its SQL schema,
   * its Redis key prefix) and kept in it. Every store opened on the same data, in any process and at any time, reads
   * the same id, and it changes exactly when the data is recreated (a dropped schema, a `FLUSHALL`): revisions then
   * start again, and the new id tells readers so, which the store's URL alone cannot. Safe to use as a stream id
   * (letters, digits and `-`). Undefined for stores that keep no such id (the file store), and for a Redis store
   * whose server did not answer while it opened.
   */
  readonly instanceId?: string;
  /**
   * How the change feed hears of other processes' writes right now, where a store has more than one way (DynamoDB:
   * `streams` while the table's stream is read, else `polling`). Shown in the server's health details.
   */
  readonly changeFeed?: string;
  list(): Promise<FlagList>;
  get(key: string): Promise<StoredFlag | undefined>;
  /** Validates with the core first: an invalid flag is a `StoreValidationError` and never reaches the store. */
  put(key: string, flag: FlagDefinition, options: WriteOptions): Promise<WriteResult>;
  delete(key: string, options: WriteOptions): Promise<WriteResult>;
  putSegments?(segments: Record<string, SegmentDefinition>, options: WriteOptions): Promise<{ revision: number }>;
  /** Changes in revision order, from every writer, including other processes. Ends when `signal` aborts or on `close()`. */
  watch(options?: WatchOptions): AsyncIterable<ChangeEvent>;
  audit(query?: AuditQuery): Promise<AuditPage>;
  exportSnapshot(): Promise<FlagSnapshotDocument>;
  /** Writes every flag of the document (as one audited batch by `options.actor`). */
  importSnapshot(doc: FlagSnapshotDocument, options: WriteOptions): Promise<{ revision: number }>;
  /**
   * Projects × environments. This store is environment `default` of project `default`; `catalog.environment()` opens
   * the others. Present on every store of this release (file stores: a fixed catalog from their configuration).
   */
  readonly catalog?: EnvironmentCatalog;
  /** Present on stores that can keep API keys (SQL and Redis). */
  readonly apiKeys?: ApiKeyStore;
  /** Present on stores whose data can break without a write (the file store). */
  readonly sourceProblems?: SourceProblemFeed;
  /** Present on stores that can hold leases (SQL and Redis): leader election for the rollout controller. */
  readonly leases?: LeaseStore;
  /** Present on writable stores (SQL, Redis, DynamoDB): sticky experiment assignments of this environment. */
  readonly assignments?: AssignmentStore;
  /** Cheap liveness check: resolves when the backend answers. */
  ping(): Promise<void>;
  /**
   * The data's identity and revision as the backend holds them now (never cached), and `instanceId` updated to it.
   * Readers compare them with what they have seen to notice a store that went back in time: a new instance id (the
   * data was recreated: Redis restarted empty, the prefix's keys deleted, the schema dropped and created again) or a
   * revision lower than one already seen (restored from a backup). Rejects when the backend does not answer.
   */
  identity?(): Promise<StoreIdentity>;
  /**
   * Embedded stores on disk: records where the owning process serves (its URL) in the folder's lock, so that another
   * process trying to open the store is told where to send its writes instead.
   */
  advertise?(details: { url?: string; command?: string }): Promise<void>;
  close(): Promise<void>;
}

/** One unit's assignment to ask for: kept when the unit has none yet (or it expired), else the kept one is answered. */
export interface AssignmentRequest {
  flag: string;
  unit: string;
  variation: string;
  /** How long a new assignment is kept. */
  ttlMs: number;
  /** Replace whatever is kept (the kept variation no longer exists). */
  replace?: boolean;
}

/**
 * Sticky experiment assignments (`experiment.sticky`): per flag and unit, the first variation served, with an expiry
 * timed by the store. Atomic per (flag, unit): servers racing to assign a new unit all answer the same variation.
 */
export interface AssignmentStore {
  /** Answers, in order, the variation kept for each request (its own when it was the first). */
  assign(requests: readonly AssignmentRequest[]): Promise<string[]>;
  /** Forgets every assignment of a flag (the experiment starts over). Resolves how many there were. */
  clear(flag: string): Promise<number>;
  /** Deletes expired assignments, for stores that do not expire them by themselves (SQL). Resolves how many. */
  sweep?(): Promise<number>;
}

/**
 * A named lease with an expiry, held by one holder at a time across every process on the same store: how many
 * `vexil serve` over one store elect the one that runs the rollout controller.
 */
export interface Lease {
  name: string;
  holder: string;
  /** Fencing token: the same while one holder keeps renewing, larger after every takeover. */
  token: number;
  /** When the lease lapses unless renewed (the store's clock). */
  expiresAt: string;
}

/** Optional capability of writable stores (SQL and Redis): leases, timed by the store's own clock. */
export interface LeaseStore {
  /**
   * Takes the lease for `ttlMs` when it is free or expired, or renews it when `holder` already holds it. Resolves
   * undefined when another holder's lease is still running.
   */
  acquire(name: string, holder: string, ttlMs: number): Promise<Lease | undefined>;
  /** Lets go early (only the holder can). Resolves false when `holder` did not hold it. */
  release(name: string, holder: string): Promise<boolean>;
  /** The running lease, if any. */
  get(name: string): Promise<Lease | undefined>;
}
