import { DEFAULT_ENVIRONMENT, DEFAULT_PROJECT, SCOPE_KEY_PATTERN, type EnvironmentRef } from '../catalog/types.js';

/**
 * One `--flags` item: a flag file or directory, and the environment it belongs to. Written `path` (default/default),
 * `environment=path` (project `default`) or `project/environment=path`.
 */
export interface FlagFileSpec extends EnvironmentRef {
  path: string;
  /** True when the spec named its environment (`env=path`); false for a bare path. */
  scoped: boolean;
}

/** The files of one environment, in the order given (a later file overrides an earlier one for the same key). */
export interface EnvironmentFiles extends EnvironmentRef {
  paths: string[];
}

/** A `--flags` item that cannot be read: names the item and what is wrong with it. */
export class FlagSpecError extends TypeError {
  override readonly name = 'FlagSpecError';
  constructor(
    readonly spec: string,
    problem: string,
  ) {
    super(`flag file spec "${spec}": ${problem}`);
  }
}

/**
 * The left side of `X=path` reads as an environment when it looks like one: no `.`, `\`, `:` or spaces, at most one
 * `/`, not starting with `/` or `~`. So `./dir=1/flags.yaml`, `/abs/a=b.yaml` or `C:\x=y.yaml` stay plain paths.
 */
const ENVIRONMENT_LIKE = /^[^./\\:~\s][^.\\:\s/]*(\/[^.\\:\s/]*)?$/;

const KEY_RULE = 'lower-case letters, digits and "-", starting with a letter or digit, at most 48 characters';

/** Reads one `--flags` item (already split at commas). */
export function parseFlagFileSpec(item: string): FlagFileSpec {
  const spec = item.trim();
  if (spec === '') throw new FlagSpecError(item, 'empty: give a flag file, environment=file or project/environment=file');
  const equals = spec.indexOf('=');
  const left = equals < 0 ? '' : spec.slice(0, equals);
  if (equals < 0 || !ENVIRONMENT_LIKE.test(left)) {
    return { project: DEFAULT_PROJECT, environment: DEFAULT_ENVIRONMENT, path: spec, scoped: false };
  }
  const path = spec.slice(equals + 1).trim();
  const [first, second] = left.split('/') as [string, string | undefined];
  const project = second === undefined ? DEFAULT_PROJECT : first;
  const environment = second === undefined ? first : second;
  if (second !== undefined && !SCOPE_KEY_PATTERN.test(project))
    throw new FlagSpecError(item, `"${project}" is not a project key (${KEY_RULE})`);
  if (!SCOPE_KEY_PATTERN.test(environment)) throw new FlagSpecError(item, `"${environment}" is not an environment key (${KEY_RULE})`);
  if (path === '') throw new FlagSpecError(item, `no file after "${left}=": write ${left}=flags.yaml`);
  return { project, environment, path, scoped: true };
}

/**
 * Reads `--flags` values: each may hold several items separated by commas (a comma cannot be in a path, as in
 * `file:` store URLs), and the option may be repeated. Bare paths are default/default, as before environments.
 */
export function parseFlagFileSpecs(values: string | readonly string[]): FlagFileSpec[] {
  const items = (typeof values === 'string' ? [values] : values).flatMap((value) => value.split(','));
  return items.filter((item) => item.trim() !== '').map(parseFlagFileSpec);
}

/** Groups specs by environment, default/default first when present, then in order of first mention. */
export function groupFlagFileSpecs(specs: readonly FlagFileSpec[]): EnvironmentFiles[] {
  const groups = new Map<string, EnvironmentFiles>();
  for (const spec of specs) {
    const id = `${spec.project}/${spec.environment}`;
    let group = groups.get(id);
    if (!group) {
      group = { project: spec.project, environment: spec.environment, paths: [] };
      groups.set(id, group);
    }
    group.paths.push(spec.path);
  }
  const defaultId = `${DEFAULT_PROJECT}/${DEFAULT_ENVIRONMENT}`;
  const first = groups.get(defaultId);
  return first ? [first, ...[...groups].filter(([id]) => id !== defaultId).map(([, group]) => group)] : [...groups.values()];
}

/** True when any spec names an environment (`env=path`): the files describe more than default/default. */
export function hasScopedSpecs(specs: readonly FlagFileSpec[]): boolean {
  return specs.some((spec) => spec.scoped);
}

/** Writes a spec back in the form it was read (`path`, `env=path` or `project/env=path`). */
export function formatFlagFileSpec(spec: FlagFileSpec): string {
  if (!spec.scoped) return spec.path;
  return spec.project === DEFAULT_PROJECT ? `${spec.environment}=${spec.path}` : `${spec.project}/${spec.environment}=${spec.path}`;
}

/** The same spec with its path mapped (e.g. made relative to a config file), its environment kept. */
export function mapFlagFileSpecPath(item: string, map: (path: string) => string): string {
  const spec = parseFlagFileSpec(item);
  return formatFlagFileSpec({ ...spec, path: map(spec.path) });
}

/** `project/environment`, as environments are named in messages. */
export function environmentLabel(ref: EnvironmentRef): string {
  return `${ref.project}/${ref.environment}`;
}
