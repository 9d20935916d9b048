import type { RedisOptions } from 'ioredis';

export interface ParsedRedisUrl {
  connection: RedisOptions;
  /** The `prefix` query parameter, when given. */
  prefix: string | undefined;
}

/**
 * `redis://[user:password@]host[:port][/db][?prefix=vexil:]`, or `rediss://…` for TLS. Parsed here rather than by
 * ioredis so that Vexil's own parameters (`prefix`) never reach the client.
 */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`not a Redis URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`not a Redis URL (expected redis:// or rediss://): ${JSON.stringify(url)}`);
  }
  const connection: RedisOptions = {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
  };
  if (parsed.username) connection.username = decodeURIComponent(parsed.username);
  if (parsed.password) connection.password = decodeURIComponent(parsed.password);
  const db = parsed.pathname.replace(/^\/+/, '');
  if (db) {
    if (!/^\d+$/.test(db)) throw new Error(`the Redis database in ${JSON.stringify(url)} must be a number, not ${JSON.stringify(db)}`);
    connection.db = Number(db);
  }
  if (parsed.protocol === 'rediss:') connection.tls = {};
  const prefix = parsed.searchParams.get('prefix') ?? undefined;
  return { connection, prefix };
}
