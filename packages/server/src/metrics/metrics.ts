import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { DurationHistogram } from './duration-histogram.js';
import type { SnapshotHolder } from '../snapshot/holder.js';
import type { SourceProblems } from '../snapshot/source-problems.js';

/** Label used for flag keys that are not in the snapshot, so that clients cannot create unbounded series. */
export const UNKNOWN_FLAG = '__unknown__';

interface Observer {
  observe(value: number): void;
}

/**
 * The server's Prometheus metrics, in a registry of its own (several servers can live in one process, in tests).
 * Evaluation counts are kept in a plain map on the hot path and handed to prom-client only when scraped.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  /** Evaluations by flag, variant ('' for none) and reason: counted without building a key per evaluation. */
  readonly #evaluations = new Map<string, Map<string, Map<string, number>>>();
  readonly #exposures = new Map<string, number>();
  readonly #httpDuration: DurationHistogram;
  /** Observers by route, method and status: found without building a key per request. */
  readonly #observers = new Map<string, Map<string, Map<number, Observer>>>();
  readonly sseClients: Gauge<'stream'>;
  readonly collectedEvents: Counter<'kind'>;
  readonly notifications: Counter<'target' | 'outcome'>;
  readonly authFailures: Counter<'outcome'>;
  readonly streamRefusals: Counter<'stream' | 'reason'>;

  constructor(
    holder: SnapshotHolder,
    /** `sourceProblems`: default/default's; `allSourceProblems`: every environment's (the file-problem gauge sums them). */
    options: { defaultMetrics?: boolean; sourceProblems?: SourceProblems; allSourceProblems?: () => Iterable<SourceProblems> } = {},
  ) {
    const registry = this.registry;
    const evaluations = this.#evaluations;
    const exposures = this.#exposures;
    new Counter({
      name: 'vexil_evaluations_total',
      help: 'Flag evaluations served, by flag, variant and reason (OFREP and the GO Feature Flag relay API; not the admin playground).',
      labelNames: ['flag', 'variant', 'reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [flag, variants] of evaluations)
          for (const [variant, reasons] of variants) for (const [reason, count] of reasons) this.inc({ flag, variant, reason }, count);
      },
    });
    new Counter({
      name: 'vexil_flag_exposures_total',
      help: 'Flag evaluation events reported by SDKs through /v1/data/collector, by flag and variation.',
      labelNames: ['flag', 'variation'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [key, count] of exposures) {
          const [flag, variation] = key.split('\u0000') as [string, string];
          this.inc({ flag, variation }, count);
        }
      },
    });
    this.collectedEvents = new Counter({
      name: 'vexil_collected_events_total',
      help: 'Events received by /v1/data/collector, by kind (feature, tracking, invalid).',
      labelNames: ['kind'] as const,
      registers: [registry],
    });
    this.notifications = new Counter({
      name: 'vexil_notifications_total',
      help: 'Flag change notifications, by target and outcome (sent, retry, failed after the retries, dropped from a full queue).',
      labelNames: ['target', 'outcome'] as const,
      registers: [registry],
    });
    this.authFailures = new Counter({
      name: 'vexil_auth_failures_total',
      help: 'Requests with an unknown or revoked API key (outcome rejected: 401), and requests refused because their address failed too often (outcome limited: 429).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    this.authFailures.inc({ outcome: 'rejected' }, 0);
    this.authFailures.inc({ outcome: 'limited' }, 0);
    this.streamRefusals = new Counter({
      name: 'vexil_stream_refusals_total',
      help: 'Event streams refused (reason key or address: over the connection cap, 429) or dropped (reason slow: a client that did not read its backlog), by stream.',
      labelNames: ['stream', 'reason'] as const,
      registers: [registry],
    });
    this.#httpDuration = new DurationHistogram(
      'vexil_http_request_duration_seconds',
      'HTTP request latency, by method, route and status.',
      ['method', 'route', 'status'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registry,
    );
    this.sseClients = new Gauge({
      name: 'vexil_sse_clients',
      help: 'Connected server-sent-event clients, by stream (sdk: /v1/stream, ofrep: OFREP change events).',
      labelNames: ['stream'] as const,
      registers: [registry],
    });
    this.sseClients.set({ stream: 'sdk' }, 0);
    this.sseClients.set({ stream: 'ofrep' }, 0);
    new Gauge({
      name: 'vexil_store_up',
      help: '1 when the flag store answers, 0 while the server serves its last snapshot (degraded).',
      labelNames: ['store'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.set({ store: holder.store.kind }, holder.storeReachable ? 1 : 0);
      },
    });
    new Counter({
      name: 'vexil_store_resets_total',
      help: 'Times the store went back in time (reset: a new instance id; restored: a lower revision) and every flag was re-read.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(holder.storeResets);
      },
    });
    new Gauge({
      name: 'vexil_snapshot_revision',
      help: 'The store revision of the snapshot being served.',
      registers: [registry],
      collect() {
        this.set(holder.revision);
      },
    });
    new Gauge({
      name: 'vexil_snapshot_last_reload_timestamp_seconds',
      help: 'When the served snapshot was last rebuilt (Unix seconds).',
      registers: [registry],
      collect() {
        this.set(holder.loadedAt.getTime() / 1000);
      },
    });
    const sourceProblems = options.sourceProblems;
    new Gauge({
      name: 'vexil_snapshot_flags',
      help: 'Flags in the served snapshot, by state (valid; invalid: rejected, or kept at its last good definition because its file now has an error).',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        this.set({ state: 'valid' }, holder.snapshot.flags.size);
        const invalid = new Set(holder.snapshot.invalid.keys());
        for (const key of sourceProblems?.invalidFlags ?? []) invalid.add(key);
        this.set({ state: 'invalid' }, invalid.size);
      },
    });
    new Gauge({
      name: 'vexil_flag_file_problems',
      help: 'Problems in the flag files being served (file store), by severity, in every environment; while there are errors the last good flags are served and /health says degraded.',
      labelNames: ['severity'] as const,
      registers: [registry],
      collect() {
        const counts = { error: 0, warning: 0 };
        for (const problems of options.allSourceProblems?.() ?? (sourceProblems ? [sourceProblems] : [])) {
          const own = problems.counts();
          counts.error += own.error;
          counts.warning += own.warning;
        }
        this.set({ severity: 'error' }, counts.error);
        this.set({ severity: 'warning' }, counts.warning);
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'vexil_' });
  }

  recordEvaluation(flag: string, variant: string | undefined, reason: string): void {
    let variants = this.#evaluations.get(flag);
    if (variants === undefined) this.#evaluations.set(flag, (variants = new Map()));
    let reasons = variants.get(variant ?? '');
    if (reasons === undefined) variants.set(variant ?? '', (reasons = new Map()));
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }

  recordExposure(flag: string, variation: string, count = 1): void {
    const key = `${flag}\u0000${variation}`;
    this.#exposures.set(key, (this.#exposures.get(key) ?? 0) + count);
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.#observers.get(route);
    if (!byMethod) this.#observers.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let observer = byStatus.get(status);
    if (!observer) {
      observer = this.#httpDuration.series(method, route, String(status));
      byStatus.set(status, observer);
    }
    observer.observe(seconds);
  }

  /** Total evaluations recorded for a flag (for tests and the info endpoint). */
  evaluationsOf(flag: string): number {
    let total = 0;
    for (const reasons of this.#evaluations.get(flag)?.values() ?? []) for (const count of reasons.values()) total += count;
    return total;
  }
}
