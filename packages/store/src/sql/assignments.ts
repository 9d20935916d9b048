// Sticky experiment assignments in a SQL store (PGlite or PostgreSQL): one row per flag and unit in the environment's
// own schema, expiring by the database's clock. Like leases, the table is created on first use (idempotently, under
// an advisory lock) so that it can appear in any existing schema without a numbered migration.
import type { AssignmentRequest, AssignmentStore } from '../types.js';
import type { SqlDriver } from './driver.js';
import { tableOnFirstUse } from './table-on-first-use.js';
import { assignmentKey, uniqueRequests } from '../util/assignments.js';

interface AssignmentRow extends Record<string, unknown> {
  flag: string;
  unit: string;
  variation: string;
}

export class SqlAssignmentStore implements AssignmentStore {
  readonly #table: () => Promise<void>;

  constructor(
    private readonly driver: SqlDriver,
    /** The quoted schema name. */
    private readonly schema: string,
  ) {
    this.#table = tableOnFirstUse(
      driver,
      `vexil.assignments.${schema}`,
      `CREATE TABLE IF NOT EXISTS ${schema}.assignments (
        flag text NOT NULL,
        unit text NOT NULL,
        variation text NOT NULL,
        assigned_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (flag, unit)
      )`,
    );
  }

  async assign(requests: readonly AssignmentRequest[]): Promise<string[]> {
    if (requests.length === 0) return [];
    await this.#table();
    const unique = uniqueRequests(requests);
    const answers = new Map<string, string>();
    // The rows go as one JSON parameter (the drivers are used without array types).
    const json = (rows: AssignmentRequest[]) => JSON.stringify(rows.map((r) => ({ flag: r.flag, unit: r.unit, variation: r.variation, ttl: Math.max(1, Math.round(r.ttlMs)) })));
    const replaced = unique.filter((request) => request.replace === true);
    const kept = unique.filter((request) => request.replace !== true);
    const written: AssignmentRow[] = [];
    // Insert what is new or expired (or to be replaced); a conflicting live row is left alone. The rows written come
    // back from RETURNING; the others are read after, so a row another server wrote meanwhile is seen.
    for (const [rows, condition] of [
      [kept, 'WHERE a.expires_at <= clock_timestamp()'],
      [replaced, ''],
    ] as const) {
      if (rows.length === 0) continue;
      written.push(
        ...(await this.driver.query<AssignmentRow>(
          `INSERT INTO ${this.schema}.assignments AS a (flag, unit, variation, assigned_at, expires_at)
             SELECT flag, unit, variation, clock_timestamp(), clock_timestamp() + ttl * interval '1 millisecond'
               FROM jsonb_to_recordset($1::text::jsonb) AS r(flag text, unit text, variation text, ttl double precision)
           ON CONFLICT (flag, unit) DO UPDATE SET variation = EXCLUDED.variation, assigned_at = EXCLUDED.assigned_at, expires_at = EXCLUDED.expires_at
           ${condition}
           RETURNING flag, unit, variation`,
          [json(rows)],
        )),
      );
    }
    for (const row of written) answers.set(assignmentKey(row), row.variation);
    const missing = unique.filter((request) => !answers.has(assignmentKey(request)));
    if (missing.length > 0) {
      const kept = await this.driver.query<AssignmentRow>(
        `SELECT a.flag, a.unit, a.variation FROM ${this.schema}.assignments a
           JOIN jsonb_to_recordset($1::text::jsonb) AS r(flag text, unit text) ON a.flag = r.flag AND a.unit = r.unit`,
        [json(missing)],
      );
      for (const row of kept) answers.set(assignmentKey(row), row.variation);
    }
    // A row can only be missing if it expired and was deleted between the two statements: the unit's own variation.
    return requests.map((request) => answers.get(assignmentKey(request)) ?? request.variation);
  }

  async clear(flag: string): Promise<number> {
    await this.#table();
    const rows = await this.driver.query(`DELETE FROM ${this.schema}.assignments WHERE flag = $1::text RETURNING unit`, [flag]);
    return rows.length;
  }

  /** Deletes expired rows; the table otherwise keeps every unit ever assigned. */
  async sweep(): Promise<number> {
    await this.#table();
    const rows = await this.driver.query(`DELETE FROM ${this.schema}.assignments WHERE expires_at <= clock_timestamp() RETURNING unit`);
    return rows.length;
  }
}
