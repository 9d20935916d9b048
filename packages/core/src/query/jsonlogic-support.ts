// JsonLogic queries need json-logic-engine, which is only loaded when a query needs it: the full entry point
// (`@vexil/core`) installs it at once; `@vexil/core/json` callers load it with `loadJsonLogic()` (a dynamic import)
// before compiling flags that use it.
import type { JsonLogicBuild } from './jsonlogic.js';

export interface JsonLogicSupport {
  buildJsonLogic(logic: Record<string, unknown>): JsonLogicBuild;
  jsonLogicMatches(result: unknown): boolean;
}

let support: JsonLogicSupport | undefined;

export function installJsonLogic(implementation: JsonLogicSupport): void {
  support = implementation;
}

export function jsonLogicSupport(): JsonLogicSupport | undefined {
  return support;
}

export function jsonLogicLoaded(): boolean {
  return support !== undefined;
}

/** Loads the JsonLogic engine (a dynamic import: works in Node, browsers and workers). */
export async function loadJsonLogic(): Promise<void> {
  if (support) return;
  const module = await import('./lazy-jsonlogic.js');
  support ??= module;
}

/**
 * True when a query may be JsonLogic (a JSON object, as `compileQuery` decides after trimming). Generous on purpose:
 * a false positive only loads the engine for nothing.
 */
export function isJsonLogicQuery(query: unknown): boolean {
  if (query !== null && typeof query === 'object') return !Array.isArray(query);
  return typeof query === 'string' && query.includes('{');
}

/** True when some flag or segment of a flag set has a JsonLogic query (its engine must be loaded to compile it). */
export function usesJsonLogic(flags: Record<string, unknown>, segments?: Record<string, unknown>): boolean {
  const seen = (value: unknown, depth: number): boolean => {
    if (value === null || typeof value !== 'object' || depth > 8) return false;
    if (Array.isArray(value)) return value.some((item) => seen(item, depth + 1));
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'query' && isJsonLogicQuery(inner)) return true;
      if (key !== 'variations' && key !== 'metadata' && seen(inner, depth + 1)) return true;
    }
    return false;
  };
  if (segments && Object.values(segments).some((segment) => isJsonLogicQuery(typeof segment === 'string' ? segment : (segment as { query?: unknown } | null)?.query))) {
    return true;
  }
  return seen(flags, 0);
}
