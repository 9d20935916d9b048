import { StoreConflictError } from '../errors.js';
import type { DocumentStore, StoredDocument } from '../catalog/types.js';
import type { Row, SqlDriver } from './driver.js';
import { checkDocumentName, checkExpectedVersion, documentText } from '../catalog/document-checks.js';

interface DocumentRow extends Row {
  id: string;
  doc: string;
  version: number | string;
}

/**
 * Versioned JSON documents in `<schema>.documents` (migration 4). Every conditional write is one statement whose
 * WHERE clause compares the version, so two writers racing on one document cannot both win.
 */
export class SqlDocumentStore implements DocumentStore {
  readonly #table: string;

  constructor(
    private readonly driver: SqlDriver,
    /** The quoted schema name. */
    schema: string,
    /** Wraps every operation (the store's error mapping and closed check). */
    private readonly run: <T>(operation: () => Promise<T>) => Promise<T>,
  ) {
    this.#table = `${schema}.documents`;
  }

  async get<T>(collection: string, id: string): Promise<StoredDocument<T> | undefined> {
    checkDocumentName('collection', collection);
    checkDocumentName('id', id);
    const [row] = await this.run(() =>
      this.driver.query<DocumentRow>(`SELECT id, doc::text AS doc, version FROM ${this.#table} WHERE collection = $1::text AND id = $2::text`, [
        collection,
        id,
      ]),
    );
    return row ? { id: row.id, doc: JSON.parse(row.doc) as T, version: Number(row.version) } : undefined;
  }

  async list<T>(collection: string): Promise<Array<StoredDocument<T>>> {
    checkDocumentName('collection', collection);
    const rows = await this.run(() =>
      this.driver.query<DocumentRow>(
        `SELECT id, doc::text AS doc, version FROM ${this.#table} WHERE collection = $1::text ORDER BY id COLLATE "C"`,
        [collection],
      ),
    );
    return rows.map((row) => ({ id: row.id, doc: JSON.parse(row.doc) as T, version: Number(row.version) }));
  }

  async put(collection: string, id: string, doc: unknown, expectedVersion?: number): Promise<number> {
    checkDocumentName('collection', collection);
    const text = documentText(collection, id, doc, expectedVersion);
    return this.run(async () => {
      const params = [collection, id, text];
      const rows =
        expectedVersion === undefined
          ? await this.driver.query<{ version: number }>(
              `INSERT INTO ${this.#table} AS d (collection, id, doc, version) VALUES ($1::text, $2::text, $3::text::jsonb, 1)
               ON CONFLICT (collection, id) DO UPDATE SET doc = EXCLUDED.doc, version = d.version + 1 RETURNING d.version`,
              params,
            )
          : expectedVersion === 0
            ? await this.driver.query<{ version: number }>(
                `INSERT INTO ${this.#table} (collection, id, doc, version) VALUES ($1::text, $2::text, $3::text::jsonb, 1)
                 ON CONFLICT (collection, id) DO NOTHING RETURNING version`,
                params,
              )
            : await this.driver.query<{ version: number }>(
                `UPDATE ${this.#table} SET doc = $3::text::jsonb, version = version + 1
                 WHERE collection = $1::text AND id = $2::text AND version = $4::int RETURNING version`,
                [...params, expectedVersion],
              );
      if (rows[0]) return Number(rows[0].version);
      throw new StoreConflictError(`${collection}/${id}`, expectedVersion, await this.#versionOf(collection, id));
    });
  }

  async delete(collection: string, id: string, expectedVersion?: number): Promise<boolean> {
    checkDocumentName('collection', collection);
    checkDocumentName('id', id);
    checkExpectedVersion(expectedVersion);
    return this.run(async () => {
      const rows = await this.driver.query(
        `DELETE FROM ${this.#table} WHERE collection = $1::text AND id = $2::text ${expectedVersion === undefined ? '' : 'AND version = $3::int'} RETURNING id`,
        expectedVersion === undefined ? [collection, id] : [collection, id, expectedVersion],
      );
      if (rows.length > 0) return true;
      const current = await this.#versionOf(collection, id);
      if (current === 0) return false;
      throw new StoreConflictError(`${collection}/${id}`, expectedVersion, current);
    });
  }

  async #versionOf(collection: string, id: string): Promise<number> {
    const [row] = await this.driver.query<{ version: number }>(
      `SELECT version FROM ${this.#table} WHERE collection = $1::text AND id = $2::text`,
      [collection, id],
    );
    return row ? Number(row.version) : 0;
  }
}
