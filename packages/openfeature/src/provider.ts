import {
  ErrorCode,
  OpenFeatureEventEmitter,
  ProviderEvents,
  ProviderFatalError,
  StandardResolutionReasons,
  type EvaluationContext,
  type FlagMetadata,
  type Hook,
  type JsonValue,
  type Logger,
  type Provider,
  type ResolutionDetails,
  type TrackingEventDetails,
} from '@openfeature/server-sdk';
import { evaluate, type EvaluationContext as CoreContext, type EvaluationDetail, type FlagValueType } from '@vexil/core';
import { EventCollector, type CollectorStats } from './events/collector.js';
import type { VexilProviderOptions } from './options.js';
import { readFlagData, readSnapshotFile, writeSnapshotFile, type FlagData } from './snapshot-file.js';
import { FlagState, type FlagChange } from './state.js';
import { HttpSync, safeUrl } from './sync/http-sync.js';
import { StoreSync } from './sync/store-sync.js';
import type { FlagSync, SyncTarget } from './sync/types.js';

/**
 * How current the flags being served are:
 * - `none`: no flags yet (evaluations return the default with PROVIDER_NOT_READY);
 * - `cached`: from `snapshotFile` / `bootstrap`, and the live source has not answered yet in this process (reason CACHED);
 * - `live`: confirmed by the server's stream or a poll, or by the store (the engine's own reasons);
 * - `stale`: was live, then the connection was lost and is not back yet (reason STALE).
 */
export type Freshness = 'none' | 'cached' | 'live' | 'stale';

export interface VexilProviderStats {
  freshness: Freshness;
  /** The store revision of the flags served (-1 when unknown). */
  revision: number;
  flags: number;
  events: CollectorStats | undefined;
  /** Why the live source was last unreachable, if it was. */
  lastFailure: string | undefined;
}

const PROVIDER_NAME = 'vexil';
const EMPTY_METADATA: FlagMetadata = Object.freeze({});

/**
 * The provider's event emitter. The OpenFeature SDK adds three listeners to it each time the provider is registered
 * (its status tracking) and never removes them, so a provider set again and again (tests, hot reloads) would trip
 * Node's "possible EventEmitter memory leak" warning after a few registrations: the limit is lifted here.
 */
class VexilEventEmitter extends OpenFeatureEventEmitter {
  constructor() {
    super();
    this.eventEmitter.setMaxListeners(0);
  }
}

const defaultLogger: Logger = {
  error: (...args: unknown[]) => console.error('[vexil]', ...args),
  warn: (...args: unknown[]) => console.warn('[vexil]', ...args),
  info: () => undefined,
  debug: () => undefined,
};

/**
 * OpenFeature provider for Node that evaluates flags in-process with `@vexil/core`, the server's own engine, and
 * keeps them current from the server's SSE stream (polling as fallback) or straight from a store (daemon mode).
 */
export class VexilProvider implements Provider {
  readonly metadata = { name: PROVIDER_NAME } as const;
  readonly runsOn = 'server' as const;
  /** Provider hooks (OpenFeature 2.3.1): none. */
  readonly hooks: Hook[] = [];
  readonly events: OpenFeatureEventEmitter = new VexilEventEmitter();

  private readonly options: VexilProviderOptions;
  private readonly logger: Logger;
  private readonly baseUrl: string | undefined;
  private readonly headers: Record<string, string>;
  private state = new FlagState();
  private freshness: Freshness = 'none';
  private sync: FlagSync | undefined;
  private collector: EventCollector | undefined;
  private exposures = false;
  private initializing: Promise<void> | undefined;
  private waiter: { resolve(): void; reject(error: Error): void } | undefined;
  /** initialize() gave up waiting: the first flags to arrive later announce READY themselves. */
  private initFailed = false;
  private lastFailure: string | undefined;
  /**
   * Bumped by every initialize() and onClose(): a start, a sync callback or a timer of an earlier run sees that it is
   * no longer current and does nothing (the SDK may close a provider and initialize it again without waiting).
   */
  private generation = 0;
  /** The onClose() in progress, shared by concurrent calls and awaited by the next initialize(). */
  private closing: Promise<void> | undefined;
  private writing: Promise<void> | undefined;
  /** The flags the next snapshot write saves (taken when the write is scheduled, not when it runs). */
  private toWrite: FlagData | undefined;
  private writeWarned = false;
  private readonly metadataCache = new WeakMap<object, FlagMetadata>();
  /** The last metadata converted, checked before the WeakMap (a hot flag evaluated in a loop hits it). */
  private lastMetadataIn: object | undefined;
  private lastMetadataOut: FlagMetadata = EMPTY_METADATA;

  constructor(options: VexilProviderOptions = {}) {
    this.options = options;
    this.logger = options.logger ?? defaultLogger;
    this.baseUrl = options.url?.replace(/\/+$/, '');
    if (this.baseUrl !== undefined) {
      try {
        new URL(this.baseUrl);
      } catch {
        throw new TypeError(`VexilProvider: url must be an absolute URL (http://host:port), not ${JSON.stringify(options.url)}`);
      }
    }
    this.headers = { ...(options.headers ?? {}) };
    if (options.sdkKey) this.headers.authorization = `Bearer ${options.sdkKey}`;
  }

  // ------------------------------------------------------------------------------------------------- lifecycle

  /**
   * Resolves once flags are loaded: at once from a usable `snapshotFile` / `bootstrap` (reason CACHED until the live
   * source answers), otherwise when the server or store first delivers them. Rejects after `timeoutMs` when neither
   * gave flags (the provider keeps trying, and emits PROVIDER_READY when flags arrive), and with a
   * `ProviderFatalError` when the server refuses the SDK key.
   */
  initialize(): Promise<void> {
    this.initializing ??= this.start(++this.generation);
    return this.initializing;
  }

  private async start(generation: number): Promise<void> {
    // A close still in progress (the SDK does not wait for it before initializing again) finishes first.
    if (this.closing) await this.closing;
    this.assertCurrent(generation);
    const cold = await this.loadColdStart();
    this.assertCurrent(generation);
    if (cold) {
      this.state.replace(cold);
      this.freshness = this.hasLiveSource ? 'cached' : 'live';
    }
    this.setUpEvents();
    this.sync = this.createSync();
    const target = this.targetFor(generation);
    if (this.freshness !== 'none') {
      // Serving from the snapshot already: connect on the next turn, so that the first evaluations do not wait
      // for Node to load its HTTP client (tens of milliseconds on a cold process).
      const sync = this.sync;
      if (sync) setImmediate(() => generation === this.generation && this.sync === sync && sync.start(target));
      return;
    }
    if (!this.sync) {
      // Nothing to serve and nowhere to get flags from: a configuration error no retry can fix (OpenFeature 2.4.2.1).
      throw new ProviderFatalError('VexilProvider: no flags: give a url, a store, a snapshotFile that exists, or bootstrap flags');
    }
    const waitForFlags = this.waitForFlags();
    this.sync.start(target);
    await waitForFlags;
  }

  /** Throws when onClose() (or a newer initialize()) made this run obsolete. */
  private assertCurrent(generation: number): void {
    if (generation !== this.generation) throw new Error('VexilProvider: closed before flags arrived');
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
            `VexilProvider: no flags after ${timeoutMs} ms from ${source}${why}; and no snapshotFile or bootstrap to start from. ` +
              'Evaluations return the default value (PROVIDER_NOT_READY) until flags arrive.',
          ),
        );
      }, timeoutMs);
      // Referenced on purpose: `await setProviderAndWait(...)` must not let the process exit while it waits.
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
    this.exposures = settings?.exposures ?? true;
    this.collector = new EventCollector({
      endpoint: `${this.baseUrl}/v1/data/collector`,
      headers: this.headers,
      flushIntervalMs: settings?.flushIntervalMs ?? 10_000,
      batchSize: settings?.batchSize ?? 1_000,
      maxPending: settings?.maxPending ?? 10_000,
      maxAgeMs: settings?.maxAgeMs ?? 300_000,
      requestTimeoutMs: this.options.requestTimeoutMs ?? 10_000,
      meta: { provider: '@vexil/openfeature' },
      warn: (message) => this.logger.warn(message),
      fetch: this.options.fetch ?? globalThis.fetch,
    });
  }

  /**
   * Stops syncing, writes the last snapshot, and sends the events still waiting (for at most
   * `events.closeTimeoutMs`). Idempotent: concurrent calls share one close. The provider is back to its uninitialized
   * state at once (evaluations answer PROVIDER_NOT_READY), and can be initialized again.
   */
  onClose(): Promise<void> {
    // Whatever run exists or waits to start (an initialize() called during a close waits for it) is over.
    this.generation++;
    this.initializing = undefined;
    if (this.closing) return this.closing;
    const sync = this.sync;
    const collector = this.collector;
    this.waiter?.reject(new Error('VexilProvider: closed before flags arrived'));
    this.sync = undefined;
    this.collector = undefined;
    this.exposures = false;
    this.state = new FlagState();
    this.freshness = 'none';
    this.initFailed = false;
    this.lastFailure = undefined;
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
  stats(): VexilProviderStats {
    return {
      freshness: this.freshness,
      revision: this.state.revision,
      flags: this.state.snapshot?.flags.size ?? 0,
      events: this.collector?.stats,
      lastFailure: this.lastFailure,
    };
  }

  /** Sends waiting events now (normally they go every `flushIntervalMs`). */
  flush(): Promise<void> {
    return this.collector?.flush() ?? Promise.resolve();
  }

  // ------------------------------------------------------------------------------------------------ sync target

  /** What the sync of one run reports to; everything it reports after that run ended is ignored. */
  private targetFor(generation: number): SyncTarget {
    const stale = () => generation !== this.generation;
    return {
      full: (data, forwardOnly) => {
        if (stale()) return;
        if (forwardOnly && this.freshness !== 'none' && data.revision < this.state.revision) return;
        const before = this.freshness;
        const changed = this.state.replace(data);
        this.freshness = 'live';
        this.lastFailure = undefined;
        this.scheduleWrite();
        if (before === 'none') return this.announceFirstFlags();
        if (before === 'stale') this.events.emit(ProviderEvents.Ready, { message: 'connection restored' });
        if (changed.length > 0) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed });
      },
      changes: (changes) => {
        if (stale() || this.freshness === 'none') return;
        const changed = new Set<string>();
        let applied = false;
        for (const change of changes) {
          const keys = this.state.apply(change as FlagChange);
          if (keys === undefined) continue;
          applied = true;
          for (const key of keys) changed.add(key);
        }
        if (this.freshness === 'stale') {
          this.freshness = 'live';
          this.events.emit(ProviderEvents.Ready, { message: 'connection restored' });
        }
        if (!applied) return;
        this.scheduleWrite();
        if (changed.size > 0) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: [...changed].sort() });
      },
      resumed: () => {
        if (stale() || this.freshness !== 'stale') return;
        this.freshness = 'live';
        this.lastFailure = undefined;
        this.events.emit(ProviderEvents.Ready, { message: 'connection restored' });
      },
      lost: (reason) => {
        if (stale()) return;
        if (this.lastFailure !== reason) this.logger.debug(`[vexil] ${reason}`);
        this.lastFailure = reason;
        if (this.freshness === 'live' && this.hasLiveSource) {
          this.freshness = 'stale';
          this.logger.warn(`lost the connection to the flag source (${reason}): serving the last flags (reason STALE) while reconnecting`);
          this.events.emit(ProviderEvents.Stale, { message: reason });
        }
      },
      fatal: (error) => {
        if (stale()) return;
        this.lastFailure = error.message;
        this.logger.error(error.message);
        if (this.waiter) return this.waiter.reject(new ProviderFatalError(`VexilProvider: ${error.message}`));
        this.events.emit(ProviderEvents.Error, { message: error.message, errorCode: ErrorCode.PROVIDER_FATAL });
      },
    };
  }

  private announceFirstFlags(): void {
    if (this.waiter) return this.waiter.resolve();
    if (this.initFailed) {
      this.initFailed = false;
      this.events.emit(ProviderEvents.Ready, { message: 'flags loaded' });
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

  // ----------------------------------------------------------------------------------------------- evaluation

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context, 'boolean'));
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context, 'string'));
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context, 'number'));
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.resolve(flagKey, defaultValue, context, 'object'));
  }

  /** The synchronous evaluation behind the four resolve methods. Never throws: a failure is an error code. */
  resolve<T>(flagKey: string, defaultValue: T, context: EvaluationContext | undefined, type: FlagValueType): ResolutionDetails<T> {
    const snapshot = this.state.snapshot;
    if (snapshot === undefined || this.freshness === 'none') {
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.PROVIDER_NOT_READY,
        errorMessage: this.lastFailure ? `no flags loaded yet: ${this.lastFailure}` : 'no flags loaded yet',
      };
    }
    const ctx = context ?? {};
    let detail: EvaluationDetail<T>;
    try {
      detail = evaluate<T>(snapshot, flagKey, toCoreContext(ctx), { defaultValue, expectedType: type });
    } catch (error) {
      // The engine does not throw on any flag or context it accepts; this is a last line of defence.
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.GENERAL,
        errorMessage: `evaluating flag "${flagKey}" failed: ${(error as Error)?.message ?? String(error)}`,
      };
    }
    const flagMetadata = this.toFlagMetadata(detail.flagMetadata);
    if (detail.errorCode !== undefined) {
      // A definition the engine could not compile (sent by a newer server, or in a hand-made snapshot) is a flag
      // configuration that failed to parse: PARSE_ERROR, as the server's OFREP endpoint answers, not FLAG_NOT_FOUND.
      const invalid = detail.errorCode === 'FLAG_NOT_FOUND' && snapshot.invalid.has(flagKey);
      const result: ResolutionDetails<T> = {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: invalid ? ErrorCode.PARSE_ERROR : (detail.errorCode as ErrorCode),
        flagMetadata,
      };
      if (detail.errorMessage !== undefined) result.errorMessage = detail.errorMessage;
      return result;
    }
    if (this.exposures && detail.trackEvents) {
      this.collector?.exposure(flagKey, detail.variant ?? 'SdkDefault', detail.value as JsonValue, ctx, detail.version, detail.variant === undefined);
    }
    const result: ResolutionDetails<T> = {
      value: detail.value,
      reason: this.freshness === 'live' ? detail.reason : this.freshness === 'cached' ? StandardResolutionReasons.CACHED : StandardResolutionReasons.STALE,
      flagMetadata,
    };
    if (detail.variant !== undefined) result.variant = detail.variant;
    return result;
  }

  /**
   * OpenFeature flag metadata holds primitives only (boolean, string, number): other values are left out. Computed once
   * per flag, frozen, and never the engine's own object (a caller changing it cannot change the flag).
   */
  private toFlagMetadata(metadata: Readonly<Record<string, unknown>>): FlagMetadata {
    if (metadata === this.lastMetadataIn) return this.lastMetadataOut;
    let result = this.metadataCache.get(metadata);
    if (result === undefined) {
      const out: Record<string, string | number | boolean> = {};
      let empty = true;
      for (const [key, value] of Object.entries(metadata)) {
        if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
          out[key] = value;
          empty = false;
        }
      }
      result = empty ? EMPTY_METADATA : Object.freeze(out);
      this.metadataCache.set(metadata, result);
    }
    this.lastMetadataIn = metadata;
    this.lastMetadataOut = result;
    return result;
  }

  // ------------------------------------------------------------------------------------------------- tracking

  /**
   * Records a tracking event (OpenFeature 2.7, 6.x: a conversion, a metric; `details.value` is its number) for the
   * server's collector. Never blocks on I/O and never throws; sent in batches, flushed by onClose().
   */
  track(trackingEventName: string, context: EvaluationContext, trackingEventDetails: TrackingEventDetails): void {
    try {
      this.collector?.track(trackingEventName, context ?? {}, trackingEventDetails ?? {});
    } catch (error) {
      this.logger.debug(`[vexil] track(${JSON.stringify(trackingEventName)}) ignored: ${(error as Error)?.message}`);
    }
  }
}

/** The engine reads JSON: dates in the context become ISO strings, as they would on the way to the server. */
function toCoreContext(context: EvaluationContext): CoreContext {
  for (const key in context) {
    const value = context[key];
    if (value !== null && typeof value === 'object') return jsonify(context) as CoreContext;
  }
  return context as CoreContext;
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
