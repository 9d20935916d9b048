// GOFF's targeting queries: the nikunjy/rules dialect (as GOFF uses it) and JsonLogic, compiled once to a predicate.
// Runs anywhere (no Node APIs).

import { QuerySyntaxError, type QueryNode } from './ast.js';
import { parseNikunjy, collectSegmentReferences } from './parser.js';
import { buildEvaluator, QueryRuntimeFailure, type Predicate } from './evaluator.js';
import { jsonLogicSupport } from './jsonlogic-support.js';
import { goffTrim } from './trim.js';
import { quotedOrderingWarnings } from './quoted-order.js';

/** The map a query sees: the context's attributes plus `targetingKey`, `key` (both the targeting key) and `anonymous`. Built by the evaluator. */
export type QueryContext = Record<string, unknown>;

export interface CompiledQuery {
  readonly kind: 'nikunjy' | 'jsonlogic' | 'match-all';
  readonly text: string;
  /** Never throws. Runtime errors (GOFF: invalid operation, panics) count as no match, like GOFF. */
  matches(context: QueryContext): boolean;
  /**
   * True when the query reads `key`, `targetingKey` or `anonymous` (directly, through a segment, or possibly, for
   * JsonLogic). When false, the evaluator can hand over the caller's context as it is instead of building the
   * query's view of it (a copy per evaluation).
   */
  readonly usesIdentity: boolean;
}

const IDENTITY_ATTRIBUTES = new Set(['key', 'targetingKey', 'anonymous']);

function readsIdentity(node: QueryNode, segments: ReadonlyMap<string, CompiledQuery>): boolean {
  switch (node.type) {
    case 'present':
    case 'compare':
      return IDENTITY_ATTRIBUTES.has(node.path[0]!);
    case 'segment':
      return segments.get(node.name)?.usesIdentity ?? true;
    case 'not':
      return readsIdentity(node.operand, segments);
    case 'logical':
      return node.operands.some((operand) => readsIdentity(operand, segments));
  }
}

export interface QueryDiagnostic {
  message: string;
  /** 1-based column in the ORIGINAL query text */
  column: number;
}

export type QueryCompileResult =
  | { ok: true; query: CompiledQuery; warnings: QueryDiagnostic[] }
  | { ok: false; error: QueryDiagnostic };

export interface CompileQueryOptions {
  /** Resolves a segment reference `@name` to its compiled query; return undefined for an unknown segment (a compile error: "unknown segment \"name\""). */
  resolveSegment?: (name: string) => CompiledQuery | undefined;
}

const EMPTY: Record<string, unknown> = Object.freeze(Object.create(null) as Record<string, unknown>);

function asRoot(context: unknown): Record<string, unknown> {
  return context !== null && typeof context === 'object' && !Array.isArray(context) ? (context as Record<string, unknown>) : EMPTY;
}

function isBlank(text: string): boolean {
  return /^\s*$/.test(text);
}

export function compileQuery(text: string, options: CompileQueryOptions = {}): QueryCompileResult {
  if (typeof text !== 'string') return { ok: false, error: { message: 'a query must be a string', column: 1 } };
  try {
    if (isBlank(text)) return { ok: true, query: matchAll(text), warnings: [] };
    const trimmed = goffTrim(text);
    const firstChar = trimmed.value.trimStart()[0];
    if (firstChar === '{') {
      let json: unknown;
      try {
        json = JSON.parse(trimmed.value);
      } catch (error) {
        return { ok: false, error: jsonError(error, trimmed) };
      }
      if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
        return compileJsonLogic(text, json as Record<string, unknown>);
      }
    }
    return compileNikunjy(text, options);
  } catch (error) {
    if (error instanceof QuerySyntaxError) return { ok: false, error: { message: error.message, column: error.column } };
    if (error instanceof RangeError) return { ok: false, error: { message: 'query is too deeply nested', column: 1 } };
    return { ok: false, error: { message: `cannot compile query: ${String(error)}`, column: 1 } };
  }
}

/** Names of segments referenced with `@name` in a nikunjy query (for dependency ordering / cycle detection); [] for JsonLogic. */
export function segmentReferences(text: string): string[] {
  if (typeof text !== 'string' || isBlank(text)) return [];
  try {
    const trimmed = goffTrim(text).value;
    if (trimmed.trimStart().startsWith('{')) {
      try {
        const json: unknown = JSON.parse(trimmed);
        if (json !== null && typeof json === 'object' && !Array.isArray(json)) return [];
      } catch {
        // not JSON: read it as nikunjy
      }
    }
    return collectSegmentReferences(text);
  } catch {
    return [];
  }
}

function matchAll(text: string): CompiledQuery {
  return { kind: 'match-all', text, matches: () => true, usesIdentity: false };
}

function compileJsonLogic(text: string, logic: Record<string, unknown>): QueryCompileResult {
  const support = jsonLogicSupport();
  if (!support) {
    return {
      ok: false,
      error: {
        message: 'JsonLogic queries need the JsonLogic engine, which is not loaded: import from "@vexil/core", or await loadJsonLogic() from "@vexil/core/json" first',
        column: 1,
      },
    };
  }
  const { jsonLogicMatches } = support;
  const built = support.buildJsonLogic(logic);
  if (!built.ok) {
    const at = built.operator === undefined ? -1 : text.indexOf(JSON.stringify(built.operator));
    return { ok: false, error: { message: built.message, column: at >= 0 ? at + 1 : 1 } };
  }
  const run = built.run;
  const query: CompiledQuery = {
    kind: 'jsonlogic',
    text,
    usesIdentity: true,
    matches(context) {
      try {
        return jsonLogicMatches(run(asRoot(context)));
      } catch {
        return false;
      }
    },
  };
  return { ok: true, query, warnings: [] };
}

function collectSegments(node: QueryNode, out: { name: string; column: number }[]): void {
  switch (node.type) {
    case 'segment':
      out.push({ name: node.name, column: node.column });
      return;
    case 'not':
      collectSegments(node.operand, out);
      return;
    case 'logical':
      for (const operand of node.operands) collectSegments(operand, out);
      return;
    default:
      return;
  }
}

function compileNikunjy(text: string, options: CompileQueryOptions): QueryCompileResult {
  const { root, warnings } = parseNikunjy(text);

  const references: { name: string; column: number }[] = [];
  collectSegments(root, references);
  const segments = new Map<string, CompiledQuery>();
  for (const { name, column } of references) {
    if (segments.has(name)) continue;
    const compiled = options.resolveSegment?.(name);
    if (!compiled) return { ok: false, error: { message: `unknown segment ${JSON.stringify(name)}`, column } };
    segments.set(name, compiled);
  }

  const { predicate, failures, alwaysFalse } = buildEvaluator(root, (name) => segments.get(name)!);

  // GOFF validates a query by evaluating it against an empty context: an invalid operation reached there is an error.
  const reached = probe(predicate);
  if (reached) {
    return {
      ok: false,
      error: {
        message: `${reached.message}; GO Feature Flag rejects this query`,
        column: reached.column,
      },
    };
  }
  const diagnostics: QueryDiagnostic[] = [...warnings];
  for (const failure of failures) {
    diagnostics.push({
      message: `${failure.message}: whenever this comparison is evaluated the whole query fails (no match)`,
      column: failure.column,
    });
  }
  diagnostics.push(...alwaysFalse);
  diagnostics.push(...quotedOrderingWarnings(root));
  diagnostics.sort((a, b) => a.column - b.column);

  const query: CompiledQuery = {
    kind: 'nikunjy',
    text,
    usesIdentity: readsIdentity(root, segments),
    matches(context) {
      try {
        return predicate(asRoot(context));
      } catch {
        return false;
      }
    },
  };
  return { ok: true, query, warnings: diagnostics };
}

function probe(predicate: Predicate): QueryRuntimeFailure | undefined {
  try {
    predicate(EMPTY);
    return undefined;
  } catch (error) {
    // Anything else (a segment breaking its never-throw contract) is not GOFF's validation failing.
    return error instanceof QueryRuntimeFailure ? error : undefined;
  }
}

function jsonError(error: unknown, trimmed: { value: string; offsets: (i: number) => number }): QueryDiagnostic {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message);
  const column = position ? trimmed.offsets(Number(position[1])) + 1 : 1;
  return { message: `invalid JSON in JsonLogic query: ${message}`, column };
}
