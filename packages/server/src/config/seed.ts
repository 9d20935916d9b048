import type { Problem, SegmentDefinition } from '@vexil/core';
import { canonicalJson, StoreConflictError, type FlagStore } from '@vexil/store';
import { readFlagFilesToImport } from './import.js';

/** What seeding a store from flag files did, flag by flag. */
export interface SeedReport {
  /** Flags written: the store did not have them and never had them. */
  applied: string[];
  /** Flags the store has, with content that differs from the files: the store's version is kept. */
  keptStore: Array<{ key: string; version: number; updatedBy: string }>;
  /** Flags the store has with the same content: nothing to do. */
  unchanged: string[];
  /** Flags the store had and that were deleted there (through the API or the page): they stay deleted. */
  keptDeleted: string[];
  /** Segments added (names the store did not have) and segments whose stored definition was kept. */
  segmentsApplied: string[];
  segmentsKept: string[];
  problems: Problem[];
}

/**
 * The seed rule of `vexil serve --store X --flags F`: the files seed the store, they never override it. A flag of the
 * files is written only when the store does not have it and never had it (no audit entry for its key); a flag the
 * store has is left as it is, even when the files differ (it may have been edited through the API or the page since),
 * and a flag deleted in the store stays deleted. Segments: only names the store does not have are added. So a restart
 * undoes nothing, and nothing is skipped silently: the report lists what was applied and what was kept. To make the
 * files win on purpose, `vexil import` writes them (audited, conflict-checked).
 *
 * Writes are create-only (`expectedVersion: 0`): a server starting at the same moment on the same store that seeds the
 * same flag first makes this one keep the store's flag.
 */
export async function seedFlagFiles(store: FlagStore, files: string[], options: { actor?: string } = {}): Promise<SeedReport> {
  const actor = options.actor ?? 'import';
  const { flags, segments, problems } = await readFlagFilesToImport(files);

  const report: SeedReport = { applied: [], keptStore: [], unchanged: [], keptDeleted: [], segmentsApplied: [], segmentsKept: [], problems };
  const list = await store.list();
  const stored = new Map(list.flags.map((entry) => [entry.key, entry]));
  // Keys the store holds but could not read (a bad row) are the store's too: never overwrite them from a file.
  const unreadable = new Set(list.problems.map((problem) => problem.flagKey).filter((key): key is string => typeof key === 'string'));

  const newSegments: Record<string, SegmentDefinition> = {};
  for (const [name, segment] of Object.entries(segments)) {
    if (!Object.prototype.hasOwnProperty.call(list.segments, name)) newSegments[name] = segment;
    else if (canonicalJson(list.segments[name]) !== canonicalJson(segment)) report.segmentsKept.push(name);
  }
  if (Object.keys(newSegments).length > 0) {
    if (!store.putSegments) throw new Error(`the ${store.kind} store cannot keep segments`);
    await store.putSegments({ ...list.segments, ...newSegments }, { actor, reason: `seeded from ${files.join(', ')}` });
    report.segmentsApplied.push(...Object.keys(newSegments));
  }

  for (const [key, { flag, file }] of flags) {
    const current = stored.get(key);
    if (current) {
      if (canonicalJson(current.flag) === canonicalJson(flag)) report.unchanged.push(key);
      else report.keptStore.push({ key, version: current.version, updatedBy: current.updatedBy });
      continue;
    }
    if (unreadable.has(key)) {
      report.keptStore.push({ key, version: 0, updatedBy: 'unreadable in the store' });
      continue;
    }
    // A store that was never written has no history to look up.
    if (list.revision > 0 && (await store.audit({ key, limit: 1 })).entries.length > 0) {
      report.keptDeleted.push(key);
      continue;
    }
    try {
      await store.put(key, flag, { actor, reason: `seeded from ${file}`, expectedVersion: 0 });
      report.applied.push(key);
    } catch (error) {
      if (!(error instanceof StoreConflictError)) throw error;
      const now = await store.get(key);
      report.keptStore.push({ key, version: now?.version ?? error.currentVersion, updatedBy: now?.updatedBy ?? 'another writer' });
    }
  }
  return report;
}

/** The lines `vexil serve` prints about a seed: what was applied, what was kept and why. */
export function describeSeed(report: SeedReport, files: string[]): string[] {
  const names = (keys: string[]): string => (keys.length <= 10 ? keys.join(', ') : `${keys.slice(0, 10).join(', ')} and ${keys.length - 10} more`);
  const lines = [
    `imported ${report.applied.length} flag(s) from ${files.join(', ')} (files seed the store: only flags it never had), ${report.keptStore.length + report.keptDeleted.length} skipped, ${report.unchanged.length} unchanged`,
  ];
  if (report.applied.length > 0) lines.push(`  applied: ${names(report.applied)}`);
  if (report.keptStore.length > 0)
    lines.push(
      `  skipped, the store's version kept (it differs from the files; vexil import writes the files over it): ${names(report.keptStore.map((kept) => (kept.version > 0 ? `${kept.key} (version ${kept.version}, by ${kept.updatedBy})` : `${kept.key} (${kept.updatedBy})`)))}`,
    );
  if (report.keptDeleted.length > 0) lines.push(`  skipped, deleted in the store (stay deleted): ${names(report.keptDeleted)}`);
  if (report.segmentsApplied.length > 0) lines.push(`  segments applied: ${names(report.segmentsApplied)}`);
  if (report.segmentsKept.length > 0) lines.push(`  segments skipped, the store's definition kept: ${names(report.segmentsKept)}`);
  return lines;
}
