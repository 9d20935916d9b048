import {
  checkFlag,
  compileSegments,
  reservedNameProblem,
  normalizeSegments,
  validateFlagDefinition,
  type FlagDefinition,
  type Problem,
  type SegmentDefinition,
} from '@vexil/core';
import { StoreValidationError } from './errors.js';

/**
 * Validation shared by the writable stores: what may be written (checked before any write, so an invalid flag never
 * reaches a store) and what a reader does with data it finds there (reported and skipped, never thrown).
 */

const MAX_KEY_LENGTH = 256;

/**
 * Problems with a flag key itself: empty, too long, control characters, `$…` (reserved for `$segments`), `__proto__`,
 * `.`, `..`, or a lone surrogate.
 */
export function keyProblems(key: unknown, source?: string): Problem[] {
  const problem = (message: string): Problem[] => [
    { severity: 'error', source, flagKey: typeof key === 'string' ? key : undefined, message },
  ];
  if (typeof key !== 'string' || key.length === 0) return problem('a flag key must be a non-empty string');
  if (key.length > MAX_KEY_LENGTH) return problem(`a flag key may have at most ${MAX_KEY_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return problem('a flag key may not contain control characters');
  if (key.startsWith('$')) return problem('a flag key may not start with "$" (reserved, e.g. for $segments)');
  const reserved = reservedNameProblem(key, 'the flag key');
  if (reserved) return problem(reserved);
  return [];
}

/** Throws `StoreValidationError` when the flag (or its key) has any error; warnings pass. */
export function assertWritableFlag(
  key: string,
  flag: unknown,
  segments: Record<string, SegmentDefinition>,
  source: string,
): asserts flag is FlagDefinition {
  const problems = [...keyProblems(key, source), ...validateFlagDefinition(key, flag, { source, segments })];
  if (problems.some((problem) => problem.severity === 'error')) throw new StoreValidationError(problems);
}

/** Normalises and compiles a segment set; throws `StoreValidationError` on any error. */
export function assertWritableSegments(raw: unknown, source: string): Record<string, SegmentDefinition> {
  const { segments, problems } = normalizeSegments(raw, source);
  problems.push(...compileSegments(segments, source).problems);
  if (problems.some((problem) => problem.severity === 'error')) throw new StoreValidationError(problems);
  return segments;
}

export type StoredFlagCheck = { ok: true; flag: FlagDefinition } | { ok: false; problems: Problem[] };

/**
 * A checker for flags read back from a store: segments are compiled once, then each flag is checked. A flag that
 * fails (a hand-edited row or key) comes back as problems for the caller to report and skip.
 */
export function storedFlagChecker(
  segments: Record<string, SegmentDefinition>,
  source: (key: string) => string,
): (key: string, raw: unknown) => StoredFlagCheck {
  const compiled = compileSegments(segments);
  return (key, raw) => {
    const origin = source(key);
    const { problems, flag } = checkFlag(key, raw, { source: origin, resolveSegment: compiled.resolve });
    const errors = problems.filter((problem) => problem.severity === 'error');
    if (errors.length > 0 || !flag) return { ok: false, problems: errors };
    // The flag as stored, not the normalised copy: a reader sees exactly what was written.
    return { ok: true, flag: raw as FlagDefinition };
  };
}

/** Reads a stored segment set, skipping (and reporting) entries that are not segments. */
export function readStoredSegments(raw: Record<string, unknown>, source: string): {
  segments: Record<string, SegmentDefinition>;
  problems: Problem[];
} {
  return normalizeSegments(raw, source);
}
