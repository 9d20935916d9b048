// Syntax tree of a nikunjy query. Columns are 1-based offsets into the original query text.

import type { Semver } from './semver.js';

export type CompareOp = 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge' | 'co' | 'sw' | 'ew' | 'in';

/** The literal on the right of a comparison; its type picks the operator family, as in nikunjy. */
export type Literal =
  | { readonly kind: 'string'; readonly value: string; readonly raw: string }
  /** bigint only when the value is outside JavaScript's safe integer range (it is always within int64). */
  | { readonly kind: 'int'; readonly value: number | bigint; readonly raw: string }
  | { readonly kind: 'float'; readonly value: number; readonly raw: string }
  | { readonly kind: 'bool'; readonly value: boolean; readonly raw: string }
  | { readonly kind: 'null'; readonly raw: string }
  | { readonly kind: 'version'; readonly value: Semver; readonly raw: string }
  | { readonly kind: 'string-list'; readonly values: readonly string[]; readonly raws: readonly string[] }
  | { readonly kind: 'int-list'; readonly values: readonly (number | bigint)[]; readonly raws: readonly string[] }
  | { readonly kind: 'float-list'; readonly values: readonly number[]; readonly raws: readonly string[] };

export type QueryNode =
  | {
      readonly type: 'logical';
      readonly op: 'and' | 'or';
      /** Two or more operands, evaluated left to right with short-circuit. */
      readonly operands: readonly QueryNode[];
      readonly column: number;
    }
  | { readonly type: 'not'; readonly operand: QueryNode; readonly column: number }
  | { readonly type: 'present'; readonly path: readonly string[]; readonly column: number }
  | {
      readonly type: 'compare';
      readonly path: readonly string[];
      readonly op: CompareOp;
      /** Column of the operator token. */
      readonly opColumn: number;
      readonly value: Literal;
      readonly column: number;
    }
  | { readonly type: 'segment'; readonly name: string; readonly column: number };

export interface QueryDiagnosticInternal {
  message: string;
  column: number;
}

/** Thrown by the lexer and parser; caught in compileQuery. */
export class QuerySyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}
