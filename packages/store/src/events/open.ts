import type { EventsStore } from './types.js';
import { SqlEventsStore, type SqlEventsStoreOptions } from './store.js';
import type { SqliteEventsStoreOptions } from './sqlite-store.js';

export type EventsStoreOptions = SqlEventsStoreOptions & SqliteEventsStoreOptions;

/**
 * Opens the events store a URL names: `sqlite:<file>` or `sqlite:memory:` (SQLite, in this process), `pglite:…`
 * (PostgreSQL in this process) or `postgres://…` (a server, shared by many Vexil servers).
 */
export async function openEventsStore(url: string, options: EventsStoreOptions = {}): Promise<EventsStore> {
  if (/^sqlite:/i.test(url.trim())) {
    // Loaded only for SQLite URLs: the native module stays out of processes that never use it.
    const { SqliteEventsStore } = await import('./sqlite-store.js');
    return SqliteEventsStore.open(url, options);
  }
  return SqlEventsStore.open(url, options);
}
