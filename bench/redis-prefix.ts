// Benchmarks on Redis work under a key prefix of their own and remove it afterwards (never anything else there).
import { Redis } from 'ioredis';

/** The store URL for `prefix` on the Redis at `redisUrl`. */
export function redisPrefixUrl(redisUrl: string, prefix: string): string {
  return `${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(prefix)}`;
}

/** Deletes every key under `prefix` (SCAN, then DEL in pages). */
export async function deleteKeysWithPrefix(admin: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
}

/** Connects, deletes every key under `prefix`, disconnects; says so when it cannot. */
export async function removeRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const admin = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    await deleteKeysWithPrefix(admin, prefix);
  } catch (error) {
    console.log(`(could not remove the Redis keys ${prefix}*: ${String(error)})`);
  } finally {
    admin.disconnect();
  }
}
