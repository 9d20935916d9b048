import { jsonDepth } from '@vexil/core';
import { HttpError } from '../http/errors.js';

/**
 * Limits on the admin playground (`POST /admin/v1/evaluate`), which any reader key may call with its own context and
 * an unsaved flag: evaluation runs on the event loop, so its cost must be bounded by the input. A JsonLogic operator
 * that iterates (`some`, `filter`, `reduce`…) costs the length of the array it walks, and nested ones multiply:
 * arrays of at most PLAYGROUND_MAX_ARRAY items and at most PLAYGROUND_MAX_ITERATION_NESTING iterating operators inside
 * one another keep an evaluation under about a million steps.
 */
export const PLAYGROUND_BODY_LIMIT = 64 * 1024;
export const PLAYGROUND_MAX_ARRAY = 1000;
export const PLAYGROUND_MAX_VALUES = 10_000;
export const PLAYGROUND_MAX_ITERATION_NESTING = 2;

const ITERATING = new Set(['some', 'all', 'none', 'filter', 'map', 'reduce']);
/** Deeper query text than this is not looked into (the flag itself is at most 32 deep). */
const MAX_QUERY_DEPTH = 64;

/** Throws a 400 naming the limit when the context is too large to evaluate cheaply. */
export function checkPlaygroundContext(context: unknown): void {
  let values = 0;
  const stack: unknown[] = [context];
  while (stack.length > 0) {
    const value = stack.pop();
    values += 1;
    if (values > PLAYGROUND_MAX_VALUES) {
      throw new HttpError(400, 'playground_limit', `the playground evaluates contexts of at most ${PLAYGROUND_MAX_VALUES} values (the context has more)`);
    }
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      if (value.length > PLAYGROUND_MAX_ARRAY) {
        throw new HttpError(400, 'playground_limit', `the playground evaluates contexts whose lists have at most ${PLAYGROUND_MAX_ARRAY} items (one has ${value.length})`);
      }
      for (const item of value) stack.push(item);
    } else for (const member of Object.values(value)) stack.push(member);
  }
}

/** Throws a 400 naming the limit when an unsaved definition nests iterating JsonLogic operators too deeply. */
export function checkPlaygroundDefinition(definition: unknown): void {
  const nesting = iterationNesting(definition, 0);
  if (nesting > PLAYGROUND_MAX_ITERATION_NESTING) {
    throw new HttpError(
      400,
      'playground_limit',
      `the playground evaluates JsonLogic queries with at most ${PLAYGROUND_MAX_ITERATION_NESTING} iterating operators (${[...ITERATING].join(', ')}) inside one another (this definition nests ${nesting}); save the flag to evaluate it elsewhere`,
    );
  }
}

/** The most iterating operators nested in `value`, looking into JSON query strings too. Bounded recursion. */
function iterationNesting(value: unknown, depth: number): number {
  if (depth > MAX_QUERY_DEPTH) return 0;
  if (typeof value === 'string') {
    const text = value.trim();
    if (!text.startsWith('{') && !text.startsWith('[')) return 0;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return 0;
    }
    if (jsonDepth(parsed, MAX_QUERY_DEPTH) > MAX_QUERY_DEPTH) return PLAYGROUND_MAX_ITERATION_NESTING + 1;
    return iterationNesting(parsed, 0);
  }
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  const entries: Array<[string | undefined, unknown]> = Array.isArray(value) ? value.map((item) => [undefined, item]) : Object.entries(value);
  for (const [key, member] of entries) {
    const inner = iterationNesting(member, depth + 1) + (key !== undefined && ITERATING.has(key) ? 1 : 0);
    if (inner > deepest) deepest = inner;
  }
  return deepest;
}
