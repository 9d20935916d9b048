// Checks and conversions every SQL flag store (PostgreSQL/PGlite, SQLite) shares: what a write or an API key record
// must hold, audit cursors, and the values rows come back as.
import type { ApiKeyRecord, WriteOptions } from '../types.js';
import type { RoleGrant } from '../catalog/types.js';
import type { storedFlagChecker } from '../validation.js';

export const API_KEY_KINDS: readonly string[] = ['sdk', 'admin'] satisfies ApiKeyRecord['kind'][];
const API_KEY_ROLES: readonly string[] = ['reader', 'editor', 'admin'] satisfies ApiKeyRecord['role'][];
const HEX_SHA256 = /^[0-9a-f]{64}$/i;
/** Rejects a record the table could not hold (TypeError), before it reaches the database. */
export function checkApiKeyRecord(record: ApiKeyRecord): void {
  const problem = (message: string): never => {
    throw new TypeError(`invalid API key record: ${message}`);
  };
  if (!record || typeof record !== 'object') problem('not an object');
  if (typeof record.id !== 'string' || record.id.length === 0) problem('id must be a non-empty string');
  for (const field of ['name', 'prefix', 'createdBy'] as const)
    if (typeof record[field] !== 'string') problem(`${field} must be a string`);
  if (!API_KEY_KINDS.includes(record.kind)) problem(`kind must be sdk or admin, not ${String(record.kind)}`);
  if (!API_KEY_ROLES.includes(record.role)) problem(`role must be reader, editor or admin, not ${String(record.role)}`);
  if (typeof record.hash !== 'string' || !HEX_SHA256.test(record.hash)) problem('hash must be a hex SHA-256 (64 hex digits)');
  if (typeof record.createdAt !== 'string' || Number.isNaN(Date.parse(record.createdAt)))
    problem('createdAt must be an ISO 8601 date');
  if (record.revokedAt !== undefined && (typeof record.revokedAt !== 'string' || Number.isNaN(Date.parse(record.revokedAt))))
    problem('revokedAt must be an ISO 8601 date when present');
  for (const field of ['project', 'environment'] as const)
    if (record[field] !== undefined && typeof record[field] !== 'string') problem(`${field} must be a string when present`);
  if (record.grants !== undefined) {
    if (!Array.isArray(record.grants)) problem('grants must be a list when present');
    for (const grant of record.grants as RoleGrant[])
      if (
        !grant ||
        typeof grant.project !== 'string' ||
        typeof grant.environment !== 'string' ||
        !API_KEY_ROLES.includes(grant.role)
      )
        problem(`every grant needs project, environment and a role (reader, editor or admin), not ${JSON.stringify(grant)}`);
  }
}

export type StoredFlagCheck = (key: string, raw: unknown, text: string) => ReturnType<ReturnType<typeof storedFlagChecker>>;

export const iso = (value: Date | string): string => new Date(value).toISOString();
export const int = (value: number | string | bigint): number => Number(value);

export function parseJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

export function checkWriteOptions(options: WriteOptions): void {
  if (!options || typeof options.actor !== 'string' || options.actor.length === 0)
    throw new TypeError('a write needs options.actor: who makes the change');
  const expected = options.expectedVersion;
  if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0))
    throw new TypeError(`expectedVersion must be a non-negative integer, not ${String(expected)}`);
}

export function encodeCursor(revision: number): string {
  return Buffer.from(`r${revision}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const revision = /^r(\d{1,15})$/.exec(text)?.[1];
  if (revision === undefined) throw new TypeError('invalid audit cursor');
  return Number(revision);
}

export function checkTime(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(Date.parse(value))) throw new TypeError(`audit query: ${name} is not an ISO 8601 date: ${value}`);
  return new Date(value).toISOString();
}

