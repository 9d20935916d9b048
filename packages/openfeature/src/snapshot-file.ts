import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { canonicalJson, type FlagDefinition, type SegmentDefinition } from '@vexil/core/json';

/** The snapshot document format, the same `vexil-snapshot/1` that the store and the CLI export. */
export const SNAPSHOT_FORMAT = 'vexil-snapshot/1';

export interface SnapshotDocument {
  format: typeof SNAPSHOT_FORMAT;
  revision: number;
  createdAt: string;
  /** Hex SHA-256 of the canonical JSON of `{ flags: { key: definition }, segments }`. */
  hash: string;
  flags: Record<string, { flag: FlagDefinition; version: number }>;
  segments: Record<string, SegmentDefinition>;
}

/** A flag set as the provider holds it. */
export interface FlagData {
  flags: Record<string, FlagDefinition>;
  segments: Record<string, SegmentDefinition>;
  /** The store revision, or -1 when unknown. */
  revision: number;
  /** Per-flag store versions, when known. */
  versions?: Record<string, number>;
}

export function contentHash(flags: Record<string, FlagDefinition>, segments: Record<string, SegmentDefinition>): string {
  return createHash('sha256').update(canonicalJson({ flags, segments }), 'utf8').digest('hex');
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Reads flags from a snapshot document or a bootstrap object. Accepts:
 * - a `vexil-snapshot/1` document (its hash must match its content);
 * - `{ flags: { key: definition }, segments?, revision? }`.
 * Throws an Error saying what is wrong otherwise.
 */
export function readFlagData(value: unknown): FlagData {
  if (!isMap(value)) throw new Error('expected a JSON object');
  if (value.format !== undefined) {
    if (value.format !== SNAPSHOT_FORMAT) throw new Error(`unknown snapshot format ${JSON.stringify(value.format)} (expected "${SNAPSHOT_FORMAT}")`);
    if (!isMap(value.flags)) throw new Error('"flags" must be a map of flag keys');
    const flags: Record<string, FlagDefinition> = {};
    const versions: Record<string, number> = {};
    for (const [key, entry] of Object.entries(value.flags)) {
      if (!isMap(entry) || !isMap(entry.flag)) throw new Error(`flags.${key} must be { flag, version }`);
      flags[key] = entry.flag as FlagDefinition;
      if (Number.isSafeInteger(entry.version)) versions[key] = entry.version as number;
    }
    const segments = value.segments === undefined ? {} : value.segments;
    if (!isMap(segments)) throw new Error('"segments" must be a map of segment names');
    const revision = value.revision;
    if (!Number.isSafeInteger(revision) || (revision as number) < 0) throw new Error('"revision" must be a non-negative integer');
    if (typeof value.hash !== 'string') throw new Error('"hash" must be a string');
    const actual = contentHash(flags, segments as Record<string, SegmentDefinition>);
    if (actual !== value.hash) throw new Error('the hash does not match the content (the file is damaged or was edited by hand)');
    return { flags, segments: segments as Record<string, SegmentDefinition>, revision: revision as number, versions };
  }
  if (!isMap(value.flags)) throw new Error('expected a vexil-snapshot/1 document or { flags: { key: definition }, segments? }');
  for (const [key, flag] of Object.entries(value.flags)) if (!isMap(flag)) throw new Error(`flags.${key} must be an object`);
  const segments = value.segments === undefined ? {} : value.segments;
  if (!isMap(segments)) throw new Error('"segments" must be a map of segment names');
  const revision = Number.isSafeInteger(value.revision) ? (value.revision as number) : -1;
  return { flags: value.flags as Record<string, FlagDefinition>, segments: segments as Record<string, SegmentDefinition>, revision };
}

/** Reads a snapshot file. Resolves undefined when the file does not exist; throws when it exists but is unusable. */
export async function readSnapshotFile(path: string): Promise<FlagData | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  return readFlagData(json);
}

export function toSnapshotDocument(data: FlagData): SnapshotDocument {
  const flags: SnapshotDocument['flags'] = {};
  const definitions: Record<string, FlagDefinition> = {};
  for (const key of Object.keys(data.flags).sort()) {
    const flag = data.flags[key]!;
    definitions[key] = flag;
    flags[key] = { flag, version: data.versions?.[key] ?? 0 };
  }
  const segments: Record<string, SegmentDefinition> = {};
  for (const name of Object.keys(data.segments).sort()) segments[name] = data.segments[name]!;
  return {
    format: SNAPSHOT_FORMAT,
    revision: Math.max(0, data.revision),
    createdAt: new Date().toISOString(),
    hash: contentHash(definitions, segments),
    flags,
    segments,
  };
}

/** Writes the snapshot atomically: a temporary file in the same directory, renamed over the target. */
export async function writeSnapshotFile(path: string, data: FlagData): Promise<void> {
  const text = `${JSON.stringify(toSnapshotDocument(data))}\n`;
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, 'utf8');
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
