import type { FastifyBaseLogger } from 'fastify';
import type { ApiKeyStore, FlagStore, OpenStoreOptions } from '@vexil/store';
import type { NotifierOptions, NotifierTarget } from './notify/notifier.js';
import type { RolloutControllerOptions } from './rollout/controller.js';
import type { EventsStore, EventsStoreOptions } from '@vexil/store';
import type { EventsPipelineOptions } from './events/pipeline.js';
import type { NormaliseOptions } from './events/normalise.js';
import type { EventsWebhookOptions } from './events/webhook-exporter.js';
import type { FileRotation } from './relay/collector.js';
import type { OidcOptions } from './auth/oidc.js';

export interface RateLimitOptions {
  /** Requests per window per key (per client IP for requests without a key). */
  max: number;
  /** Window length in milliseconds. Default 60,000. */
  timeWindowMs?: number;
}

/** Everything `buildServer` accepts. Only a store (instance or URL) is needed; the rest has defaults. */
export interface ServerOptions {
  /** An open store. The server does not close it unless `closeStore` is true. */
  store?: FlagStore;
  /**
   * A store URL (`pglite:…`, `postgres://…`, `redis://…`, `file:…`), opened by the server and closed with it. Given
   * with `store`, it only says where that store lives (for the store id in stream event ids).
   */
  storeUrl?: string;
  storeOptions?: OpenStoreOptions;
  closeStore?: boolean;

  /** Admin keys (role `admin`) and SDK keys accepted in addition to the keys the store keeps. */
  adminKeys?: string[];
  sdkKeys?: string[];
  /**
   * Where keys created through the admin API live when the store cannot keep them (`store.apiKeys` absent).
   * Default: in memory (lost on restart, not shared with other servers).
   */
  keyStore?: ApiKeyStore;
  keyStoreLabel?: string;
  /** With no key at all (configured or stored), create an admin key and an SDK key (`app.vexil.generatedKeys`). */
  generateKeys?: boolean;
  /** Re-read stored keys this often (keys created or revoked on other servers). Default 5000 ms. */
  keyRefreshMs?: number;
  /** Evaluation endpoints answer without a key (admin endpoints never do). Default false. */
  openEvaluation?: boolean;

  /** Per-key rate limit; `false` disables it. Default 100,000 requests per minute per key. */
  rateLimit?: RateLimitOptions | false;
  /** Largest accepted request body in bytes (413 above). Default 1 MiB. */
  bodyLimit?: number;
  /** Allowed CORS origins. Default `*` (evaluation needs no cookies). */
  corsOrigin?: boolean | string | string[];
  /**
   * Answer plain OFREP single-flag evaluations before Fastify's request cycle (ofrep/fast-lane.ts): the same answers,
   * headers, metrics and events for less CPU time per request. Default true; false sends every request through Fastify.
   */
  fastLane?: boolean;
  /**
   * Which peers may set the client address (`X-Forwarded-For`), protocol and host (`X-Forwarded-Proto`,
   * `X-Forwarded-Host`): `true` (every peer: only when every request comes through your proxies), or the proxies'
   * addresses and CIDR ranges (`['10.0.0.0/8', '127.0.0.1']`). Default false: the socket's address, headers ignored.
   */
  trustProxy?: boolean | string | string[];
  /**
   * Failed authentications (an unknown or revoked key) allowed per client address and window; past that, requests
   * with a key from that address get 429 until the window ends. `false` disables it. Default 30 per minute.
   */
  authFailureLimit?: RateLimitOptions | false;
  /** The server's public base URL, for the stream URLs it advertises (default: from the request's Host). */
  publicUrl?: string;
  /** Sign-in with OpenID Connect on the admin page (roles from a claim); admin keys keep working beside it. */
  oidc?: OidcOptions;

  /**
   * The events store, where collected events and server-side exposures are kept: an open store (not closed by the
   * server), or false. Default: none (events are only counted in memory), unless `eventsUrl` is given.
   */
  events?: EventsStore | false;
  /** Opens this events store (`sqlite:…`, `pglite:…`, `postgres://…`); a store down at start is opened again on later writes. */
  eventsUrl?: string;
  eventsOptions?: EventsStoreOptions & EventsPipelineOptions & Pick<NormaliseOptions, 'maxAgeMs' | 'maxFutureMs' | 'maxEventBytes'>;
  /** Append collected SDK events to this JSON-lines file (rotated by size and age: `eventsFileRotation`). */
  eventsFile?: string;
  eventsFileRotation?: FileRotation;
  /** POST collected SDK events in signed batches to this URL (a warehouse's ingestion endpoint). */
  eventsWebhook?: EventsWebhookOptions;

  /** A pino logger or logger options, `true` for the default (info), `false` for none. Default false. */
  logger?: boolean | FastifyBaseLogger | Record<string, unknown>;

  /** SSE comment heartbeats. Default 15,000 ms. */
  heartbeatMs?: number;
  /** Store health check interval. Default 2000 ms. */
  healthIntervalMs?: number;
  /** Changes arriving within this window compile together. Default 2 ms. */
  debounceMs?: number;
  /** Recent changes kept for stream resumes. Default 1000. */
  changeLogSize?: number;
  /** OFREP `eventStreams[].inactivityDelaySec`. Default 120. */
  inactivityDelaySec?: number;
  /** How long to keep trying the first load of a store that does not answer. Default 10,000 ms. */
  startTimeoutMs?: number;
  /**
   * How often to look for projects and environments created or deleted by other servers on the same store (ms).
   * Default 3000; 0: only this server's own changes (and requests for an environment not served yet) are seen.
   */
  catalogPollMs?: number;
  /**
   * How many recent evaluation requests to keep for `GET /admin/v1/flags/{key}/contexts` (the admin page's impact
   * preview). In memory only, readable with an admin key. Default 1000; 0 turns it off.
   */
  contextSampleSize?: number;
  /** Evaluation requests larger than this (characters of JSON) are not sampled. Default 8 KiB. */
  contextSampleEntryChars?: number;
  /** The whole context sample holds at most this many characters of JSON. Default 2 Mi. */
  contextSampleTotalChars?: number;
  /** Open event streams (`/v1/stream` and `/ofrep/v1/events` together) per API key; more get 429. Default 10,000. */
  streamsPerKey?: number;
  /** Open event streams per client address; more get 429. Default 100. */
  streamsPerAddress?: number;
  /**
   * A stream client whose unsent output passes this many bytes and does not read it within `streamDrainTimeoutMs` is
   * disconnected (it reconnects and resumes with Last-Event-ID). Default 1 MiB.
   */
  streamBacklogBytes?: number;
  /** See `streamBacklogBytes`. Default 10,000 ms. */
  streamDrainTimeoutMs?: number;
  /**
   * The admin page's folder (a Vite build with `index.html` and `assets/`), served at `/` without auth. Default: the
   * `@vexil/ui` build beside this package (`packages/ui/dist`). When it has no `index.html`, `/` answers a page saying
   * how to build it. `false`: no page at all.
   */
  uiRoot?: string | false;
  /**
   * Identifies the store in stream event ids (`<storeId>:<revision>`), so a client resuming with an id from another
   * store (or from this store before a reset) gets a full snapshot. Default: derived from the store URL (kind,
   * location, schema or prefix; never credentials), or random per process for stores whose revisions are
   * per-process (files, in-memory PGlite) or when only a store instance is given.
   */
  storeId?: string;
  /**
   * A stream client resuming from a revision of this store that this server has not reached yet (it came from a
   * server further ahead) waits this long for this server to catch up, then gets a full snapshot. Default 1000 ms.
   */
  streamResumeWaitMs?: number;
  /** Register prom-client's default process metrics. Default true. */
  defaultMetrics?: boolean;

  /**
   * Where to send a notification for every flag change (webhooks with GO Feature Flag's body, Slack). Every server
   * with targets sends every change it sees, its own writes and other servers' alike: in a cluster, give targets to
   * one server only (or set `notify: false` on the others).
   */
  notifiers?: NotifierTarget[];
  /** `false`: send no notifications from this server even with `notifiers`. Default true. */
  notify?: boolean;
  /** Batching, retries, queue size and timeout of notifications (see `NotifierOptions`). */
  notifyOptions?: Omit<NotifierOptions, 'targets' | 'log' | 'onOutcome'>;

  /**
   * Run the rollout controller in this server (one leader per store, by lease; needs a SQL or Redis store): its
   * measurement source, clock, lease and tick. Absent or `false`: no controller (the rollout API still answers and
   * takes commands). `vexil serve` turns it on.
   */
  rollout?: Omit<RolloutControllerOptions, 'store' | 'log'> | false;
  /** A Prometheus base URL for `prometheus:` gates (combined with `rollout.source` when both are given). */
  prometheusUrl?: string;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 100_000, timeWindowMs: 60_000 };
export const DEFAULT_AUTH_FAILURE_LIMIT: RateLimitOptions = { max: 30, timeWindowMs: 60_000 };
export const DEFAULT_STREAMS_PER_KEY = 10_000;
export const DEFAULT_STREAMS_PER_ADDRESS = 100;
export const DEFAULT_STREAM_BACKLOG_BYTES = 1024 * 1024;
export const DEFAULT_STREAM_DRAIN_TIMEOUT_MS = 10_000;
/** `vexil serve` refuses configured keys shorter than this. */
export const MIN_KEY_LENGTH = 16;
