import type { FlagStore } from '@vexil/store';
import type { SnapshotHolder } from './snapshot/holder.js';
import type { KeyRing } from './auth/keys.js';
import type { ServerMetrics } from './metrics/metrics.js';
import type { EventCollector } from './relay/collector.js';
import type { SseHub } from './stream/sse.js';

/** What every route module works with. Available on the Fastify instance as `app.vexil`. */
export interface ServerContext {
  store: FlagStore;
  holder: SnapshotHolder;
  keys: KeyRing;
  metrics: ServerMetrics;
  collector: EventCollector;
  sse: SseHub;
  publicUrl: string | undefined;
  inactivityDelaySec: number;
  startedAt: Date;
  /** Keys generated at start (`generateKeys`): shown once, then forget them. */
  generatedKeys: { admin?: string; sdk?: string };
  version: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    vexil: ServerContext;
  }
}
