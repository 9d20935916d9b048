// @vexil/server: the HTTP server — OFREP, the GO Feature Flag relay API, the SSE stream, the admin API, metrics.
export { buildServer, redactUrl, VERSION } from './app.js';
export { startServer, startOptionsFromConfig, type StartOptions, type RunningServer } from './start.js';
export type { ServerOptions, RateLimitOptions } from './options.js';
export { DEFAULT_BODY_LIMIT, DEFAULT_RATE_LIMIT } from './options.js';
export type { ServerContext } from './context.js';
export {
  resolveServeConfig,
  ConfigError,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_STORE,
  type ServeCliOptions,
  type ServeConfig,
} from './config/config.js';
export { importFlagFiles, findExampleFlags, type ImportReport } from './config/import.js';
export { seedFlagFiles, describeSeed, seedFlagSpecs, describeEnvironmentSeeds, type SeedReport, type EnvironmentSeedReport } from './config/seed.js';
export { SnapshotHolder, type SnapshotChange, type SnapshotHolderOptions, type HealthStatus, type HeldFlag } from './snapshot/holder.js';
export { ChangeLog } from './snapshot/change-log.js';
export { KeyRing, hashSecret, generateSecret, roleAtLeast, type Principal, type KeyInfo, type CreatedKey } from './auth/keys.js';
export { MemoryKeyStore, FileKeyStore } from './auth/key-stores.js';
export { EventCollector, type CollectorSummary, type FeatureEvent, type TrackingEvent } from './relay/collector.js';
export { toVariationResult, relayContext } from './relay/routes.js';
export { toOfrep, ofrepMetadata } from './ofrep/mapping.js';
export { mergePatch } from './admin/merge-patch.js';
export { HttpError } from './http/errors.js';
export {
  Notifier,
  render as renderNotification,
  signature as notificationSignature,
  slackText,
  type NotifierOptions,
  type NotifierTarget,
  type NotificationBody,
  type NotificationOutcome,
  type NotifiedChange,
} from './notify/notifier.js';
export { RolloutController, applyRolloutCommand, CONTROLLER_ACTOR, KILL_SWITCH_ACTOR, type RolloutControllerOptions, type TickOutcome } from './rollout/controller.js';
export { PrometheusMeasurementSource, type PrometheusSourceOptions } from './rollout/prometheus-source.js';
export { experimentResults, NoExperimentError, type ExperimentResults } from './experiments/results.js';
