/** Where a SQL store lives, parsed from its URL. */
export type SqlLocation =
  | { driver: 'pglite'; location: string; schema?: string }
  | { driver: 'postgres'; url: string; schema?: string };

export const DEFAULT_PGLITE_LOCATION = './.vexil/data';

/**
 * `pglite:./path`, `pglite:memory:`, `pglite:memory:<name>` (shared by name in this process), or
 * `postgres://…` / `postgresql://…`. `?schema=name` picks the schema (default `vexil`); it is removed from the URL
 * given to the PostgreSQL client, which would otherwise send it to the server as a setting.
 */
export function parseSqlUrl(url: string): SqlLocation {
  if (url.startsWith('pglite:')) {
    const rest = url.slice('pglite:'.length);
    const query = rest.indexOf('?');
    let location = query === -1 ? rest : rest.slice(0, query);
    const params = new URLSearchParams(query === -1 ? '' : rest.slice(query + 1));
    if (location.startsWith('//')) location = location.slice(2);
    if (location === '') location = DEFAULT_PGLITE_LOCATION;
    const schema = params.get('schema') ?? undefined;
    return { driver: 'pglite', location, ...(schema ? { schema } : {}) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const parsed = new URL(url);
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    return { driver: 'postgres', url: parsed.toString(), ...(schema ? { schema } : {}) };
  }
  throw new TypeError(`not a SQL store URL: ${redact(url)} (expected pglite:… or postgres://…)`);
}

/** The URL without its password, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}
