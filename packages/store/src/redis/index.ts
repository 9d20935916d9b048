import { createHash, randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { SEGMENTS_KEY, type FlagDefinition, type Problem, type SegmentDefinition } from '@vexil/core';
import type {
  ApiKeyChange,
  ApiKeyRecord,
  ApiKeyStore,
  AuditEntry,
  AuditPage,
  AuditQuery,
  ChangeEvent,
  FlagList,
  FlagSnapshotDocument,
  FlagStore,
  StoreIdentity,
  StoredFlag,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { FlagNotFoundError, StoreConflictError, StoreUnavailableError, StoreValidationError } from '../errors.js';
import { assertWritableFlag, assertWritableSegments, readStoredSegments, storedFlagChecker } from '../validation.js';
import { canonicalJson, checkSnapshot, createSnapshot } from '../snapshot/index.js';
import { AsyncQueue } from '../util/async-queue.js';
import { APPLY, CREATE_API_KEY, INSTANCE, REVOKE_API_KEY, SNAPSHOT } from './scripts.js';
import { parseRedisUrl } from './url.js';
import { RedisLeaseStore } from './leases.js';
import type { AssignmentStore, LeaseStore } from '../types.js';
import { RedisAssignmentStore, escapeGlob } from './assignments.js';
import { createCatalog, type StoreCatalog } from '../catalog/catalog.js';
import type { CatalogBackend } from '../catalog/types.js';
import { RedisDocumentStore } from './documents.js';

/** Environment ids as the catalog makes them (a key-prefix part). */
const SCOPE_ID_PATTERN = /^[a-z0-9]{1,12}$/;
/** Keys deleted per `UNLINK` when an environment's data is dropped. */
const DROP_BATCH = 500;

export { parseRedisUrl } from './url.js';

export interface RedisStoreOptions {
  /** Key prefix; overrides the URL's `prefix` parameter. Default `vexil:`. */
  prefix?: string;
  /** Approximate length the change-log stream is trimmed to (`XADD … MAXLEN ~`). Default 100,000. */
  changeLogMaxLength?: number;
  /** A command that gets no answer within this time fails with `StoreUnavailableError`. Default 5,000 ms. */
  commandTimeoutMs?: number;
  /** How long `open()` waits for a first connection before returning anyway (writes then fail fast). Default 3,000 ms. */
  connectTimeoutMs?: number;
  /** While watchers exist, how often to check the revision as a safety net behind pub/sub. Default 5,000 ms. */
  resyncIntervalMs?: number;
  /** `CLIENT SETNAME` of the store's connections (shown by `CLIENT LIST`). Default `vexil`. */
  connectionName?: string;
  /** Connection errors (refused, reset…) are reported here; they never throw. Default: ignored. */
  onError?: (error: Error) => void;
  /** Extra ioredis options (TLS, sentinels…), applied under the store's own. */
  redis?: RedisOptions;
}

/** Per-flag bookkeeping kept in the `{prefix}meta` hash, one JSON value per flag key. */
interface FlagMeta {
  version: number;
  revision: number;
  updatedAt: string;
  updatedBy: string;
}

/** A deleted flag, kept in the `{prefix}deleted` hash so that a watcher too far behind the change log can resync. */
interface Tombstone {
  version: number;
  revision: number;
  at: string;
  actor: string;
}

type SnapshotReply = [string | null, string | null, string | null, string[], Array<string | null>, string[]];

interface ReadState {
  revision: number;
  flags: StoredFlag[];
  segments: Record<string, SegmentDefinition>;
  segmentsMeta: FlagMeta | undefined;
  tombstones: Array<{ key: string } & Tombstone>;
  /** The version of every flag in the meta hash, including flags skipped as unreadable. */
  versions: Map<string, number>;
  problems: Problem[];
}

interface Operation {
  op: 'put' | 'delete' | 'segments';
  key: string;
  body: string;
  expectedVersion: number | undefined;
}

const DEFAULT_PREFIX = 'vexil:';
const CATCH_UP_BATCH = 500;
const AUDIT_SCAN_BATCH = 500;
/** An `audit()` call with a key filter examines at most this many entries, then returns a cursor to go on. */
const AUDIT_SCAN_LIMIT = 10_000;

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

function parseMeta(raw: string | null | undefined): FlagMeta | undefined {
  if (!raw) return undefined;
  const parsed = parseJson(raw);
  if (!parsed.ok || !isMap(parsed.value)) return undefined;
  const { version, revision, updatedAt, updatedBy } = parsed.value;
  if (!Number.isSafeInteger(version) || !Number.isSafeInteger(revision)) return undefined;
  return {
    version: version as number,
    revision: revision as number,
    updatedAt: typeof updatedAt === 'string' ? updatedAt : new Date(0).toISOString(),
    updatedBy: typeof updatedBy === 'string' ? updatedBy : 'unknown',
  };
}

function parseTombstone(raw: string | null | undefined): Tombstone | undefined {
  if (!raw) return undefined;
  const parsed = parseJson(raw);
  if (!parsed.ok || !isMap(parsed.value)) return undefined;
  const { version, revision, at, actor } = parsed.value;
  if (!Number.isSafeInteger(version) || !Number.isSafeInteger(revision)) return undefined;
  return {
    version: version as number,
    revision: revision as number,
    at: typeof at === 'string' ? at : new Date(0).toISOString(),
    actor: typeof actor === 'string' ? actor : 'unknown',
  };
}

/** The revision encoded in a change-log stream id (`{revision}-0`). */
const idRevision = (id: string): number => Number(id.slice(0, id.indexOf('-')));

function parseChange(text: string): ChangeEvent | undefined {
  const parsed = parseJson(text);
  if (!parsed.ok || !isMap(parsed.value)) return undefined;
  const event = parsed.value;
  if (!Number.isSafeInteger(event.revision)) return undefined;
  if (event.type === 'put' || event.type === 'delete' || event.type === 'segments') return event as unknown as ChangeEvent;
  return undefined;
}

/** ioredis reply errors (the server said no) are bugs or bad data; everything else means Redis did not answer. */
function isServerReply(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** Field/value pairs of a stream entry as a map. */
function fieldMap(fields: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
  return map;
}

function encodeCursor(id: string): string {
  return Buffer.from(`audit:${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.startsWith('audit:') ? text.slice('audit:'.length) : '';
  if (!/^\d+-\d+$/.test(id)) throw new Error(`not an audit cursor: ${JSON.stringify(cursor)}`);
  return id;
}

function timeBound(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`audit ${name} must be an ISO 8601 date, not ${JSON.stringify(value)}`);
  return ms;
}

/**
 * Flags in Redis, one key per flag, so an application can also read a flag straight from Redis with no server in
 * between (the flag key holds exactly the GO Feature Flag JSON of the flag).
 *
 * Key layout under the prefix `P` (default `vexil:`):
 * - `P flag:{key}`  string: the flag's GO Feature Flag JSON, nothing else.
 * - `P meta`        hash: flag key → `{"version","revision","updatedAt","updatedBy"}`; also the index of flags.
 * - `P deleted`     hash: flag key → `{"version","revision","at","actor"}` of deleted flags (tombstones).
 * - `P segments`    string: the segments as JSON (`{ name: { query, description? } }`).
 * - `P segments:meta` string: `{"version","revision","updatedAt","updatedBy"}` of the segments.
 * - `P revision`    string: the store revision.
 * - `P audit`       stream: one entry per write (revision, key, action, actor, reason, at, version, before, after);
 *                   stream ids are the write's server time, so time filters are id ranges.
 * - `P changes`     stream: the change log, entry id `{revision}-0`, field `e` = the change event as JSON; trimmed to
 *                   about `changeLogMaxLength` entries.
 * - `P apikeys`     hash: API key id → record JSON (`apiKeys`; hashes of secrets only).
 * - `P apikeys:hashes` hash: secret hash → key id, so one secret is never stored twice.
 * - `P instance`    string: a random id (a UUID), set by the first store to open on this prefix (`SET NX`), never
 *                   changed after: `instanceId`. Deleting the prefix's keys (or `FLUSHALL`) deletes it too, so the
 *                   next store to open makes a new one.
 * - channel `P changes`: every change event, published by the write itself.
 *
 * Every write is one Lua script (version check, revision, flag, metadata, audit, change log, publish), so it is
 * atomic and linearizable. Watchers catch up from the change log by revision, then follow pub/sub; after any
 * reconnect, or when a message reveals a gap, they catch up again. A watcher behind the trimmed part of the change
 * log resyncs from the current state instead: one `put` per flag changed since its revision, one `delete` per
 * tombstone since then and a `segments` event if they changed, all in revision order (so intermediate states are
 * skipped, but it ends exactly at the current state).
 *
 * A flag is listed when it has an entry in `P meta`; a flag key whose value is not valid JSON, or not a valid flag,
 * is reported in `FlagList.problems` and skipped. Edits made by hand are not versioned or broadcast: write through
 * the store. Standalone Redis (or a primary) only, Redis 7 or later.
 */
export class RedisFlagStore implements FlagStore {
  readonly kind = 'redis';
  readonly writable = true;
  readonly prefix: string;
  /** API keys shared by every server on this Redis: the hash `{prefix}apikeys`, id → record JSON (root stores only). */
  readonly apiKeys?: ApiKeyStore;
  /**
   * Projects × environments (root stores only): this store is default/default; every other environment is a
   * `RedisFlagStore` under the prefix `{prefix}e:{id}:`, on this store's connections (its commands on the same
   * connection, its change channel on the same subscriber), with no API keys and no catalog of its own.
   */
  readonly catalog?: StoreCatalog;
  /** Leases timed by Redis' clock (`redis/leases.ts`): leader election for the rollout controller. */
  readonly leases: LeaseStore;
  /** Sticky experiment assignments of this environment, under its prefix (`redis/assignments.ts`). */
  readonly assignments: AssignmentStore;

  /**
   * The prefix's random id (the key `{prefix}instance`), read once, at open: the same for every store opened on this
   * prefix, new once the prefix's keys were deleted. Undefined when Redis did not answer while the store opened.
   */
  get instanceId(): string | undefined {
    return this.instance;
  }

  private readonly client: Redis;
  private subscriber: Redis | undefined;
  /** An environment's store: the root store whose connections it shares. */
  private readonly root: RedisFlagStore | undefined;
  /** Root stores: the change channels of their environments' stores, each with its message and resync handlers. */
  private readonly channelHandlers = new Map<string, { message: (text: string) => void; resync: () => void }>();
  /** Environment stores: stops listening on the root's subscriber. */
  private unlisten: (() => void) | undefined;
  private readonly onClientReady = () => this.syncWatchers();
  private readonly connection: RedisOptions;
  private readonly options: RedisStoreOptions;
  private readonly keys: {
    revision: string;
    meta: string;
    deleted: string;
    audit: string;
    changes: string;
    segments: string;
    segmentsMeta: string;
    channel: string;
    /** Pub/sub channel of API key revocations (`{prefix}keys`). */
    keyChannel: string;
    flagPrefix: string;
    apiKeys: string;
    instance: string;
  };
  private readonly maxLength: number;
  private readonly watchers = new Set<RedisWatcher>();
  private resyncTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private instance: string | undefined;
  private readonly keyListeners = new Set<(change: ApiKeyChange) => void>();
  private readonly checkCache = new Map<string, { raw: string; segmentsRaw: string | null; problems: Problem[] | null }>();

  private constructor(connection: RedisOptions, prefix: string, options: RedisStoreOptions, root?: RedisFlagStore) {
    this.root = root;
    this.prefix = prefix;
    this.connection = connection;
    this.options = options;
    this.maxLength = options.changeLogMaxLength ?? 100_000;
    this.keys = {
      revision: `${prefix}revision`,
      meta: `${prefix}meta`,
      deleted: `${prefix}deleted`,
      audit: `${prefix}audit`,
      changes: `${prefix}changes`,
      segments: `${prefix}segments`,
      segmentsMeta: `${prefix}segments:meta`,
      channel: `${prefix}changes`,
      keyChannel: `${prefix}keys`,
      flagPrefix: `${prefix}flag:`,
      apiKeys: `${prefix}apikeys`,
      instance: `${prefix}instance`,
    };
    this.assignments = new RedisAssignmentStore(
      (script, keys, args) => this.evalScript(script, keys, args),
      (pattern) => this.deleteMatching(pattern),
      prefix,
    );
    if (root) {
      this.client = root.client;
      this.client.on('ready', this.onClientReady);
      this.leases = root.leases;
      return;
    }
    this.client = new Redis({
      ...options.redis,
      ...connection,
      connectionName: options.connectionName ?? 'vexil',
      // Fail fast when Redis is down: no offline queue, no resending after a reconnect (a write whose outcome is
      // unknown is reported as unavailable, never silently replayed).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
      connectTimeout: options.connectTimeoutMs ?? 3_000,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
      // How long close() waits for a socket to end before destroying it (ioredis' 2 s would delay process exit).
      disconnectTimeout: 200,
    });
    this.client.on('error', (error: Error) => this.report(error));
    // After a reconnect, watchers may have missed messages: catch up.
    this.client.on('ready', () => this.syncWatchers());
    this.leases = new RedisLeaseStore((script, keys, args) => this.evalScript(script, keys, args), prefix);
    this.apiKeys = {
      list: async () => {
        const values = await this.call(() => this.client.hvals(this.keys.apiKeys));
        const records: ApiKeyRecord[] = [];
        for (const value of values) {
          const parsed = parseJson(value);
          if (parsed.ok && isMap(parsed.value) && typeof parsed.value.id === 'string') records.push(parsed.value as unknown as ApiKeyRecord);
        }
        return records.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
      },
      create: async (record) => {
        const created = Number(
          await this.evalScript(CREATE_API_KEY, [this.keys.apiKeys, `${this.keys.apiKeys}:hashes`], [record.id, record.hash.toLowerCase(), JSON.stringify(record)]),
        );
        if (created === -1) throw new Error(`an API key with id "${record.id}" already exists`);
        if (created === -2) throw new Error('an API key with the same secret already exists');
      },
      revoke: async (id) =>
        Number(await this.evalScript(REVOKE_API_KEY, [this.keys.apiKeys], [id, new Date().toISOString(), this.keys.keyChannel])) === 1,
      onChange: (listener) => {
        this.keyListeners.add(listener);
        this.ensureSubscriber();
        return () => void this.keyListeners.delete(listener);
      },
    };
    const backend: CatalogBackend = {
      documents: new RedisDocumentStore(
        prefix,
        (script, keys, args) => this.evalScript(script, keys, args),
        (key, id) => this.call(() => this.client.hget(key, id)),
        (key) => this.call(() => this.client.hgetall(key)),
      ),
      openScope: (id) => this.openScope(id),
      dropScope: (id) => this.dropScope(id),
    };
    this.catalog = createCatalog(this, backend);
  }

  /** The key prefix of environment `id`'s data, under this store's prefix. */
  private scopePrefix(id: string): string {
    if (typeof id !== 'string' || !SCOPE_ID_PATTERN.test(id))
      throw new TypeError(`invalid environment id ${JSON.stringify(id)}: lower-case letters and digits, at most 12`);
    return `${this.prefix}e:${id}:`;
  }

  private async openScope(id: string): Promise<RedisFlagStore> {
    const store = new RedisFlagStore(this.connection, this.scopePrefix(id), this.options, this);
    await store.loadInstanceId();
    return store;
  }

  /** Deletes every key of environment `id`. */
  private async dropScope(id: string): Promise<void> {
    await this.deleteMatching(`${escapeGlob(this.scopePrefix(id))}*`);
  }

  /** Deletes the keys matching a MATCH pattern (SCAN, then UNLINK in batches); resolves how many. */
  private async deleteMatching(pattern: string): Promise<number> {
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await this.call(() => this.client.scan(cursor, 'MATCH', pattern, 'COUNT', DROP_BATCH));
      if (keys.length > 0) removed += await this.call(() => this.client.unlink(...keys));
      cursor = next;
    } while (cursor !== '0');
    return removed;
  }

  /**
   * Root stores: delivers the messages of an environment store's change channel (one subscriber connection for
   * every environment); `resync` runs after every (re)subscription, when messages may have been missed.
   */
  private listen(channel: string, message: (text: string) => void, resync: () => void): () => void {
    this.channelHandlers.set(channel, { message, resync });
    this.ensureSubscriber();
    const subscriber = this.subscriber!;
    if (subscriber.status === 'ready') {
      subscriber.subscribe(channel).then(resync, (error: unknown) => this.report(error instanceof Error ? error : new Error(String(error))));
    }
    return () => {
      this.channelHandlers.delete(channel);
      if (this.subscriber?.status === 'ready') void this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  /** Opens a store on `redis://host:port/db?prefix=vexil:`. Returns even when Redis is down: writes then fail fast. */
  static async open(url: string, options: RedisStoreOptions = {}): Promise<RedisFlagStore> {
    const { connection, prefix } = parseRedisUrl(url);
    const store = new RedisFlagStore(connection, options.prefix ?? prefix ?? DEFAULT_PREFIX, options);
    if (await store.waitReady(options.connectTimeoutMs ?? 3_000)) await store.loadInstanceId();
    return store;
  }

  /**
   * Creates the prefix's instance id unless it exists, and reads it (one script, so every store opening on a fresh
   * prefix at the same moment reads the one id that won). Redis not answering leaves it undefined, as `open()`
   * returns even then; a reply error (the key holds another type) closes the store and throws.
   */
  private async loadInstanceId(): Promise<void> {
    try {
      const id = await this.evalScript(INSTANCE, [this.keys.instance], [randomUUID()]);
      if (typeof id === 'string') this.instance = id;
    } catch (error) {
      if (!isServerReply(error)) return;
      await this.close();
      throw new Error(`cannot read the instance id in ${this.keys.instance}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The flag key an application reads for `key` (holds the plain GO Feature Flag JSON). */
  flagKey(key: string): string {
    return `${this.keys.flagPrefix}${key}`;
  }

  private report(error: Error): void {
    try {
      this.options.onError?.(error);
    } catch {
      // a failing error handler must not take the store down
    }
  }

  private waitReady(timeoutMs: number): Promise<boolean> {
    if (this.client.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        this.client.off('error', onError);
        resolve(ready);
      };
      const onReady = () => done(true);
      const onError = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.once('ready', onReady);
      this.client.once('error', onError);
    });
  }

  private unavailable(error: unknown): Error {
    if (error instanceof StoreUnavailableError || isServerReply(error)) return error as Error;
    return new StoreUnavailableError(this.kind, error);
  }

  /** Runs a command, turning connection failures into `StoreUnavailableError`. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(this.kind, new Error('the store is closed'));
    try {
      return await run();
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  private async evalScript(script: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    const sha = scriptSha(script);
    return this.call(async () => {
      try {
        return await this.client.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (isServerReply(error) && String((error as Error).message).startsWith('NOSCRIPT')) {
          return await this.client.eval(script, keys.length, ...keys, ...args);
        }
        throw error;
      }
    });
  }

  // ---------------------------------------------------------------------------------------------------------- reads

  private async readState(includeTombstones: boolean): Promise<ReadState> {
    const k = this.keys;
    const reply = (await this.evalScript(
      SNAPSHOT,
      [k.revision, k.meta, k.segments, k.segmentsMeta, k.deleted],
      [k.flagPrefix, includeTombstones ? '1' : '0'],
    )) as SnapshotReply;
    const [revisionRaw, segmentsRaw, segmentsMetaRaw, metaFlat, values, deletedFlat] = reply;
    const problems: Problem[] = [];
    const { segments } = this.readSegments(segmentsRaw, problems);
    let checker: ReturnType<typeof storedFlagChecker> | undefined;
    const check = (key: string, value: unknown) => {
      checker ??= storedFlagChecker(segments, (flagKey) => `redis key ${this.flagKey(flagKey)}`);
      return checker(key, value);
    };
    const flags: StoredFlag[] = [];
    const seen = new Set<string>();
    const versions = new Map<string, number>();
    for (let i = 0; i * 2 < metaFlat.length; i++) {
      const key = metaFlat[i * 2]!;
      seen.add(key);
      versions.set(key, parseMeta(metaFlat[i * 2 + 1])?.version ?? 0);
      const read = this.readFlag(key, metaFlat[i * 2 + 1], values[i], segmentsRaw, check);
      if ('problems' in read) problems.push(...read.problems);
      else flags.push(read.stored);
    }
    for (const key of this.checkCache.keys()) if (!seen.has(key)) this.checkCache.delete(key);
    flags.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const tombstones: ReadState['tombstones'] = [];
    for (let i = 0; i + 1 < deletedFlat.length; i += 2) {
      const tombstone = parseTombstone(deletedFlat[i + 1]);
      if (tombstone) tombstones.push({ key: deletedFlat[i]!, ...tombstone });
    }
    return {
      revision: Number(revisionRaw ?? 0) || 0,
      flags,
      segments,
      segmentsMeta: parseMeta(segmentsMetaRaw),
      tombstones,
      versions,
      problems,
    };
  }

  private readSegments(raw: string | null, problems: Problem[]): { segments: Record<string, SegmentDefinition> } {
    if (raw === null) return { segments: {} };
    const source = `redis key ${this.keys.segments}`;
    const parsed = parseJson(raw);
    if (!parsed.ok || !isMap(parsed.value)) {
      problems.push({ severity: 'error', source, message: `segments are not a JSON object${parsed.ok ? '' : `: ${parsed.message}`}` });
      return { segments: {} };
    }
    const read = readStoredSegments(parsed.value, source);
    problems.push(...read.problems);
    return { segments: read.segments };
  }

  /** Checks one stored flag: unreadable metadata, a missing key, bad JSON or an invalid flag are problems. */
  private readFlag(
    key: string,
    metaRaw: string | null | undefined,
    raw: string | null | undefined,
    segmentsRaw: string | null,
    check: (key: string, value: unknown) => { ok: true; flag: FlagDefinition } | { ok: false; problems: Problem[] },
  ): { stored: StoredFlag } | { problems: Problem[] } {
    const source = `redis key ${this.flagKey(key)}`;
    const meta = parseMeta(metaRaw);
    if (!meta) {
      return { problems: [{ severity: 'error', source: `redis key ${this.keys.meta}`, flagKey: key, message: 'unreadable flag metadata (version, revision)' }] };
    }
    if (raw === null || raw === undefined) {
      return { problems: [{ severity: 'error', source, flagKey: key, message: 'the flag key is missing' }] };
    }
    const cached = this.checkCache.get(key);
    let problems: Problem[] | null;
    let value: unknown;
    if (cached && cached.raw === raw && cached.segmentsRaw === segmentsRaw) {
      problems = cached.problems;
      value = problems ? undefined : JSON.parse(raw);
    } else {
      const parsed = parseJson(raw);
      if (!parsed.ok) problems = [{ severity: 'error', source, flagKey: key, message: `not valid JSON: ${parsed.message}` }];
      else {
        value = parsed.value;
        const result = check(key, value);
        problems = result.ok ? null : result.problems;
      }
      this.checkCache.set(key, { raw, segmentsRaw, problems });
    }
    if (problems) return { problems };
    return {
      stored: { key, flag: value as FlagDefinition, version: meta.version, revision: meta.revision, updatedAt: meta.updatedAt, updatedBy: meta.updatedBy },
    };
  }

  async list(): Promise<FlagList> {
    const state = await this.readState(false);
    return { flags: state.flags, segments: state.segments, revision: state.revision, problems: state.problems };
  }

  async get(key: string): Promise<StoredFlag | undefined> {
    const results = await this.call(() =>
      this.client.multi().hget(this.keys.meta, key).get(this.flagKey(key)).get(this.keys.segments).exec(),
    );
    if (!results) return undefined;
    for (const [error] of results) if (error) throw this.unavailable(error);
    const [metaRaw, raw, segmentsRaw] = results.map(([, value]) => value as string | null) as [string | null, string | null, string | null];
    if (metaRaw === null) return undefined;
    const { segments } = this.readSegments(segmentsRaw, []);
    const checker = storedFlagChecker(segments, (flagKey) => `redis key ${this.flagKey(flagKey)}`);
    const read = this.readFlag(key, metaRaw, raw, segmentsRaw, checker);
    return 'stored' in read ? read.stored : undefined;
  }

  private async currentSegments(): Promise<Record<string, SegmentDefinition>> {
    const raw = await this.call(() => this.client.get(this.keys.segments));
    return this.readSegments(raw, []).segments;
  }

  // --------------------------------------------------------------------------------------------------------- writes

  private async apply(operations: Operation[], options: WriteOptions): Promise<{ revision: number; results: Array<{ version: number; revision: number }> }> {
    const k = this.keys;
    const keys = [k.revision, k.meta, k.deleted, k.audit, k.changes, k.segments, k.segmentsMeta];
    const args: Array<string | number> = [
      options.actor,
      options.reason ?? '',
      options.reason === undefined ? '0' : '1',
      this.maxLength,
      k.channel,
      operations.length,
    ];
    for (const operation of operations) {
      keys.push(operation.op === 'segments' ? k.segments : this.flagKey(operation.key));
      args.push(
        operation.op,
        operation.key,
        operation.body,
        operation.expectedVersion === undefined ? '' : String(operation.expectedVersion),
      );
    }
    const reply = (await this.evalScript(APPLY, keys, args)) as Array<string | number>;
    const status = reply[0];
    if (status === 'conflict' || status === 'notfound') {
      const operation = operations[Number(reply[1]) - 1]!;
      if (status === 'notfound') throw new FlagNotFoundError(operation.key);
      throw new StoreConflictError(operation.key, operation.expectedVersion, Number(reply[2]));
    }
    const results: Array<{ version: number; revision: number }> = [];
    for (let i = 0; i < operations.length; i++) results.push({ version: Number(reply[2 + i * 2]), revision: Number(reply[3 + i * 2]) });
    return { revision: Number(reply[1]), results };
  }

  private checkActor(options: WriteOptions): void {
    if (!options || typeof options.actor !== 'string' || options.actor.length === 0) {
      throw new StoreValidationError([{ severity: 'error', source: 'redis store', message: 'a write needs an actor' }]);
    }
  }

  async put(key: string, flag: FlagDefinition, options: WriteOptions): Promise<WriteResult> {
    this.checkActor(options);
    const segments = await this.currentSegments();
    assertWritableFlag(key, flag, segments, `redis key ${this.flagKey(key)}`);
    const { results } = await this.apply([{ op: 'put', key, body: JSON.stringify(flag), expectedVersion: options.expectedVersion }], options);
    return { key, version: results[0]!.version, revision: results[0]!.revision };
  }

  async delete(key: string, options: WriteOptions): Promise<WriteResult> {
    this.checkActor(options);
    const { results } = await this.apply([{ op: 'delete', key, body: '', expectedVersion: options.expectedVersion }], options);
    return { key, version: results[0]!.version, revision: results[0]!.revision };
  }

  /**
   * Replaces the whole segment set. `expectedVersion` compares with the segment set's own version. Every stored flag
   * is checked against the new segments first: removing a segment that a flag still uses is rejected.
   */
  async putSegments(segments: Record<string, SegmentDefinition>, options: WriteOptions): Promise<{ revision: number }> {
    this.checkActor(options);
    const normalized = assertWritableSegments(segments, `redis key ${this.keys.segments}`);
    const { flags } = await this.list();
    const problems: Problem[] = [];
    for (const stored of flags) {
      try {
        assertWritableFlag(stored.key, stored.flag, normalized, `redis key ${this.flagKey(stored.key)}`);
      } catch (error) {
        if (error instanceof StoreValidationError) problems.push(...error.problems);
        else throw error;
      }
    }
    if (problems.length > 0) throw new StoreValidationError(problems);
    const { results } = await this.apply(
      [{ op: 'segments', key: SEGMENTS_KEY, body: JSON.stringify(normalized), expectedVersion: options.expectedVersion }],
      options,
    );
    return { revision: results[0]!.revision };
  }

  async exportSnapshot(): Promise<FlagSnapshotDocument> {
    const list = await this.list();
    return createSnapshot({ revision: list.revision, flags: list.flags, segments: list.segments });
  }

  /**
   * Makes the store hold exactly the document's flags and segments, atomically: new and changed flags are written,
   * flags the document does not hold are deleted, unchanged ones are left alone (importing the same document twice
   * changes nothing). Each change is its own audited write by `options.actor`, with its own revision. The changes are
   * computed from the current state and applied in one script guarded by every flag's version, retried if another
   * writer got in between. The document's hash is checked and every flag validated first; `expectedVersion` is not used.
   */
  async importSnapshot(doc: FlagSnapshotDocument, options: WriteOptions): Promise<{ revision: number }> {
    this.checkActor(options);
    const docProblems = checkSnapshot(doc);
    if (docProblems.length > 0) throw new StoreValidationError(docProblems);
    const source = 'redis store import';
    const segments = assertWritableSegments(doc.segments, source);
    const problems: Problem[] = [];
    for (const [key, { flag }] of Object.entries(doc.flags)) {
      try {
        assertWritableFlag(key, flag, segments, source);
      } catch (error) {
        if (error instanceof StoreValidationError) problems.push(...error.problems);
        else throw error;
      }
    }
    if (problems.length > 0) throw new StoreValidationError(problems);
    const writeOptions: WriteOptions = { actor: options.actor, reason: options.reason ?? `import of snapshot ${doc.hash.slice(0, 12)}` };
    for (let attempt = 1; ; attempt++) {
      const state = await this.readState(false);
      const operations: Operation[] = [];
      if (canonicalJson(state.segments) !== canonicalJson(segments)) {
        operations.push({ op: 'segments', key: SEGMENTS_KEY, body: JSON.stringify(segments), expectedVersion: state.segmentsMeta?.version ?? 0 });
      }
      const current = new Map(state.flags.map((stored) => [stored.key, stored]));
      for (const key of Object.keys(doc.flags).sort()) {
        const { flag } = doc.flags[key]!;
        const existing = current.get(key);
        if (existing && canonicalJson(existing.flag) === canonicalJson(flag)) continue;
        operations.push({ op: 'put', key, body: JSON.stringify(flag), expectedVersion: state.versions.get(key) ?? 0 });
      }
      // Flags absent from the document go, unreadable ones included.
      for (const [key, version] of [...state.versions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (!Object.prototype.hasOwnProperty.call(doc.flags, key)) operations.push({ op: 'delete', key, body: '', expectedVersion: version });
      }
      if (operations.length === 0) return { revision: state.revision };
      try {
        const { revision } = await this.apply(operations, writeOptions);
        return { revision };
      } catch (error) {
        if (!(error instanceof StoreConflictError) || attempt >= 5) throw error;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------- audit

  async audit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(Math.floor(query.limit ?? 50), 1), 500);
    const start = query.since !== undefined ? String(timeBound(query.since, 'since')) : '-';
    let end = query.cursor !== undefined ? `(${decodeCursor(query.cursor)}` : query.until !== undefined ? String(timeBound(query.until, 'until')) : '+';
    const entries: AuditEntry[] = [];
    let scanned = 0;
    let lastScanned: string | undefined;
    for (;;) {
      const count = query.key === undefined ? limit + 1 - entries.length : AUDIT_SCAN_BATCH;
      const batch = (await this.call(() => this.client.xrevrange(this.keys.audit, end, start, 'COUNT', count))) as Array<[string, string[]]>;
      for (const [id, fields] of batch) {
        scanned++;
        lastScanned = id;
        const entry = parseAuditEntry(id, fieldMap(fields));
        if (!entry || (query.key !== undefined && entry.key !== query.key)) continue;
        if (entries.length === limit) return { entries, next: encodeCursor(entries[limit - 1]!.id) };
        entries.push(entry);
      }
      if (batch.length < count) return { entries };
      end = `(${lastScanned!}`;
      if (scanned >= AUDIT_SCAN_LIMIT) return { entries, next: encodeCursor(entries.length === limit ? entries[limit - 1]!.id : lastScanned!) };
    }
  }

  // ---------------------------------------------------------------------------------------------------------- watch

  watch(options: WatchOptions = {}): AsyncIterable<ChangeEvent> {
    let watcher: RedisWatcher | undefined;
    const queue = new AsyncQueue<ChangeEvent>({
      signal: options.signal,
      onEnd: () => {
        if (watcher) this.removeWatcher(watcher);
      },
    });
    if (this.closed || queue.closed) {
      queue.end();
      return queue;
    }
    watcher = new RedisWatcher(this.watcherHost(), queue, options.fromRevision);
    this.watchers.add(watcher);
    this.ensureSubscriber();
    this.ensureResyncTimer();
    watcher.start();
    return queue;
  }

  private removeWatcher(watcher: RedisWatcher): void {
    watcher.stop();
    this.watchers.delete(watcher);
    if (this.watchers.size === 0 && this.resyncTimer) {
      clearInterval(this.resyncTimer);
      this.resyncTimer = undefined;
    }
  }

  private watcherHost(): WatcherHost {
    return {
      currentRevision: async () => Number((await this.call(() => this.client.get(this.keys.revision))) ?? 0) || 0,
      readChanges: async (after) => {
        const results = await this.call(() =>
          this.client
            .multi()
            .xrange(this.keys.changes, '-', '+', 'COUNT', 1)
            .xrange(this.keys.changes, String(after + 1), '+', 'COUNT', CATCH_UP_BATCH)
            .get(this.keys.revision)
            .exec(),
        );
        if (!results) throw new StoreUnavailableError(this.kind, new Error('transaction aborted'));
        for (const [error] of results) if (error) throw this.unavailable(error);
        const first = results[0]![1] as Array<[string, string[]]>;
        const entries = results[1]![1] as Array<[string, string[]]>;
        return {
          firstRevision: first[0] ? idRevision(first[0][0]) : undefined,
          events: entries.map(([, fields]) => parseChange(fieldMap(fields).e ?? '')).filter((event): event is ChangeEvent => !!event),
          full: entries.length === CATCH_UP_BATCH,
          revision: Number(results[2]![1] ?? 0) || 0,
        };
      },
      readState: () => this.readState(true),
      subscribed: () => (this.root ?? this).subscriber?.status === 'ready',
      report: (error) => this.report(error),
    };
  }

  private ensureSubscriber(): void {
    if (this.root) {
      this.unlisten ??= this.root.listen(this.keys.channel, (message) => this.onChangeMessage(message), () => this.syncWatchers());
      return;
    }
    if (this.subscriber) return;
    const subscriber = new Redis({
      ...this.options.redis,
      ...this.connection,
      connectionName: this.options.connectionName ?? 'vexil',
      autoResubscribe: false,
      maxRetriesPerRequest: null,
      connectTimeout: this.options.connectTimeoutMs ?? 3_000,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
      disconnectTimeout: 200,
    });
    this.subscriber = subscriber;
    subscriber.on('error', (error: Error) => this.report(error));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.keyChannel) return this.announceKeyChange(message);
      if (channel === this.keys.channel) return this.onChangeMessage(message);
      this.channelHandlers.get(channel)?.message(message);
    });
    // On every (re)connection: subscribe, then catch up, so that nothing published meanwhile is missed.
    subscriber.on('ready', () => {
      subscriber.subscribe(this.keys.channel, this.keys.keyChannel, ...this.channelHandlers.keys()).then(
        () => {
          this.syncWatchers();
          for (const handlers of [...this.channelHandlers.values()]) handlers.resync();
          // Revocations published while not subscribed were missed: key listeners re-read.
          for (const listener of [...this.keyListeners]) listener({ type: 'resync' });
        },
        (error: unknown) => this.report(error instanceof Error ? error : new Error(String(error))),
      );
    });
  }

  private onChangeMessage(message: string): void {
    const event = parseChange(message);
    for (const watcher of this.watchers) {
      if (event) watcher.onMessage(event);
      else watcher.requestSync();
    }
  }

  private announceKeyChange(message: string): void {
    const parsed = parseJson(message);
    const change: ApiKeyChange =
      parsed.ok && isMap(parsed.value) && parsed.value.type === 'revoked' && typeof parsed.value.id === 'string'
        ? { type: 'revoked', id: parsed.value.id }
        : { type: 'resync' };
    for (const listener of [...this.keyListeners]) listener(change);
  }

  private ensureResyncTimer(): void {
    if (this.resyncTimer) return;
    this.resyncTimer = setInterval(() => {
      void this.watcherHost()
        .currentRevision()
        .then(
          (revision) => {
            for (const watcher of this.watchers) watcher.onRevision(revision);
          },
          () => undefined,
        );
    }, this.options.resyncIntervalMs ?? 5_000);
    this.resyncTimer.unref();
  }

  private syncWatchers(): void {
    for (const watcher of this.watchers) watcher.requestSync();
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.ping());
  }

  /**
   * The prefix's instance id (created again, as at open, when the prefix's keys were deleted: a new id then says the
   * data is new) and its revision, read now.
   */
  async identity(): Promise<StoreIdentity> {
    const [id, revision] = await this.call(async () => [
      await this.evalScript(INSTANCE, [this.keys.instance], [randomUUID()]),
      await this.client.get(this.keys.revision),
    ]);
    if (typeof id === 'string') this.instance = id;
    return { ...(typeof id === 'string' ? { instanceId: id } : {}), revision: Number(revision ?? 0) || 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // The environments' stores first: they use this store's connections.
    await this.catalog?.close().catch(() => undefined);
    this.closed = true;
    for (const watcher of [...this.watchers]) watcher.end();
    this.watchers.clear();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.root) {
      this.unlisten?.();
      this.client.off('ready', this.onClientReady);
      return;
    }
    await Promise.all([closeClient(this.client), this.subscriber ? closeClient(this.subscriber) : undefined]);
  }
}

async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  client.disconnect();
}

const shaCache = new Map<string, string>();
function scriptSha(script: string): string {
  let sha = shaCache.get(script);
  if (!sha) {
    sha = sha1(script);
    shaCache.set(script, sha);
  }
  return sha;
}

function parseAuditEntry(id: string, fields: Record<string, string>): AuditEntry | undefined {
  const revision = Number(fields.revision);
  const version = Number(fields.version);
  if (!Number.isSafeInteger(revision) || fields.key === undefined || fields.action === undefined) return undefined;
  const json = (text: string | undefined): FlagDefinition | null => {
    if (text === undefined) return null;
    const parsed = parseJson(text);
    return parsed.ok && isMap(parsed.value) ? (parsed.value as FlagDefinition) : null;
  };
  const entry: AuditEntry = {
    id,
    revision,
    key: fields.key,
    action: fields.action as AuditEntry['action'],
    actor: fields.actor ?? 'unknown',
    at: fields.at ?? new Date(Number(id.slice(0, id.indexOf('-')))).toISOString(),
    before: json(fields.before),
    after: fields.action === 'delete' ? null : json(fields.after),
    version: Number.isSafeInteger(version) ? version : 0,
  };
  if (fields.reason !== undefined) entry.reason = fields.reason;
  return entry;
}

// ------------------------------------------------------------------------------------------------------------ watcher

interface WatcherHost {
  currentRevision(): Promise<number>;
  readChanges(after: number): Promise<{ firstRevision: number | undefined; events: ChangeEvent[]; full: boolean; revision: number }>;
  readState(): Promise<ReadState>;
  subscribed(): boolean;
  report(error: Error): void;
}

/**
 * One `watch()` stream. Delivers each revision once, in order: a live message is delivered directly when it is the
 * next revision; anything else (a gap, a reconnect, the periodic check) runs a catch-up from the change log.
 */
class RedisWatcher {
  private last: number | undefined;
  private syncing = false;
  private pending = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: WatcherHost,
    private readonly queue: AsyncQueue<ChangeEvent>,
    fromRevision: number | undefined,
  ) {
    if (fromRevision !== undefined) this.last = Math.max(0, Math.floor(fromRevision));
  }

  start(): void {
    if (this.last !== undefined) {
      this.requestSync();
      return;
    }
    // "From now": read the revision right away, before any write the caller makes after calling watch().
    this.syncing = true;
    this.host.currentRevision().then(
      (revision) => {
        this.last = revision;
        this.syncing = false;
        this.requestSync();
      },
      () => {
        this.syncing = false;
        this.scheduleRetry();
      },
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  end(): void {
    this.stop();
    this.queue.end();
  }

  onMessage(event: ChangeEvent): void {
    if (this.stopped) return;
    if (this.last === undefined || this.syncing) {
      this.pending = true;
      return;
    }
    if (event.revision <= this.last) return;
    if (event.revision === this.last + 1) this.deliver(event);
    else this.requestSync();
  }

  onRevision(revision: number): void {
    if (this.last === undefined || revision > this.last) this.requestSync();
  }

  requestSync(): void {
    if (this.stopped) return;
    if (this.syncing) {
      this.pending = true;
      return;
    }
    if (this.last === undefined) {
      this.start();
      return;
    }
    void this.runSync();
  }

  private deliver(event: ChangeEvent): void {
    this.last = event.revision;
    this.queue.push(event);
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.requestSync();
    }, 500);
    this.retryTimer.unref();
  }

  private async runSync(): Promise<void> {
    this.syncing = true;
    try {
      do {
        this.pending = false;
        await this.catchUp();
      } while (this.pending && !this.stopped);
    } catch (error) {
      this.host.report(error instanceof Error ? error : new Error(String(error)));
      this.scheduleRetry();
    } finally {
      this.syncing = false;
    }
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const last = this.last!;
      const { firstRevision, events, full, revision } = await this.host.readChanges(last);
      if (this.stopped) return;
      if (revision > last && (firstRevision === undefined || firstRevision > last + 1)) {
        await this.resync(last);
        return;
      }
      for (const event of events) if (event.revision > this.last!) this.deliver(event);
      if (!full) return;
    }
  }

  /** Behind the trimmed change log: bring the watcher to the current state with one event per changed item. */
  private async resync(after: number): Promise<void> {
    const state = await this.host.readState();
    if (this.stopped) return;
    const events: ChangeEvent[] = [];
    for (const stored of state.flags) {
      if (stored.revision > after) {
        events.push({ type: 'put', key: stored.key, flag: stored.flag, version: stored.version, revision: stored.revision, actor: stored.updatedBy, at: stored.updatedAt });
      }
    }
    for (const tombstone of state.tombstones) {
      if (tombstone.revision > after) {
        events.push({ type: 'delete', key: tombstone.key, version: tombstone.version, revision: tombstone.revision, actor: tombstone.actor, at: tombstone.at });
      }
    }
    if (state.segmentsMeta && state.segmentsMeta.revision > after) {
      events.push({ type: 'segments', segments: state.segments, revision: state.segmentsMeta.revision, actor: state.segmentsMeta.updatedBy, at: state.segmentsMeta.updatedAt });
    }
    events.sort((a, b) => a.revision - b.revision);
    for (const event of events) if (event.revision > this.last!) this.deliver(event);
    if (state.revision > this.last!) this.last = state.revision;
  }
}
