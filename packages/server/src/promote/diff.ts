import { canonicalJson, type FlagDefinition } from '@vexil/core';

/** One changed place of a flag: `path` like `targeting[0].query` or `variations.on` (`''`: the whole flag). */
export interface PathDiff {
  path: string;
  /** Absent: the place did not exist before. */
  before?: unknown;
  /** Absent: the place does not exist after. */
  after?: unknown;
}

/** One place where environments disagree, with each environment's value there (absent: not set in it). */
export interface PathDifference {
  path: string;
  values: Record<string, unknown>;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (IDENTIFIER.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const same = (a: unknown, b: unknown): boolean =>
  a === undefined || b === undefined ? a === b : canonicalJson(a as never) === canonicalJson(b as never);

/**
 * Where the given values (one per side: environments, or before/after) differ, as paths. Objects are compared key by
 * key; lists item by item when every side has a list of the same length, else as a whole (a rule added or removed
 * shows the whole list, not every later rule shifted by one). Sides are in the order given.
 */
export function differences(sides: Record<string, unknown>): PathDifference[] {
  const out: PathDifference[] = [];
  const names = Object.keys(sides);
  const walk = (path: string, values: unknown[]): void => {
    const first = values[0];
    if (values.every((value) => same(value, first))) return;
    const present = values.filter((value) => value !== undefined);
    if (present.length === values.length && present.every(isPlainObject)) {
      const keys = [...new Set(present.flatMap((value) => Object.keys(value)))].sort();
      for (const key of keys) walk(childPath(path, key), values.map((value) => (value as Record<string, unknown>)[key]));
      return;
    }
    if (present.length === values.length && present.every(Array.isArray) && present.every((value) => (value as unknown[]).length === (first as unknown[]).length)) {
      for (let index = 0; index < (first as unknown[]).length; index++) walk(childPath(path, index), values.map((value) => (value as unknown[])[index]));
      return;
    }
    const byName: Record<string, unknown> = {};
    names.forEach((name, index) => {
      if (values[index] !== undefined) byName[name] = values[index];
    });
    out.push({ path, values: byName });
  };
  walk('', names.map((name) => sides[name] ?? undefined));
  return out;
}

/** What changes from `before` to `after` (null: no flag), path by path. */
export function diffFlags(before: FlagDefinition | null, after: FlagDefinition | null): PathDiff[] {
  return differences({ before: before ?? undefined, after: after ?? undefined }).map(({ path, values }) => ({
    path,
    ...('before' in values ? { before: values.before } : {}),
    ...('after' in values ? { after: values.after } : {}),
  }));
}
