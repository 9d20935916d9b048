// Checks and conversions every SQL flag store (PostgreSQL/PGlite, SQLite) shares: what a write or an API key record
// must hold, audit cursors, and the values rows come back as.
import type { FlagDefinition, Problem, SegmentDefinition } from '@vexil/core';
import type { ApiKeyRecord, AuditEntry, AuditPage, ChangeEvent, FlagSnapshotDocument, WriteOptions } from '../types.js';
import type { RoleGrant } from '../catalog/types.js';
import { FlagNotFoundError, StoreConflictError, StoreUnavailableError, StoreValidationError } from '../errors.js';
import { assertWritableFlag, assertWritableSegments } from '../validation.js';
import { canonicalJson } from '../snapshot/canonical.js';
import { checkSnapshot } from '../snapshot/snapshot.js';
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


/** An audit row as the SQL stores read it (JSON columns as text). */
export interface AuditRowText {
  revision: number | string;
  key: string;
  action: 'create' | 'update' | 'delete' | 'segments';
  actor: string;
  reason: string | null;
  at: Date | string;
  before: string | null;
  after: string | null;
  version: number | string;
}

/** An audit row as an entry of `audit()`: a segment-set change is recorded under the key `$segments`, as an update. */
export function auditEntryOf(row: AuditRowText): AuditEntry {
  const entry: AuditEntry = {
    id: String(int(row.revision)),
    revision: int(row.revision),
    key: row.key,
    action: row.action === 'segments' ? 'update' : row.action,
    actor: row.actor,
    at: iso(row.at),
    before: parseJson(row.before) as FlagDefinition | null,
    after: parseJson(row.after) as FlagDefinition | null,
    version: int(row.version),
  };
  if (row.reason !== null) entry.reason = row.reason;
  return entry;
}

/** A page of `audit()` from up to `limit + 1` rows, newest first: the extra row, when there is one, says more follow. */
export function auditPageOf(rows: AuditRowText[], limit: number): AuditPage {
  const entries = rows.slice(0, limit).map(auditEntryOf);
  const last = entries[entries.length - 1];
  return rows.length > limit && last ? { entries, next: encodeCursor(last.revision) } : { entries };
}

/** An audit row as the change `watch()` delivers. */
export function changeEventOf(row: Omit<AuditRowText, 'reason' | 'before'>): ChangeEvent {
  const base = { revision: int(row.revision), actor: row.actor, at: iso(row.at) };
  switch (row.action) {
    case 'delete':
      return { type: 'delete', key: row.key, version: int(row.version), ...base };
    case 'segments':
      return { type: 'segments', segments: parseJson(row.after) as Record<string, SegmentDefinition>, ...base };
    default:
      return { type: 'put', key: row.key, flag: parseJson(row.after) as FlagDefinition, version: int(row.version), ...base };
  }
}

/** An API key row as the record `apiKeys.list()` gives. */
export interface ApiKeyRowText {
  id: string;
  name: string;
  kind: ApiKeyRecord['kind'];
  role: ApiKeyRecord['role'];
  hash: string;
  prefix: string;
  created_at: Date | string;
  created_by: string;
  revoked_at: Date | string | null;
  project: string | null;
  environment: string | null;
  grants: string | null;
}

export function apiKeyRecordOf(row: ApiKeyRowText): ApiKeyRecord {
  const record: ApiKeyRecord = {
    id: row.id,
    name: row.name,
    kind: row.kind,
    role: row.role,
    hash: row.hash,
    prefix: row.prefix,
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
  };
  if (row.revoked_at !== null) record.revokedAt = iso(row.revoked_at);
  if (row.project !== null) record.project = row.project;
  if (row.environment !== null) record.environment = row.environment;
  if (row.grants !== null) record.grants = JSON.parse(row.grants) as RoleGrant[];
  return record;
}

/** Errors that are the store's answer (a conflict, a refusal, bad input), passed on as they are, never "unavailable". */
export function isStoreAnswer(error: unknown): boolean {
  return (
    error instanceof StoreConflictError ||
    error instanceof StoreValidationError ||
    error instanceof FlagNotFoundError ||
    error instanceof StoreUnavailableError ||
    error instanceof TypeError
  );
}

/** A flag change computed by a write, before it is applied. */
export interface PendingChange {
  key: string;
  action: 'create' | 'update' | 'delete';
  definition: FlagDefinition | null;
  /** The stored definition before, as text. */
  before: string | null;
  version: number;
  revision: number;
}

/**
 * Checks a snapshot document before an import (its hash, then every flag against its segments), so a bad document
 * changes nothing; resolves its normalised segments and the write options with the import's reason.
 */
export function checkImport(doc: FlagSnapshotDocument, options: WriteOptions, source: string): { segments: Record<string, SegmentDefinition>; writeOptions: WriteOptions } {
  checkWriteOptions(options);
  const docProblems = checkSnapshot(doc);
  if (docProblems.length > 0) throw new StoreValidationError(docProblems);
  const segments = assertWritableSegments(doc.segments, source);
  const problems: Problem[] = [];
  for (const [key, { flag }] of Object.entries(doc.flags)) {
    try {
      assertWritableFlag(key, flag, segments, source);
    } catch (error) {
      if (error instanceof StoreValidationError) problems.push(...error.problems);
      else throw error;
    }
  }
  if (problems.length > 0) throw new StoreValidationError(problems);
  return { segments, writeOptions: { ...options, reason: options.reason ?? `import of snapshot ${doc.hash.slice(0, 12)}` } };
}

/**
 * The changes that make a store hold exactly the document's flags: changed and new flags written, absent ones
 * deleted, unchanged ones left alone, each change its own revision after `afterRevision` (in key order).
 */
export function planImport(
  doc: FlagSnapshotDocument,
  current: Map<string, { definition: string; version: number | string }>,
  lastVersions: Map<string, number>,
  afterRevision: number,
): { changes: PendingChange[]; revision: number } {
  let revision = afterRevision;
  const changes: PendingChange[] = [];
  for (const key of Object.keys(doc.flags).sort()) {
    const flag = doc.flags[key]!.flag;
    const existing = current.get(key);
    if (existing && canonicalJson(JSON.parse(existing.definition)) === canonicalJson(flag)) continue;
    const version = existing ? int(existing.version) + 1 : (lastVersions.get(key) ?? 0) + 1;
    changes.push({ key, action: existing ? 'update' : 'create', definition: flag, before: existing?.definition ?? null, version, revision: ++revision });
  }
  for (const [key, existing] of [...current].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (Object.prototype.hasOwnProperty.call(doc.flags, key)) continue;
    changes.push({ key, action: 'delete', definition: null, before: existing.definition, version: int(existing.version) + 1, revision: ++revision });
  }
  return { changes, revision };
}
