export type * from './types.js';
export type * from './catalog/types.js';
export { DEFAULT_PROJECT, DEFAULT_ENVIRONMENT, SCOPE_KEY_PATTERN } from './catalog/types.js';
export { createCatalog, ROOT_ENVIRONMENT_ID, type StoreCatalog } from './catalog/catalog.js';
export * from './errors.js';
export { openStore, defaultStoreUrl, DEFAULT_STORE_URL, DEFAULT_SQLITE_LOCATION, type OpenStoreOptions } from './open-store.js';
export type { SqliteFlagStore, SqliteStoreOptions } from './sqlite/store.js';
export { parseSqliteUrl } from './sqlite/url.js';
export { SqlFlagStore, type SqlStoreOptions, MIGRATIONS, parseSqlUrl, DEFAULT_PGLITE_LOCATION } from './sql/index.js';
export { canonicalJson, snapshotHash, createSnapshot, checkSnapshot, writeSnapshotFile, readSnapshotFile, SNAPSHOT_FORMAT, type SnapshotInput } from './snapshot/index.js';
export { keyProblems, assertWritableFlag, assertWritableSegments, storedFlagChecker } from './validation.js';
export { RedisFlagStore, type RedisStoreOptions } from './redis/index.js';
// Types only: the AWS SDK loads when a dynamodb:// store is opened (openStore), not with this package.
export type { DynamoFlagStore, DynamoStoreOptions } from './dynamodb/index.js';
export { parseDynamoUrl } from './dynamodb/url.js';
export { FileFlagStore, type FileStoreOptions } from './file/index.js';
export { FileEnvironmentCatalog } from './file/catalog.js';
export {
  parseFlagFileSpec,
  parseFlagFileSpecs,
  groupFlagFileSpecs,
  hasScopedSpecs,
  formatFlagFileSpec,
  mapFlagFileSpecPath,
  environmentLabel,
  FlagSpecError,
  type FlagFileSpec,
  type EnvironmentFiles,
} from './file/sources.js';
export * from './events/index.js';
export { MemoryAssignmentStore } from './util/memory-assignments.js';
export { assignmentKey } from './util/assignments.js';
