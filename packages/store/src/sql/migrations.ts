import type { SqlDriver } from './driver.js';

/**
 * Versioned schema migrations, applied in order and recorded in `<schema>.schema_migrations`. Every migration runs
 * in one transaction under an advisory lock on the schema name, so servers starting at the same moment apply each
 * migration exactly once. Never edit a released migration: add the next one.
 */
export interface Migration {
  version: number;
  name: string;
  /** Statements, with `$schema` standing for the quoted schema name. */
  statements: string[];
  /**
   * Only for a store's root schema (API keys, catalog documents), not for the schemas of its other environments,
   * which hold flags only.
   */
  rootOnly?: boolean;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'flags, segments, revision counter, audit log',
    statements: [
      // The store-wide revision. Every write bumps it first: the row lock serialises writers.
      `CREATE TABLE $schema.state (
        id smallint PRIMARY KEY CHECK (id = 1),
        revision bigint NOT NULL,
        segments_version integer NOT NULL DEFAULT 0
      )`,
      `INSERT INTO $schema.state (id, revision) VALUES (1, 0)`,
      `CREATE TABLE $schema.flags (
        key text PRIMARY KEY,
        definition jsonb NOT NULL,
        version integer NOT NULL,
        revision bigint NOT NULL,
        updated_at timestamptz NOT NULL,
        updated_by text NOT NULL
      )`,
      `CREATE TABLE $schema.segments (
        name text PRIMARY KEY,
        definition jsonb NOT NULL,
        revision bigint NOT NULL
      )`,
      // One row per write, by revision: the audit log, and the change log that watchers catch up from.
      `CREATE TABLE $schema.audit (
        revision bigint PRIMARY KEY,
        key text NOT NULL,
        action text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'segments')),
        actor text NOT NULL,
        reason text,
        at timestamptz NOT NULL,
        before jsonb,
        after jsonb,
        version integer NOT NULL
      )`,
      `CREATE INDEX audit_key_revision ON $schema.audit (key, revision)`,
      `CREATE INDEX audit_at ON $schema.audit (at)`,
    ],
  },
  {
    version: 2,
    name: 'API keys',
    rootOnly: true,
    statements: [
      // API keys created through the admin API, shared by every server on this database. Only the SHA-256 hash of a
      // secret is kept, never the secret. Rows are never deleted: revoking sets revoked_at (and who revoked).
      `CREATE TABLE $schema.api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('sdk', 'admin')),
        role text NOT NULL CHECK (role IN ('reader', 'editor', 'admin')),
        hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
        prefix text NOT NULL,
        created_at timestamptz NOT NULL,
        created_by text NOT NULL,
        revoked_at timestamptz,
        revoked_by text,
        CONSTRAINT api_keys_hash_key UNIQUE (hash)
      )`,
    ],
  },
  {
    version: 3,
    name: 'instance id',
    statements: [
      // A random id created with the schema (`SqlFlagStore.instanceId`): the same for every store opened on it, new
      // when the schema is dropped and created again, so readers can tell a reset store (revisions starting again)
      // from the one before. Written once, never updated. Idempotent, so a migration record deleted by hand cannot
      // replace an existing id.
      `CREATE TABLE IF NOT EXISTS $schema.instance (
        id smallint PRIMARY KEY CHECK (id = 1),
        instance_id text NOT NULL CHECK (instance_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `INSERT INTO $schema.instance (id, instance_id) VALUES (1, gen_random_uuid()::text) ON CONFLICT (id) DO NOTHING`,
    ],
  },
  {
    version: 4,
    name: 'catalog documents; API keys scoped to environments',
    rootOnly: true,
    statements: [
      // Versioned JSON documents beside the flags: projects, environments, change requests (see catalog/catalog.ts).
      // Each environment other than default/default keeps its flags in a schema of its own, `<schema>_e_<id>`.
      `CREATE TABLE $schema.documents (
        collection text NOT NULL,
        id text NOT NULL,
        doc jsonb NOT NULL,
        version integer NOT NULL CHECK (version > 0),
        PRIMARY KEY (collection, id)
      )`,
      // SDK keys serve one project × environment; admin keys may carry role grants. NULL: default/default, role everywhere.
      `ALTER TABLE $schema.api_keys ADD COLUMN project text, ADD COLUMN environment text, ADD COLUMN grants jsonb`,
    ],
  },
];

/** The migrations of an environment's own schema (flags, segments, audit, instance id): no keys, no catalog. */
export const SCOPE_MIGRATIONS: Migration[] = MIGRATIONS.filter((migration) => !migration.rootOnly);

/** Applies `migrations` (default: the flag store's) to `schema`; the events store passes its own list. */
export async function migrate(driver: SqlDriver, schema: string, migrations: Migration[] = MIGRATIONS): Promise<number> {
  const quoted = `"${schema}"`;
  const latest = migrations[migrations.length - 1]!.version;
  // Fast path: already current (no lock, no DDL).
  try {
    const rows = await driver.query<{ version: number }>(
      `SELECT max(version)::int AS version FROM ${quoted}.schema_migrations`,
    );
    if ((rows[0]?.version ?? 0) >= latest) return 0;
  } catch (error) {
    if (driver.isUnavailable(error)) throw error;
    // No schema or no table yet: create them below.
  }
  return driver.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1::text))`, [`vexil.migrate.${schema}`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = new Set(
      (await tx.query<{ version: number }>(`SELECT version FROM ${quoted}.schema_migrations`)).map((row) => Number(row.version)),
    );
    let count = 0;
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements) await tx.query(statement.replaceAll('$schema', quoted));
      await tx.query(`INSERT INTO ${quoted}.schema_migrations (version, name) VALUES ($1::int, $2::text)`, [
        migration.version,
        migration.name,
      ]);
      count++;
    }
    return count;
  });
}
