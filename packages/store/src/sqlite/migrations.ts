import type { SqliteDatabase } from './database.js';

/** One versioned step of a SQLite schema. Never edit a released migration: add the next one. */
export interface SqliteMigration {
  version: number;
  name: string;
  statements: string[];
}

/**
 * Applies `component`'s migrations that `schema_migrations` does not list yet, all in one transaction
 * (`BEGIN IMMEDIATE`: processes opening the same file at once apply each exactly once). Resolves how many ran.
 */
export function migrateSqlite(database: SqliteDatabase, component: string, migrations: SqliteMigration[]): Promise<number> {
  return database.exclusive(
    (db) => {
      db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
        PRIMARY KEY (component, version))`);
      const applied = new Set(
        db.prepare<[string], { version: number }>('SELECT version FROM schema_migrations WHERE component = ?').all(component).map((row) => row.version),
      );
      const record = db.prepare('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)');
      let count = 0;
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue;
        for (const statement of migration.statements) db.exec(statement);
        record.run(component, migration.version, migration.name, new Date().toISOString());
        count++;
      }
      return count;
    },
    { transaction: true },
  );
}
