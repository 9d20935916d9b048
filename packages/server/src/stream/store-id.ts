import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseSqlUrl, parseSqliteUrl, type FlagStore } from '@vexil/store';

/** What a store id may look like: no `:` (the separator in event ids), short, printable. */
const STORE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * `<storeId>:<revision>` or a plain `<revision>` (clients from before store ids). Environments other than
 * default/default add `.e-<environment id>` to the store id, so the part before `:` may be longer than a store id.
 */
const EVENT_ID = /^(?:([A-Za-z0-9_.-]{1,128}):)?([0-9]{1,15})$/;

export function isStoreId(value: string): boolean {
  return STORE_ID.test(value);
}

/**
 * The identity of a store, for stream event ids. Stable for one store, so a client moving between servers on the same
 * Redis or PostgreSQL keeps resuming without a gap; different for another store, so a client that resumes with an id
 * from elsewhere gets a full snapshot instead of being taken as current.
 *
 * - A store that keeps its own random id (`instanceId`, a string) is identified by it: that also tells a reset store
 *   (same URL, revisions starting again) from the one before.
 * - Otherwise the id is a hash of what locates the store: kind, host, port, database or path, schema or prefix (never
 *   user names or passwords); for an on-disk PGlite store also the data folder's inode and birth time, so a folder
 *   deleted and created again counts as another store.
 * - Stores whose revisions exist only in this process (file stores, in-memory PGlite), and stores given without a URL,
 *   get a random id per process.
 */
export function storeIdentity(store: FlagStore, storeUrl: string | undefined): string {
  const kept = (store as { instanceId?: unknown }).instanceId;
  if (typeof kept === 'string' && STORE_ID.test(kept)) return kept;
  const location = storeUrl ? storeLocation(store, storeUrl) : undefined;
  if (!location) return randomBytes(6).toString('hex');
  return createHash('sha256').update(location).digest('hex').slice(0, 12);
}

/** A canonical description of where the store lives, or undefined when its revisions are per process. */
export function storeLocation(store: FlagStore, storeUrl: string): string | undefined {
  const url = storeUrl.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const schema = (store as { schema?: unknown }).schema;
  const prefix = (store as { prefix?: unknown }).prefix;
  try {
    switch (scheme) {
      case 'pglite': {
        const parsed = parseSqlUrl(url);
        if (parsed.driver !== 'pglite' || parsed.location.startsWith('memory:')) return undefined;
        const path = resolve(parsed.location);
        // The data folder's inode and birth time: a folder deleted and created again (a reset store) is another store.
        let folder = '';
        try {
          const stat = statSync(path);
          folder = `${stat.ino}|${stat.birthtimeMs}`;
        } catch {
          // not created yet: the path alone
        }
        return `pglite|${path}|${folder}|${typeof schema === 'string' ? schema : (parsed.schema ?? 'vexil')}`;
      }
      case 'sqlite': {
        const location = parseSqliteUrl(url);
        if (location.startsWith('memory:')) return undefined;
        const path = resolve(location);
        // The file's inode and birth time: a file deleted and made again (a reset store) is another store.
        let file = '';
        try {
          const stat = statSync(path);
          file = `${stat.ino}|${stat.birthtimeMs}`;
        } catch {
          // not created yet: the path alone
        }
        return `sqlite|${path}|${file}`;
      }
      case 'postgres':
      case 'postgresql': {
        const parsed = new URL(url);
        const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
        const sqlSchema = typeof schema === 'string' ? schema : (parsed.searchParams.get('schema') ?? 'vexil');
        return `postgres|${parsed.hostname.toLowerCase()}|${parsed.port || '5432'}|${database}|${sqlSchema}`;
      }
      case 'redis':
      case 'rediss': {
        const parsed = new URL(url);
        const database = parsed.pathname.replace(/^\//, '') || '0';
        const keyPrefix = typeof prefix === 'string' ? prefix : (parsed.searchParams.get('prefix') ?? 'vexil:');
        return `redis|${parsed.hostname.toLowerCase()}|${parsed.port || '6379'}|${database}|${keyPrefix}`;
      }
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** Reads a `Last-Event-ID`: `<storeId>:<revision>` or a plain `<revision>`; undefined when it is neither. */
export function parseEventId(raw: string | undefined): { storeId?: string; revision: number } | undefined {
  if (raw === undefined) return undefined;
  const match = EVENT_ID.exec(raw.trim());
  if (!match) return undefined;
  const revision = Number(match[2]);
  return match[1] === undefined ? { revision } : { storeId: match[1], revision };
}
