// @vexil/openfeature: the OpenFeature provider for Node. Evaluates in-process with @vexil/core, stays current over the
// Vexil server's stream (polling as fallback) or straight from a store (daemon mode), starts cold from a snapshot file.
export { VexilProvider, type Freshness, type VexilProviderStats } from './provider.js';
export type { VexilProviderOptions } from './options.js';
export type { DaemonStore } from './sync/store-sync.js';
export type { CollectorStats, FeatureEvent, TrackingEvent } from './events/collector.js';
export { SNAPSHOT_FORMAT, readFlagData, readSnapshotFile, writeSnapshotFile, type FlagData, type SnapshotDocument } from './snapshot-file.js';
export { SseParser, type SseEvent } from './sync/sse.js';
export { VexilClient, VexilFatalError, jsonContext, type FlagKey, type VexilClientEvents, type VexilClientOptions, type VexilClientStats, type VexilDetail, type VexilLogger } from './client.js';
