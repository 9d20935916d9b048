// The SQLite store's tables beside the flags: catalog documents, leases and sticky assignments. Each operation runs in
// one transaction of the database's queue: a read-then-write here cannot race another writer.
import { StoreConflictError } from '../errors.js';
import type { DocumentStore, StoredDocument } from '../catalog/types.js';
import { checkDocumentName, checkExpectedVersion, documentText } from '../catalog/document-checks.js';
import type { AssignmentRequest, AssignmentStore, Lease, LeaseStore } from '../types.js';
import { assignmentKey, uniqueRequests } from '../util/assignments.js';
import type { SqliteDatabase } from './database.js';

export class SqliteDocumentStore implements DocumentStore {
  constructor(
    private readonly database: SqliteDatabase,
    private readonly table: string,
    private readonly run: <T>(operation: () => Promise<T>) => Promise<T>,
  ) {}

  async get<T>(collection: string, id: string): Promise<StoredDocument<T> | undefined> {
    checkDocumentName('collection', collection);
    checkDocumentName('id', id);
    const row = await this.run(() =>
      this.database.exclusive((db) =>
        db.prepare<[string, string], { id: string; doc: string; version: number }>(`SELECT id, doc, version FROM ${this.table} WHERE collection = ? AND id = ?`).get(collection, id),
      ),
    );
    return row ? { id: row.id, doc: JSON.parse(row.doc) as T, version: row.version } : undefined;
  }

  async list<T>(collection: string): Promise<Array<StoredDocument<T>>> {
    checkDocumentName('collection', collection);
    const rows = await this.run(() =>
      this.database.exclusive((db) =>
        db.prepare<[string], { id: string; doc: string; version: number }>(`SELECT id, doc, version FROM ${this.table} WHERE collection = ? ORDER BY id`).all(collection),
      ),
    );
    return rows.map((row) => ({ id: row.id, doc: JSON.parse(row.doc) as T, version: row.version }));
  }

  async put(collection: string, id: string, doc: unknown, expectedVersion?: number): Promise<number> {
    checkDocumentName('collection', collection);
    const text = documentText(collection, id, doc, expectedVersion);
    return this.run(() =>
      this.database.exclusive(
        (db) => {
          const current = db.prepare<[string, string], { version: number }>(`SELECT version FROM ${this.table} WHERE collection = ? AND id = ?`).get(collection, id)?.version ?? 0;
          if (expectedVersion !== undefined && expectedVersion !== current) throw new StoreConflictError(`${collection}/${id}`, expectedVersion, current);
          db.prepare(`INSERT OR REPLACE INTO ${this.table} (collection, id, doc, version) VALUES (?, ?, ?, ?)`).run(collection, id, text, current + 1);
          return current + 1;
        },
        { transaction: true },
      ),
    );
  }

  async delete(collection: string, id: string, expectedVersion?: number): Promise<boolean> {
    checkDocumentName('collection', collection);
    checkDocumentName('id', id);
    checkExpectedVersion(expectedVersion);
    return this.run(() =>
      this.database.exclusive(
        (db) => {
          const current = db.prepare<[string, string], { version: number }>(`SELECT version FROM ${this.table} WHERE collection = ? AND id = ?`).get(collection, id)?.version;
          if (current === undefined) return false;
          if (expectedVersion !== undefined && expectedVersion !== current) throw new StoreConflictError(`${collection}/${id}`, expectedVersion, current);
          db.prepare(`DELETE FROM ${this.table} WHERE collection = ? AND id = ?`).run(collection, id);
          return true;
        },
        { transaction: true },
      ),
    );
  }
}

interface LeaseRow {
  name: string;
  holder: string;
  token: number;
  expires_at: number;
}

const toLease = (row: LeaseRow): Lease => ({ name: row.name, holder: row.holder, token: row.token, expiresAt: new Date(row.expires_at).toISOString() });

/** Leases timed by this process's clock: one process owns an embedded store, so there is no other clock to agree with. */
export class SqliteLeaseStore implements LeaseStore {
  constructor(
    private readonly database: SqliteDatabase,
    private readonly table: string,
  ) {}

  acquire(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    if (!(ttlMs > 0)) return Promise.reject(new RangeError('a lease needs a positive duration'));
    return this.database.exclusive(
      (db) => {
        const now = Date.now();
        const row = db.prepare<[string], LeaseRow>(`SELECT name, holder, token, expires_at FROM ${this.table} WHERE name = ?`).get(name);
        if (row && row.holder !== holder && row.expires_at > now) return undefined;
        // Renewed by its holder while running: the same token; taken over (or new): the next one.
        const token = !row ? 1 : row.holder === holder && row.expires_at > now ? row.token : row.token + 1;
        const lease = { name, holder, token, expires_at: now + ttlMs };
        db.prepare(`INSERT OR REPLACE INTO ${this.table} (name, holder, token, expires_at) VALUES (?, ?, ?, ?)`).run(name, holder, token, lease.expires_at);
        return toLease(lease);
      },
      { transaction: true },
    );
  }

  release(name: string, holder: string): Promise<boolean> {
    // Expire rather than delete: the token keeps growing across holders.
    return this.database.exclusive(
      (db) => db.prepare(`UPDATE ${this.table} SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?`).run(Date.now(), name, holder, Date.now()).changes > 0,
    );
  }

  get(name: string): Promise<Lease | undefined> {
    return this.database.exclusive((db) => {
      const row = db.prepare<[string, number], LeaseRow>(`SELECT name, holder, token, expires_at FROM ${this.table} WHERE name = ? AND expires_at > ?`).get(name, Date.now());
      return row ? toLease(row) : undefined;
    });
  }
}

/** Sticky assignments: per flag and unit, the first variation served until it expires. */
export class SqliteAssignmentStore implements AssignmentStore {
  constructor(
    private readonly database: SqliteDatabase,
    private readonly table: string,
  ) {}

  assign(requests: readonly AssignmentRequest[]): Promise<string[]> {
    if (requests.length === 0) return Promise.resolve([]);
    return this.database.exclusive(
      (db) => {
        const now = Date.now();
        const read = db.prepare<[string, string], { variation: string; expires_at: number }>(`SELECT variation, expires_at FROM ${this.table} WHERE flag = ? AND unit = ?`);
        const write = db.prepare(`INSERT OR REPLACE INTO ${this.table} (flag, unit, variation, assigned_at, expires_at) VALUES (?, ?, ?, ?, ?)`);
        const answers = new Map<string, string>();
        for (const request of uniqueRequests(requests)) {
          const kept = read.get(request.flag, request.unit);
          if (kept && kept.expires_at > now && request.replace !== true) {
            answers.set(assignmentKey(request), kept.variation);
            continue;
          }
          write.run(request.flag, request.unit, request.variation, now, now + Math.max(1, Math.round(request.ttlMs)));
          answers.set(assignmentKey(request), request.variation);
        }
        return requests.map((request) => answers.get(assignmentKey(request)) ?? request.variation);
      },
      { transaction: true },
    );
  }

  clear(flag: string): Promise<number> {
    return this.database.exclusive((db) => db.prepare(`DELETE FROM ${this.table} WHERE flag = ?`).run(flag).changes);
  }

  sweep(): Promise<number> {
    return this.database.exclusive((db) => db.prepare(`DELETE FROM ${this.table} WHERE expires_at <= ?`).run(Date.now()).changes);
  }
}
