// Tokenizer for the nikunjy query dialect.
//
// GOFF requires exactly one space between tokens; we accept any whitespace (that changes no result for a query GOFF
// accepts). Inside string literals we mimic GOFF's query trimming (utils.StrTrim: split on "\n", strip leading spaces
// of each line, join with ""), so a string broken across lines has the same value as in GOFF.

import { QuerySyntaxError } from './ast.js';

export type Token =
  | { readonly kind: 'lparen' | 'rparen' | 'lbracket' | 'rbracket' | 'comma' | 'eof'; readonly start: number; readonly end: number }
  | { readonly kind: 'symop'; readonly text: string; readonly start: number; readonly end: number }
  /** A bare word or dotted path: `x`, `user.email`, `and`, `eq`, `true`. */
  | { readonly kind: 'word'; readonly segments: readonly string[]; readonly text: string; readonly start: number; readonly end: number }
  /** `value` is the text between the quotes, escapes kept as written (GOFF does not decode them). */
  | { readonly kind: 'string'; readonly value: string; readonly raw: string; readonly start: number; readonly end: number }
  | {
      readonly kind: 'number';
      readonly numberKind: 'int' | 'float' | 'version';
      readonly text: string;
      readonly start: number;
      readonly end: number;
    }
  | { readonly kind: 'segment'; readonly name: string; readonly start: number; readonly end: number };

const INT_RE = /^-?(?:0|[1-9][0-9]*)$/;
const FLOAT_RE = /^-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][+-]?(?:0|[1-9][0-9]*))?$/;
const INT_EXP_RE = /^-?(?:0|[1-9][0-9]*)[eE][+-]?[0-9]+$/;
// VALID_SEMVER from nikunjy's SemverGrammar.g4 (semver.org's BNF).
const PRE_ID = '(?:0|[1-9][0-9]*|[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*)';
const VERSION_RE = new RegExp(
  `^(?:0|[1-9][0-9]*)\\.(?:0|[1-9][0-9]*)\\.(?:0|[1-9][0-9]*)(?:-${PRE_ID}(?:\\.${PRE_ID})*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`,
);

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 /* _ */ || c === 36 /* $ */;
}
function isNameChar(c: number): boolean {
  return isNameStart(c) || isDigit(c) || c === 45 /* - */ || c === 58 /* : */;
}
function isSegmentNameChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || isDigit(c) || c === 95 || c === 58 || c === 46 || c === 45;
}
/** Characters that may continue a number or version; a run of them is classified as a whole. */
function isNumberRunChar(c: number): boolean {
  return isNameChar(c) || c === 46 /* . */ || c === 43 /* + */;
}

function show(ch: string): string {
  return JSON.stringify(ch);
}

const ESCAPABLE = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  let lastEnd = 0;
  while (true) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    const c = text.charCodeAt(i);
    const ch = text[i]!;
    if (ch === '(' || ch === ')' || ch === '[' || ch === ']' || ch === ',') {
      const kind = ch === '(' ? 'lparen' : ch === ')' ? 'rparen' : ch === '[' ? 'lbracket' : ch === ']' ? 'rbracket' : 'comma';
      tokens.push({ kind, start, end: i + 1 });
      i++;
    } else if (ch === '"') {
      i = readString(text, i, tokens);
    } else if (ch === '\\' && text[i + 1] === '"' && text.indexOf('\\"', i + 2) > 0) {
      // A JSON-escaped string pasted into a YAML plain scalar: key eq \"x\". GO Feature Flag still serves such a flag
      // (its relay testdata does); read it as the string it was meant to be.
      const close = text.indexOf('\\"', i + 2);
      const value = text.slice(i + 2, close);
      i = close + 2;
      tokens.push({ kind: 'string', value, raw: text.slice(start, i), start, end: i });
    } else if (isDigit(c) || (ch === '-' && i + 1 < n && isDigit(text.charCodeAt(i + 1)))) {
      i++;
      while (i < n && isNumberRunChar(text.charCodeAt(i))) i++;
      const run = text.slice(start, i);
      let numberKind: 'int' | 'float' | 'version';
      if (INT_RE.test(run)) numberKind = 'int';
      else if (FLOAT_RE.test(run)) numberKind = 'float';
      else if (VERSION_RE.test(run)) numberKind = 'version';
      else if (INT_EXP_RE.test(run)) {
        throw new QuerySyntaxError(
          `integer with an exponent "${run}" is not supported (GO Feature Flag rejects it); write the digits out or use a decimal such as 1.0e3`,
          start + 1,
        );
      } else if (/^-?0[0-9]/.test(run)) {
        throw new QuerySyntaxError(`invalid number "${run}": numbers must not have leading zeros`, start + 1);
      } else {
        const dots = run.split('.').length - 1;
        const what = dots >= 2 ? 'version' : 'number';
        throw new QuerySyntaxError(
          `invalid ${what} "${run}"` +
            (what === 'version' ? ' (expected MAJOR.MINOR.PATCH with optional -prerelease and +build, no leading zeros)' : ''),
          start + 1,
        );
      }
      tokens.push({ kind: 'number', numberKind, text: run, start, end: i });
    } else if (isNameStart(c)) {
      const segments: string[] = [];
      let segStart = i;
      i++;
      while (true) {
        while (i < n && isNameChar(text.charCodeAt(i))) i++;
        segments.push(text.slice(segStart, i));
        if (i < n && text.charCodeAt(i) === 46 /* . */) {
          if (i + 1 < n && isNameStart(text.charCodeAt(i + 1))) {
            i++;
            segStart = i;
            i++;
            continue;
          }
          throw new QuerySyntaxError(`expected an attribute name after "."`, i + 2);
        }
        break;
      }
      tokens.push({ kind: 'word', segments, text: text.slice(start, i), start, end: i });
    } else if (ch === '@') {
      i++;
      while (i < n && isSegmentNameChar(text.charCodeAt(i))) i++;
      if (i === start + 1) throw new QuerySyntaxError(`expected a segment name after "@"`, start + 1);
      tokens.push({ kind: 'segment', name: text.slice(start + 1, i), start, end: i });
    } else if (ch === '=' || ch === '!' || ch === '<' || ch === '>') {
      const next = text[i + 1];
      if (next === '=') {
        tokens.push({ kind: 'symop', text: ch + '=', start, end: i + 2 });
        i += 2;
      } else if (ch === '<' || ch === '>') {
        tokens.push({ kind: 'symop', text: ch, start, end: i + 1 });
        i++;
      } else if (ch === '=') {
        throw new QuerySyntaxError(`"=" is not an operator; use "eq" or "=="`, start + 1);
      } else {
        throw new QuerySyntaxError(`unexpected "!"; use "ne" or "!=", or not (…)`, start + 1);
      }
    } else {
      const cp = text.codePointAt(i)!;
      throw new QuerySyntaxError(`unexpected character ${show(String.fromCodePoint(cp))}`, start + 1);
    }
    lastEnd = i;
  }
  tokens.push({ kind: 'eof', start: lastEnd, end: lastEnd });
  return tokens;
}

/** Reads a string literal starting at the opening quote; returns the index after the closing quote. */
function readString(text: string, open: number, tokens: Token[]): number {
  const n = text.length;
  let i = open + 1;
  let value = '';
  // GOFF joins lines and drops each line's leading spaces before parsing; do the same inside strings.
  const skipLineBreaks = () => {
    while (i < n && text.charCodeAt(i) === 10) {
      i++;
      while (i < n && text.charCodeAt(i) === 32) i++;
    }
  };
  while (true) {
    skipLineBreaks();
    if (i >= n) throw new QuerySyntaxError('unterminated string', open + 1);
    const ch = text[i]!;
    if (ch === '"') {
      i++;
      break;
    }
    if (ch === '\\') {
      const escAt = i;
      i++;
      skipLineBreaks();
      if (i >= n) throw new QuerySyntaxError('unterminated string', open + 1);
      const e = text[i]!;
      if (ESCAPABLE.has(e)) {
        value += '\\' + e;
        i++;
      } else if (e === 'u') {
        let hex = '';
        i++;
        for (let k = 0; k < 4; k++) {
          skipLineBreaks();
          const h = text[i];
          if (h === undefined || !/[0-9a-fA-F]/.test(h)) {
            throw new QuerySyntaxError(`invalid escape in string: "\\u" needs four hexadecimal digits`, escAt + 1);
          }
          hex += h;
          i++;
        }
        value += '\\u' + hex;
      } else {
        throw new QuerySyntaxError(
          `invalid escape "\\${e}" in string (allowed: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, kept as written)`,
          escAt + 1,
        );
      }
      continue;
    }
    value += ch;
    i++;
  }
  tokens.push({ kind: 'string', value, raw: text.slice(open, i), start: open, end: i });
  return i;
}
