// Compiles a nikunjy query tree to closures, with GOFF's semantics (nikunjy/rules as GOFF vendors it):
//
// - The right-hand literal picks the operator family.
// - A missing (or null) attribute, or one of the wrong type, makes that comparison false, with no error.
// - Some operator/literal pairs are an *invalid operation* (e.g. `gt true`, `co 1`, `lt null`). Reaching one fails
//   the WHOLE query (no match), even inside `not (…)` or after a true `or` branch. GOFF also rejects, at load time, a
//   query that reaches one when evaluated against an empty context; compileQuery reports those as errors.
// - Reading a path through a value that is not an object (`x.a` with x = "s") panics in nikunjy, which GOFF recovers
//   as an error: the whole query fails too.
//
// Failures are thrown as preallocated sentinels and caught once, in CompiledQuery.matches.

import type { CompareOp, Literal, QueryNode } from './ast.js';
import { compareCodePoints, endsWithFold, eqFold, goLower, startsWithFold } from './text.js';
import { compareSemver, parseSemverCached } from './semver.js';

export type Predicate = (root: Record<string, unknown>) => boolean;
type Getter = (root: Record<string, unknown>) => unknown;
type Test = (value: unknown) => boolean;

/** A comparison that fails the whole query whenever it is evaluated. */
export class QueryRuntimeFailure {
  constructor(
    readonly message: string,
    readonly column: number,
  ) {}
}

/** Thrown when a path goes through a non-object value (nikunjy panics). */
export const PATH_FAILURE = new QueryRuntimeFailure('a path goes through a value that is not an object', 0);

export interface EvaluatorBuild {
  predicate: Predicate;
  /** Invalid operations in the query, in source order (each fails the whole query when reached). */
  failures: QueryRuntimeFailure[];
  /** Comparisons that can never be true (e.g. `eq` against a list). */
  alwaysFalse: { message: string; column: number }[];
}

export type SegmentLookup = (name: string) => { matches(context: Record<string, unknown>): boolean };

const hasOwn = Object.prototype.hasOwnProperty;

function ownValue(obj: Record<string, unknown>, key: string): unknown {
  return hasOwn.call(obj, key) ? obj[key] : undefined;
}

/** Keys that a plain object inherits (`constructor`, `toString`, `__proto__`…) need an own-property check. */
function inherited(key: string): boolean {
  return key in Object.prototype;
}

function child(value: unknown, key: string, checkOwn: boolean): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw PATH_FAILURE;
  return checkOwn ? ownValue(value as Record<string, unknown>, key) : (value as Record<string, unknown>)[key];
}

function compilePath(path: readonly string[]): Getter {
  const keys = path.slice();
  const own = keys.map(inherited);
  if (keys.length === 1) {
    const k = keys[0]!;
    return own[0] ? (root) => ownValue(root, k) : (root) => root[k];
  }
  if (keys.length === 2) {
    const [k0, k1] = keys as [string, string];
    const [o0, o1] = own as [boolean, boolean];
    return (root) => child(o0 ? ownValue(root, k0) : root[k0], k1, o1);
  }
  return (root) => {
    let value: unknown = own[0] ? ownValue(root, keys[0]!) : root[keys[0]!];
    for (let i = 1; i < keys.length; i++) value = child(value, keys[i]!, own[i]!);
    return value;
  };
}

const FAMILY_NAME: Record<Literal['kind'], string> = {
  string: 'a string',
  int: 'an integer',
  float: 'a decimal number',
  bool: 'a boolean',
  null: 'null',
  version: 'a version',
  'string-list': 'a list of strings',
  'int-list': 'a list of integers',
  'float-list': 'a list of decimal numbers',
};

/** The operators nikunjy rejects (ErrInvalidOperation) for each literal type, whatever the attribute holds. */
function isInvalidOperation(op: CompareOp, kind: Literal['kind']): boolean {
  switch (kind) {
    case 'null':
    case 'bool':
      return op !== 'eq' && op !== 'ne';
    case 'int':
    case 'float':
    case 'int-list':
    case 'float-list':
      return op === 'co' || op === 'sw' || op === 'ew';
    case 'version':
      return op === 'co' || op === 'sw' || op === 'ew' || op === 'in';
    case 'string':
    case 'string-list':
      return false;
  }
}

const FALSE: Test = () => false;

function isNumber(v: unknown): v is number {
  return typeof v === 'number';
}

function relational(op: CompareOp, cmp: (v: unknown) => number | undefined): Test {
  switch (op) {
    case 'lt':
      return (v) => {
        const c = cmp(v);
        return c !== undefined && c < 0;
      };
    case 'gt':
      return (v) => {
        const c = cmp(v);
        return c !== undefined && c > 0;
      };
    case 'le':
      return (v) => {
        const c = cmp(v);
        return c !== undefined && c <= 0;
      };
    case 'ge':
      return (v) => {
        const c = cmp(v);
        return c !== undefined && c >= 0;
      };
    case 'eq':
      return (v) => cmp(v) === 0;
    case 'ne':
      return (v) => {
        const c = cmp(v);
        return c !== undefined && c !== 0;
      };
    default:
      return FALSE;
  }
}

/** Go's int(x) for a float64 from the context: truncation toward zero. Non-finite values are not numbers in JSON. */
function toInt(v: unknown): number | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  return Math.trunc(v);
}

function stringTest(op: CompareOp, literal: string): Test {
  const lower = goLower(literal);
  switch (op) {
    case 'eq':
      return (v) => typeof v === 'string' && eqFold(v, lower);
    case 'ne':
      return (v) => typeof v === 'string' && !eqFold(v, lower);
    case 'co':
      return (v) => typeof v === 'string' && goLower(v).includes(lower);
    case 'sw':
      return (v) => typeof v === 'string' && startsWithFold(v, lower);
    case 'ew':
      return (v) => typeof v === 'string' && endsWithFold(v, lower);
    case 'in':
      return FALSE; // `in` needs a list
    default:
      return relational(op, (v) => (typeof v === 'string' ? compareCodePoints(goLower(v), lower) : undefined));
  }
}

function intTest(op: CompareOp, n: number | bigint): Test {
  if (op === 'in') return FALSE; // `in` needs a list
  if (typeof n === 'number') {
    switch (op) {
      case 'eq':
        return (v) => toInt(v) === n;
      case 'ne':
        return (v) => {
          const t = toInt(v);
          return t !== undefined && t !== n;
        };
      case 'lt':
        return (v) => {
          const t = toInt(v);
          return t !== undefined && t < n;
        };
      case 'gt':
        return (v) => {
          const t = toInt(v);
          return t !== undefined && t > n;
        };
      case 'le':
        return (v) => {
          const t = toInt(v);
          return t !== undefined && t <= n;
        };
      case 'ge':
        return (v) => {
          const t = toInt(v);
          return t !== undefined && t >= n;
        };
      default:
        return FALSE;
    }
  }
  // Outside the safe integer range: number-vs-bigint comparisons in JavaScript are exact.
  return relational(op, (v) => {
    const t = toInt(v);
    if (t === undefined) return undefined;
    return t < n ? -1 : t > n ? 1 : 0;
  });
}

function floatTest(op: CompareOp, f: number): Test {
  switch (op) {
    case 'eq':
      return (v) => isNumber(v) && v === f;
    case 'ne':
      return (v) => isNumber(v) && v !== f;
    case 'lt':
      return (v) => isNumber(v) && v < f;
    case 'gt':
      return (v) => isNumber(v) && v > f;
    case 'le':
      return (v) => isNumber(v) && v <= f;
    case 'ge':
      return (v) => isNumber(v) && v >= f;
    default:
      return FALSE;
  }
}

function literalTest(op: CompareOp, value: Literal): Test {
  switch (value.kind) {
    case 'string':
      return stringTest(op, value.value);
    case 'int':
      return intTest(op, value.value);
    case 'float':
      return floatTest(op, value.value);
    case 'bool': {
      const b = value.value;
      return op === 'eq' ? (v) => typeof v === 'boolean' && v === b : (v) => typeof v === 'boolean' && v !== b;
    }
    case 'null':
      return op === 'eq' ? (v) => v === undefined || v === null : (v) => v !== undefined && v !== null;
    case 'version': {
      const right = value.value;
      return relational(op, (v) => {
        if (typeof v !== 'string') return undefined;
        const left = parseSemverCached(v);
        return left ? compareSemver(left, right) : undefined;
      });
    }
    case 'string-list': {
      if (op !== 'in') return FALSE;
      const set = new Set(value.values); // `in` on strings is case-sensitive
      return (v) => typeof v === 'string' && set.has(v);
    }
    case 'int-list': {
      if (op !== 'in') return FALSE;
      const safe = new Set<number>();
      const big: bigint[] = [];
      for (const n of value.values) {
        if (typeof n === 'number') safe.add(n);
        else big.push(n);
      }
      // nikunjy asserts the attribute is a Go int: an integral number here.
      if (big.length === 0) return (v) => typeof v === 'number' && Number.isInteger(v) && safe.has(v);
      return (v) => typeof v === 'number' && Number.isInteger(v) && (safe.has(v) || big.some((b) => b == (v as unknown as bigint)));
    }
    case 'float-list': {
      if (op !== 'in') return FALSE;
      const set = new Set(value.values);
      return (v) => isNumber(v) && set.has(v);
    }
  }
}

function alwaysFalseReason(op: CompareOp, value: Literal): string | undefined {
  const list = value.kind === 'string-list' || value.kind === 'int-list' || value.kind === 'float-list';
  if (list && op !== 'in') return `"${op}" against a list is always false; did you mean "in"?`;
  if (!list && op === 'in' && (value.kind === 'string' || value.kind === 'int' || value.kind === 'float')) {
    return `"in" needs a list, e.g. [${printable(value)}]; this comparison is always false`;
  }
  return undefined;
}

function printable(value: Literal): string {
  return 'raw' in value ? value.raw : '';
}

function combine(op: 'and' | 'or', preds: Predicate[]): Predicate {
  if (op === 'and') {
    if (preds.length === 2) {
      const [a, b] = preds as [Predicate, Predicate];
      return (c) => a(c) && b(c);
    }
    if (preds.length === 3) {
      const [a, b, d] = preds as [Predicate, Predicate, Predicate];
      return (c) => a(c) && b(c) && d(c);
    }
    return (c) => {
      for (let i = 0; i < preds.length; i++) if (!preds[i]!(c)) return false;
      return true;
    };
  }
  if (preds.length === 2) {
    const [a, b] = preds as [Predicate, Predicate];
    return (c) => a(c) || b(c);
  }
  if (preds.length === 3) {
    const [a, b, d] = preds as [Predicate, Predicate, Predicate];
    return (c) => a(c) || b(c) || d(c);
  }
  return (c) => {
    for (let i = 0; i < preds.length; i++) if (preds[i]!(c)) return true;
    return false;
  };
}

export function buildEvaluator(root: QueryNode, segment: SegmentLookup): EvaluatorBuild {
  const failures: QueryRuntimeFailure[] = [];
  const alwaysFalse: { message: string; column: number }[] = [];

  const build = (node: QueryNode): Predicate => {
    switch (node.type) {
      case 'logical':
        return combine(node.op, node.operands.map(build));
      case 'not': {
        const inner = build(node.operand);
        return (c) => !inner(c);
      }
      case 'segment': {
        const compiled = segment(node.name);
        return (c) => compiled.matches(c);
      }
      case 'present': {
        const get = compilePath(node.path);
        return (c) => {
          const v = get(c);
          return v !== undefined && v !== null;
        };
      }
      case 'compare': {
        const get = compilePath(node.path);
        if (isInvalidOperation(node.op, node.value.kind)) {
          const failure = new QueryRuntimeFailure(
            `"${node.op}" cannot be used with ${FAMILY_NAME[node.value.kind]}` +
              (node.value.kind === 'null' || node.value.kind === 'bool' ? ' (only eq and ne can)' : ''),
            node.opColumn,
          );
          failures.push(failure);
          return (c) => {
            get(c); // nikunjy reads the path first: a path failure wins, with the same outcome
            throw failure;
          };
        }
        const reason = alwaysFalseReason(node.op, node.value);
        if (reason) alwaysFalse.push({ message: reason, column: node.opColumn });
        const test = literalTest(node.op, node.value);
        if (node.path.length === 1 && !inherited(node.path[0]!)) {
          const k = node.path[0]!;
          return (c) => test(c[k]);
        }
        return (c) => test(get(c));
      }
    }
  };

  return { predicate: build(root), failures, alwaysFalse };
}
