import { readFile } from 'node:fs/promises';
import {
  compileFlagSet,
  detectFormat,
  formatProblem,
  parseFlagFile,
  type FlagDefinition,
  type FlagFileFormat,
  type Problem,
  type SegmentDefinition,
  type Snapshot,
} from '@vexil/core';

/** Reads a file, turning the usual failures into one clear line. */
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String((error as Error).message);
    throw new Error(`cannot read ${path}: ${why}`);
  }
}

export function parseFormat(value: string | undefined): FlagFileFormat | undefined {
  if (value === undefined) return undefined;
  if (value === 'yaml' || value === 'json' || value === 'toml') return value;
  if (value === 'yml') return 'yaml';
  throw new Error(`unknown format "${value}" (use yaml, json or toml)`);
}

/**
 * Loads one or more flag files into one snapshot; a later file overrides an earlier one for the same key.
 * A file that cannot be parsed at all is an error: evaluating against half the flags would mislead.
 */
export async function loadSnapshot(paths: string[], format?: FlagFileFormat): Promise<{ snapshot: Snapshot; problems: Problem[] }> {
  const { flags, segments, problems } = await loadFlagFiles(paths, format);
  const snapshot = compileFlagSet(flags, { segments, source: paths.join(',') });
  return { snapshot: withInvalid(snapshot, problems), problems };
}

/** Reads flag files; a file that cannot be parsed at all is an error: half the flags would mislead. */
export async function loadFlagFiles(
  paths: string[],
  format?: FlagFileFormat,
): Promise<{ flags: Record<string, FlagDefinition>; segments: Record<string, SegmentDefinition>; problems: Problem[] }> {
  const flags: Record<string, FlagDefinition> = {};
  const segments: Record<string, SegmentDefinition> = {};
  const problems: Problem[] = [];
  for (const path of paths) {
    const parsed = parseFlagFile(await readText(path), { format: format ?? detectFormat(path), source: path });
    if (!parsed.readable) throw new Error(`cannot load flags: ${parsed.problems.map(formatProblem).join('; ')}`);
    Object.assign(flags, parsed.flags);
    Object.assign(segments, parsed.segments);
    problems.push(...parsed.problems);
  }
  return { flags, segments, problems };
}

/** Keeps the file positions of rejected flags, so FLAG_NOT_FOUND says why with file and line. */
function withInvalid(snapshot: Snapshot, problems: Problem[]): Snapshot {
  const invalid = new Map(snapshot.invalid);
  for (const problem of problems) {
    if (problem.severity !== 'error' || !problem.flagKey || snapshot.flags.has(problem.flagKey)) continue;
    const list = invalid.get(problem.flagKey) ?? [];
    if (!invalid.has(problem.flagKey)) invalid.set(problem.flagKey, list);
    list.push(problem);
  }
  return { ...snapshot, invalid };
}
