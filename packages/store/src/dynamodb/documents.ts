import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { StoreConflictError, StoreValidationError } from '../errors.js';
import type { DocumentStore, StoredDocument } from '../catalog/types.js';
import { checkDocumentName, checkExpectedVersion, documentText } from '../catalog/document-checks.js';

/** DynamoDB's item limit, less room for the key and the version. */
const MAX_DOCUMENT_BYTES = 400 * 1024 - 1024;

interface DocumentItem {
  pk: string;
  sk: string;
  body: string;
  version: number;
}

const isConditionFailure = (error: unknown): boolean => (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';

/**
 * Versioned JSON documents in the store's table (projects, environments, change requests): one item per document,
 * `pk = doc#<collection>`, `sk = id`, with `body` (the JSON) and `version`; conditional writes are condition
 * expressions on `version`, so two writers racing on one document cannot both win.
 */
export class DynamoDocumentStore implements DocumentStore {
  constructor(
    private readonly table: string,
    private readonly db: DynamoDBDocumentClient,
    /** Wraps every request (the store's error mapping and closed check). */
    private readonly call: <T>(run: () => Promise<T>) => Promise<T>,
  ) {}

  #pk(collection: string): string {
    return `doc#${checkDocumentName('collection', collection)}`;
  }

  async get<T>(collection: string, id: string): Promise<StoredDocument<T> | undefined> {
    const result = await this.call(() => this.db.send(new GetCommand({ TableName: this.table, Key: { pk: this.#pk(collection), sk: checkDocumentName('id', id) }, ConsistentRead: true })));
    const item = result.Item as DocumentItem | undefined;
    return item ? { id, doc: JSON.parse(item.body) as T, version: Number(item.version) } : undefined;
  }

  async list<T>(collection: string): Promise<Array<StoredDocument<T>>> {
    const out: Array<StoredDocument<T>> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call(() =>
        this.db.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': this.#pk(collection) },
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      for (const item of (page.Items ?? []) as DocumentItem[]) out.push({ id: item.sk, doc: JSON.parse(item.body) as T, version: Number(item.version) });
      start = page.LastEvaluatedKey;
    } while (start);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async put(collection: string, id: string, doc: unknown, expectedVersion?: number): Promise<number> {
    const body = documentText(collection, id, doc, expectedVersion);
    const bytes = Buffer.byteLength(body);
    if (bytes > MAX_DOCUMENT_BYTES)
      throw new StoreValidationError([
        {
          severity: 'error',
          source: `dynamodb table ${this.table}, document ${collection}/${id}`,
          message: `the document is ${bytes.toLocaleString('en')} bytes as JSON, more than a DynamoDB item holds (400 KB with its key): nothing was written`,
        },
      ]);
    const Key = { pk: this.#pk(collection), sk: id };
    try {
      if (expectedVersion === 0) {
        await this.call(() =>
          this.db.send(new PutCommand({ TableName: this.table, Item: { ...Key, body, version: 1 }, ConditionExpression: 'attribute_not_exists(pk)' })),
        );
        return 1;
      }
      const result = await this.call(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key,
            UpdateExpression: 'SET body = :body ADD version :one',
            ...(expectedVersion === undefined ? {} : { ConditionExpression: 'version = :expected' }),
            ExpressionAttributeValues: { ':body': body, ':one': 1, ...(expectedVersion === undefined ? {} : { ':expected': expectedVersion }) },
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      );
      return Number(result.Attributes?.version);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      throw new StoreConflictError(`${collection}/${id}`, expectedVersion, (await this.get(collection, id))?.version ?? 0);
    }
  }

  async delete(collection: string, id: string, expectedVersion?: number): Promise<boolean> {
    checkDocumentName('id', id);
    checkExpectedVersion(expectedVersion);
    try {
      const result = await this.call(() =>
        this.db.send(
          new DeleteCommand({
            TableName: this.table,
            Key: { pk: this.#pk(collection), sk: id },
            ...(expectedVersion === undefined ? {} : { ConditionExpression: 'version = :expected', ExpressionAttributeValues: { ':expected': expectedVersion } }),
            ReturnValues: 'ALL_OLD',
          }),
        ),
      );
      return result.Attributes !== undefined;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const current = (await this.get(collection, id))?.version ?? 0;
      if (current === 0) return false;
      throw new StoreConflictError(`${collection}/${id}`, expectedVersion, current);
    }
  }
}
