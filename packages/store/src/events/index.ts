export * from './types.js';
export { SqlEventsStore, DEFAULT_EVENTS_SCHEMA, type SqlEventsStoreOptions } from './store.js';
export { EVENTS_MIGRATIONS } from './migrations.js';
export { UnitSet, EXACT_LIMIT } from './unit-set.js';
export { defaultEventsUrl } from './default-url.js';
export { parseTimeArg } from './time.js';
export { EventsFolderLockedError } from './folder-lock.js';
