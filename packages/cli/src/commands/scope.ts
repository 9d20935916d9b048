import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import {
  DEFAULT_ENVIRONMENT,
  DEFAULT_PROJECT,
  environmentLabel,
  groupFlagFileSpecs,
  parseFlagFileSpec,
  SCOPE_KEY_PATTERN,
  type EnvironmentFiles,
  type FlagFileSpec,
  type EnvironmentRef,
  type FlagStore,
} from '@vexil/store';

/** `--project P --env E` as the file and store commands take them. */
export interface ScopeOptions {
  project?: string;
  env?: string;
}

export function addScopeOptions(command: Command, what: string): Command {
  return command
    .option('--project <key>', `project of ${what} (default: default)`)
    .option('--env <key>', `environment of ${what} (default: default; with only --project, that project's "default")`);
}

function checkKey(value: string, option: string, kind: string): string {
  if (!SCOPE_KEY_PATTERN.test(value))
    throw new Error(`${option} "${value}" is not ${kind} key: lower-case letters, digits and "-", starting with a letter or digit, at most 48 characters`);
  return value;
}

/** The environment `--project`/`--env` name, or undefined when neither is given. */
export function selectedEnvironment(options: ScopeOptions): EnvironmentRef | undefined {
  if (options.project === undefined && options.env === undefined) return undefined;
  return {
    project: checkKey(options.project ?? DEFAULT_PROJECT, '--project', 'a project'),
    environment: checkKey(options.env ?? DEFAULT_ENVIRONMENT, '--env', 'an environment'),
  };
}

export const isDefaultEnvironment = (ref: EnvironmentRef): boolean => ref.project === DEFAULT_PROJECT && ref.environment === DEFAULT_ENVIRONMENT;
const same = (a: EnvironmentRef, b: EnvironmentRef): boolean => a.project === b.project && a.environment === b.environment;

/**
 * Reads flag-file arguments: an item that is an existing file or directory is that path, exactly as before
 * environments (even with a comma or "=" in its name); otherwise it may hold several items separated by commas, each
 * `path`, `env=path` or `project/env=path` (as `serve --flags` takes them).
 */
export function readFlagFileItems(items: string[]): FlagFileSpec[] {
  return items.flatMap((item) =>
    existsSync(item)
      ? [{ project: DEFAULT_PROJECT, environment: DEFAULT_ENVIRONMENT, path: item, scoped: false }]
      : item.split(',').filter((part) => part.trim() !== '').map(parseFlagFileSpec),
  );
}

/**
 * Groups flag-file items (`path`, `env=path`, `project/env=path`) by environment. Bare paths belong to the selected
 * environment (`--project`/`--env`), else to default/default, so `vexil import flags.yaml --env production` means
 * what it says. With a selection, only its files are kept; none is an error naming the environments given.
 * `onlyProject` keeps every environment of one project (lint's `--project` without `--env`).
 */
export function environmentFiles(items: string[], options: ScopeOptions, { onlyProject = false } = {}): EnvironmentFiles[] {
  const selected = onlyProject && options.env === undefined ? undefined : selectedEnvironment(options);
  const project = onlyProject && options.env === undefined && options.project !== undefined ? checkKey(options.project, '--project', 'a project') : undefined;
  const specs = readFlagFileItems(items).map((spec) => (!spec.scoped && selected ? { ...spec, ...selected } : spec));
  const groups = groupFlagFileSpecs(specs);
  const kept = groups.filter((group) => (selected ? same(group, selected) : project === undefined || group.project === project));
  if (kept.length === 0) {
    const wanted = selected ? `environment ${environmentLabel(selected)}` : `project ${project}`;
    throw new Error(`no flag file is for ${wanted} (files are for ${groups.map(environmentLabel).join(', ')}): write ${selected?.environment ?? 'ENV'}=FILE`);
  }
  return kept;
}

/** The store of one environment: the root for default/default, else the store's catalog's. */
export async function environmentStore(store: FlagStore, ref: EnvironmentRef | undefined): Promise<FlagStore> {
  if (ref === undefined || isDefaultEnvironment(ref)) return store;
  if (!store.catalog) throw new Error(`the ${store.kind} store has no environments: it holds default/default only, not ${environmentLabel(ref)}`);
  const record = await store.catalog.getEnvironment(ref);
  if (!record) {
    const project = await store.catalog.getProject(ref.project);
    throw new Error(
      project
        ? `no environment "${ref.environment}" in project "${ref.project}" (create it: vexil env create ${ref.environment} --project ${ref.project})`
        : `no project "${ref.project}"`,
    );
  }
  return store.catalog.environment(ref);
}

/** The admin API path of one environment's routes: today's `/admin/v1` for default/default, so older servers work. */
export function environmentApiBase(ref: EnvironmentRef | undefined): string {
  if (ref === undefined || isDefaultEnvironment(ref)) return '/admin/v1';
  return `/admin/v1/projects/${encodeURIComponent(ref.project)}/environments/${encodeURIComponent(ref.environment)}`;
}
