import type { Problem, SegmentDefinition } from '@vexil/core';
import {
  canonicalJson,
  DEFAULT_ENVIRONMENT,
  DEFAULT_PROJECT,
  environmentLabel,
  groupFlagFileSpecs,
  hasScopedSpecs,
  parseFlagFileSpecs,
  StoreConflictError,
  type EnvironmentRef,
  type FlagStore,
} from '@vexil/store';
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

/** What seeding one environment did: which environment, from which files, whether it was created. */
export interface EnvironmentSeedReport extends EnvironmentRef {
  files: string[];
  /** The project and/or environment did not exist and were created for these files. */
  createdProject: boolean;
  createdEnvironment: boolean;
  report: SeedReport;
}

/**
 * `vexil serve --store X --flags production=flags.prod.yaml,checkout/staging=…`: seeds each named environment of a
 * writable store from its files, with the rule of `seedFlagFiles` applied per environment (a flag is written only
 * when that environment never had it). Missing projects and environments are created first (project `default` unless
 * the item says `project/environment=`). Bare paths seed default/default, the root store, as before environments.
 */
export async function seedFlagSpecs(store: FlagStore, items: string[], options: { actor?: string } = {}): Promise<EnvironmentSeedReport[]> {
  const actor = options.actor ?? 'import';
  const specs = parseFlagFileSpecs(items);
  const groups = groupFlagFileSpecs(specs);
  const catalog = store.catalog;
  if (hasScopedSpecs(specs) && !catalog?.writable) {
    const named = specs.find((spec) => spec.scoped)!;
    throw new Error(
      `the ${store.kind} store ${catalog ? 'has a read-only catalog' : 'has no environments'}: --flags ${environmentLabel(named)}=${named.path} cannot seed it`,
    );
  }
  const reports: EnvironmentSeedReport[] = [];
  const createdProjects = new Set<string>();
  for (const group of groups) {
    const ref: EnvironmentRef = { project: group.project, environment: group.environment };
    let target = store;
    let createdProject = false;
    let createdEnvironment = false;
    if (catalog && (ref.project !== DEFAULT_PROJECT || ref.environment !== DEFAULT_ENVIRONMENT)) {
      if (!createdProjects.has(ref.project) && !(await catalog.getProject(ref.project))) {
        // Created with every environment the files name for it, so it gets no `default` environment nobody asked for.
        const environments = groups.filter((other) => other.project === ref.project).map((other) => ({ key: other.environment }));
        try {
          await catalog.createProject({ key: ref.project }, environments, { actor, reason: `seeded from --flags` });
          createdProject = true;
          createdEnvironment = true;
          createdProjects.add(ref.project);
        } catch (error) {
          if (!(error instanceof StoreConflictError)) throw error; // another server created it meanwhile
        }
      } else if (createdProjects.has(ref.project)) {
        createdEnvironment = true;
      }
      if (!createdEnvironment && !(await catalog.getEnvironment(ref))) {
        try {
          await catalog.createEnvironment(ref.project, { key: ref.environment }, { actor, reason: `seeded from --flags` });
          createdEnvironment = true;
        } catch (error) {
          if (!(error instanceof StoreConflictError)) throw error;
        }
      }
      target = await catalog.environment(ref);
    }
    const report = await seedFlagFiles(target, group.paths, { actor });
    reports.push({ ...ref, files: group.paths, createdProject, createdEnvironment, report });
  }
  return reports;
}

/** The lines `vexil serve` prints about seeding environments: per environment, what was created, applied and kept. */
export function describeEnvironmentSeeds(reports: EnvironmentSeedReport[]): string[] {
  // Only default/default (bare paths, as before environments): today's lines, unchanged.
  const onlyRoot = reports.length === 1 && reports[0]!.project === DEFAULT_PROJECT && reports[0]!.environment === DEFAULT_ENVIRONMENT;
  if (onlyRoot) return describeSeed(reports[0]!.report, reports[0]!.files);
  const lines: string[] = [];
  for (const seed of reports) {
    const label = environmentLabel(seed);
    if (seed.createdProject) lines.push(`created project ${seed.project} with environment ${seed.environment}`);
    else if (seed.createdEnvironment) lines.push(`created environment ${label}`);
    const [first, ...rest] = describeSeed(seed.report, seed.files);
    lines.push(`${label}: ${first}`, ...rest);
  }
  return lines;
}
