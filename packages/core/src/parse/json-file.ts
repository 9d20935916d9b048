// JSON flag files without the YAML parser: JSON.parse for the data, and a small scanner over the (valid) text for the
// line and column of a field, needed only when a problem is reported. Loaded by the light entry point
// (`@vexil/core/json`), so a JSON snapshot never pulls in YAML code.
import type { Problem } from '../model/problem.js';
import { describeType } from '../model/describe.js';
import type { FieldPath, Locate, RawFlagFile, SourcePosition } from './flag-file.js';

const noLocation: Locate = () => undefined;

/** Parses a JSON flag file into plain data, with a locator for error positions. Never throws. */
export function readJsonFlagFile(text: string, source: string | undefined): RawFlagFile {
  let data: unknown;
  try {
    data = text.trim() === '' ? {} : JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at = /position (\d+)/.exec(message);
    const offset = at ? Number(at[1]) : jsonErrorOffset(text);
    const pos = offset !== undefined ? offsetToPosition(text, offset) : undefined;
    const problem: Problem = { severity: 'error', source, ...pos, message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}` };
    return { data: undefined, locate: noLocation, problems: [problem] };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    const problem: Problem = {
      severity: 'error',
      source,
      line: 1,
      column: 1,
      message: `a json flag file must be a map of flag keys to flags, not ${describeType(data)}`,
    };
    // `null` holds no flags, but is not a flag file either (as the full reader sees it): nothing to load, no message.
    return { data: undefined, locate: noLocation, problems: data === null ? [] : [problem] };
  }
  return { data: data as Record<string, unknown>, locate: (path) => locateInJson(text, path), problems: [] };
}

/** Where a field sits in valid JSON text: the key that names it (or the list item), as deep as the path exists. */
export function locateInJson(text: string, path: FieldPath): SourcePosition | undefined {
  const n = text.length;
  let i = 0;
  const ws = () => {
    while (i < n && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const skipString = () => {
    i++;
    while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    ws();
    const ch = text[i];
    if (ch === '"') return skipString();
    if (ch === '{' || ch === '[') {
      let depth = 0;
      while (i < n) {
        const c = text[i]!;
        if (c === '"') {
          skipString();
          continue;
        }
        if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') {
          depth--;
          if (depth === 0) return void i++;
        }
        i++;
      }
      return;
    }
    while (i < n && !',}] \t\n\r'.includes(text[i]!)) i++;
  };
  ws();
  let best = i;
  for (const segment of path) {
    ws();
    let found = false;
    if (text[i] === '{') {
      i++;
      for (;;) {
        ws();
        if (text[i] !== '"') break;
        const keyStart = i;
        skipString();
        const key = JSON.parse(text.slice(keyStart, i)) as string;
        ws();
        i++; // ':'
        if (key === String(segment)) {
          best = keyStart;
          found = true;
          break;
        }
        skipValue();
        ws();
        if (text[i] !== ',') break;
        i++;
      }
    } else if (text[i] === '[' && typeof segment === 'number') {
      i++;
      for (let index = 0; ; index++) {
        ws();
        if (text[i] === ']') break;
        if (index === segment) {
          best = i;
          found = true;
          break;
        }
        skipValue();
        ws();
        if (text[i] !== ',') break;
        i++;
      }
    }
    if (!found) break;
  }
  return best < n ? offsetToPosition(text, best) : undefined;
}

/**
 * Where JSON text stops being valid. V8 names the offset for some errors only ("Unexpected token '}'" has none), and a
 * user needs the line and column every time.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string) => {
    for (const ch of word) if (text[i++] !== ch) (i--, fail());
  };
  const string = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === '\\') i++;
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!match) fail();
    i += match![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    return number();
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (offset) {
    return typeof offset === 'number' ? Math.min(offset, text.length) : undefined;
  }
}

export function offsetToPosition(text: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
