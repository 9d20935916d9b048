/**
 * Size and depth limits on flags, and the checks for names that cannot be keys.
 *
 * Why: every route that serialises flags (bulk evaluation, the stream snapshot, the admin list, the audit log) walks
 * them recursively, so one flag nested thousands of levels deep would break all of them at once. Flags past these
 * limits are errors, for `vexil lint`, the file store and the admin API alike.
 */

/** The deepest nesting a flag may have, counting the flag itself as level 1 (`metadata: {a: {b: 1}}` is 3). */
export const MAX_FLAG_DEPTH = 32;

/** The largest flag, as JSON text, in characters (256 KiB). */
export const MAX_FLAG_JSON_CHARS = 256 * 1024;

/**
 * How deep `value` nests (a scalar is 0, `{}` and `[]` are 1), or `limit + 1` as soon as it goes past `limit`.
 * Iterative, so that it never overflows the stack however deep the value.
 */
export function jsonDepth(value: unknown, limit = Number.MAX_SAFE_INTEGER): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (depth > deepest) {
      deepest = depth;
      if (deepest > limit) return deepest;
    }
    const members = Array.isArray(current) ? current : Object.values(current as Record<string, unknown>);
    for (const member of members) if (member !== null && typeof member === 'object') stack.push([member, depth + 1]);
  }
  return deepest;
}

/** A lone UTF-16 surrogate: no Unicode text, and invalid in UTF-8 (stores and clients would choke on it). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` holds a lone UTF-16 surrogate (JSON can write one as `"\ud800"`; no store can keep it). */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/**
 * Why a flag key or segment name cannot be used, or undefined when it can: `__proto__` (an object key that sets a
 * prototype), `.` and `..` (path segments in URLs and file trees), and text with a lone surrogate.
 */
export function reservedNameProblem(name: string, what: string): string | undefined {
  if (name === '__proto__') return `${what} "__proto__" is reserved (it would reach an object's prototype)`;
  if (name === '.' || name === '..') return `${what} "${name}" is reserved (a path segment in URLs)`;
  if (LONE_SURROGATE.test(name)) return `${what} has a lone UTF-16 surrogate: it is not valid Unicode text`;
  return undefined;
}
