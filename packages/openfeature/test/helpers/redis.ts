// A unique Redis key prefix per test, and cleanup of exactly those keys (never FLUSHDB).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.VEXIL_TEST_REDIS ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(): string {
  return `vexil-test-openfeature-${randomBytes(6).toString('hex')}:`;
}

export function storeUrl(prefix: string): string {
  return `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`;
}

/** Deletes every key under `prefix`, and only those. */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function redisAvailable(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
