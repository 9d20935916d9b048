// Recursive-descent parser for the nikunjy dialect, as GOFF uses it.
//
//   query     := condition (("and" | "or") condition)*       one precedence level, grouped left to right
//   condition := "(" query ")" | "not" "(" query ")" | "not" @segment | @segment
//              | path "pr" | path OP value
//   value     := string | int | float | version | true | false | null | "[" items "]"
//
// Keywords: comparison operators in lower or upper case (eq/EQ, as nikunjy), "and"/"or"/"not"/"pr" in lower or upper
// case (GOFF: lower only, "NOT" too). In the attribute position any word is an attribute name, so `AND eq 1` tests an
// attribute called AND, as in GOFF.

import { QuerySyntaxError, type CompareOp, type Literal, type QueryNode, type QueryDiagnosticInternal } from './ast.js';
import { tokenize, type Token } from './lexer.js';
import { parseSemver } from './semver.js';
import { printQuery } from './printer.js';

const WORD_OPS: Record<string, CompareOp> = {
  eq: 'eq', ne: 'ne', lt: 'lt', gt: 'gt', le: 'le', ge: 'ge', co: 'co', sw: 'sw', ew: 'ew', in: 'in',
};
const SYMBOLIC_OPS: Record<string, CompareOp> = { '==': 'eq', '!=': 'ne', '<': 'lt', '>': 'gt', '<=': 'le', '>=': 'ge' };
const MAX_DEPTH = 200;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A keyword written in all lower or all upper case. */
function keyword(tok: Token, word: string): boolean {
  return tok.kind === 'word' && tok.segments.length === 1 && (tok.text === word || tok.text === word.toUpperCase());
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'eof':
      return 'end of query';
    case 'lparen':
      return '"("';
    case 'rparen':
      return '")"';
    case 'lbracket':
      return '"["';
    case 'rbracket':
      return '"]"';
    case 'comma':
      return '","';
    case 'symop':
    case 'word':
    case 'number':
      return JSON.stringify(tok.text);
    case 'string':
      return `string ${tok.raw}`;
    case 'segment':
      return `"@${tok.name}"`;
  }
}

export interface ParseResult {
  root: QueryNode;
  warnings: QueryDiagnosticInternal[];
}

export function parseNikunjy(text: string): ParseResult {
  return new Parser(text).parse();
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  private depth = 0;
  readonly warnings: QueryDiagnosticInternal[] = [];

  constructor(text: string) {
    this.tokens = tokenize(text);
  }

  parse(): ParseResult {
    const root = this.parseQuery();
    const tok = this.peek();
    if (tok.kind !== 'eof') {
      if (tok.kind === 'rparen') throw new QuerySyntaxError('unexpected ")"', tok.start + 1);
      throw this.unexpectedAfterCondition(tok, '"and" or "or"');
    }
    return { root, warnings: this.warnings };
  }

  private unexpectedAfterCondition(tok: Token, expected: string): QuerySyntaxError {
    if (tok.kind === 'word' && tok.segments.length === 1) {
      const lower = tok.text.toLowerCase();
      if (lower === 'and' || lower === 'or') {
        return new QuerySyntaxError(`write "${lower}" in lower or upper case (${lower} or ${lower.toUpperCase()})`, tok.start + 1);
      }
    }
    return new QuerySyntaxError(`expected ${expected} before ${describe(tok)}`, tok.start + 1);
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const tok = this.peek();
    if (tok.kind !== 'eof') this.pos++;
    return tok;
  }

  private parseQuery(): QueryNode {
    if (++this.depth > MAX_DEPTH) throw new QuerySyntaxError('query nests parentheses too deeply', this.peek().start + 1);
    const first = this.parseCondition();
    let current: QueryNode = first;
    let mixedAt = 0;
    // Operands of the chain being built at this level: `a and b and c` becomes one node with three operands.
    let chain: QueryNode[] | undefined;
    let previousOp: 'and' | 'or' | undefined;
    while (true) {
      const tok = this.peek();
      const op = keyword(tok, 'and') ? 'and' : keyword(tok, 'or') ? 'or' : undefined;
      if (!op) break;
      this.next();
      if (previousOp && previousOp !== op && mixedAt === 0) mixedAt = tok.start + 1;
      const right = this.parseCondition();
      if (chain && previousOp === op) {
        chain.push(right);
      } else {
        chain = [current, right];
        current = { type: 'logical', op, operands: chain, column: current.column };
      }
      previousOp = op;
    }
    if (mixedAt !== 0) {
      this.warnings.push({
        message: `mixes "and" and "or" without parentheses; they group left to right: ${printQuery(current, { explicit: true })}`,
        column: mixedAt,
      });
    }
    this.depth--;
    return current;
  }

  private parseCondition(): QueryNode {
    const tok = this.peek();
    if (tok.kind === 'lparen') {
      this.next();
      const inner = this.parseQuery();
      this.expectClose(tok);
      return inner;
    }
    if (keyword(tok, 'not')) {
      const after = this.peek(1);
      if (after.kind === 'lparen') {
        this.next();
        this.next();
        const inner = this.parseQuery();
        this.expectClose(after);
        return { type: 'not', operand: inner, column: tok.start + 1 };
      }
      if (after.kind === 'segment') {
        this.next();
        this.next();
        return { type: 'not', operand: { type: 'segment', name: after.name, column: after.start + 1 }, column: tok.start + 1 };
      }
      if (after.kind !== 'symop' && !(after.kind === 'word' && isOperatorWord(after))) {
        throw new QuerySyntaxError(`"${(tok as Extract<Token, { kind: 'word' }>).text}" must be followed by a parenthesised condition: not (…)`, after.start + 1);
      }
      // Otherwise "not" is an attribute name (`not eq 1`); GOFF rejects that, we read it as a path.
    }
    if (tok.kind === 'segment') {
      this.next();
      return { type: 'segment', name: tok.name, column: tok.start + 1 };
    }
    if (tok.kind === 'word') {
      this.next();
      return this.parseComparison(tok);
    }
    if (tok.kind === 'eof') throw new QuerySyntaxError('unexpected end of query: expected a condition', tok.start + 1);
    if (tok.kind === 'rparen') throw new QuerySyntaxError('unexpected ")"', tok.start + 1);
    throw new QuerySyntaxError(`expected a condition (an attribute, "(" or "not"), found ${describe(tok)}`, tok.start + 1);
  }

  private expectClose(open: Token): void {
    const tok = this.peek();
    if (tok.kind === 'rparen') {
      this.next();
      return;
    }
    if (tok.kind === 'eof') {
      throw new QuerySyntaxError(`missing ")" to close "(" at column ${open.start + 1}`, tok.start + 1);
    }
    throw this.unexpectedAfterCondition(tok, '"and", "or" or ")"');
  }

  private parseComparison(pathTok: Extract<Token, { kind: 'word' }>): QueryNode {
    const path = pathTok.segments;
    const column = pathTok.start + 1;
    const tok = this.peek();
    if (keyword(tok, 'pr')) {
      this.next();
      return { type: 'present', path, column };
    }
    let op: CompareOp | undefined;
    let opText = '';
    if (tok.kind === 'symop') {
      op = SYMBOLIC_OPS[tok.text];
      opText = tok.text;
    } else if (tok.kind === 'word' && tok.segments.length === 1) {
      const lower = tok.text.toLowerCase();
      const known = Object.prototype.hasOwnProperty.call(WORD_OPS, lower) ? WORD_OPS[lower] : undefined;
      if (known && (tok.text === lower || tok.text === lower.toUpperCase())) {
        op = known;
        opText = tok.text;
      } else if (known || lower === 'pr') {
        throw new QuerySyntaxError(
          `operator ${JSON.stringify(tok.text)} must be written in lower or upper case (${lower} or ${lower.toUpperCase()})`,
          tok.start + 1,
        );
      }
    }
    if (!op) {
      const found = tok.kind === 'eof' ? '' : `, found ${describe(tok)}`;
      throw new QuerySyntaxError(
        `expected an operator after ${JSON.stringify(pathTok.text)} (eq ne lt gt le ge co sw ew in pr == != < > <= >=)${found}`,
        tok.start + 1,
      );
    }
    this.next();
    const value = this.parseValue(opText, tok);
    return { type: 'compare', path, op, opColumn: tok.start + 1, value, column };
  }

  private parseValue(opText: string, opTok: Token): Literal {
    const tok = this.peek();
    switch (tok.kind) {
      case 'string':
        this.next();
        return { kind: 'string', value: tok.value, raw: tok.raw };
      case 'number':
        this.next();
        return numberLiteral(tok);
      case 'word':
        if (tok.text === 'true' || tok.text === 'false') {
          this.next();
          return { kind: 'bool', value: tok.text === 'true', raw: tok.text };
        }
        if (tok.text === 'null') {
          this.next();
          return { kind: 'null', raw: tok.text };
        }
        throw new QuerySyntaxError(
          `expected a value after ${JSON.stringify(opText)}, found ${describe(tok)} (strings need double quotes; true, false and null are lower case)`,
          tok.start + 1,
        );
      case 'lbracket':
        this.next();
        return this.parseList(tok);
      case 'eof':
        throw new QuerySyntaxError(`expected a value after ${JSON.stringify(opText)}`, Math.max(tok.start, opTok.end) + 1);
      default:
        throw new QuerySyntaxError(`expected a value after ${JSON.stringify(opText)}, found ${describe(tok)}`, tok.start + 1);
    }
  }

  private parseList(open: Token): Literal {
    if (this.peek().kind === 'rbracket') throw new QuerySyntaxError('a list needs at least one value', this.peek().start + 1);
    let kind: 'string' | 'int' | 'float' | undefined;
    const strings: string[] = [];
    const numbers: (number | bigint)[] = [];
    const raws: string[] = [];
    while (true) {
      const tok = this.next();
      let itemKind: 'string' | 'int' | 'float';
      if (tok.kind === 'string') {
        itemKind = 'string';
        strings.push(tok.value);
        raws.push(tok.raw);
      } else if (tok.kind === 'number' && tok.numberKind !== 'version') {
        const lit = numberLiteral(tok);
        itemKind = lit.kind === 'int' ? 'int' : 'float';
        numbers.push((lit as { value: number | bigint }).value);
        raws.push(tok.text);
      } else if (tok.kind === 'eof') {
        throw new QuerySyntaxError(`missing "]" to close "[" at column ${open.start + 1}`, tok.start + 1);
      } else {
        throw new QuerySyntaxError(`a list may only hold strings or numbers, found ${describe(tok)}`, tok.start + 1);
      }
      if (kind === undefined) kind = itemKind;
      else if (kind !== itemKind) {
        const name = { string: 'strings', int: 'integers', float: 'decimal numbers' };
        throw new QuerySyntaxError(
          `a list must hold only strings, only integers or only decimal numbers; this list mixes ${name[kind]} and ${name[itemKind]}`,
          tok.start + 1,
        );
      }
      const sep = this.next();
      if (sep.kind === 'rbracket') break;
      if (sep.kind === 'comma') continue;
      if (sep.kind === 'eof') throw new QuerySyntaxError(`missing "]" to close "[" at column ${open.start + 1}`, sep.start + 1);
      throw new QuerySyntaxError(`expected "," or "]" in the list, found ${describe(sep)}`, sep.start + 1);
    }
    if (kind === 'string') return { kind: 'string-list', values: strings, raws };
    if (kind === 'int') return { kind: 'int-list', values: numbers, raws };
    return { kind: 'float-list', values: numbers as number[], raws };
  }
}

function isOperatorWord(tok: Extract<Token, { kind: 'word' }>): boolean {
  if (tok.segments.length !== 1) return false;
  const lower = tok.text.toLowerCase();
  return lower === 'pr' || Object.prototype.hasOwnProperty.call(WORD_OPS, lower);
}

function numberLiteral(tok: Extract<Token, { kind: 'number' }>): Literal {
  const text = tok.text;
  if (tok.numberKind === 'int') {
    const big = BigInt(text);
    if (big < INT64_MIN || big > INT64_MAX) {
      throw new QuerySyntaxError(`integer ${text} is out of range (64-bit signed)`, tok.start + 1);
    }
    const asNumber = Number(text);
    return { kind: 'int', value: Number.isSafeInteger(asNumber) ? asNumber : big, raw: text };
  }
  if (tok.numberKind === 'float') {
    const value = Number(text);
    if (!Number.isFinite(value)) throw new QuerySyntaxError(`number ${text} is out of range`, tok.start + 1);
    return { kind: 'float', value, raw: text };
  }
  const version = parseSemver(text);
  if (!version) throw new QuerySyntaxError(`version ${text} is out of range (each number must fit in 64 bits)`, tok.start + 1);
  return { kind: 'version', value: version, raw: text };
}

/** Names referenced with `@name`, in order of first appearance; tolerant of syntax errors. */
export function collectSegmentReferences(text: string): string[] {
  const names: string[] = [];
  let tokens: Token[];
  try {
    tokens = tokenize(text);
  } catch {
    // Fall back to a plain scan that skips string literals.
    return scanSegmentReferences(text);
  }
  for (const tok of tokens) if (tok.kind === 'segment' && !names.includes(tok.name)) names.push(tok.name);
  return names;
}

function scanSegmentReferences(text: string): string[] {
  const names: string[] = [];
  const re = /"(?:\\.|[^"\\])*"?|@([A-Za-z0-9_:.-]+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1];
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names;
}
