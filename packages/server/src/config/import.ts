import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { continueRollout, formatProblem, parseFlagFile, type FlagDefinition, type Problem, type SegmentDefinition } from '@vexil/core';
import { canonicalJson, type FlagStore } from '@vexil/store';

export interface ImportReport {
  /** Flags written (new or different). */
  written: string[];
  /** Flags already stored with the same content. */
  unchanged: string[];
  segmentsWritten: boolean;
  /** Every problem found in the files (invalid flags are skipped, not imported). */
  problems: Problem[];
}

/**
 * Imports flag files into a writable store: only flags whose content differs from what is stored are written, as
 * one audited write each by `actor` (default `import`). Segments are merged into the stored ones first (flags may
 * reference them). A file that cannot be read or parsed at all throws; invalid flags are reported and skipped.
 */
export async function importFlagFiles(store: FlagStore, files: string[], options: { actor?: string } = {}): Promise<ImportReport> {
  const actor = options.actor ?? 'import';
  const { flags, segments, problems } = await readFlagFilesToImport(files);

  const list = await store.list();
  const stored = new Map(list.flags.map((entry) => [entry.key, entry.flag]));
  let segmentsWritten = false;
  if (Object.keys(segments).length > 0) {
    const merged = { ...list.segments, ...segments };
    if (canonicalJson(merged) !== canonicalJson(list.segments)) {
      if (!store.putSegments) throw new Error(`the ${store.kind} store cannot keep segments`);
      await store.putSegments(merged, { actor, reason: `imported from ${files.join(', ')}` });
      segmentsWritten = true;
    }
  }
  const written: string[] = [];
  const unchanged: string[] = [];
  for (const [key, { flag: read, file }] of flags) {
    const current = stored.get(key);
    // A rollout under way goes on when the file's plan and baseline are unchanged (see continueRollout).
    const flag = continueRollout(read, current);
    if (current !== undefined && canonicalJson(current) === canonicalJson(flag)) {
      unchanged.push(key);
      continue;
    }
    await store.put(key, flag, { actor, reason: `imported from ${file}` });
    written.push(key);
  }
  return { written, unchanged, segmentsWritten, problems };
}

/**
 * `examples/flags.goff.yaml`: beside the package when installed (a copy may ship with it), else at the root of the
 * repository this package sits in, else in the working directory. Undefined when none exists.
 */
export function findExampleFlags(cwd: string = process.cwd()): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const packageRoot = resolve(here, '..', '..');
  const candidates = [
    join(packageRoot, 'examples', 'flags.goff.yaml'),
    join(packageRoot, '..', '..', 'examples', 'flags.goff.yaml'),
    join(cwd, 'examples', 'flags.goff.yaml'),
  ];
  return candidates.find((candidate) => existsSync(candidate));
}

/** The valid flags (a later file wins a key), segments and problems of flag files. A file that cannot be read or parsed throws. */
export async function readFlagFilesToImport(files: string[]): Promise<{
  flags: Map<string, { flag: FlagDefinition; file: string }>;
  segments: Record<string, SegmentDefinition>;
  problems: Problem[];
}> {
  const flags = new Map<string, { flag: FlagDefinition; file: string }>();
  const segments: Record<string, SegmentDefinition> = {};
  const problems: Problem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new Error(`cannot read flag file ${file}: ${(error as Error).message}`);
    }
    const parsed = parseFlagFile(text, { source: file });
    problems.push(...parsed.problems);
    if (!parsed.readable) throw new Error(`cannot import ${file}:\n${parsed.problems.map(formatProblem).join('\n')}`);
    Object.assign(segments, parsed.segments);
    for (const [key, flag] of Object.entries(parsed.flags)) flags.set(key, { flag, file });
  }
  return { flags, segments, problems };
}
