import type { SqliteMigration } from './migrations.js';

/** The root store's tables: `vexil_flags`, `vexil_audit`… (the events store's are `events_…`). */
export const ROOT_PREFIX = 'vexil_';
/** Environment ids as the catalog makes them. */
const SCOPE_ID_PATTERN = /^[a-z0-9]{1,12}$/;

/** The tables' prefix of environment `id`: `vexil_e_<id>_`. */
export function scopePrefix(id: string): string {
  if (typeof id !== 'string' || !SCOPE_ID_PATTERN.test(id))
    throw new TypeError(`invalid environment id ${JSON.stringify(id)}: lower-case letters and digits, at most 12`);
  return `${ROOT_PREFIX}e_${id}_`;
}

/**
 * The flag store's tables under `prefix`: the same model as the PostgreSQL schema (sql/migrations.ts), in SQLite's
 * types (times as ISO 8601 text with milliseconds, JSON as text). API keys and catalog documents are the root's only;
 * leases are the root's, shared by its environments.
 */
export function flagStoreMigrations(prefix: string, root: boolean): SqliteMigration[] {
  return [
    {
      version: 1,
      name: 'flags, segments, revision counter, audit log, instance id, assignments',
      statements: [
        `CREATE TABLE ${prefix}state (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL, segments_version INTEGER NOT NULL DEFAULT 0)`,
        `INSERT INTO ${prefix}state (id, revision) VALUES (1, 0)`,
        `CREATE TABLE ${prefix}flags (
          key TEXT PRIMARY KEY, definition TEXT NOT NULL, version INTEGER NOT NULL, revision INTEGER NOT NULL,
          updated_at TEXT NOT NULL, updated_by TEXT NOT NULL)`,
        `CREATE TABLE ${prefix}segments (name TEXT PRIMARY KEY, definition TEXT NOT NULL, revision INTEGER NOT NULL)`,
        // One row per write, by revision: the audit log, and the change log that watchers catch up from.
        `CREATE TABLE ${prefix}audit (
          revision INTEGER PRIMARY KEY, key TEXT NOT NULL,
          action TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'segments')),
          actor TEXT NOT NULL, reason TEXT, at TEXT NOT NULL, before TEXT, after TEXT, version INTEGER NOT NULL)`,
        `CREATE INDEX ${prefix}audit_key_revision ON ${prefix}audit (key, revision)`,
        `CREATE INDEX ${prefix}audit_at ON ${prefix}audit (at)`,
        `CREATE TABLE ${prefix}instance (id INTEGER PRIMARY KEY CHECK (id = 1), instance_id TEXT NOT NULL, created_at TEXT NOT NULL)`,
        `CREATE TABLE ${prefix}assignments (
          flag TEXT NOT NULL, unit TEXT NOT NULL, variation TEXT NOT NULL, assigned_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
          PRIMARY KEY (flag, unit))`,
        `CREATE INDEX ${prefix}assignments_expires_at ON ${prefix}assignments (expires_at)`,
        ...(root
          ? [
              // Only the SHA-256 of a secret is kept. Rows are never deleted: revoking sets revoked_at.
              `CREATE TABLE ${prefix}api_keys (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('sdk', 'admin')),
                role TEXT NOT NULL CHECK (role IN ('reader', 'editor', 'admin')), hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
                created_at TEXT NOT NULL, created_by TEXT NOT NULL, revoked_at TEXT, revoked_by TEXT,
                project TEXT, environment TEXT, grants TEXT)`,
              `CREATE TABLE ${prefix}documents (
                collection TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, version INTEGER NOT NULL CHECK (version > 0),
                PRIMARY KEY (collection, id))`,
              `CREATE TABLE ${prefix}leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL, expires_at INTEGER NOT NULL)`,
            ]
          : []),
      ],
    },
  ];
}
