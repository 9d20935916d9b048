import {
  evaluate,
  jsonLogicLoaded,
  loadJsonLogic,
  usesJsonLogic,
  type EvaluationContext as CoreContext,
  type EvaluationDetail,
  type ErrorCode,
  type FlagValueType,
  type JsonValue,
  type Reason,
} from '@vexil/core/json';
import { EventCollector, type CollectorStats } from './events/collector.js';
import type { VexilLogger, VexilProviderOptions } from './options.js';
import { readFlagData, readSnapshotFile, writeSnapshotFile, type FlagData } from './snapshot-file.js';
import { FlagState, type FlagChange } from './state.js';
import { HttpSync, safeUrl } from './sync/http-sync.js';
import { StoreSync } from './sync/store-sync.js';
import type { FlagSync, SyncTarget } from './sync/types.js';
import { ClientStickyAssignments } from './sticky.js';

/**
 * How current the flags being served are:
 * - `none`: no flags yet (evaluations return the default with PROVIDER_NOT_READY);
 * - `cached`: from `snapshotFile` / `bootstrap`, and the live source has not answered yet in this process (reason CACHED);
 * - `live`: confirmed by the server's stream or a poll, or by the store (the engine's own reasons);
 * - `stale`: was live, then the connection was lost and is not back yet (reason STALE).
 */
export type Freshness = 'none' | 'cached' | 'live' | 'stale';

export interface VexilClientStats {
  freshness: Freshness;
  /** The store revision of the flags served (-1 when unknown). */
  revision: number;
  flags: number;
  events: CollectorStats | undefined;
  /** Why the live source was last unreachable, if it was. */
  lastFailure: string | undefined;
}

/** The client takes the provider's options: the same sources, snapshot file, events and time-outs. */
export type VexilClientOptions = VexilProviderOptions;

export type { VexilLogger };

declare const flagValueType: unique symbol;
/**
 * A flag key that carries the type of the flag's values, as `vexil generate` writes them
 * (`'banner' as FlagKey<'summer' | 'winter'>`): the client's methods then check the type at compile time. A plain
 * string is a `FlagKey` of any type.
 */
export type FlagKey<V> = string & { readonly [flagValueType]?: V };

/** One evaluation, in full. */
export interface VexilDetail<T> {
  key: string;
  /** The flag's value, or the caller's default on error (or a disabled flag without `offVariation`). */
  value: T;
  variant?: string;
  /** The engine's reason; CACHED before the live source answered, STALE while it is lost; ERROR with `errorCode`. */
  reason: Reason;
  errorCode?: ErrorCode;
  errorMessage?: string;
  /** The flag's metadata (plus `evaluatedRuleName`), frozen and shared: never the same object twice for a caller to change. */
  flagMetadata: Readonly<Record<string, JsonValue>>;
}

/** What the client tells its listeners; the same moments as OpenFeature's provider events. */
export interface VexilClientEvents {
  /** Flags are being served again after `stale`, or arrived after `start()` gave up. */
  ready: { message: string };
  /** The live source was lost: the last flags are served, with reason STALE. */
  stale: { message: string };
  /** Flags were added, removed or changed (`flagsChanged`: their keys, sorted). */
  configurationChanged: { flagsChanged: string[] };
  /** The server refused the SDK key: no retry will help. */
  error: { message: string; fatal: true };
}

/** A start that cannot succeed, whatever the retries: no source of flags at all, or an SDK key the server refuses. */
export class VexilFatalError extends Error {
  override readonly name = 'VexilFatalError';
}

const defaultLogger: VexilLogger = {
  error: (...args: unknown[]) => console.error('[vexil]', ...args),
  warn: (...args: unknown[]) => console.warn('[vexil]', ...args),
  info: () => undefined,
  debug: () => undefined,
};

const EMPTY_CONTEXT: CoreContext = Object.freeze({}) as CoreContext;
const EMPTY_METADATA: Readonly<Record<string, JsonValue>> = Object.freeze({});

/**
 * Vexil's direct client: synchronous, typed flag evaluation in-process with `@vexil/core`, kept current from the
 * server's SSE stream (polling as fallback) or straight from a store (daemon mode), starting cold from a snapshot
 * file, batching exposures and `track()` events to the server's collector. The OpenFeature provider
 * (`VexilProvider`) is this client behind OpenFeature's interface.
 *
 * ```ts
 * const client = new VexilClient({ url: 'http://localhost:1031', sdkKey, snapshotFile: '/tmp/vexil-flags.json' });
 * await client.start();
 * if (client.boolean('new-checkout', { targetingKey: 'user-42' }, false)) …
 * ```
 *
 * A context's attributes are JSON values (strings, numbers, booleans, null, lists and plain objects), as the server
 * would receive them: pass a date as its ISO string (`jsonContext(context)` converts a context that holds dates).
 */
export class VexilClient {
  private readonly options: VexilClientOptions;
  private readonly logger: VexilLogger;
  private readonly baseUrl: string | undefined;
  private readonly headers: Record<string, string>;
  /** Names this client in messages (the provider says `VexilProvider`). */
  private readonly label: string;
  private state = new FlagState();
  private currentFreshness: Freshness = 'none';
  private sync: FlagSync | undefined;
  /** Sticky experiment assignments, when the source keeps them (daemon mode on a store that can, or a server). */
  private sticky: ClientStickyAssignments | undefined;
  private collector: EventCollector | undefined;
  /** The collector when exposures are counted (events on, `exposures` not false): one field for the hot path. */
  private exposureCollector: EventCollector | undefined;
  private starting: Promise<void> | undefined;
  private waiter: { resolve(): void; reject(error: Error): void } | undefined;
  /** start() gave up waiting: the first flags to arrive later announce `ready` themselves. */
  private initFailed = false;
  private lastFailure: string | undefined;
  /**
   * Bumped by every start() and close(): a start, a sync callback or a timer of an earlier run sees that it is no
   * longer current and does nothing (a client may be closed and started again without waiting).
   */
  private generation = 0;
  /** The close() in progress, shared by concurrent calls and awaited by the next start(). */
  private closing: Promise<void> | undefined;
  private writing: Promise<void> | undefined;
  /** The flags the next snapshot write saves (taken when the write is scheduled, not when it runs). */
  private toWrite: FlagData | undefined;
  private writeWarned = false;
  /** Source updates wait here, in order, while the JsonLogic engine loads for a flag that needs it. */
  private queued: Array<() => void> = [];
  private engineLoading: Promise<void> | undefined;
  private readonly listeners: { [E in keyof VexilClientEvents]: Set<(event: VexilClientEvents[E]) => void> } = {
    ready: new Set(),
    stale: new Set(),
    configurationChanged: new Set(),
    error: new Set(),
  };

  constructor(options: VexilClientOptions = {}, internal: { label?: string } = {}) {
    this.options = options;
    this.label = internal.label ?? 'VexilClient';
    this.logger = options.logger ?? defaultLogger;
    this.baseUrl = options.url?.replace(/\/+$/, '');
    if (this.baseUrl !== undefined) {
      try {
        new URL(this.baseUrl);
      } catch {
        throw new TypeError(`${this.label}: url must be an absolute URL (http://host:port), not ${JSON.stringify(options.url)}`);
      }
    }
    this.headers = { ...(options.headers ?? {}) };
    if (options.sdkKey) this.headers.authorization = `Bearer ${options.sdkKey}`;
  }

  // ------------------------------------------------------------------------------------------------- evaluation

  /** The flag's boolean value for this context, or `defaultValue` (not ready, not found, another type, an error). */
  boolean(key: FlagKey<boolean>, context: CoreContext | undefined, defaultValue: boolean): boolean {
    return this.value(key, context, defaultValue, 'boolean');
  }

  /** The flag's string value (typed as the flag's variations with a generated key), or `defaultValue`. */
  string<V extends string = string, D extends string = string>(key: FlagKey<V>, context: CoreContext | undefined, defaultValue: D): V | D {
    return this.value<V | D>(key, context, defaultValue, 'string');
  }

  /** The flag's number value, or `defaultValue`. */
  number<V extends number = number>(key: FlagKey<V>, context: CoreContext | undefined, defaultValue: number): V | number {
    return this.value<number>(key, context, defaultValue, 'number');
  }

  /** The flag's object (or list) value, or `defaultValue`. */
  object<V extends JsonValue = JsonValue>(key: FlagKey<V>, context: CoreContext | undefined, defaultValue: V): V {
    return this.value<V>(key, context, defaultValue, 'object');
  }

  /**
   * The whole evaluation: value, variant, reason, error code and message, metadata. The expected type is the default
   * value's (an object or a list: `object`), or `type` when given.
   */
  detail<V extends JsonValue>(key: FlagKey<V>, context: CoreContext | undefined, defaultValue: V, type?: FlagValueType): VexilDetail<V> {
    return this.resolve(key, defaultValue, context, type ?? typeOf(defaultValue));
  }

  /** The evaluation behind every method. Never throws: a failure is an error code with the default value. */
  resolve<T>(flagKey: string, defaultValue: T, context: CoreContext | undefined, type: FlagValueType): VexilDetail<T> {
    const snapshot = this.state.snapshot;
    if (snapshot === undefined || this.currentFreshness === 'none') {
      return {
        key: flagKey,
        value: defaultValue,
        reason: 'ERROR',
        errorCode: 'PROVIDER_NOT_READY',
        errorMessage: this.lastFailure ? `no flags loaded yet: ${this.lastFailure}` : 'no flags loaded yet',
        flagMetadata: EMPTY_METADATA,
      };
    }
    const ctx = context ?? EMPTY_CONTEXT;
    let detail: EvaluationDetail<T>;
    try {
      detail = evaluate<T>(snapshot, flagKey, ctx, { defaultValue, expectedType: type });
      if (this.sticky && detail.errorCode === undefined) detail = this.sticky.served(snapshot, detail, ctx);
    } catch (error) {
      // The engine does not throw on any flag or context it accepts; this is a last line of defence.
      return {
        key: flagKey,
        value: defaultValue,
        reason: 'ERROR',
        errorCode: 'GENERAL',
        errorMessage: `evaluating flag "${flagKey}" failed: ${(error as Error)?.message ?? String(error)}`,
        flagMetadata: EMPTY_METADATA,
      };
    }
    if (detail.errorCode !== undefined) {
      // A definition the engine could not compile (sent by a newer server, or in a hand-made snapshot) is a flag
      // configuration that failed to parse: PARSE_ERROR, as the server's OFREP endpoint answers, not FLAG_NOT_FOUND.
      const invalid = detail.errorCode === 'FLAG_NOT_FOUND' && snapshot.invalid.has(flagKey);
      const result: VexilDetail<T> = {
        key: flagKey,
        value: defaultValue,
        reason: 'ERROR',
        errorCode: invalid ? 'PARSE_ERROR' : detail.errorCode,
        flagMetadata: detail.flagMetadata,
      };
      if (detail.errorMessage !== undefined) result.errorMessage = detail.errorMessage;
      return result;
    }
    if (detail.trackEvents) this.countExposure(flagKey, detail, ctx);
    const result: VexilDetail<T> = {
      key: flagKey,
      value: detail.value,
      reason: this.currentFreshness === 'live' ? detail.reason : this.currentFreshness === 'cached' ? 'CACHED' : 'STALE',
      flagMetadata: detail.flagMetadata,
    };
    if (detail.variant !== undefined) result.variant = detail.variant;
    return result;
  }

  /**
   * For a flag whose experiment is sticky: resolves once the unit's kept assignment is known (asked of the store or
   * the server on a miss), so that the next evaluation serves it. Undefined, with nothing to wait for, for every other
   * flag. The provider's async resolution waits on it; the synchronous methods do not (see `sticky.ts`).
   */
  prepareAssignment(flagKey: string, context: CoreContext | undefined, type: FlagValueType, defaultValue: unknown): Promise<void> | undefined {
    const snapshot = this.state.snapshot;
    if (!this.sticky || snapshot === undefined || this.currentFreshness === 'none') return undefined;
    if (!snapshot.flags.get(flagKey)?.definition.experiment?.sticky) return undefined;
    try {
      const core = context ?? EMPTY_CONTEXT;
      const detail = evaluate(snapshot, flagKey, core, { defaultValue: defaultValue as never, expectedType: type });
      if (detail.errorCode !== undefined) return undefined;
      return this.sticky.prepare(snapshot, detail, core);
    } catch {
      return undefined;
    }
  }

  /** The value only: the hot path, with no result object of its own. */
  private value<T>(flagKey: string, context: CoreContext | undefined, defaultValue: T, type: FlagValueType): T {
    const snapshot = this.state.snapshot;
    if (snapshot === undefined || this.currentFreshness === 'none') return defaultValue;
    const ctx = context ?? EMPTY_CONTEXT;
    try {
      let detail = evaluate<T>(snapshot, flagKey, ctx, { defaultValue, expectedType: type });
      if (detail.errorCode !== undefined) return defaultValue;
      if (this.sticky) detail = this.sticky.served(snapshot, detail, ctx);
      // countExposure, written out: the hot path, where the call measured a few nanoseconds more.
      const collector = this.exposureCollector;
      if (detail.trackEvents && collector !== undefined) {
        const variant = detail.variant ?? 'SdkDefault';
        if (!collector.merge(flagKey, variant, ctx)) collector.exposure(flagKey, variant, detail.value as JsonValue, ctx, detail.version, detail.variant === undefined);
      }
      return detail.value;
    } catch {
      return defaultValue;
    }
  }

  /** A repeated exposure is one count more (`merge`, a few reads); only a new one passes its whole detail on. */
  private countExposure(flagKey: string, detail: EvaluationDetail<unknown>, context: CoreContext): void {
    const collector = this.exposureCollector;
    if (collector === undefined) return;
    const variant = detail.variant ?? 'SdkDefault';
    if (!collector.merge(flagKey, variant, context)) collector.exposure(flagKey, variant, detail.value as JsonValue, context, detail.version, detail.variant === undefined);
  }

  // ------------------------------------------------------------------------------------------------- tracking

  /**
   * Records a tracking event (a conversion, a metric; `details.value` is its number) for the server's collector.
   * Never blocks on I/O and never throws; sent in batches, flushed by close().
   */
  track(name: string, context: CoreContext, details: Record<string, unknown> = {}): void {
    try {
      this.collector?.track(name, context ?? {}, details ?? {});
    } catch (error) {
      this.logger.debug(`[vexil] track(${JSON.stringify(name)}) ignored: ${(error as Error)?.message}`);
    }
  }

  /** Sends waiting events now (normally they go every `flushIntervalMs`). */
  flush(): Promise<void> {
    return this.collector?.flush() ?? Promise.resolve();
  }

  // ----------------------------------------------------------------------------------------------------- events

  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof VexilClientEvents>(event: E, listener: (details: VexilClientEvents[E]) => void): () => void {
    const set = this.listeners[event] as Set<(details: VexilClientEvents[E]) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit<E extends keyof VexilClientEvents>(event: E, details: VexilClientEvents[E]): void {
    for (const listener of this.listeners[event] as Set<(details: VexilClientEvents[E]) => void>) {
      try {
        listener(details);
      } catch (error) {
        this.logger.error(`a "${event}" listener threw: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------- lifecycle

  /** How current the flags are (see `Freshness`). */
  get freshness(): Freshness {
    return this.currentFreshness;
  }

  /**
   * Resolves once flags are loaded: at once from a usable `snapshotFile` / `bootstrap` (reason CACHED until the live
   * source answers), otherwise when the server or store first delivers them. Rejects after `timeoutMs` when neither
   * gave flags (the client keeps trying, and emits `ready` when flags arrive), and with a `VexilFatalError` when there
   * is nowhere to get flags from or the server refuses the SDK key. Calling it again returns the same promise.
   */
  start(): Promise<void> {
    this.starting ??= this.run(++this.generation);
    return this.starting;
  }

  private async run(generation: number): Promise<void> {
    // A close still in progress (a caller need not wait for it before starting again) finishes first.
    if (this.closing) await this.closing;
    this.assertCurrent(generation);
    const cold = await this.loadColdStart();
    this.assertCurrent(generation);
    if (cold) {
      if (!jsonLogicLoaded() && usesJsonLogic(cold.flags, cold.segments)) await loadJsonLogic();
      this.assertCurrent(generation);
      this.state.replace(cold);
      this.currentFreshness = this.hasLiveSource ? 'cached' : 'live';
    }
    this.setUpEvents();
    this.sync = this.createSync();
    const assigning = this.sync;
    this.sticky = assigning?.assign ? new ClientStickyAssignments((asks, context) => assigning.assign!(asks, context)) : undefined;
    const target = this.targetFor(generation);
    if (this.currentFreshness !== 'none') {
      // Serving from the snapshot already: connect on the next turn, so that the first evaluations do not wait
      // for Node to load its HTTP client (tens of milliseconds on a cold process).
      const sync = this.sync;
      if (sync) setImmediate(() => generation === this.generation && this.sync === sync && sync.start(target));
      return;
    }
    if (!this.sync) {
      // Nothing to serve and nowhere to get flags from: a configuration error no retry can fix.
      throw new VexilFatalError(`${this.label}: no flags: give a url, a store, a snapshotFile that exists, or bootstrap flags`);
    }
    const waitForFlags = this.waitForFlags();
    this.sync.start(target);
    await waitForFlags;
  }

  /** Throws when close() (or a newer start()) made this run obsolete. */
  private assertCurrent(generation: number): void {
    if (generation !== this.generation) throw new Error(`${this.label}: closed before flags arrived`);
  }

  private waitForFlags(): Promise<void> {
    const timeoutMs = this.options.timeoutMs ?? 5_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.initFailed = true;
        const source = this.options.store !== undefined ? 'the store' : safeUrl(this.baseUrl ?? '');
        const why = this.lastFailure ? `: ${this.lastFailure}` : '';
        reject(
          new Error(
            `${this.label}: no flags after ${timeoutMs} ms from ${source}${why}; and no snapshotFile or bootstrap to start from. ` +
              'Evaluations return the default value (PROVIDER_NOT_READY) until flags arrive.',
          ),
        );
      }, timeoutMs);
      // Referenced on purpose: `await start()` must not let the process exit while it waits.
      this.waiter = {
        resolve: () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          this.waiter = undefined;
          this.initFailed = true;
          reject(error);
        },
      };
    });
  }

  private get hasLiveSource(): boolean {
    return this.baseUrl !== undefined || this.options.store !== undefined;
  }

  private async loadColdStart(): Promise<FlagData | undefined> {
    const file = this.options.snapshotFile;
    if (file) {
      try {
        const data = await readSnapshotFile(file);
        if (data) return data;
      } catch (error) {
        this.logger.warn(`ignoring snapshot file ${file}: ${(error as Error).message}`);
      }
    }
    if (this.options.bootstrap !== undefined) {
      try {
        return readFlagData(this.options.bootstrap);
      } catch (error) {
        this.logger.warn(`ignoring bootstrap flags: ${(error as Error).message}`);
      }
    }
    return undefined;
  }

  private createSync(): FlagSync | undefined {
    const reconnect = this.options.reconnect ?? {};
    const initialDelayMs = reconnect.initialDelayMs ?? 500;
    const maxDelayMs = reconnect.maxDelayMs ?? 30_000;
    const requestTimeoutMs = this.options.requestTimeoutMs ?? 10_000;
    const debug = (message: string) => this.logger.debug(`[vexil] ${message}`);
    if (this.options.store !== undefined) {
      return new StoreSync(this.options.store, {
        initialDelayMs,
        maxDelayMs,
        healthIntervalMs: this.options.healthIntervalMs ?? 2_000,
        requestTimeoutMs,
        storeOptions: this.options.storeOptions ?? {},
        ...(this.options.environment !== undefined ? { environment: this.options.environment } : {}),
        debug,
      });
    }
    if (this.baseUrl === undefined) return undefined;
    return new HttpSync({
      url: this.baseUrl,
      headers: this.headers,
      stream: this.options.stream ?? true,
      pollIntervalMs: this.options.pollIntervalMs ?? 30_000,
      initialDelayMs,
      maxDelayMs,
      idleTimeoutMs: this.options.streamIdleTimeoutMs ?? 60_000,
      requestTimeoutMs,
      fetch: this.options.fetch ?? globalThis.fetch,
      debug,
    });
  }

  private setUpEvents(): void {
    const settings = this.options.events;
    if (settings === false || this.baseUrl === undefined) return;
    const collector = new EventCollector({
      endpoint: `${this.baseUrl}/v1/data/collector`,
      headers: this.headers,
      flushIntervalMs: settings?.flushIntervalMs ?? 10_000,
      batchSize: settings?.batchSize ?? 1_000,
      maxPending: settings?.maxPending ?? 10_000,
      maxAgeMs: settings?.maxAgeMs ?? 300_000,
      maxBatchBytes: settings?.maxBatchBytes,
      requestTimeoutMs: this.options.requestTimeoutMs ?? 10_000,
      meta: { provider: '@vexil/openfeature' },
      warn: (message) => this.logger.warn(message),
      fetch: this.options.fetch ?? globalThis.fetch,
    });
    this.collector = collector;
    this.exposureCollector = settings?.exposures === false ? undefined : collector;
  }

  /**
   * Stops syncing, writes the last snapshot, and sends the events still waiting (for at most
   * `events.closeTimeoutMs`). Idempotent: concurrent calls share one close. The client is back to its unstarted state
   * at once (evaluations answer PROVIDER_NOT_READY), and can be started again.
   */
  close(): Promise<void> {
    // Whatever run exists or waits to start (a start() called during a close waits for it) is over.
    this.generation++;
    this.starting = undefined;
    if (this.closing) return this.closing;
    const sync = this.sync;
    const collector = this.collector;
    this.waiter?.reject(new Error(`${this.label}: closed before flags arrived`));
    this.sync = undefined;
    this.sticky = undefined;
    this.collector = undefined;
    this.exposureCollector = undefined;
    this.state = new FlagState();
    this.currentFreshness = 'none';
    this.initFailed = false;
    this.lastFailure = undefined;
    this.queued = [];
    const closeTimeoutMs = this.options.events === false ? 0 : (this.options.events?.closeTimeoutMs ?? 2_000);
    const closing = (async () => {
      await Promise.all([sync?.close(), collector?.close(closeTimeoutMs)]);
      await this.writing;
    })().finally(() => {
      if (this.closing === closing) this.closing = undefined;
    });
    this.closing = closing;
    return closing;
  }

  /** Counters for monitoring: freshness, revision, event delivery (sent, dropped, pending). */
  stats(): VexilClientStats {
    return {
      freshness: this.currentFreshness,
      revision: this.state.revision,
      flags: this.state.snapshot?.flags.size ?? 0,
      events: this.collector?.stats,
      lastFailure: this.lastFailure,
    };
  }

  // ------------------------------------------------------------------------------------------------ sync target

  /**
   * Runs a source update now, or after the JsonLogic engine has loaded when the update (or one before it) needs it:
   * updates are applied in the order they came either way.
   */
  private deliver(needsEngine: boolean, update: () => void): void {
    if (this.engineLoading === undefined && (!needsEngine || jsonLogicLoaded())) return update();
    this.queued.push(update);
    this.engineLoading ??= loadJsonLogic()
      .catch((error: unknown) => this.logger.error(`cannot load the JsonLogic engine: ${(error as Error)?.message ?? String(error)}`))
      .then(() => {
        this.engineLoading = undefined;
        const queued = this.queued;
        this.queued = [];
        for (const run of queued) run();
      });
  }

  /** What the sync of one run reports to; everything it reports after that run ended is ignored. */
  private targetFor(generation: number): SyncTarget {
    const stale = () => generation !== this.generation;
    return {
      full: (data, forwardOnly) =>
        this.deliver(usesJsonLogic(data.flags, data.segments), () => {
          if (stale()) return;
          if (forwardOnly && this.currentFreshness !== 'none' && data.revision < this.state.revision) return;
          const before = this.currentFreshness;
          const changed = this.state.replace(data);
          this.currentFreshness = 'live';
          this.lastFailure = undefined;
          this.scheduleWrite();
          if (before === 'none') return this.announceFirstFlags();
          if (before === 'stale') this.emit('ready', { message: 'connection restored' });
          if (changed.length > 0) this.emit('configurationChanged', { flagsChanged: changed });
        }),
      changes: (changes) =>
        this.deliver(changesUseJsonLogic(changes), () => {
          if (stale() || this.currentFreshness === 'none') return;
          const changed = new Set<string>();
          let applied = false;
          for (const change of changes) {
            const keys = this.state.apply(change);
            if (keys === undefined) continue;
            applied = true;
            for (const key of keys) changed.add(key);
          }
          if (this.currentFreshness === 'stale') {
            this.currentFreshness = 'live';
            this.emit('ready', { message: 'connection restored' });
          }
          if (!applied) return;
          this.scheduleWrite();
          if (changed.size > 0) this.emit('configurationChanged', { flagsChanged: [...changed].sort() });
        }),
      resumed: () =>
        this.deliver(false, () => {
          if (stale() || this.currentFreshness !== 'stale') return;
          this.currentFreshness = 'live';
          this.lastFailure = undefined;
          this.emit('ready', { message: 'connection restored' });
        }),
      lost: (reason) =>
        this.deliver(false, () => {
          if (stale()) return;
          if (this.lastFailure !== reason) this.logger.debug(`[vexil] ${reason}`);
          this.lastFailure = reason;
          if (this.currentFreshness === 'live' && this.hasLiveSource) {
            this.currentFreshness = 'stale';
            this.logger.warn(`lost the connection to the flag source (${reason}): serving the last flags (reason STALE) while reconnecting`);
            this.emit('stale', { message: reason });
          }
        }),
      fatal: (error) =>
        this.deliver(false, () => {
          if (stale()) return;
          this.lastFailure = error.message;
          this.logger.error(error.message);
          if (this.waiter) return this.waiter.reject(new VexilFatalError(`${this.label}: ${error.message}`));
          this.emit('error', { message: error.message, fatal: true });
        }),
    };
  }

  private announceFirstFlags(): void {
    if (this.waiter) return this.waiter.resolve();
    if (this.initFailed) {
      this.initFailed = false;
      this.emit('ready', { message: 'flags loaded' });
    }
  }

  /** Writes the snapshot file after a change: one write at a time, the last state always written. */
  private scheduleWrite(): void {
    const file = this.options.snapshotFile;
    if (!file) return;
    // Taken now: a close that follows at once empties the state, and must not leave an empty snapshot behind.
    this.toWrite = this.state.flagData;
    if (this.writing) return;
    this.writing = (async () => {
      while (this.toWrite) {
        const data = this.toWrite;
        this.toWrite = undefined;
        try {
          await writeSnapshotFile(file, data);
          this.writeWarned = false;
        } catch (error) {
          if (!this.writeWarned) this.logger.warn(`cannot write snapshot file ${file}: ${(error as Error).message}`);
          this.writeWarned = true;
        }
      }
    })().finally(() => {
      this.writing = undefined;
    });
  }
}

function changesUseJsonLogic(changes: FlagChange[]): boolean {
  for (const change of changes) {
    if (change.type === 'put' && usesJsonLogic({ [change.key]: change.flag })) return true;
    if (change.type === 'segments' && usesJsonLogic({}, change.segments)) return true;
  }
  return false;
}

function typeOf(value: unknown): FlagValueType {
  const type = typeof value;
  return type === 'boolean' || type === 'string' || type === 'number' ? type : 'object';
}

/**
 * The engine reads JSON. OpenFeature's contexts may hold dates (and other objects): the provider turns them into ISO
 * strings (and plain JSON) here, as they would be on the way to the server. The direct client takes JSON values and
 * does not scan each context: on the hot path that scan cost about as much as counting the exposure.
 */
export function jsonContext(context: CoreContext): CoreContext {
  for (const key in context) {
    const value = context[key];
    if (value !== null && typeof value === 'object') return jsonify(context) as CoreContext;
  }
  return context;
}

function jsonify(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(jsonify);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = jsonify((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}
