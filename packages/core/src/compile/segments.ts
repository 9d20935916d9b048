import { compileQuery, type CompiledQuery } from '../query/index.js';
import type { SegmentDefinition } from '../model/flag.js';
import type { Problem } from '../model/problem.js';
import type { Locate } from '../parse/flag-file.js';
import { SEGMENTS_KEY } from '../model/flag.js';
import { reservedNameProblem } from '../validate/limits.js';

export type SegmentResolver = (name: string) => CompiledQuery | undefined;

export interface CompiledSegments {
  resolve: SegmentResolver;
  problems: Problem[];
}

/** Reads `$segments` entries: a plain query string, or `{ query, description }`. */
export function normalizeSegments(raw: unknown, source: string | undefined, locate?: Locate): {
  segments: Record<string, SegmentDefinition>;
  problems: Problem[];
} {
  const segments: Record<string, SegmentDefinition> = {};
  const problems: Problem[] = [];
  if (raw === undefined || raw === null) return { segments, problems };
  const at = (path: Array<string | number>) => locate?.([SEGMENTS_KEY, ...path]);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ severity: 'error', source, ...at([]), path: SEGMENTS_KEY, message: 'segments must be a map of segment names to queries' });
    return { segments, problems };
  }
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9_:.-]+$/.test(name)) {
      problems.push({ severity: 'error', source, ...at([name]), path: `${SEGMENTS_KEY}.${name}`, message: 'a segment name may only hold letters, digits and _ : . -' });
      continue;
    }
    const reserved = reservedNameProblem(name, 'the segment name');
    if (reserved) {
      problems.push({ severity: 'error', source, ...at([name]), path: `${SEGMENTS_KEY}.${name}`, message: reserved });
      continue;
    }
    if (typeof value === 'string') segments[name] = { query: value };
    else if (value && typeof value === 'object' && typeof (value as SegmentDefinition).query === 'string') {
      const { query, description } = value as SegmentDefinition;
      segments[name] = description === undefined ? { query } : { query, description: String(description) };
    } else {
      problems.push({ severity: 'error', source, ...at([name]), path: `${SEGMENTS_KEY}.${name}`, message: 'a segment is a query string or { query, description }' });
    }
  }
  return { segments, problems };
}

/**
 * Compiles segments on demand, so a segment may use another (`@staff` inside `@beta`), and reports unknown
 * references and cycles instead of recursing forever.
 */
export function compileSegments(
  segments: Record<string, SegmentDefinition>,
  source?: string,
  locate?: Locate,
): CompiledSegments {
  const compiled = new Map<string, CompiledQuery | null>();
  const inProgress = new Set<string>();
  const problems: Problem[] = [];
  const resolve: SegmentResolver = (name) => {
    if (compiled.has(name)) return compiled.get(name) ?? undefined;
    const definition = Object.prototype.hasOwnProperty.call(segments, name) ? segments[name] : undefined;
    if (!definition) return undefined;
    const where = { severity: 'error' as const, source, ...locate?.([SEGMENTS_KEY, name]), path: `${SEGMENTS_KEY}.${name}` };
    if (inProgress.has(name)) {
      problems.push({ ...where, message: `segment "${name}" refers to itself through ${[...inProgress].join(' → ')}` });
      return undefined;
    }
    inProgress.add(name);
    const result = compileQuery(definition.query, { resolveSegment: resolve });
    inProgress.delete(name);
    if (!result.ok) {
      problems.push({ ...where, message: `query does not parse at column ${result.error.column}: ${result.error.message}` });
      compiled.set(name, null);
      return undefined;
    }
    compiled.set(name, result.query);
    return result.query;
  };
  for (const name of Object.keys(segments)) resolve(name);
  return { resolve, problems };
}
