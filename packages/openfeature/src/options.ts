/** Where warnings go: the shape of OpenFeature's `Logger`, so an OpenFeature logger fits. */
export interface VexilLogger {
  error(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}
import type { DaemonStore } from './sync/store-sync.js';

export interface VexilProviderOptions {
  /** The Vexil server's base URL (`http://localhost:1031`). Flags come from its stream, events go to its collector. */
  url?: string;
  /** An SDK key, sent as `Authorization: Bearer …`. */
  sdkKey?: string;
  /**
   * Daemon mode: read flags straight from a store and its change feed, no server in between. A store URL
   * (`redis://host:6379?prefix=vexil:`, `postgres://…`, `dynamodb://TABLE?region=…`), opened with `@vexil/store` (imported only then), or a store
   * object you opened yourself. `url` may still be given: events then go to that server's collector.
   */
  store?: string | DaemonStore;
  /** Options passed to `openStore` with a store URL (e.g. `{ prefix: 'vexil:' }`). */
  storeOptions?: Record<string, unknown>;
  /**
   * Daemon mode: the environment to read (`production`, or `project/environment`). Default: default/default, the
   * store's own flags. (Through a server, the SDK key chooses the environment.)
   */
  environment?: string;
  /**
   * A snapshot file (`vexil-snapshot/1`, as `vexil export` writes it). Read at start to serve at once (reason CACHED)
   * while the live source connects; rewritten atomically after every change. A missing file is fine; a damaged one
   * is ignored with a warning.
   */
  snapshotFile?: string;
  /** Flags to start from when there is no usable snapshot file: a snapshot document or `{ flags, segments? }`. */
  bootstrap?: unknown;
  /** How long `initialize()` waits for flags when it has no snapshot to start from. Default 5,000 ms. */
  timeoutMs?: number;
  /** Follow `GET /v1/stream` (default). False: poll only. */
  stream?: boolean;
  /** Polling period, used when the stream is off or unavailable. 0 disables polling. Default 30,000 ms. */
  pollIntervalMs?: number;
  /** Reconnection backoff: first delay and ceiling, doubled each attempt with jitter. Default 500 ms → 30,000 ms. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** A stream silent (no event, no heartbeat) for this long is reopened. Default 60,000 ms. */
  streamIdleTimeoutMs?: number;
  /** Timeout for each request (stream headers, poll, event batch). Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** Daemon mode: how often to ping the store. Default 2,000 ms. */
  healthIntervalMs?: number;
  /**
   * Exposure and tracking events sent to the server's collector (`POST /v1/data/collector`). Needs `url`.
   * False turns both off.
   */
  events?:
    | false
    | {
        /** Exposure events for flags with `trackEvents` (default true). */
        exposures?: boolean;
        /** Default 10,000 ms. */
        flushIntervalMs?: number;
        /** A flush starts early at this many waiting events. Default 1,000. */
        batchSize?: number;
        /** At most this many events in memory; more are dropped and counted. Default 10,000. */
        maxPending?: number;
        /** Events not delivered after this long are dropped and counted. Default 300,000 ms. */
        maxAgeMs?: number;
        /** Largest request body, in bytes: bigger batches are split before sending. Default 524,288 (half the server's default body limit). */
        maxBatchBytes?: number;
        /** How long `onClose()` waits for the last flush. Default 2,000 ms. */
        closeTimeoutMs?: number;
      };
  /** Extra HTTP headers on every request. */
  headers?: Record<string, string>;
  /** Where warnings go. Default: `console.warn` / `console.error`, prefixed `[vexil]`. */
  logger?: VexilLogger;
  /** A `fetch` implementation (default: the global one). */
  fetch?: typeof fetch;
}
