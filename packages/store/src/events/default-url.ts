import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_PGLITE_LOCATION } from '../sql/url.js';
import { defaultStoreUrl } from '../open-store.js';

/** Where events go by default when the flag store is not SQL: SQLite, in the embedded store's folder. */
export const DEFAULT_SQLITE_EVENTS = './.vexil/events.db';

/**
 * Where events go when `--events` is not given: the flag store's own database when it is SQL (SQLite: the same file;
 * PGlite or PostgreSQL), in a schema of their own named after the flag store's (`vexil` → `vexil_events`, `?schema=flags` →
 * `flags_events`); otherwise a SQLite file, `./.vexil/events.db`. With no flag store named, the default store's. A folder where an earlier release kept events in
 * PGlite (`./.vexil/data`, relative to `cwd`) keeps them there, so an upgrade loses no history.
 */
export function defaultEventsUrl(flagStoreUrl: string | undefined, cwd: string = process.cwd()): string {
  // No flag store named: the default one's (`vexil events` beside a `vexil serve` that was given none).
  const url = flagStoreUrl?.trim() || defaultStoreUrl(cwd);
  // SQLite: the same file (its tables are prefixed apart).
  if (url.startsWith('sqlite:')) return url;
  if (url.startsWith('pglite:') || url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const query = url.indexOf('?');
    if (query === -1) return url;
    const params = new URLSearchParams(url.slice(query + 1));
    const schema = params.get('schema');
    if (schema) params.set('schema', `${schema}_events`);
    const rest = params.toString();
    return url.slice(0, query) + (rest ? `?${rest}` : '');
  }
  if (existsSync(join(resolve(cwd, DEFAULT_PGLITE_LOCATION), 'PG_VERSION'))) return `pglite:${DEFAULT_PGLITE_LOCATION}`;
  return `sqlite:${DEFAULT_SQLITE_EVENTS}`;
}
