// @vexil/openfeature/client: the direct client alone, without loading the OpenFeature SDK (fastest cold start).
export { VexilClient, VexilFatalError, jsonContext, type FlagKey, type Freshness, type VexilClientEvents, type VexilClientOptions, type VexilClientStats, type VexilDetail, type VexilLogger } from './client.js';
export type { DaemonStore } from './sync/store-sync.js';
export type { CollectorStats, FeatureEvent, TrackingEvent } from './events/collector.js';
export { SNAPSHOT_FORMAT, readFlagData, readSnapshotFile, writeSnapshotFile, type FlagData, type SnapshotDocument } from './snapshot-file.js';
