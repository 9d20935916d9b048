export * from './types.js';
export { SqlEventsStore, DEFAULT_EVENTS_SCHEMA, type SqlEventsStoreOptions } from './store.js';
export { SqliteEventsStore, type SqliteEventsStoreOptions } from './sqlite-store.js';
export { openEventsStore, type EventsStoreOptions } from './open.js';
export { EVENTS_MIGRATIONS } from './migrations.js';
export { UnitSet, EXACT_LIMIT } from './unit-set.js';
export { defaultEventsUrl, DEFAULT_SQLITE_EVENTS } from './default-url.js';
export { parseTimeArg } from './time.js';
export { EventsFolderLockedError } from './folder-lock.js';
