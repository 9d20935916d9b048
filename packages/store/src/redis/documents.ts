import { StoreConflictError } from '../errors.js';
import type { DocumentStore, StoredDocument } from '../catalog/types.js';
import { checkDocumentName, checkExpectedVersion, documentText } from '../catalog/document-checks.js';

/**
 * Writes a document when its version is the expected one, in one script (two writers racing on one document cannot
 * both win). KEYS[1]: the collection's hash; ARGV: id, the document's JSON, the expected version ('' = any).
 * Returns {new version} or {-1, current version}.
 */
export const PUT_DOCUMENT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version = 0
if current then version = tonumber(string.match(current, '^(%d+):')) end
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= version then return {-1, version} end
redis.call('HSET', KEYS[1], ARGV[1], (version + 1) .. ':' .. ARGV[2])
return {version + 1}
`;

/** Deletes a document (when its version is the expected one). Returns 1 deleted, 0 absent, {-1, current} mismatch. */
export const DELETE_DOCUMENT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local version = tonumber(string.match(current, '^(%d+):'))
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= version then return {-1, version} end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`;

type Eval = (script: string, keys: string[], args: Array<string | number>) => Promise<unknown>;

/** `<version>:<json>`: the version is read by the scripts without decoding the document. */
function parse<T>(id: string, value: string): StoredDocument<T> {
  const colon = value.indexOf(':');
  return { id, version: Number(value.slice(0, colon)), doc: JSON.parse(value.slice(colon + 1)) as T };
}

/**
 * Versioned JSON documents in Redis (projects, environments, change requests): one hash per collection,
 * `<prefix>doc:<collection>`, field id → `<version>:<json>`; conditional writes are Lua scripts.
 */
export class RedisDocumentStore implements DocumentStore {
  constructor(
    private readonly prefix: string,
    private readonly evalScript: Eval,
    private readonly hash: (key: string, id: string) => Promise<string | null>,
    private readonly hashAll: (key: string) => Promise<Record<string, string>>,
  ) {}

  #key(collection: string): string {
    return `${this.prefix}doc:${checkDocumentName('collection', collection)}`;
  }

  async get<T>(collection: string, id: string): Promise<StoredDocument<T> | undefined> {
    const value = await this.hash(this.#key(collection), checkDocumentName('id', id));
    return value === null ? undefined : parse<T>(id, value);
  }

  async list<T>(collection: string): Promise<Array<StoredDocument<T>>> {
    const all = await this.hashAll(this.#key(collection));
    return Object.keys(all)
      .sort()
      .map((id) => parse<T>(id, all[id]!));
  }

  async put(collection: string, id: string, doc: unknown, expectedVersion?: number): Promise<number> {
    const text = documentText(collection, id, doc, expectedVersion);
    const reply = (await this.evalScript(PUT_DOCUMENT, [this.#key(collection)], [id, text, expectedVersion ?? ''])) as number[];
    if (reply[0] === -1) throw new StoreConflictError(`${collection}/${id}`, expectedVersion, Number(reply[1]));
    return Number(reply[0]);
  }

  async delete(collection: string, id: string, expectedVersion?: number): Promise<boolean> {
    checkDocumentName('id', id);
    checkExpectedVersion(expectedVersion);
    const reply = await this.evalScript(DELETE_DOCUMENT, [this.#key(collection)], [id, expectedVersion ?? '']);
    if (Array.isArray(reply)) throw new StoreConflictError(`${collection}/${id}`, expectedVersion, Number(reply[1]));
    return Number(reply) === 1;
  }
}
