export { SqlFlagStore, type SqlStoreOptions } from './store.js';
export { MIGRATIONS, SCOPE_MIGRATIONS, migrate, type Migration } from './migrations.js';
export { SqlDocumentStore } from './documents.js';
export { parseSqlUrl, DEFAULT_PGLITE_LOCATION, type SqlLocation } from './url.js';
export type { SqlDriver, SqlQueryable } from './driver.js';
