// Leases in a SQL store (PGlite or PostgreSQL): one row per lease name, timed by the database's clock, so servers
// with skewed clocks agree on who holds it. The table is created on first use (idempotently, under an advisory lock)
// rather than by a numbered migration, so it can be added to any existing schema.
import type { Lease, LeaseStore } from '../types.js';
import type { SqlDriver } from './driver.js';
import { tableOnFirstUse } from './table-on-first-use.js';

interface LeaseRow extends Record<string, unknown> {
  name: string;
  holder: string;
  token: string | number;
  expires_at: Date | string;
}

function toLease(row: LeaseRow): Lease {
  return { name: row.name, holder: row.holder, token: Number(row.token), expiresAt: new Date(row.expires_at).toISOString() };
}

export class SqlLeaseStore implements LeaseStore {
  readonly #table: () => Promise<void>;

  constructor(
    private readonly driver: SqlDriver,
    /** The quoted schema name. */
    private readonly schema: string,
  ) {
    this.#table = tableOnFirstUse(
      driver,
      `vexil.leases.${schema}`,
      `CREATE TABLE IF NOT EXISTS ${schema}.leases (
        name text PRIMARY KEY,
        holder text NOT NULL,
        token bigint NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
    );
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    if (!(ttlMs > 0)) throw new RangeError('a lease needs a positive duration');
    await this.#table();
    const rows = await this.driver.query<LeaseRow>(
      `INSERT INTO ${this.schema}.leases AS l (name, holder, token, expires_at)
         VALUES ($1::text, $2::text, 1, clock_timestamp() + $3::double precision * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET
         holder = EXCLUDED.holder,
         token = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > clock_timestamp() THEN l.token ELSE l.token + 1 END,
         expires_at = EXCLUDED.expires_at
       WHERE l.holder = EXCLUDED.holder OR l.expires_at <= clock_timestamp()
       RETURNING name, holder, token, expires_at`,
      [name, holder, ttlMs],
    );
    return rows[0] ? toLease(rows[0]) : undefined;
  }

  async release(name: string, holder: string): Promise<boolean> {
    await this.#table();
    // Expire rather than delete: the token keeps growing across holders.
    const rows = await this.driver.query(
      `UPDATE ${this.schema}.leases SET expires_at = clock_timestamp() WHERE name = $1::text AND holder = $2::text AND expires_at > clock_timestamp() RETURNING name`,
      [name, holder],
    );
    return rows.length > 0;
  }

  async get(name: string): Promise<Lease | undefined> {
    await this.#table();
    const rows = await this.driver.query<LeaseRow>(
      `SELECT name, holder, token, expires_at FROM ${this.schema}.leases WHERE name = $1::text AND expires_at > clock_timestamp()`,
      [name],
    );
    return rows[0] ? toLease(rows[0]) : undefined;
  }
}
