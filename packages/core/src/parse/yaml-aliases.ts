// YAML aliases (`*name`, and `<<: *name` merges) make the loader share one node in many places. Harmless in memory,
// but everything downstream (validation, canonical JSON, the store) walks the data as a tree, so a few hundred bytes
// of nested aliases ("billion laughs") expand to billions of values. A file whose aliases expand beyond these limits
// is refused as unreadable, before anything walks it as a tree. Files without aliases are never limited.

/** How far a YAML flag file's aliases may expand it. */
export interface YamlAliasLimits {
  /** Values (maps, lists and scalars) the data may hold once aliases are expanded: the larger of this and 10× the values written. */
  maxValues: number;
  /** Characters of keys and strings (and one per other scalar) once aliases are expanded: the larger of this and 10× the file's size. */
  maxChars: number;
}

export const YAML_ALIAS_LIMITS: Readonly<YamlAliasLimits> = Object.freeze({ maxValues: 1_000_000, maxChars: 16 * 1024 * 1024 });

/** How much the aliases expand the data, or why it must be refused. */
export type AliasCheck =
  | { ok: true; values: number; chars: number }
  | { ok: false; reason: 'cycle' | 'values' | 'chars'; message: string };

interface Size {
  values: number;
  chars: number;
}

/**
 * Measures the data as a tree (every alias expanded) without expanding it: each shared node is measured once and
 * its size reused, so this costs one visit per distinct node, however far the aliases would expand.
 */
export function checkYamlAliases(data: unknown, textLength: number, limits: YamlAliasLimits = YAML_ALIAS_LIMITS): AliasCheck {
  const sizes = new Map<object, Size>();
  const open = new Set<object>();
  /** Values as written: each shared node once (scalars repeated through an alias are few bytes each, and count). */
  let written = 0;
  let cycle = false;

  const measure = (value: unknown): Size => {
    if (typeof value === 'string') return { values: 1, chars: value.length };
    if (value === null || typeof value !== 'object') return { values: 1, chars: 1 };
    const known = sizes.get(value);
    if (known) return known;
    if (open.has(value)) {
      cycle = true;
      return { values: 1, chars: 1 };
    }
    open.add(value);
    written++;
    const size: Size = { values: 1, chars: 1 };
    const child = (item: unknown): void => {
      if (item === null || typeof item !== 'object') written++;
      add(size, measure(item));
    };
    if (Array.isArray(value)) {
      for (const item of value) child(item);
    } else {
      for (const key of Object.keys(value)) {
        size.chars += key.length;
        child((value as Record<string, unknown>)[key]);
      }
    }
    open.delete(value);
    sizes.set(value, size);
    return size;
  };
  const add = (into: Size, part: Size): void => {
    into.values += part.values;
    into.chars += part.chars;
  };

  const total = measure(data);
  if (cycle) return { ok: false, reason: 'cycle', message: 'a YAML alias refers to a node that contains it (a cycle): flags must be finite' };
  // Without aliases the expanded size is the written size; the limits only bound what aliases add.
  const maxValues = Math.max(limits.maxValues, 10 * written);
  const maxChars = Math.max(limits.maxChars, 10 * textLength);
  if (total.values > maxValues) {
    return {
      ok: false,
      reason: 'values',
      message: `YAML aliases expand this file to ${formatCount(total.values)} values, more than the limit of ${formatCount(maxValues)}: refused (an alias bomb?)`,
    };
  }
  if (total.chars > maxChars) {
    return {
      ok: false,
      reason: 'chars',
      message: `YAML aliases expand this file to ${formatCount(total.chars)} characters, more than the limit of ${formatCount(maxChars)}: refused (an alias bomb?)`,
    };
  }
  return { ok: true, values: total.values, chars: total.chars };
}

function formatCount(count: number): string {
  return count >= 1e15 ? count.toExponential(2) : Math.round(count).toLocaleString('en-US');
}
