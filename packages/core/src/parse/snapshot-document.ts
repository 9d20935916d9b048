// `vexil export` writes a snapshot document (`{format: "vexil-snapshot/1", revision, hash, flags: {key: {flag,
// version}}, segments}`); everything that reads flag files reads it too, as the flag file it holds, so an export
// goes straight back into `vexil import`, `lint`, `eval` and `serve --flags`.

import type { Problem } from '../model/problem.js';
import type { RawFlagFile } from './flag-file.js';
import { describeType } from '../model/describe.js';

export const SNAPSHOT_DOCUMENT_FORMAT = 'vexil-snapshot/1';

/** The key under which a flag file holds its segments. */
const SEGMENTS_KEY = '$segments';

type FieldPath = ReadonlyArray<string | number>;

export function isSnapshotDocument(data: Record<string, unknown>): boolean {
  return data.format === SNAPSHOT_DOCUMENT_FORMAT && isRecord(data.flags);
}

/**
 * The flag file a snapshot document holds: each `flags.<key>.flag` under its key, `segments` as `$segments`. Paths
 * into the flag file map back to paths into the document, so problems point at the right line. A malformed entry is
 * a problem (the document is then refused as a whole: it is corrupt, not a flag to skip).
 */
export function flagFileFromSnapshot(
  document: Record<string, unknown>,
  source: string | undefined,
): { data: Record<string, unknown>; toDocumentPath: (path: FieldPath) => FieldPath; problems: Problem[] } {
  const data: Record<string, unknown> = {};
  const problems: Problem[] = [];
  for (const [key, entry] of Object.entries(document.flags as Record<string, unknown>)) {
    if (!isRecord(entry) || !('flag' in entry)) {
      problems.push({
        severity: 'error',
        source,
        flagKey: key,
        message: `a snapshot document's flag entry must be {"flag": {...}, "version": n}, not ${describeType(entry)}`,
      });
      continue;
    }
    data[key] = entry.flag;
  }
  if (document.segments !== undefined && !(isRecord(document.segments) && Object.keys(document.segments).length === 0)) {
    data[SEGMENTS_KEY] = document.segments;
  }
  const toDocumentPath = (path: FieldPath): FieldPath => {
    const [head, ...rest] = path;
    if (head === undefined) return path;
    if (head === SEGMENTS_KEY) return ['segments', ...rest];
    return ['flags', head, 'flag', ...rest];
  };
  return { data, toDocumentPath, problems };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A parsed flag file as the flag file it holds when it is a snapshot document; any other file as it is. */
export function unwrapSnapshotDocument(raw: RawFlagFile, source: string | undefined): RawFlagFile {
  if (!raw.data || !isSnapshotDocument(raw.data)) return raw;
  const held = flagFileFromSnapshot(raw.data, source);
  if (held.problems.length > 0) {
    const problems = held.problems.map((problem) => ({ ...problem, ...raw.locate(['flags', problem.flagKey ?? '']) }));
    return { data: undefined, locate: () => undefined, problems };
  }
  return { data: held.data, locate: (path) => raw.locate(held.toDocumentPath(path)), problems: [] };
}
