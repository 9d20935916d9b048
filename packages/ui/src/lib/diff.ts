// A readable structural diff of two flag definitions: one line per changed field, with the field path as the core
// and `vexil lint` write it (`targeting[0].query`). Rules are matched by name when every rule has a unique one, so a
// reorder reads as "moved" instead of every field of every rule changing.
import { isPlainObject, jsonEqual } from './json.js';

export interface Change {
  path: string;
  kind: 'added' | 'removed' | 'changed' | 'moved';
  before?: unknown;
  after?: unknown;
}

export function diffJson(before: unknown, after: unknown): Change[] {
  const changes: Change[] = [];
  walk(before, after, '', changes);
  return changes;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const plain = /^[A-Za-z_$][\w$-]*$/.test(key);
  if (!plain) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

function walk(before: unknown, after: unknown, path: string, out: Change[]): void {
  if (jsonEqual(before, after)) return;
  // A map added or removed as a whole (metadata, a rule's percentage…) reads better field by field; list items stay whole.
  const inList = path.endsWith(']') || path.endsWith('"');
  if (!inList && before === undefined && isPlainObject(after) && Object.keys(after).length > 0) before = {};
  if (!inList && after === undefined && isPlainObject(before) && Object.keys(before).length > 0) after = {};
  if (!inList && before === undefined && Array.isArray(after) && after.some(isPlainObject)) before = [];
  if (!inList && after === undefined && Array.isArray(before) && before.some(isPlainObject)) after = [];
  if (before === undefined) {
    out.push({ path: path || '(flag)', kind: 'added', after });
    return;
  }
  if (after === undefined) {
    out.push({ path: path || '(flag)', kind: 'removed', before });
    return;
  }
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of keys) walk(before[key], after[key], join(path, key), out);
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (namedItems(before) && namedItems(after)) {
      diffNamed(before as Named[], after as Named[], path, out);
      return;
    }
    const length = Math.max(before.length, after.length);
    for (let index = 0; index < length; index++) walk(before[index], after[index], join(path, index), out);
    return;
  }
  out.push({ path: path || '(flag)', kind: 'changed', before, after });
}

type Named = { name: string } & Record<string, unknown>;

function namedItems(items: unknown[]): boolean {
  if (items.length === 0) return false;
  const names = new Set<string>();
  for (const item of items) {
    if (!isPlainObject(item) || typeof item.name !== 'string' || item.name === '' || names.has(item.name)) return false;
    names.add(item.name);
  }
  return true;
}

function diffNamed(before: Named[], after: Named[], path: string, out: Change[]): void {
  const oldIndex = new Map(before.map((item, index) => [item.name, index]));
  const newIndex = new Map(after.map((item, index) => [item.name, index]));
  // Rules kept in relative order (the longest increasing run of old positions) stay put; the others "moved".
  const shared = after.filter((item) => oldIndex.has(item.name)).map((item) => item.name);
  const staying = longestIncreasing(shared.map((name) => oldIndex.get(name)!)).map((position) => before[position]!.name);
  const stays = new Set(staying);
  for (const item of before) {
    if (!newIndex.has(item.name)) out.push({ path: `${path}[${oldIndex.get(item.name)}] "${item.name}"`, kind: 'removed', before: item });
  }
  after.forEach((item, index) => {
    const label = `${path}[${index}] "${item.name}"`;
    const was = oldIndex.get(item.name);
    if (was === undefined) {
      out.push({ path: label, kind: 'added', after: item });
      return;
    }
    if (!stays.has(item.name)) out.push({ path: label, kind: 'moved', before: was + 1, after: index + 1 });
    const previous = before[was]!;
    const keys = new Set([...Object.keys(previous), ...Object.keys(item)]);
    for (const key of keys) walk(previous[key], item[key], `${label}.${key}`, out);
  });
}

/** The values of one longest strictly increasing subsequence. */
function longestIncreasing(values: number[]): number[] {
  const tails: number[] = [];
  const tailIndex: number[] = [];
  const previous: number[] = new Array(values.length).fill(-1);
  values.forEach((value, index) => {
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (tails[middle]! < value) low = middle + 1;
      else high = middle;
    }
    tails[low] = value;
    tailIndex[low] = index;
    previous[index] = low > 0 ? tailIndex[low - 1]! : -1;
  });
  const out: number[] = [];
  for (let index = tailIndex[tails.length - 1] ?? -1; index >= 0; index = previous[index]!) out.unshift(values[index]!);
  return out;
}
