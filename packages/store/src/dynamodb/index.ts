import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { SEGMENTS_KEY, type FlagDefinition, type Problem, type SegmentDefinition } from '@vexil/core';
import type {
  ApiKeyChange,
  AssignmentStore,
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
import { parseDynamoUrl } from './url.js';
import { createCatalog, type StoreCatalog } from '../catalog/catalog.js';
import type { CatalogBackend } from '../catalog/types.js';
import { DynamoDocumentStore } from './documents.js';
import { ASSIGNMENT_PARTITION, DynamoAssignmentStore } from './assignments.js';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBStreamsClient, probeStream, StreamReader } from './streams.js';

export { parseDynamoUrl } from './url.js';

export interface DynamoStoreOptions {
  /** How often watchers (and API key listeners) poll the change log. Overrides the URL's `poll`. Default 1,000 ms. */
  pollIntervalMs?: number;
  /** AWS region; overrides the URL's `region`. Default: the AWS chain's (`AWS_REGION`…), else `us-east-1`. */
  region?: string;
  /** Endpoint (dynalite, DynamoDB Local); overrides the URL's `endpoint`. */
  endpoint?: string;
  /** A request that gets no answer within this time fails (then `StoreUnavailableError`). Default 5,000 ms. */
  requestTimeoutMs?: number;
  /** Create the table when it does not exist (needs `dynamodb:CreateTable`). Default true. */
  createTable?: boolean;
  /** Errors met in the background (polling) are reported here; they never throw. */
  onError?: (error: Error) => void;
  /** Extra AWS SDK client settings (credentials, retries…), applied under the store's own. */
  client?: DynamoDBClientConfig;
  /**
   * How the change feed learns of other processes' writes; overrides the URL's `feed`. `auto` (default): DynamoDB
   * Streams when the table has a stream and these credentials and this endpoint can read it, else polling. `streams`:
   * the stream or an error at open. `poll`: polling only (many readers of one table: DynamoDB advises at most two
   * readers per stream shard).
   */
  changeFeed?: ChangeFeedMode;
  /** Pause between stream reads that found nothing new. Default 500 ms. */
  streamIdleMs?: number;
}

export type ChangeFeedMode = 'auto' | 'streams' | 'poll';

/** While the stream is read, watchers still poll the change log, this seldom: a safety net under the stream. */
const STREAM_SAFETY_POLL_MS = 10_000;

/** DynamoDB's item size limit: 400 KB, attribute names and values included. */
export const DYNAMODB_ITEM_LIMIT = 400 * 1024;
/** Room kept in an item for everything but the flag's JSON (key, actor, reason, numbers, attribute names). */
const ITEM_OVERHEAD = 1024;
const QUERY_PAGE = 500;
const AUDIT_SCAN_LIMIT = 10_000;
/** Sort keys of change items: the revision, zero-padded so that string order is revision order. */
const pad = (revision: number): string => String(revision).padStart(16, '0');

/** Environment ids as the catalog makes them (a partition-key part). */
const SCOPE_ID_PATTERN = /^[a-z0-9]{1,12}$/;

const P_FLAG = 'flag';
const P_CHANGE = 'change';
const P_META = 'meta';
const P_KEY = 'apikey';
const P_KEY_HASH = 'apikeyhash';

/** A flag item (`pk = flag`, `sk = key`), or the segments (`sk = $segments`); a deleted flag stays as a tombstone. */
interface FlagItem {
  pk: string;
  sk: string;
  body?: string;
  deleted?: boolean;
  version: number;
  revision: number;
  updatedAt: string;
  updatedBy: string;
}

/** A change item (`pk = change`, `sk = padded revision`): the change log, the audit trail and the commit point. */
interface ChangeItem {
  pk: string;
  sk: string;
  revision: number;
  type: 'put' | 'delete' | 'segments';
  key: string;
  body?: string;
  version: number;
  /** Whether the key held a live flag (or segments) before: `create` or `update` in the audit. */
  existed: boolean;
  /** The revision of the change that wrote the state this one replaced (its `before`), 0 when none. */
  beforeRevision: number;
  actor: string;
  at: string;
  reason?: string;
}

interface Operation {
  type: 'put' | 'delete' | 'segments';
  key: string;
  body: string | undefined;
  expectedVersion: number | undefined;
}

interface ReadState {
  revision: number;
  items: Map<string, FlagItem>;
}

const isMap = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

const errorName = (error: unknown): string => (error as { name?: string } | undefined)?.name ?? '';
const isConditionFailure = (error: unknown): boolean => errorName(error) === 'ConditionalCheckFailedException';
/** The service answered (an HTTP status came back): a refusal, not an outage (throttling excepted). */
function isServiceAnswer(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  const name = errorName(error);
  if (/Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|InternalServerError|ServiceUnavailable/.test(name)) return false;
  return typeof status === 'number' && status >= 400 && status < 500;
}

function itemFromChange(change: ChangeItem, flagPartition: string): FlagItem {
  const item: FlagItem = {
    pk: flagPartition,
    sk: change.key,
    version: change.version,
    revision: change.revision,
    updatedAt: change.at,
    updatedBy: change.actor,
  };
  if (change.type === 'delete') item.deleted = true;
  else item.body = change.body!;
  return item;
}

function encodeCursor(revision: number): string {
  return Buffer.from(`audit:${revision}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^audit:(\d+)$/.exec(text);
  if (!match) throw new Error(`not an audit cursor: ${JSON.stringify(cursor)}`);
  return Number(match[1]);
}

function timeBound(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`audit ${name} must be an ISO 8601 date, not ${JSON.stringify(value)}`);
  return ms;
}

/**
 * Flags in one DynamoDB table (key schema `pk` string HASH, `sk` string RANGE), with no transactions, so that it also
 * runs on endpoints without them (dynalite) and never meets the transaction limits:
 * - `flag / {key}`       the flag: `body` (its GO Feature Flag JSON), `version`, `revision`, `updatedAt`, `updatedBy`;
 *                        a deleted flag stays as a tombstone (`deleted`), so versions never repeat for a key.
 * - `flag / $segments`   the segments, the same way.
 * - `change / {rev}`     one item per write, the revision zero-padded: the change log, the audit trail, and the
 *                        write's commit point.
 * - `meta / instance`    the table's random id (`instanceId`), created with the table's data.
 * - `meta / keys`        a counter bumped by each API key revocation, polled by key listeners.
 * - `apikey / {id}`, `apikeyhash / {hash}`: API keys (hashes of secrets only), one secret stored once.
 *
 * A write claims the next revision by creating its change item with a condition (`attribute_not_exists`): exactly
 * one writer gets each revision, so revisions are gapless and writes linearizable. Before claiming revision N+1 a
 * writer makes sure change N is applied to its flag item ("rolls it forward", an idempotent conditional put), then
 * reads the flag, checks the expected version and claims; losing the claim means someone else wrote: read again. A
 * writer that dies after its claim leaves a change the next writer or reader applies. Readers overlay the changes
 * made while they read, so `list()` is the exact state at one revision.
 *
 * The change feed reads the change log after each watcher's last revision: when the table's DynamoDB Stream says an
 * item of the watcher's change partition was written (`streams.ts`; a safety poll every 10 s besides), else every
 * `pollIntervalMs` (a one-item query when nothing changed). Writes made through this store object wake its watchers
 * at once. See `DynamoStoreOptions.changeFeed`.
 */
export class DynamoFlagStore implements FlagStore {
  readonly kind = 'dynamodb';
  readonly writable = true;
  readonly table: string;
  /** API keys (root stores only). */
  readonly apiKeys?: ApiKeyStore;
  /**
   * Projects × environments (root stores only): this store is default/default; every other environment is a
   * `DynamoFlagStore` in the same table under the partitions `e#<id>#flag`, `e#<id>#change` and `e#<id>#meta`, on this
   * store's client, with no API keys and no catalog of its own.
   */
  readonly catalog?: StoreCatalog;
  /** Sticky experiment assignments of this environment (`dynamodb/assignments.ts`). */
  readonly assignments: AssignmentStore;
  /** The partition keys of this store's items: `flag`, `change`, `meta`; an environment's are prefixed with `e#<id>#`. */
  private readonly pk: { flag: string; change: string; meta: string };
  /** An environment's store shares its root's client and never closes it. */
  private readonly ownsClient: boolean;

  get instanceId(): string | undefined {
    return this.instance;
  }

  private readonly raw: DynamoDBClient;
  private readonly db: DynamoDBDocumentClient;
  private readonly pollIntervalMs: number;
  private readonly options: DynamoStoreOptions;
  private instance: string | undefined;
  private closed = false;
  private readonly watchers = new Set<DynamoWatcher>();
  private readonly keyListeners = new Set<(change: ApiKeyChange) => void>();
  private keyPoller: KeyPoller | undefined;
  private writeLock: Promise<void> = Promise.resolve();
  /** The revision of the last change this object claimed and applied itself. */
  private applied = -1;
  /** Root stores: the table's stream, read for wake-ups when the change feed uses it. */
  private streamReader: StreamReader | undefined;
  private streamClient: DynamoDBStreamsClient | undefined;
  private streamStarting: Promise<void> | undefined;
  /** Root stores: every open store of this table (the root and its environments), by change-log partition. */
  private readonly byChangePartition: Map<string, DynamoFlagStore>;
  private readonly root: DynamoFlagStore;

  private constructor(table: string, client: DynamoDBClient, pollIntervalMs: number, options: DynamoStoreOptions, namespace = '', root?: DynamoFlagStore) {
    this.root = root ?? this;
    this.byChangePartition = root ? root.byChangePartition : new Map();
    this.table = table;
    this.raw = client;
    this.db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.pollIntervalMs = pollIntervalMs;
    this.options = options;
    this.pk = { flag: `${namespace}${P_FLAG}`, change: `${namespace}${P_CHANGE}`, meta: `${namespace}${P_META}` };
    this.ownsClient = namespace === '';
    this.byChangePartition.set(this.pk.change, this);
    this.assignments = new DynamoAssignmentStore({
      table,
      db: this.db,
      namespace,
      call: (run) => this.call(run),
      partitionKeys: async (pk) =>
        (await this.queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ProjectionExpression: 'pk, sk' })) as Array<{ pk: string; sk: string }>,
      deleteItems: (keys) => this.deleteItems(keys),
    });
    if (namespace !== '') return;
    this.apiKeys = {
      list: () => this.listKeys(),
      create: (record) => this.createKey(record),
      revoke: (id) => this.revokeKey(id),
      onChange: (listener) => {
        this.keyListeners.add(listener);
        this.keyPoller ??= new KeyPoller(this.keyPollerHost(), () => this.currentPollMs());
        return () => {
          this.keyListeners.delete(listener);
          if (this.keyListeners.size === 0) {
            this.keyPoller?.stop();
            this.keyPoller = undefined;
          }
        };
      },
    };
    const backend: CatalogBackend = {
      documents: new DynamoDocumentStore(table, this.db, (run) => this.call(run)),
      openScope: (id) => this.openScope(id),
      dropScope: (id) => this.dropScope(id),
    };
    this.catalog = createCatalog(this, backend);
  }

  /** The partition-key prefix of environment `id`'s items. */
  private static scopeNamespace(id: string): string {
    if (typeof id !== 'string' || !SCOPE_ID_PATTERN.test(id))
      throw new TypeError(`invalid environment id ${JSON.stringify(id)}: lower-case letters and digits, at most 12`);
    return `e#${id}#`;
  }

  private async openScope(id: string): Promise<DynamoFlagStore> {
    const store = new DynamoFlagStore(this.table, this.raw, this.pollIntervalMs, this.options, DynamoFlagStore.scopeNamespace(id), this);
    await store.loadInstanceId();
    return store;
  }

  /** Deletes every item of environment `id`: each of its partitions (assignments' found by a scan), 25 items per batch. */
  private async dropScope(id: string): Promise<void> {
    const namespace = DynamoFlagStore.scopeNamespace(id);
    for (const partition of [P_FLAG, P_CHANGE, P_META].map((name) => `${namespace}${name}`)) {
      for (;;) {
        const items = await this.queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': partition }, ProjectionExpression: 'pk, sk' }, 1000);
        if (items.length === 0) break;
        await this.deleteItems(items as Array<{ pk: string; sk: string }>);
      }
    }
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call(() =>
        this.db.send(
          new ScanCommand({
            TableName: this.table,
            FilterExpression: 'begins_with(pk, :assignments)',
            ExpressionAttributeValues: { ':assignments': `${namespace}${ASSIGNMENT_PARTITION}` },
            ProjectionExpression: 'pk, sk',
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      await this.deleteItems((page.Items ?? []) as Array<{ pk: string; sk: string }>);
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /** Deletes items by key, 25 per batch (DynamoDB's limit), retrying what DynamoDB leaves unprocessed. */
  private async deleteItems(keys: Array<{ pk: string; sk: string }>): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      let requests: Array<Record<string, unknown>> | undefined = keys.slice(i, i + 25).map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } }));
      for (let attempt = 0; requests && requests.length > 0; attempt++) {
        const batch = requests;
        const result = await this.call(() => this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: batch as never } })));
        requests = result.UnprocessedItems?.[this.table] as Array<Record<string, unknown>> | undefined;
        if (requests && requests.length > 0) await sleep(Math.min(50 * 2 ** attempt, 1000));
      }
    }
  }

  /** Opens `dynamodb://TABLE?region=…&endpoint=…&poll=…`, creating the table when it does not exist. */
  static async open(url: string, options: DynamoStoreOptions = {}): Promise<DynamoFlagStore> {
    const parsed = parseDynamoUrl(url);
    const endpoint = options.endpoint ?? parsed.endpoint;
    const timeout = options.requestTimeoutMs ?? 5_000;
    const client = new DynamoDBClient({
      ...options.client,
      ...(endpoint ? { endpoint } : {}),
      region: options.region ?? parsed.region ?? options.client?.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      requestHandler: { connectionTimeout: Math.min(timeout, 3_000), requestTimeout: timeout },
    });
    const store = new DynamoFlagStore(parsed.table, client, options.pollIntervalMs ?? parsed.pollIntervalMs ?? 1_000, options);
    try {
      const mode = options.changeFeed ?? parsed.changeFeed ?? 'auto';
      const table = await store.ensureTable(options.createTable ?? true, mode !== 'poll');
      await store.loadInstanceId();
      // `streams` waits for the stream (or fails); `auto` reads it in the background, adding nothing to open's time (a
      // function's cold start), and polls meanwhile and whenever it cannot.
      if (mode === 'streams') await store.startStream(table, mode, endpoint, client);
      else if (mode === 'auto')
        store.streamStarting = store.startStream(table, mode, endpoint, client).catch((error: Error) => store.report(error));
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  private report(error: Error): void {
    try {
      this.options.onError?.(error);
    } catch {
      // a failing error handler must not take the store down
    }
  }

  /** Runs a request; an unanswered one becomes `StoreUnavailableError`, a refusal keeps its own error. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(this.kind, new Error('the store is closed'));
    try {
      return await run();
    } catch (error) {
      if (isConditionFailure(error)) throw error;
      if (errorName(error) === 'AccessDeniedException') {
        throw new Error(`DynamoDB table ${this.table}: access denied (${(error as Error).message})`, { cause: error });
      }
      if (errorName(error) === 'ResourceNotFoundException') {
        throw new StoreUnavailableError(this.kind, new Error(`the table ${this.table} does not exist (any more)`));
      }
      if (isServiceAnswer(error)) throw error;
      throw new StoreUnavailableError(this.kind, error);
    }
  }

  // ------------------------------------------------------------------------------------------------- table, identity

  /**
   * How the change feed hears of other processes' writes now: `streams` while the table's stream is read and healthy,
   * else `polling` (every `poll` ms).
   */
  get changeFeed(): 'streams' | 'polling' {
    return this.root.streamReader?.healthy ? 'streams' : 'polling';
  }

  /** How long watchers wait between reads of the change log: seldom while the stream wakes them, else `poll`. */
  private currentPollMs(): number {
    return this.root.streamReader?.healthy ? Math.max(this.pollIntervalMs, STREAM_SAFETY_POLL_MS) : this.pollIntervalMs;
  }

  /** Wakes the watchers (and key listeners) of the store whose item a stream record names. */
  private streamWake(pk: string, sk: string): void {
    const store = this.byChangePartition.get(pk);
    if (store) for (const watcher of store.watchers) watcher.wake();
    if (pk === P_META && sk === 'keys') this.keyPoller?.wake();
  }

  /** Starts reading the table's stream (see `changeFeed`); in `auto` mode, a table or endpoint without one polls. */
  private async startStream(table: TableDescription, mode: ChangeFeedMode, endpoint: string | undefined, client: DynamoDBClient): Promise<void> {
    const arn = table.StreamSpecification?.StreamEnabled ? table.LatestStreamArn : undefined;
    if (!arn) {
      if (mode === 'streams')
        throw new Error(`the DynamoDB table ${this.table} has no stream: enable DynamoDB Streams on it (any view type; KEYS_ONLY is enough), or use feed=poll`);
      return;
    }
    const streams = new DynamoDBStreamsClient({
      ...(endpoint ? { endpoint } : {}),
      region: await client.config.region(),
      credentials: client.config.credentials,
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
    });
    try {
      await probeStream(streams, arn);
    } catch (error) {
      streams.destroy();
      if (mode === 'streams') throw new Error(`DynamoDB table ${this.table}: ${(error as Error).message}`, { cause: error });
      // auto: an endpoint without the Streams API (dynalite) is not worth a report; missing permissions are.
      if (!/does not serve the DynamoDB Streams API/.test((error as Error).message))
        this.report(new Error(`DynamoDB table ${this.table}: polling the change log, not reading its stream: ${(error as Error).message}`, { cause: error }));
      return;
    }
    if (this.closed) {
      streams.destroy();
      return;
    }
    this.streamReader = new StreamReader(
      streams,
      arn,
      {
        changed: (pk, sk) => this.streamWake(pk, sk),
        // Records flow again: anything written while they did not is in the change log.
        health: (healthy) => {
          if (!healthy) return;
          for (const store of this.byChangePartition.values()) for (const watcher of store.watchers) watcher.wake();
          this.keyPoller?.wake();
        },
        report: (error) => this.report(new Error(`DynamoDB Streams (polling meanwhile): ${error.message}`, { cause: error })),
      },
      this.options.streamIdleMs !== undefined ? { idleMs: this.options.streamIdleMs } : {},
    );
    this.streamClient = streams;
    this.streamReader.start();
  }

  private async ensureTable(create: boolean, withStream: boolean): Promise<TableDescription> {
    const describe = async () => {
      try {
        return (await this.raw.send(new DescribeTableCommand({ TableName: this.table }))).Table;
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') return undefined;
        if (errorName(error) === 'AccessDeniedException') {
          throw new Error(`cannot describe the DynamoDB table ${this.table}: the credentials lack the permission dynamodb:DescribeTable`, { cause: error });
        }
        if (isServiceAnswer(error)) throw error;
        throw new StoreUnavailableError(this.kind, error);
      }
    };
    let table = await describe();
    if (!table) {
      const shape = 'key schema pk (string, HASH) and sk (string, RANGE), on-demand capacity';
      if (!create) throw new Error(`the DynamoDB table ${this.table} does not exist: create it with ${shape}`);
      try {
        await this.raw.send(
          new CreateTableCommand({
            TableName: this.table,
            AttributeDefinitions: [
              { AttributeName: 'pk', AttributeType: 'S' },
              { AttributeName: 'sk', AttributeType: 'S' },
            ],
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'sk', KeyType: 'RANGE' },
            ],
            BillingMode: 'PAY_PER_REQUEST',
            // Keys only: the change feed reads the stream as a wake-up call, the change log for the changes.
            ...(withStream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' } } : {}),
          }),
        );
      } catch (error) {
        const name = errorName(error);
        if (name === 'AccessDeniedException' || name === 'UnrecognizedClientException') {
          throw new Error(
            `the DynamoDB table ${this.table} does not exist and these credentials may not create it: the permission dynamodb:CreateTable is missing (or create the table yourself, with ${shape})`,
            { cause: error },
          );
        }
        // Another process created it at the same moment: wait for it like for ours.
        if (name !== 'ResourceInUseException') {
          if (isServiceAnswer(error)) throw error;
          throw new StoreUnavailableError(this.kind, error);
        }
      }
      const deadline = Date.now() + 60_000;
      for (;;) {
        table = await describe();
        if (table?.TableStatus === 'ACTIVE') break;
        if (Date.now() > deadline) throw new Error(`the DynamoDB table ${this.table} is still not active after 60 s`);
        await sleep(100);
      }
    }
    const keys = (table.KeySchema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).sort().join(',');
    const types = new Map((table.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
    if (keys !== 'pk:HASH,sk:RANGE' || types.get('pk') !== 'S' || types.get('sk') !== 'S') {
      throw new Error(`the DynamoDB table ${this.table} exists with another key schema (${keys}): Vexil needs pk (string, HASH) and sk (string, RANGE); use another table`);
    }
    return table;
  }

  /** Creates the table's instance id unless it exists (a conditional put: one id wins), and reads it. */
  private async loadInstanceId(): Promise<string> {
    const read = async () =>
      (await this.call(() => this.db.send(new GetCommand({ TableName: this.table, Key: { pk: this.pk.meta, sk: 'instance' }, ConsistentRead: true }))))
        .Item?.id as string | undefined;
    let id = await read();
    if (!id) {
      try {
        await this.call(() =>
          this.db.send(
            new PutCommand({
              TableName: this.table,
              Item: { pk: this.pk.meta, sk: 'instance', id: randomUUID(), createdAt: new Date().toISOString() },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      id = await read();
    }
    if (!id) throw new Error(`cannot read the instance id of the DynamoDB table ${this.table}`);
    this.instance = id;
    return id;
  }

  async identity(): Promise<StoreIdentity> {
    const [instanceId, head] = await Promise.all([this.loadInstanceId(), this.readHead()]);
    return { instanceId, revision: head?.revision ?? 0 };
  }

  async ping(): Promise<void> {
    await this.call(() => this.db.send(new GetCommand({ TableName: this.table, Key: { pk: this.pk.meta, sk: 'instance' } })));
  }

  // -------------------------------------------------------------------------------------------- change log, reading

  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>, max = Infinity): Promise<Array<Record<string, unknown>>> {
    const items: Array<Record<string, unknown>> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call(() =>
        this.db.send(new QueryCommand({ TableName: this.table, ConsistentRead: true, ...input, ...(start ? { ExclusiveStartKey: start } : {}) })),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && items.length < max);
    return items;
  }

  /** The latest change (the store's revision), read now. */
  private async readHead(): Promise<ChangeItem | undefined> {
    const page = await this.call(() =>
      this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': this.pk.change },
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        }),
      ),
    );
    return page.Items?.[0] as ChangeItem | undefined;
  }

  /**
   * Changes after `after` (exclusive), oldest first, at most `limit`; `more` when DynamoDB stopped early (a page also
   * ends at 1 MB, before `limit` items when changes are large).
   */
  private async readChanges(after: number, limit: number): Promise<{ changes: ChangeItem[]; more: boolean }> {
    const page = await this.call(() =>
      this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk > :after',
          ExpressionAttributeValues: { ':pk': this.pk.change, ':after': pad(after) },
          Limit: limit,
          ConsistentRead: true,
        }),
      ),
    );
    return { changes: (page.Items ?? []) as ChangeItem[], more: page.LastEvaluatedKey !== undefined };
  }

  /** Applies a claimed change to its flag item, unless a later change already did (idempotent, never goes back). */
  private async rollForward(change: ChangeItem): Promise<void> {
    try {
      await this.call(() =>
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: itemFromChange(change, this.pk.flag),
            ConditionExpression: 'attribute_not_exists(pk) OR revision < :revision',
            ExpressionAttributeValues: { ':revision': change.revision },
          }),
        ),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  private async getItem(key: string): Promise<FlagItem | undefined> {
    const result = await this.call(() => this.db.send(new GetCommand({ TableName: this.table, Key: { pk: this.pk.flag, sk: key }, ConsistentRead: true })));
    return result.Item as FlagItem | undefined;
  }

  /**
   * Every flag item, exactly as of one revision: the items are read, then the changes from the revision seen before
   * reading them are overlaid in order (a change applied meanwhile, or claimed but not applied yet).
   */
  private async readState(): Promise<ReadState> {
    const head = await this.readHead();
    const from = head?.revision ?? 0;
    const items = new Map<string, FlagItem>();
    for (const item of await this.queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': this.pk.flag } })) {
      items.set(item.sk as string, item as unknown as FlagItem);
    }
    let revision = from;
    let after = Math.max(from - 1, 0);
    for (;;) {
      const { changes, more } = await this.readChanges(after, QUERY_PAGE);
      for (const change of changes) {
        const current = items.get(change.key);
        if (!current || current.revision < change.revision) items.set(change.key, itemFromChange(change, this.pk.flag));
        revision = change.revision;
        after = change.revision;
      }
      if (!more || changes.length === 0) break;
    }
    return { revision, items };
  }

  private source(key: string): string {
    return `dynamodb table ${this.table}, item ${key === SEGMENTS_KEY ? 'flag/$segments' : `flag/${key}`}`;
  }

  private readSegments(item: FlagItem | undefined, problems: Problem[]): Record<string, SegmentDefinition> {
    if (!item || item.deleted || item.body === undefined) return {};
    const source = this.source(SEGMENTS_KEY);
    const parsed = parseJson(item.body);
    if (!parsed.ok || !isMap(parsed.value)) {
      problems.push({ severity: 'error', source, message: `segments are not a JSON object${parsed.ok ? '' : `: ${parsed.message}`}` });
      return {};
    }
    const read = readStoredSegments(parsed.value, source);
    problems.push(...read.problems);
    return read.segments;
  }

  private toStored(
    item: FlagItem,
    check: (key: string, value: unknown) => { ok: true; flag: FlagDefinition } | { ok: false; problems: Problem[] },
  ): { stored: StoredFlag } | { problems: Problem[] } {
    const key = item.sk;
    if (typeof item.body !== 'string') return { problems: [{ severity: 'error', source: this.source(key), flagKey: key, message: 'the item has no flag body' }] };
    const parsed = parseJson(item.body);
    if (!parsed.ok) return { problems: [{ severity: 'error', source: this.source(key), flagKey: key, message: `not valid JSON: ${parsed.message}` }] };
    const result = check(key, parsed.value);
    if (!result.ok) return { problems: result.problems };
    return {
      stored: { key, flag: parsed.value as FlagDefinition, version: Number(item.version), revision: Number(item.revision), updatedAt: item.updatedAt, updatedBy: item.updatedBy },
    };
  }

  private build(state: ReadState): FlagList & { versions: Map<string, number>; segmentsVersion: number } {
    const problems: Problem[] = [];
    const segmentsItem = state.items.get(SEGMENTS_KEY);
    const segments = this.readSegments(segmentsItem, problems);
    const check = storedFlagChecker(segments, (key) => this.source(key));
    const flags: StoredFlag[] = [];
    const versions = new Map<string, number>();
    for (const [key, item] of state.items) {
      if (key === SEGMENTS_KEY || item.deleted) continue;
      versions.set(key, Number(item.version));
      const read = this.toStored(item, check);
      if ('problems' in read) problems.push(...read.problems);
      else flags.push(read.stored);
    }
    flags.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const segmentsVersion = segmentsItem && !segmentsItem.deleted ? Number(segmentsItem.version) : 0;
    return { flags, segments, revision: state.revision, problems, versions, segmentsVersion };
  }

  async list(): Promise<FlagList> {
    const { flags, segments, revision, problems } = this.build(await this.readState());
    return { flags, segments, revision, problems };
  }

  /** The live item for `key` (segments included), with the latest change overlaid if it is not applied yet. */
  private async currentItem(key: string): Promise<FlagItem | undefined> {
    const [head, item] = await Promise.all([this.readHead(), this.getItem(key)]);
    if (head && head.key === key && (!item || Number(item.revision) < head.revision)) return itemFromChange(head, this.pk.flag);
    return item;
  }

  async get(key: string): Promise<StoredFlag | undefined> {
    const [item, segmentsItem] = await Promise.all([this.currentItem(key), key === SEGMENTS_KEY ? undefined : this.currentItem(SEGMENTS_KEY)]);
    if (!item || item.deleted || key === SEGMENTS_KEY) return undefined;
    const segments = this.readSegments(segmentsItem, []);
    const read = this.toStored(item, storedFlagChecker(segments, (flagKey) => this.source(flagKey)));
    return 'stored' in read ? read.stored : undefined;
  }

  // --------------------------------------------------------------------------------------------------------- writes

  private checkActor(options: WriteOptions): void {
    if (!options || typeof options.actor !== 'string' || options.actor.length === 0) {
      throw new StoreValidationError([{ severity: 'error', source: 'dynamodb store', message: 'a write needs an actor' }]);
    }
  }

  /** Refuses what DynamoDB could not hold in one item, before anything is written: never truncated. */
  private checkSize(key: string, body: string, options: WriteOptions): void {
    const size = Buffer.byteLength(body, 'utf8') + Buffer.byteLength(key, 'utf8') * 2 + Buffer.byteLength(options.actor, 'utf8') + Buffer.byteLength(options.reason ?? '', 'utf8');
    if (size + ITEM_OVERHEAD <= DYNAMODB_ITEM_LIMIT) return;
    const what = key === SEGMENTS_KEY ? 'the segments are' : `the flag is`;
    throw new StoreValidationError([
      {
        severity: 'error',
        source: this.source(key),
        ...(key === SEGMENTS_KEY ? {} : { flagKey: key }),
        message: `${what} ${Buffer.byteLength(body, 'utf8').toLocaleString('en')} bytes as JSON: a DynamoDB item holds at most 400 KB (${DYNAMODB_ITEM_LIMIT.toLocaleString('en')} bytes, less about 1 KB of bookkeeping); nothing was written (split it into smaller flags or segments)`,
      },
    ]);
  }

  /**
   * One write: roll the latest change forward, read the item, check the expected version, claim the next revision
   * with the change item (conditional create), apply it. Losing the claim to another writer: read again and retry.
   */
  private async write(operation: Operation, options: WriteOptions): Promise<WriteResult> {
    // Writes from this object go one at a time: racing each other would only multiply lost claims and retries.
    const previous = this.writeLock;
    let release!: () => void;
    this.writeLock = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await this.writeNow(operation, options);
    } finally {
      release();
    }
  }

  private async writeNow(operation: Operation, options: WriteOptions): Promise<WriteResult> {
    const deadline = Date.now() + 30_000;
    for (let attempt = 0; ; attempt++) {
      // The item is read after the head: read before it, it could miss a change made just before that head.
      const head = await this.readHead();
      // Change N must be applied before N+1 is claimed (skipped when this object applied it itself); a change to
      // another key is applied while this key is read.
      const pending = head && head.revision !== this.applied ? head : undefined;
      const [read] = await Promise.all([
        this.getItem(operation.key),
        pending && pending.key !== operation.key ? this.rollForward(pending) : undefined,
      ]);
      let item = read;
      if (pending && pending.key === operation.key && (!item || Number(item.revision) < pending.revision)) {
        await this.rollForward(pending);
        item = itemFromChange(pending, this.pk.flag);
      }
      const live = item && !item.deleted ? item : undefined;
      const liveVersion = live ? Number(live.version) : 0;
      if (operation.expectedVersion !== undefined && operation.expectedVersion !== liveVersion) {
        throw new StoreConflictError(operation.key, operation.expectedVersion, liveVersion);
      }
      if (operation.type === 'delete' && !live) throw new FlagNotFoundError(operation.key);
      const revision = (head?.revision ?? 0) + 1;
      const change: ChangeItem = {
        pk: this.pk.change,
        sk: pad(revision),
        revision,
        type: operation.type,
        key: operation.key,
        version: (item ? Number(item.version) : 0) + 1,
        existed: !!live,
        beforeRevision: live ? Number(live.revision) : 0,
        actor: options.actor,
        at: new Date().toISOString(),
      };
      if (operation.body !== undefined) change.body = operation.body;
      if (options.reason !== undefined) change.reason = options.reason;
      try {
        await this.call(() =>
          this.db.send(new PutCommand({ TableName: this.table, Item: change, ConditionExpression: 'attribute_not_exists(pk)' })),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        if (Date.now() > deadline) throw new StoreUnavailableError(this.kind, new Error(`could not claim a revision for "${operation.key}" after ${attempt + 1} attempts: too many concurrent writers`));
        // Another writer took this revision: back off (jittered, doubling up to 200 ms) and read again.
        await sleep(Math.random() * Math.min(5 * 2 ** attempt, 200));
        continue;
      }
      await this.rollForward(change);
      this.applied = revision;
      for (const watcher of this.watchers) watcher.wake();
      return { key: operation.key, version: change.version, revision };
    }
  }

  private async currentSegments(): Promise<Record<string, SegmentDefinition>> {
    return this.readSegments(await this.currentItem(SEGMENTS_KEY), []);
  }

  async put(key: string, flag: FlagDefinition, options: WriteOptions): Promise<WriteResult> {
    this.checkActor(options);
    const segments = await this.currentSegments();
    assertWritableFlag(key, flag, segments, this.source(key));
    const body = JSON.stringify(flag);
    this.checkSize(key, body, options);
    return this.write({ type: 'put', key, body, expectedVersion: options.expectedVersion }, options);
  }

  async delete(key: string, options: WriteOptions): Promise<WriteResult> {
    this.checkActor(options);
    return this.write({ type: 'delete', key, body: undefined, expectedVersion: options.expectedVersion }, options);
  }

  /** Replaces the whole segment set (`expectedVersion`: the segment set's own version); a segment still used is kept. */
  async putSegments(segments: Record<string, SegmentDefinition>, options: WriteOptions): Promise<{ revision: number }> {
    this.checkActor(options);
    const normalized = assertWritableSegments(segments, this.source(SEGMENTS_KEY));
    const { flags } = await this.list();
    const problems: Problem[] = [];
    for (const stored of flags) {
      try {
        assertWritableFlag(stored.key, stored.flag, normalized, this.source(stored.key));
      } catch (error) {
        if (error instanceof StoreValidationError) problems.push(...error.problems);
        else throw error;
      }
    }
    if (problems.length > 0) throw new StoreValidationError(problems);
    const body = JSON.stringify(normalized);
    this.checkSize(SEGMENTS_KEY, body, options);
    const { revision } = await this.write({ type: 'segments', key: SEGMENTS_KEY, body, expectedVersion: options.expectedVersion }, options);
    return { revision };
  }

  async exportSnapshot(): Promise<FlagSnapshotDocument> {
    const list = await this.list();
    return createSnapshot({ revision: list.revision, flags: list.flags, segments: list.segments });
  }

  /**
   * Makes the store hold exactly the document's flags and segments: new and changed flags are written, absent ones
   * deleted, unchanged ones left alone. Each change is its own audited write, guarded by the version read when the
   * import began; a conflict (another writer) recomputes the remaining changes and goes on. DynamoDB without
   * transactions cannot apply them all at once: a process that dies half-way leaves part of the import, and
   * importing the document again completes it.
   */
  async importSnapshot(doc: FlagSnapshotDocument, options: WriteOptions): Promise<{ revision: number }> {
    this.checkActor(options);
    const docProblems = checkSnapshot(doc);
    if (docProblems.length > 0) throw new StoreValidationError(docProblems);
    const source = `dynamodb table ${this.table} import`;
    const segments = assertWritableSegments(doc.segments, source);
    const problems: Problem[] = [];
    const writeOptions: WriteOptions = { actor: options.actor, reason: options.reason ?? `import of snapshot ${doc.hash.slice(0, 12)}` };
    for (const [key, { flag }] of Object.entries(doc.flags)) {
      try {
        assertWritableFlag(key, flag, segments, source);
        this.checkSize(key, JSON.stringify(flag), writeOptions);
      } catch (error) {
        if (error instanceof StoreValidationError) problems.push(...error.problems);
        else throw error;
      }
    }
    if (problems.length > 0) throw new StoreValidationError(problems);
    for (let attempt = 1; ; attempt++) {
      const state = this.build(await this.readState());
      const operations: Operation[] = [];
      const segmentsChanged = canonicalJson(state.segments) !== canonicalJson(segments);
      // New segments first (flags may use them); segments that only removed ones are written after the flags go.
      const current = new Map(state.flags.map((stored) => [stored.key, stored]));
      const puts: Operation[] = [];
      for (const key of Object.keys(doc.flags).sort()) {
        const { flag } = doc.flags[key]!;
        const existing = current.get(key);
        if (existing && canonicalJson(existing.flag) === canonicalJson(flag)) continue;
        puts.push({ type: 'put', key, body: JSON.stringify(flag), expectedVersion: state.versions.get(key) ?? 0 });
      }
      const deletes: Operation[] = [];
      for (const [key, version] of [...state.versions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (!Object.prototype.hasOwnProperty.call(doc.flags, key)) deletes.push({ type: 'delete', key, body: undefined, expectedVersion: version });
      }
      const union = { ...state.segments, ...segments };
      const segmentsOp = (body: Record<string, SegmentDefinition>, expectedVersion: number): Operation => ({
        type: 'segments',
        key: SEGMENTS_KEY,
        body: JSON.stringify(body),
        expectedVersion,
      });
      if (segmentsChanged) {
        // Flags are written while both old and new segments exist, then the final set is written.
        const needsUnion = canonicalJson(union) !== canonicalJson(segments);
        operations.push(segmentsOp(needsUnion ? union : segments, state.segmentsVersion));
        operations.push(...puts, ...deletes);
        if (needsUnion) operations.push(segmentsOp(segments, state.segmentsVersion + 1));
      } else {
        operations.push(...puts, ...deletes);
      }
      if (operations.length === 0) return { revision: state.revision };
      try {
        let revision = state.revision;
        for (const operation of operations) revision = (await this.write(operation, writeOptions)).revision;
        return { revision };
      } catch (error) {
        if (!(error instanceof StoreConflictError) || attempt >= 5) throw error;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------- audit

  async audit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(Math.floor(query.limit ?? 50), 1), 500);
    const since = query.since !== undefined ? timeBound(query.since, 'since') : undefined;
    const until = query.until !== undefined ? timeBound(query.until, 'until') : undefined;
    let before = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;
    const found: ChangeItem[] = [];
    let scanned = 0;
    for (;;) {
      const page = await this.call(() =>
        this.db.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: before === undefined ? 'pk = :pk' : 'pk = :pk AND sk < :before',
            ExpressionAttributeValues: { ':pk': this.pk.change, ...(before === undefined ? {} : { ':before': pad(before) }) },
            ScanIndexForward: false,
            Limit: QUERY_PAGE,
            ConsistentRead: true,
          }),
        ),
      );
      const items = (page.Items ?? []) as ChangeItem[];
      let last: number | undefined;
      for (const change of items) {
        scanned++;
        last = change.revision;
        const at = Date.parse(change.at);
        if (query.key !== undefined && change.key !== query.key) continue;
        if (until !== undefined && at > until) continue;
        if (since !== undefined && at < since) continue;
        if (found.length === limit) return { entries: await this.auditEntries(found), next: encodeCursor(found[limit - 1]!.revision) };
        found.push(change);
      }
      if (page.LastEvaluatedKey === undefined || last === undefined) return { entries: await this.auditEntries(found) };
      before = last;
      if (scanned >= AUDIT_SCAN_LIMIT) {
        return { entries: await this.auditEntries(found), next: encodeCursor(found.length === limit ? found[limit - 1]!.revision : last) };
      }
    }
  }

  /** Audit entries for change items; each `before` is the body of the change that the write replaced. */
  private async auditEntries(changes: ChangeItem[]): Promise<AuditEntry[]> {
    const wanted = [...new Set(changes.map((change) => Number(change.beforeRevision)).filter((revision) => revision > 0))];
    const bodies = new Map<number, string | undefined>();
    for (let i = 0; i < wanted.length; i += 100) {
      let keys: Array<Record<string, unknown>> = wanted.slice(i, i + 100).map((revision) => ({ pk: this.pk.change, sk: pad(revision) }));
      for (let round = 0; keys.length > 0 && round < 10; round++) {
        const result = await this.call(() =>
          this.db.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'revision, body' } } })),
        );
        for (const item of result.Responses?.[this.table] ?? []) bodies.set(Number(item.revision), item.body as string | undefined);
        keys = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Array<Record<string, unknown>>;
      }
    }
    const json = (text: string | undefined): FlagDefinition | null => {
      if (text === undefined) return null;
      const parsed = parseJson(text);
      return parsed.ok && isMap(parsed.value) ? (parsed.value as FlagDefinition) : null;
    };
    return changes.map((change) => {
      const entry: AuditEntry = {
        id: String(change.revision),
        revision: Number(change.revision),
        key: change.key,
        action: change.type === 'delete' ? 'delete' : change.existed ? 'update' : 'create',
        actor: change.actor,
        at: change.at,
        before: change.existed ? json(bodies.get(Number(change.beforeRevision))) : null,
        after: change.type === 'delete' ? null : json(change.body),
        version: Number(change.version),
      };
      if (change.reason !== undefined) entry.reason = change.reason;
      return entry;
    });
  }

  // ---------------------------------------------------------------------------------------------------------- watch

  watch(options: WatchOptions = {}): AsyncIterable<ChangeEvent> {
    let watcher: DynamoWatcher | undefined;
    const queue = new AsyncQueue<ChangeEvent>({
      signal: options.signal,
      onEnd: () => {
        if (watcher) {
          watcher.stop();
          this.watchers.delete(watcher);
        }
      },
    });
    if (this.closed || queue.closed) {
      queue.end();
      return queue;
    }
    watcher = new DynamoWatcher(
      {
        head: async () => (await this.readHead())?.revision ?? 0,
        changes: (after) => this.readChanges(after, QUERY_PAGE),
        report: (error) => this.report(error),
      },
      queue,
      options.fromRevision,
      () => this.currentPollMs(),
    );
    this.watchers.add(watcher);
    watcher.start();
    return queue;
  }

  // ------------------------------------------------------------------------------------------------------- API keys

  private async listKeys(): Promise<ApiKeyRecord[]> {
    const items = await this.queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': P_KEY } });
    const records: ApiKeyRecord[] = [];
    for (const item of items) {
      const parsed = parseJson(String(item.record));
      if (parsed.ok && isMap(parsed.value) && typeof parsed.value.id === 'string') records.push(parsed.value as unknown as ApiKeyRecord);
    }
    return records.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
  }

  private async createKey(record: ApiKeyRecord): Promise<void> {
    const hash = record.hash.toLowerCase();
    try {
      await this.call(() =>
        this.db.send(new PutCommand({ TableName: this.table, Item: { pk: P_KEY_HASH, sk: hash, id: record.id }, ConditionExpression: 'attribute_not_exists(pk)' })),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new Error('an API key with the same hash already exists');
      throw error;
    }
    try {
      await this.call(() =>
        this.db.send(
          new PutCommand({ TableName: this.table, Item: { pk: P_KEY, sk: record.id, record: JSON.stringify(record) }, ConditionExpression: 'attribute_not_exists(pk)' }),
        ),
      );
    } catch (error) {
      await this.call(() => this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: P_KEY_HASH, sk: hash }, ConditionExpression: 'id = :id', ExpressionAttributeValues: { ':id': record.id } }))).catch(
        () => undefined,
      );
      if (isConditionFailure(error)) throw new Error(`an API key with id "${record.id}" already exists`);
      throw error;
    }
  }

  private async revokeKey(id: string): Promise<boolean> {
    for (;;) {
      const item = (await this.call(() => this.db.send(new GetCommand({ TableName: this.table, Key: { pk: P_KEY, sk: id }, ConsistentRead: true })))).Item;
      if (!item) return false;
      const parsed = parseJson(String(item.record));
      if (!parsed.ok || !isMap(parsed.value)) return false;
      const record = parsed.value as unknown as ApiKeyRecord;
      if (record.revokedAt) return true;
      try {
        await this.call(() =>
          this.db.send(
            new PutCommand({
              TableName: this.table,
              Item: { pk: P_KEY, sk: id, record: JSON.stringify({ ...record, revokedAt: new Date().toISOString() }) },
              ConditionExpression: '#record = :old',
              ExpressionAttributeNames: { '#record': 'record' },
              ExpressionAttributeValues: { ':old': item.record },
            }),
          ),
        );
      } catch (error) {
        if (isConditionFailure(error)) continue;
        throw error;
      }
      // Tell every process: listeners poll this counter.
      await this.call(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: this.pk.meta, sk: 'keys' },
            UpdateExpression: 'ADD seq :one',
            ExpressionAttributeValues: { ':one': 1 },
          }),
        ),
      );
      this.keyPoller?.wake();
      return true;
    }
  }

  private keyPollerHost(): KeyPollerHost {
    return {
      sequence: async () =>
        Number(
          (await this.call(() => this.db.send(new GetCommand({ TableName: this.table, Key: { pk: this.pk.meta, sk: 'keys' }, ConsistentRead: true })))).Item?.seq ?? 0,
        ),
      revokedIds: async () => (await this.listKeys()).filter((record) => record.revokedAt).map((record) => record.id),
      announce: (change) => {
        for (const listener of [...this.keyListeners]) listener(change);
      },
      report: (error) => this.report(error),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // The environments' stores first: they use this store's client.
    await this.catalog?.close().catch(() => undefined);
    this.closed = true;
    for (const watcher of [...this.watchers]) watcher.end();
    this.watchers.clear();
    this.keyPoller?.stop();
    this.keyPoller = undefined;
    this.byChangePartition.delete(this.pk.change);
    await this.streamStarting;
    this.streamReader?.stop();
    this.streamClient?.destroy();
    if (this.ownsClient) this.raw.destroy();
  }
}

// ------------------------------------------------------------------------------------------------------- the watcher

interface WatcherHost {
  head(): Promise<number>;
  changes(after: number): Promise<{ changes: ChangeItem[]; more: boolean }>;
  report(error: Error): void;
}

function eventOf(change: ChangeItem): ChangeEvent | undefined {
  const base = { revision: Number(change.revision), actor: change.actor, at: change.at };
  const body = change.body === undefined ? undefined : parseJson(change.body);
  if (change.type === 'delete') return { type: 'delete', key: change.key, version: Number(change.version), ...base };
  if (!body?.ok || !isMap(body.value)) return undefined;
  if (change.type === 'segments') return { type: 'segments', segments: body.value as Record<string, SegmentDefinition>, ...base };
  return { type: 'put', key: change.key, flag: body.value as FlagDefinition, version: Number(change.version), ...base };
}

/** One `watch()` stream: polls the change log after the last revision delivered, and is woken by local writes. */
class DynamoWatcher {
  private last: number | undefined;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;

  constructor(
    private readonly host: WatcherHost,
    private readonly queue: AsyncQueue<ChangeEvent>,
    fromRevision: number | undefined,
    private readonly intervalMs: () => number,
  ) {
    if (fromRevision !== undefined) this.last = Math.max(0, Math.floor(fromRevision));
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.wake();
  }

  end(): void {
    this.stop();
    this.queue.end();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private pause(ms: number): Promise<void> {
    if (this.woken || this.stopped) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeUp = undefined;
        self.woken = false;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.last === undefined) this.last = await this.host.head();
        this.woken = false;
        const { changes, more } = await this.host.changes(this.last);
        if (this.stopped) return;
        for (const change of changes) {
          if (Number(change.revision) <= this.last) continue;
          const event = eventOf(change);
          this.last = Number(change.revision);
          if (event) this.queue.push(event);
        }
        if (!more || changes.length === 0) await this.pause(this.intervalMs());
      } catch (error) {
        this.host.report(error instanceof Error ? error : new Error(String(error)));
        await this.pause(Math.max(this.intervalMs(), 500));
      }
    }
  }
}

// --------------------------------------------------------------------------------------------- API key announcements

interface KeyPollerHost {
  sequence(): Promise<number>;
  revokedIds(): Promise<string[]>;
  announce(change: ApiKeyChange): void;
  report(error: Error): void;
}

/** Polls the revocation counter; when it moves, announces each key revoked since (the ones known at start excepted). */
class KeyPoller {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private sequence: number | undefined;
  private announced = new Set<string>();
  private running = false;

  constructor(
    private readonly host: KeyPollerHost,
    private readonly intervalMs: () => number,
  ) {
    void this.tick();
  }

  wake(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    if (this.timer) clearTimeout(this.timer);
    try {
      const sequence = await this.host.sequence();
      if (this.sequence === undefined) {
        this.announced = new Set(await this.host.revokedIds());
        this.sequence = sequence;
      } else if (sequence !== this.sequence) {
        this.sequence = sequence;
        for (const id of await this.host.revokedIds()) {
          if (this.announced.has(id) || this.stopped) continue;
          this.announced.add(id);
          this.host.announce({ type: 'revoked', id });
        }
      }
    } catch (error) {
      this.host.report(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.running = false;
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.tick(), this.intervalMs());
        this.timer.unref();
      }
    }
  }
}
