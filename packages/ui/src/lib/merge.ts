// Three-way merge of JSON documents, to reapply the user's edits on top of a version someone saved meanwhile.
import { isPlainObject, jsonEqual } from './json.js';

export interface MergeResult<T> {
  merged: T;
  /** Paths both sides changed differently; the user's value was kept there. */
  conflicts: string[];
}

export function threeWayMerge<T>(base: T, mine: T, theirs: T): MergeResult<T> {
  const conflicts: string[] = [];
  const merged = merge(base, mine, theirs, '', conflicts) as T;
  return { merged, conflicts };
}

function merge(base: unknown, mine: unknown, theirs: unknown, path: string, conflicts: string[]): unknown {
  if (jsonEqual(mine, base)) return theirs;
  if (jsonEqual(theirs, base) || jsonEqual(mine, theirs)) return mine;
  if (isPlainObject(base) && isPlainObject(mine) && isPlainObject(theirs)) {
    const out: Record<string, unknown> = {};
    for (const key of new Set([...Object.keys(theirs), ...Object.keys(mine)])) {
      const value = merge(base[key], mine[key], theirs[key], path ? `${path}.${key}` : key, conflicts);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(mine) && Array.isArray(theirs) && base.length === mine.length && mine.length === theirs.length) {
    return mine.map((item, index) => merge(base[index], item, theirs[index], `${path}[${index}]`, conflicts));
  }
  conflicts.push(path || '(flag)');
  return mine;
}
