import {
  ErrorCode,
  OpenFeatureEventEmitter,
  ProviderEvents,
  ProviderFatalError,
  type EvaluationContext,
  type FlagMetadata,
  type Hook,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
  type TrackingEventDetails,
} from '@openfeature/server-sdk';
import type { EvaluationContext as CoreContext, FlagValueType } from '@vexil/core/json';
import { VexilClient, VexilFatalError, jsonContext, type VexilClientStats } from './client.js';
import type { VexilProviderOptions } from './options.js';

export type { Freshness } from './client.js';

export type VexilProviderStats = VexilClientStats;

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

  /** The direct client doing all the work: the provider is its OpenFeature face. */
  readonly client: VexilClient;
  private readonly metadataCache = new WeakMap<object, FlagMetadata>();
  /** The last metadata converted, checked before the WeakMap (a hot flag evaluated in a loop hits it). */
  private lastMetadataIn: object | undefined;
  private lastMetadataOut: FlagMetadata = EMPTY_METADATA;

  constructor(options: VexilProviderOptions = {}) {
    this.client = new VexilClient(options, { label: 'VexilProvider' });
    this.client.on('ready', (details) => this.events.emit(ProviderEvents.Ready, details));
    this.client.on('stale', (details) => this.events.emit(ProviderEvents.Stale, details));
    this.client.on('configurationChanged', (details) => this.events.emit(ProviderEvents.ConfigurationChanged, details));
    this.client.on('error', (details) => this.events.emit(ProviderEvents.Error, { message: details.message, errorCode: ErrorCode.PROVIDER_FATAL }));
  }

  // ------------------------------------------------------------------------------------------------- lifecycle

  /**
   * Resolves once flags are loaded: at once from a usable `snapshotFile` / `bootstrap` (reason CACHED until the live
   * source answers), otherwise when the server or store first delivers them. Rejects after `timeoutMs` when neither
   * gave flags (the provider keeps trying, and emits PROVIDER_READY when flags arrive), and with a
   * `ProviderFatalError` when the server refuses the SDK key.
   */
  async initialize(): Promise<void> {
    try {
      await this.client.start();
    } catch (error) {
      // OpenFeature 2.4.2.1: a start no retry can fix makes the provider FATAL.
      if (error instanceof VexilFatalError) throw new ProviderFatalError(error.message);
      throw error;
    }
  }

  /**
   * Stops syncing, writes the last snapshot, and sends the events still waiting (for at most
   * `events.closeTimeoutMs`). Idempotent: concurrent calls share one close. The provider is back to its uninitialized
   * state at once (evaluations answer PROVIDER_NOT_READY), and can be initialized again.
   */
  onClose(): Promise<void> {
    return this.client.close();
  }

  /** Counters for monitoring: freshness, revision, event delivery (sent, dropped, pending). */
  stats(): VexilProviderStats {
    return this.client.stats();
  }

  /** Sends waiting events now (normally they go every `flushIntervalMs`). */
  flush(): Promise<void> {
    return this.client.flush();
  }

  // ----------------------------------------------------------------------------------------------- evaluation

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    return this.resolveWhenAssigned(flagKey, defaultValue, context, 'boolean');
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return this.resolveWhenAssigned(flagKey, defaultValue, context, 'string');
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return this.resolveWhenAssigned(flagKey, defaultValue, context, 'number');
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return this.resolveWhenAssigned(flagKey, defaultValue, context, 'object');
  }

  /** Resolves at once, except for a sticky experiment's unit not seen yet: then once its assignment is known. */
  private resolveWhenAssigned<T>(flagKey: string, defaultValue: T, context: EvaluationContext, type: FlagValueType): Promise<ResolutionDetails<T>> {
    let json: CoreContext;
    try {
      json = jsonContext(context as CoreContext);
    } catch (error) {
      return Promise.resolve(unreadableContext(flagKey, defaultValue, error));
    }
    const waiting = this.client.prepareAssignment(flagKey, json, type, defaultValue);
    if (!waiting) return Promise.resolve(this.resolveJson(flagKey, defaultValue, json, type));
    return waiting.then(() => this.resolveJson(flagKey, defaultValue, json, type));
  }

  /** The synchronous evaluation behind the four resolve methods. Never throws: a failure is an error code. */
  resolve<T>(flagKey: string, defaultValue: T, context: EvaluationContext | undefined, type: FlagValueType): ResolutionDetails<T> {
    let json: CoreContext | undefined;
    try {
      json = context === undefined ? undefined : jsonContext(context as CoreContext);
    } catch (error) {
      return unreadableContext(flagKey, defaultValue, error);
    }
    return this.resolveJson(flagKey, defaultValue, json, type);
  }

  private resolveJson<T>(flagKey: string, defaultValue: T, context: CoreContext | undefined, type: FlagValueType): ResolutionDetails<T> {
    const detail = this.client.resolve<T>(flagKey, defaultValue, context, type);
    const result: ResolutionDetails<T> = { value: detail.value, reason: detail.reason };
    if (detail.errorCode === 'PROVIDER_NOT_READY') {
      result.errorCode = ErrorCode.PROVIDER_NOT_READY;
      result.errorMessage = detail.errorMessage!;
      return result;
    }
    result.flagMetadata = this.toFlagMetadata(detail.flagMetadata);
    if (detail.errorCode !== undefined) {
      result.errorCode = detail.errorCode as ErrorCode;
      if (detail.errorMessage !== undefined) result.errorMessage = detail.errorMessage;
      return result;
    }
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
    this.client.track(trackingEventName, context as CoreContext, trackingEventDetails as Record<string, unknown>);
  }
}

/** A context that cannot be read as JSON (it refers to itself): the caller's default, never an exception. */
function unreadableContext<T>(flagKey: string, defaultValue: T, error: unknown): ResolutionDetails<T> {
  return {
    value: defaultValue,
    reason: 'ERROR',
    errorCode: ErrorCode.GENERAL,
    errorMessage: `evaluating flag "${flagKey}" failed: the context cannot be read as JSON (${(error as Error)?.message ?? String(error)})`,
  };
}
