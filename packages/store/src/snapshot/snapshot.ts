import { readFile, rename, writeFile } from 'node:fs/promises';
import type { FlagDefinition, Problem, SegmentDefinition } from '@vexil/core';
import type { FlagSnapshotDocument, StoredFlag } from '../types.js';
import { StoreValidationError } from '../errors.js';
import { canonicalJson, sha256Hex } from './canonical.js';

export const SNAPSHOT_FORMAT = 'vexil-snapshot/1' as const;

/**
 * The content hash of a flag set: hex SHA-256 of the canonical JSON of `{ flags: { key: definition }, segments }`.
 * Only content counts, not bookkeeping: two stores holding the same flags and segments have the same hash, whatever
 * their versions and revisions (so an export, imported elsewhere and exported again, keeps its hash).
 */
export function snapshotHash(
  flags: Record<string, { flag: FlagDefinition }>,
  segments: Record<string, SegmentDefinition>,
): string {
  const definitions: Record<string, FlagDefinition> = {};
  for (const [key, { flag }] of Object.entries(flags)) definitions[key] = flag;
  return sha256Hex(canonicalJson({ flags: definitions, segments }));
}

export interface SnapshotInput {
  revision: number;
  flags: Iterable<Pick<StoredFlag, 'key' | 'flag' | 'version'>>;
  segments: Record<string, SegmentDefinition>;
  createdAt?: string;
}

/** Builds a snapshot document, flags in key order. */
export function createSnapshot(input: SnapshotInput): FlagSnapshotDocument {
  const sorted = [...input.flags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const flags: FlagSnapshotDocument['flags'] = {};
  for (const { key, flag, version } of sorted) flags[key] = { flag, version };
  const segments: Record<string, SegmentDefinition> = {};
  for (const name of Object.keys(input.segments).sort()) segments[name] = input.segments[name]!;
  return {
    format: SNAPSHOT_FORMAT,
    revision: input.revision,
    createdAt: input.createdAt ?? new Date().toISOString(),
    hash: snapshotHash(flags, segments),
    flags,
    segments,
  };
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Checks that a value is a well-formed snapshot document whose hash matches its content. Flag definitions are not
 * validated here (the importing store does that, with the document's segments).
 */
export function checkSnapshot(doc: unknown, source = 'snapshot'): Problem[] {
  const problems: Problem[] = [];
  const error = (message: string, path?: string) =>
    problems.push({ severity: 'error', source, ...(path ? { path } : {}), message });
  if (!isMap(doc)) {
    error('a snapshot must be a JSON object');
    return problems;
  }
  if (doc.format !== SNAPSHOT_FORMAT) error(`unknown snapshot format ${JSON.stringify(doc.format)} (expected "${SNAPSHOT_FORMAT}")`, 'format');
  if (!Number.isSafeInteger(doc.revision) || (doc.revision as number) < 0) error('revision must be a non-negative integer', 'revision');
  if (typeof doc.hash !== 'string') error('hash must be a string', 'hash');
  if (!isMap(doc.flags)) error('flags must be a map of flag keys', 'flags');
  else
    for (const [key, entry] of Object.entries(doc.flags)) {
      if (!isMap(entry) || !isMap(entry.flag)) error('each flag must be { flag, version }', `flags.${key}`);
      else if (!Number.isSafeInteger(entry.version)) error('version must be an integer', `flags.${key}.version`);
    }
  if (!isMap(doc.segments)) error('segments must be a map of segment names', 'segments');
  if (problems.length > 0) return problems;
  const document = doc as unknown as FlagSnapshotDocument;
  const actual = snapshotHash(document.flags, document.segments);
  if (actual !== document.hash) error(`hash does not match the content (expected ${document.hash}, content hashes to ${actual})`, 'hash');
  return problems;
}

/** Writes a snapshot file atomically (a temporary file renamed over the target), so a reader never sees half of one. */
export async function writeSnapshotFile(path: string, doc: FlagSnapshotDocument): Promise<void> {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, `${JSON.stringify(doc, null, 2)}\n`, 'utf8');
  await rename(temporary, path);
}

/** Reads and checks a snapshot file; a `StoreValidationError` with every problem when it is not a valid snapshot. */
export async function readSnapshotFile(path: string): Promise<FlagSnapshotDocument> {
  const text = await readFile(path, 'utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new StoreValidationError([{ severity: 'error', source: path, message: `not JSON: ${(error as Error).message}` }]);
  }
  const problems = checkSnapshot(doc, path);
  if (problems.length > 0) throw new StoreValidationError(problems);
  return doc as FlagSnapshotDocument;
}
