// Which measurement sources and options the server's rollout controller gets from the server options.
import type { FastifyBaseLogger } from 'fastify';
import { combineMeasurementSources, type MeasurementSource } from '@vexil/analysis';
import type { FlagStore, LeaseStore } from '@vexil/store';
import type { ServerOptions } from '../options.js';
import { RolloutController } from './controller.js';
import type { SnapshotHolder } from '../snapshot/holder.js';
import { PrometheusMeasurementSource } from './prometheus-source.js';

/**
 * The sources in order of precedence (the first that answers an arm wins): `rollout.source` when given, then the
 * server's events store (arms), then Prometheus (queries).
 */
export function measurementSourceOf(options: ServerOptions, events?: MeasurementSource): MeasurementSource | undefined {
  const sources: MeasurementSource[] = [];
  if (options.rollout && options.rollout.source) sources.push(options.rollout.source);
  if (events) sources.push(events);
  if (options.prometheusUrl) sources.push(new PrometheusMeasurementSource({ url: options.prometheusUrl }));
  if (sources.length === 0) return undefined;
  return sources.length === 1 ? sources[0] : combineMeasurementSources(...sources);
}

/** The controller to run, or undefined when `options.rollout` is off or the store cannot hold leases (logged). */
export function createRolloutController(
  store: FlagStore,
  holder: SnapshotHolder,
  options: ServerOptions,
  log: FastifyBaseLogger,
  events?: MeasurementSource,
  /** Another environment than default/default: its own lease (one leader per environment), held in the root store. */
  environment?: { leaseName: string; leases: LeaseStore | undefined },
): RolloutController | undefined {
  if (!options.rollout) return undefined;
  if (!(environment ? environment.leases : store.leases) || !store.writable) {
    log.warn(`rollout controller not started: the ${store.kind} store cannot hold leases (use a SQL or Redis store)`);
    return undefined;
  }
  const source = measurementSourceOf(options, events);
  // Only flags with a plan or a kill switch are read from the store each tick; the snapshot says which.
  const candidates = () =>
    Object.entries(holder.definitions())
      .filter(([, flag]) => flag.rollout !== undefined || flag.killSwitch !== undefined)
      .map(([key]) => key);
  return new RolloutController({
    candidates,
    ...options.rollout,
    store,
    log,
    ...(source ? { source } : {}),
    ...(environment ? { leaseName: environment.leaseName, ...(environment.leases ? { leases: environment.leases } : {}) } : {}),
  });
}
