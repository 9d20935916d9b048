export type * from './types.js';
export * from './errors.js';
export { openStore, type OpenStoreOptions } from './open-store.js';
export { SqlFlagStore, type SqlStoreOptions, MIGRATIONS, parseSqlUrl, DEFAULT_PGLITE_LOCATION } from './sql/index.js';
export { canonicalJson, snapshotHash, createSnapshot, checkSnapshot, writeSnapshotFile, readSnapshotFile, SNAPSHOT_FORMAT, type SnapshotInput } from './snapshot/index.js';
export { keyProblems, assertWritableFlag, assertWritableSegments, storedFlagChecker } from './validation.js';
export { RedisFlagStore, type RedisStoreOptions } from './redis/index.js';
export { FileFlagStore, type FileStoreOptions } from './file/index.js';
export * from './events/index.js';
