import type { FlagStore } from '@vexil/store';
import type { SnapshotHolder } from './snapshot/holder.js';
import type { SourceProblems } from './snapshot/source-problems.js';
import type { KeyRing } from './auth/keys.js';
import type { ServerMetrics } from './metrics/metrics.js';
import type { EventCollector } from './relay/collector.js';
import type { SseHub } from './stream/sse.js';
import type { Notifier } from './notify/notifier.js';
import type { RolloutController } from './rollout/controller.js';
import type { EventsPipeline } from './events/pipeline.js';
import type { EventsMetrics } from './events/metrics.js';
import type { EnvironmentRegistry } from './environments/registry.js';

/** What every route module works with. Available on the Fastify instance as `app.vexil`. */
export interface ServerContext {
  /** The root store: environment default/default, and the catalog of the others. */
  store: FlagStore;
  /** default/default's live snapshot (`environments.defaultScope.holder`). */
  holder: SnapshotHolder;
  /** Every environment served, each with its store and live snapshot; requests find theirs as `request.environment`. */
  environments: EnvironmentRegistry;
  /** What is wrong now with the flag files being served (file store): `/health`, metrics, the admin page. */
  sourceProblems: SourceProblems;
  keys: KeyRing;
  metrics: ServerMetrics;
  collector: EventCollector;
  sse: SseHub;
  publicUrl: string | undefined;
  inactivityDelaySec: number;
  startedAt: Date;
  /** The store's identity in stream event ids (`<storeId>:<revision>`); a new one once a store reset is noticed. */
  readonly storeId: string;
  /** How long a stream resume ahead of this server waits for it to catch up (ms). */
  streamResumeWaitMs: number;
  /** The admin page folder served at `/`, or undefined when none is served (not built, or `uiRoot: false`). */
  adminPage: string | undefined;
  /** Keys generated at start (`generateKeys`): shown once, then forget them. */
  generatedKeys: { admin?: string; sdk?: string };
  version: string;
  /** Sends flag change notifications; undefined when this server sends none. */
  notifier?: Notifier;
  /** The rollout controller of this server, when it runs one (`options.rollout`). */
  rolloutController?: RolloutController;
  /** Durable events (`--events`); undefined when off. */
  events?: EventsPipeline;
  eventsMetrics?: EventsMetrics;
  eventsLimits?: { maxAgeMs?: number; maxFutureMs?: number; maxEventBytes?: number };
  /** OFREP single-flag evaluations answered before Fastify (ofrep/fast-lane.ts); undefined when off. */
  fastLane?: { readonly answered: number };
}

declare module 'fastify' {
  interface FastifyInstance {
    vexil: ServerContext;
  }
}
