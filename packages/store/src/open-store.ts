import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FlagStore } from './types.js';
import { SqlFlagStore, type SqlStoreOptions } from './sql/store.js';
import { DEFAULT_PGLITE_LOCATION } from './sql/url.js';

/** Where the embedded default keeps its data: one SQLite file (flags, audit, keys, environments and events). */
export const DEFAULT_SQLITE_LOCATION = './.vexil/vexil.db';
/** The default store: embedded SQLite, `./.vexil/vexil.db`. */
export const DEFAULT_STORE_URL = `sqlite:${DEFAULT_SQLITE_LOCATION}`;

/**
 * The store to open when none is named: the embedded SQLite file, except in a folder where an earlier release made
 * its embedded PGlite store (`./.vexil/data`, relative to `cwd`), which stays in use so an upgrade loses nothing (copy
 * it over with `vexil export` and `vexil import` to move).
 */
export function defaultStoreUrl(cwd: string = process.cwd()): string {
  if (existsSync(join(resolve(cwd, DEFAULT_PGLITE_LOCATION), 'PG_VERSION'))) return `pglite:${DEFAULT_PGLITE_LOCATION}`;
  return DEFAULT_STORE_URL;
}

/** Options for any store; each store reads the ones it knows (SQL: `schema`, …; Redis: `prefix`, …). */
export interface OpenStoreOptions extends SqlStoreOptions {
  [option: string]: unknown;
}

interface Opener {
  open(target: never, options: OpenStoreOptions): Promise<FlagStore>;
}

/**
 * Opens a store from one URL:
 * - `sqlite:./.vexil/vexil.db` (the default, see `defaultStoreUrl`), `sqlite:memory:`, `sqlite:memory:<name>` — embedded SQLite;
 * - `pglite:./.vexil/data`, `pglite:memory:`, `pglite:memory:<name>` — embedded PostgreSQL;
 * - `postgres://…` / `postgresql://…` — a PostgreSQL server;
 * - `redis://…` / `rediss://…` — Redis;
 * - `dynamodb://TABLE?region=…&endpoint=…&poll=ms&feed=auto|streams|poll` — DynamoDB (credentials from the AWS chain);
 * - `file:./flags.yaml,./more.json` or `file:./flags/` — read-only flag files, watched; items may name their
 *   environment (`file:production=./prod.yaml,checkout/staging=./staging.yaml`): the store's `catalog` serves them.
 * SQL stores take `?schema=name` (default `vexil`).
 */
export async function openStore(url?: string, options: OpenStoreOptions = {}): Promise<FlagStore> {
  const target = url?.trim() || defaultStoreUrl(typeof options.cwd === 'string' ? options.cwd : undefined);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(target)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'pglite':
    case 'postgres':
    case 'postgresql':
      return SqlFlagStore.open(target, options);
    case 'sqlite': {
      const { SqliteFlagStore } = await load<{ SqliteFlagStore: Opener }>('./sqlite/store.js', 'sqlite');
      return SqliteFlagStore.open(target as never, options);
    }
    case 'redis':
    case 'rediss': {
      const { RedisFlagStore } = await load<{ RedisFlagStore: Opener }>('./redis/index.js', 'redis');
      return RedisFlagStore.open(target as never, options);
    }
    case 'dynamodb': {
      const { DynamoFlagStore } = await load<{ DynamoFlagStore: Opener }>('./dynamodb/index.js', 'dynamodb');
      return DynamoFlagStore.open(target as never, options);
    }
    case 'file': {
      const paths = fileStorePaths(target);
      const { FileFlagStore } = await load<{ FileFlagStore: Opener }>('./file/index.js', 'file');
      return FileFlagStore.open(paths as never, options);
    }
    default:
      throw new TypeError(
        `unknown store URL "${target}": use sqlite:<file>, sqlite:memory:, pglite:<dir>, pglite:memory:, postgres://…, redis://…, dynamodb://TABLE or file:<path>[,<path>…]`,
      );
  }
}

/** `file:./a.yaml,./b.json` → `['./a.yaml', './b.json']`; `file:///abs/dir` → `['/abs/dir']`. */
export function fileStorePaths(url: string): string[] {
  let rest = url.slice('file:'.length);
  if (rest.startsWith('///')) rest = rest.slice(2);
  else if (rest.startsWith('//')) rest = rest.slice(2);
  const paths = rest
    .split(',')
    .map((path) => decodeURIComponent(path.trim()))
    .filter((path) => path.length > 0);
  if (paths.length === 0) throw new TypeError('file: store URL names no file or directory');
  return paths;
}

/** Imports an optional store module, so this file compiles and runs even where that store is not built. */
async function load<T>(specifier: string, kind: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(specifier.replace('./', '').replace('.js', '')))
      throw new Error(`the ${kind} store is not available in this build of @vexil/store`, { cause: error });
    throw error;
  }
}
