import { DEFAULT_PGLITE_LOCATION } from '../sql/url.js';

/**
 * Where events go when `--events` is not given: the flag store's own database when it is SQL (PGlite or
 * PostgreSQL), in a schema of their own named after the flag store's (`vexil` → `vexil_events`, `?schema=flags` →
 * `flags_events`), otherwise the embedded store's folder.
 */
export function defaultEventsUrl(flagStoreUrl: string | undefined): string {
  const url = flagStoreUrl?.trim() ?? '';
  if (url.startsWith('pglite:') || url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const query = url.indexOf('?');
    if (query === -1) return url;
    const params = new URLSearchParams(url.slice(query + 1));
    const schema = params.get('schema');
    if (schema) params.set('schema', `${schema}_events`);
    const rest = params.toString();
    return url.slice(0, query) + (rest ? `?${rest}` : '');
  }
  return `pglite:${DEFAULT_PGLITE_LOCATION}`;
}
