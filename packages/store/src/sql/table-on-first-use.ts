import type { SqlDriver } from './driver.js';

/**
 * A table created on first use rather than by a numbered migration, so that it can appear in any existing schema:
 * `CREATE TABLE IF NOT EXISTS` under an advisory lock (servers starting together create it once). Returns a function
 * that resolves once the table exists; a failure is retried on the next call.
 */
export function tableOnFirstUse(driver: SqlDriver, lockName: string, createTable: string): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () => {
    ready ??= driver
      .transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1::text))`, [lockName]);
        await tx.query(createTable);
      })
      .catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
    return ready;
  };
}
