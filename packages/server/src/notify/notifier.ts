import { createHmac } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { FlagDefinition, SegmentDefinition } from '@vexil/core';
import type { ChangeEvent, FlagStore } from '@vexil/store';
import type { SnapshotChange, SnapshotHolder } from '../snapshot/holder.js';

/** Where notifications go: a JSON webhook (GO Feature Flag's webhook body) or a Slack incoming webhook. */
export interface NotifierTarget {
  kind: 'webhook' | 'slack';
  url: string;
  /** Webhooks: signs each body, header `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. */
  secret?: string;
  /** Extra request headers (e.g. an `Authorization` the receiver expects). */
  headers?: Record<string, string>;
  /** Webhooks: extra `meta` fields beside `hostname`. */
  meta?: Record<string, string>;
  /** The `target` label in logs and metrics. Default `<kind>:<host of the URL>` (never the path: it may be a secret). */
  name?: string;
}

export interface NotifierOptions {
  targets: NotifierTarget[];
  /** Changes arriving within this window are sent as one notification. Default 1000 ms. */
  batchMs?: number;
  /** Retries after a failed delivery (network error, timeout, non-2xx), with exponential backoff. Default 3. */
  retries?: number;
  /** The first retry delay; doubled each time. Default 1000 ms. */
  retryDelayMs?: number;
  /** Notifications waiting per target; beyond it the oldest is dropped (logged and counted). Default 100. */
  queueSize?: number;
  /** Per-request timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** `meta.hostname`. Default: the machine's host name. */
  hostname?: string;
  /** `meta.environment` (`project/environment`), for the notifiers of environments other than default/default. */
  environment?: string;
  /** Reads the reasons of the changes from the store's audit log. Default true. */
  reasons?: boolean;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Called for every outcome: `sent`, `retry`, `failed` (gave up), `dropped` (queue full). */
  onOutcome?: (target: string, outcome: NotificationOutcome) => void;
  /** For tests. Default the global fetch. */
  fetch?: typeof fetch;
}

export type NotificationOutcome = 'sent' | 'retry' | 'failed' | 'dropped';

/** One change inside a notification. */
export interface NotifiedChange {
  key: string;
  action: 'create' | 'update' | 'delete' | 'segments';
  actor: string;
  reason?: string;
  revision: number;
  at: string;
}

/**
 * The webhook body: GO Feature Flag's (`meta` and the `DiffCache` in `flags`), plus who changed what and why.
 * `actor` and `reason` list every distinct actor and reason of the batch (joined with ", " and "; ").
 */
export interface NotificationBody {
  meta: Record<string, string>;
  flags: {
    added: Record<string, FlagDefinition>;
    updated: Record<string, { old_value: FlagDefinition; new_value: FlagDefinition }>;
    deleted: Record<string, FlagDefinition>;
  };
  /** Present when the shared segments changed. */
  segments?: { old_value: Record<string, SegmentDefinition>; new_value: Record<string, SegmentDefinition> };
  actor: string;
  reason?: string;
  /** The store revision after the last change of the batch. */
  revision: number;
  /** When the last change of the batch happened (ISO 8601). */
  at: string;
  changes: NotifiedChange[];
}

/** One rendered request to a target. */
export interface Delivery {
  body: string;
  headers: Record<string, string>;
  revision: number;
}

interface TargetState {
  target: NotifierTarget;
  label: string;
  queue: Delivery[];
  running: Promise<void> | undefined;
}

const silentLog = { info() {}, warn() {}, error() {} };

/** The label of a target in logs and metrics: its name, or kind and host (a Slack URL's path is its secret). */
export function targetLabel(target: NotifierTarget): string {
  if (target.name) return target.name;
  try {
    return `${target.kind}:${new URL(target.url).host}`;
  } catch {
    return target.kind;
  }
}

/**
 * Sends a notification for every change the server's snapshot holder sees (admin writes, imports, file reloads,
 * writes by other servers on the same store): changes within `batchMs` are sent together. Deliveries run in the
 * background, one target at a time in order, with retries; a failing or slow target never blocks the server or the
 * other targets, and its queue is bounded.
 */
export class Notifier {
  readonly #options: Required<Omit<NotifierOptions, 'log' | 'onOutcome' | 'fetch' | 'targets' | 'environment'>>;
  readonly #environment: string | undefined;
  readonly #log: NonNullable<NotifierOptions['log']>;
  readonly #onOutcome: NonNullable<NotifierOptions['onOutcome']>;
  readonly #fetch: typeof fetch;
  readonly #targets: TargetState[];
  #store: FlagStore | undefined;
  #holder: SnapshotHolder | undefined;
  #listener: ((change: SnapshotChange) => void) | undefined;
  /** Flags and segments as last notified (so that an update knows its old value). */
  #flags = new Map<string, FlagDefinition>();
  #segments: Record<string, SegmentDefinition> = {};
  /** The batch being collected: each changed key's value before the batch (null: absent) and now. */
  #batch = new Map<string, { before: FlagDefinition | null; after: FlagDefinition | null }>();
  #batchSegments: { before: Record<string, SegmentDefinition>; after: Record<string, SegmentDefinition> } | undefined;
  #batchChanges: NotifiedChange[] = [];
  #batchTimer: NodeJS.Timeout | undefined;
  #building = new Set<Promise<void>>();
  #aborts = new Set<AbortController>();
  #closed = false;

  constructor(options: NotifierOptions) {
    this.#environment = options.environment;
    this.#options = {
      batchMs: options.batchMs ?? 1000,
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 1000,
      queueSize: Math.max(1, options.queueSize ?? 100),
      timeoutMs: options.timeoutMs ?? 5000,
      hostname: options.hostname ?? osHostname(),
      reasons: options.reasons ?? true,
    };
    this.#log = options.log ?? silentLog;
    this.#onOutcome = options.onOutcome ?? (() => undefined);
    this.#fetch = options.fetch ?? fetch;
    this.#targets = options.targets.map((target) => ({ target, label: targetLabel(target), queue: [], running: undefined }));
  }

  get targets(): string[] {
    return this.#targets.map((state) => state.label);
  }

  /** Follows the holder's changes from its current state (call once the holder has started). */
  attach(holder: SnapshotHolder): void {
    this.#holder = holder;
    this.#store = holder.store;
    this.#flags = new Map(Object.entries(holder.definitions()));
    this.#segments = holder.segments;
    this.#listener = (change) => {
      try {
        this.#onChange(change);
      } catch (error) {
        this.#log.error({ err: error }, 'notifications: could not record a change');
      }
    };
    holder.on('change', this.#listener);
  }

  /** Records changes (normally from the holder). Exposed for tests and other feeds. */
  record(events: readonly ChangeEvent[]): void {
    for (const event of events) {
      const change: NotifiedChange = { key: event.type === 'segments' ? '' : event.key, action: 'segments', actor: event.actor, revision: event.revision, at: event.at };
      if (event.type === 'segments') {
        this.#batchSegments = { before: this.#batchSegments?.before ?? this.#segments, after: event.segments };
        this.#segments = event.segments;
      } else {
        const before = this.#flags.get(event.key) ?? null;
        const after = event.type === 'put' ? event.flag : null;
        if (after) this.#flags.set(event.key, after);
        else this.#flags.delete(event.key);
        const pending = this.#batch.get(event.key);
        this.#batch.set(event.key, { before: pending ? pending.before : before, after });
        change.action = event.type === 'delete' ? 'delete' : before ? 'update' : 'create';
      }
      this.#batchChanges.push(change);
    }
    this.#schedule();
  }

  #onChange(change: SnapshotChange): void {
    if (this.#closed) return;
    if (!change.resync) return this.record(change.events);
    // A full re-read (the store came back, or the feed failed): what changed is known, not who changed it.
    const holder = this.#holder!;
    const at = new Date().toISOString();
    for (const key of change.keys) {
      const before = this.#flags.get(key) ?? null;
      const after = holder.flags.get(key)?.flag ?? null;
      if (after) this.#flags.set(key, after);
      else this.#flags.delete(key);
      if (!before && !after) continue;
      const pending = this.#batch.get(key);
      this.#batch.set(key, { before: pending ? pending.before : before, after });
      this.#batchChanges.push({ key, action: !after ? 'delete' : before ? 'update' : 'create', actor: 'unknown (re-read from the store)', revision: change.revision, at });
    }
    if (JSON.stringify(holder.segments) !== JSON.stringify(this.#segments)) {
      this.#batchSegments = { before: this.#batchSegments?.before ?? this.#segments, after: holder.segments };
      this.#segments = holder.segments;
      this.#batchChanges.push({ key: '', action: 'segments', actor: 'unknown (re-read from the store)', revision: change.revision, at });
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#batchChanges.length === 0 || this.#batchTimer) return;
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = undefined;
      this.#flushBatch();
    }, this.#options.batchMs);
  }

  /** Ends the batch being collected: builds its notification and queues it for every target. */
  #flushBatch(): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    if (this.#batchChanges.length === 0) return;
    const flags = this.#batch;
    const segments = this.#batchSegments;
    const changes = this.#batchChanges;
    this.#batch = new Map();
    this.#batchSegments = undefined;
    this.#batchChanges = [];
    const building = this.#build(flags, segments, changes)
      .then((body) => {
        if (body) this.#enqueue(body);
      })
      .catch((error: unknown) => this.#log.error({ err: error }, 'notifications: could not build a notification'))
      .finally(() => this.#building.delete(building));
    this.#building.add(building);
  }

  async #build(
    flags: Map<string, { before: FlagDefinition | null; after: FlagDefinition | null }>,
    segments: { before: Record<string, SegmentDefinition>; after: Record<string, SegmentDefinition> } | undefined,
    changes: NotifiedChange[],
  ): Promise<NotificationBody | undefined> {
    const body: NotificationBody = {
      meta: { hostname: this.#options.hostname, ...(this.#environment ? { environment: this.#environment } : {}) },
      flags: { added: {}, updated: {}, deleted: {} },
      actor: '',
      revision: 0,
      at: '',
      changes,
    };
    for (const [key, { before, after }] of flags) {
      if (!before && after) body.flags.added[key] = after;
      else if (before && after) body.flags.updated[key] = { old_value: before, new_value: after };
      else if (before && !after) body.flags.deleted[key] = before;
    }
    if (segments) body.segments = { old_value: segments.before, new_value: segments.after };
    const empty = Object.keys(body.flags.added).length + Object.keys(body.flags.updated).length + Object.keys(body.flags.deleted).length === 0;
    if (empty && !segments) return undefined; // e.g. created and deleted within one batch
    if (this.#options.reasons) await this.#addReasons(changes);
    const last = changes[changes.length - 1]!;
    body.revision = last.revision;
    body.at = last.at;
    body.actor = [...new Set(changes.map((change) => change.actor))].join(', ');
    const reasons = [...new Set(changes.flatMap((change) => (change.reason ? [change.reason] : [])))];
    if (reasons.length > 0) body.reason = reasons.join('; ');
    return body;
  }

  /** Change events do not carry the reason: the audit log does (best effort; a store without one gives none). */
  async #addReasons(changes: NotifiedChange[]): Promise<void> {
    const store = this.#store;
    const wanted = changes.filter((change) => change.action !== 'segments');
    if (!store || wanted.length === 0) return;
    try {
      const earliest = Math.min(...wanted.map((change) => Date.parse(change.at)).filter((ms) => Number.isFinite(ms)));
      const since = Number.isFinite(earliest) ? new Date(earliest - 5000).toISOString() : undefined;
      const page = await withTimeout(store.audit({ ...(since ? { since } : {}), limit: 500 }), this.#options.timeoutMs);
      const reasons = new Map<string, string>();
      for (const entry of page.entries) if (entry.reason) reasons.set(`${entry.revision}\u0000${entry.key}`, entry.reason);
      for (const change of wanted) {
        const reason = reasons.get(`${change.revision}\u0000${change.key}`);
        if (reason) change.reason = reason;
      }
    } catch (error) {
      this.#log.warn({ err: error }, 'notifications: could not read the reasons from the audit log');
    }
  }

  #enqueue(body: NotificationBody): void {
    for (const state of this.#targets) {
      let delivery: Delivery;
      try {
        delivery = render(state.target, body);
      } catch (error) {
        this.#log.error({ err: error, target: state.label }, 'notifications: could not render a notification');
        continue;
      }
      state.queue.push(delivery);
      while (state.queue.length > this.#options.queueSize) {
        const dropped = state.queue.shift()!;
        this.#onOutcome(state.label, 'dropped');
        this.#log.warn({ target: state.label, revision: dropped.revision, queueSize: this.#options.queueSize }, 'notifications: queue full, dropped the oldest notification');
      }
      state.running ??= this.#drain(state).finally(() => {
        state.running = undefined;
      });
    }
  }

  async #drain(state: TargetState): Promise<void> {
    for (let delivery = state.queue.shift(); delivery; delivery = state.queue.shift()) {
      for (let attempt = 0; ; attempt++) {
        const error = await this.#send(state.target, delivery);
        if (!error) {
          this.#onOutcome(state.label, 'sent');
          break;
        }
        if (attempt >= this.#options.retries || this.#closed) {
          this.#onOutcome(state.label, 'failed');
          this.#log.error({ target: state.label, revision: delivery.revision, attempts: attempt + 1, error }, 'notifications: delivery failed, giving up');
          break;
        }
        this.#onOutcome(state.label, 'retry');
        const delay = this.#options.retryDelayMs * 2 ** attempt;
        this.#log.warn({ target: state.label, revision: delivery.revision, attempt: attempt + 1, retryInMs: delay, error }, 'notifications: delivery failed, retrying');
        await sleep(delay);
      }
    }
  }

  /** One attempt; resolves to an error message, or undefined when delivered (2xx). Never rejects. */
  async #send(target: NotifierTarget, delivery: Delivery): Promise<string | undefined> {
    const abort = new AbortController();
    this.#aborts.add(abort);
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
    try {
      const response = await this.#fetch(target.url, { method: 'POST', headers: delivery.headers, body: delivery.body, signal: abort.signal });
      await response.arrayBuffer().catch(() => undefined);
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      const message = error instanceof Error ? error.message : String(error);
      return cause instanceof Error ? `${message}: ${cause.message}` : message;
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(abort);
    }
  }

  /** Sends what is pending now (without waiting for the batch window) and waits for the queues, up to `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<void> {
    this.#flushBatch();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pending = [...this.#building, ...this.#targets.flatMap((state) => (state.running ? [state.running] : []))];
      if (pending.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(pending), new Promise((resolve) => (timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))))]);
      clearTimeout(timer);
    }
  }

  /** Stops following, sends the batch being collected, and waits for deliveries up to `timeoutMs` (then abandons them). */
  async close(timeoutMs = 3000): Promise<void> {
    if (this.#listener) this.#holder?.off('change', this.#listener);
    this.#listener = undefined;
    await this.flush(timeoutMs);
    this.#closed = true;
    for (const state of this.#targets) state.queue.length = 0;
    for (const abort of this.#aborts) abort.abort(new Error('the server is closing'));
  }
}

/** The request for one target: the JSON body (signed with the secret) for webhooks, a text message for Slack. */
export function render(target: NotifierTarget, body: NotificationBody): Delivery {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'vexil-notifier', ...(target.headers ?? {}) };
  let text: string;
  if (target.kind === 'slack') {
    text = JSON.stringify({ text: slackText(body) });
  } else {
    text = JSON.stringify(target.meta ? { ...body, meta: { ...target.meta, ...body.meta } } : body);
    if (target.secret) headers['x-hub-signature-256'] = signature(target.secret, text);
  }
  return { body: text, headers, revision: body.revision };
}

/** `sha256=<hex HMAC-SHA256 of the body>`, as GitHub and GO Feature Flag sign webhooks. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const MAX_SLACK_LINES = 20;

/** A short readable message: one line per flag (what changed), then who and why. */
export function slackText(body: NotificationBody): string {
  const lines: string[] = [];
  for (const key of Object.keys(body.flags.added)) lines.push(`• \`${key}\` created`);
  for (const [key, { old_value, new_value }] of Object.entries(body.flags.updated)) lines.push(`• \`${key}\` ${describeUpdate(old_value, new_value)}`);
  for (const key of Object.keys(body.flags.deleted)) lines.push(`• \`${key}\` deleted`);
  if (body.segments) lines.push('• segments updated');
  const shown = lines.length > MAX_SLACK_LINES ? [...lines.slice(0, MAX_SLACK_LINES), `• … and ${lines.length - MAX_SLACK_LINES} more`] : lines;
  const count = lines.length;
  const where = body.meta.environment ? ` in ${body.meta.environment}` : '';
  const head = `Vexil: ${count === 1 ? 'flag change' : `${count} flag changes`}${where} on ${body.meta.hostname} (revision ${body.revision})`;
  const who = `by ${body.actor}${body.reason ? ` — “${body.reason}”` : ''}`;
  return [head, ...shown, who].join('\n');
}

function describeUpdate(before: FlagDefinition, after: FlagDefinition): string {
  const wasDisabled = (before as { disable?: unknown }).disable === true;
  const isDisabled = (after as { disable?: unknown }).disable === true;
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (field) => JSON.stringify((before as Record<string, unknown>)[field]) !== JSON.stringify((after as Record<string, unknown>)[field]),
  );
  if (wasDisabled !== isDisabled) {
    const rest = changed.filter((field) => field !== 'disable');
    return `${isDisabled ? 'disabled' : 'enabled'}${rest.length > 0 ? `; also changed ${rest.join(', ')}` : ''}`;
  }
  return changed.length > 0 ? `updated (${changed.join(', ')})` : 'rewritten (no change)';
}

/** Unref'd: a retry waiting for its turn does not keep a closed server's process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
