import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, visit as visitYaml, type Node as YamlNode } from 'yaml';
import { parse as parseToml, TomlError } from 'smol-toml';
import * as jsYaml from 'js-yaml';
import { load as loadYaml, FAILSAFE_SCHEMA, Type as YamlType, YAMLException } from 'js-yaml';

type TaggedType = YamlType & { tag: string };
// js-yaml exports its built-in scalar types, but its type definitions do not declare them.
const yamlTypes = (jsYaml as unknown as { types: Record<'null' | 'bool' | 'int' | 'float' | 'merge', TaggedType> }).types;
import type { Problem } from '../model/problem.js';
import { describeType } from '../model/describe.js';
import { checkYamlAliases } from './yaml-aliases.js';
import { unwrapSnapshotDocument } from './snapshot-document.js';
import { jsonErrorOffset, offsetToPosition } from './json-file.js';

export { jsonErrorOffset } from './json-file.js';

export type FlagFileFormat = 'yaml' | 'json' | 'toml';

export type FieldPath = ReadonlyArray<string | number>;

export interface SourcePosition {
  line: number;
  column: number;
}

/** Finds where a field sits in the source text. Built lazily: positions are only needed when something is wrong. */
export type Locate = (path: FieldPath) => SourcePosition | undefined;

export interface RawFlagFile {
  /** The top-level map (flag key → raw flag), or undefined when the text did not parse. */
  data: Record<string, unknown> | undefined;
  locate: Locate;
  problems: Problem[];
}

export { detectFormat } from './read.js';

const noLocation: Locate = () => undefined;

/**
 * Parses the text of a flag file into plain data, with a locator for error positions. Never throws. A snapshot
 * document (what `vexil export` writes) reads as the flag file it holds.
 */
export function readFlagFile(text: string, format: FlagFileFormat, source?: string): RawFlagFile {
  return unwrapSnapshotDocument(readFormat(text, format, source), source);
}

function readFormat(text: string, format: FlagFileFormat, source?: string): RawFlagFile {
  try {
    switch (format) {
      case 'json':
        return readJson(text, source);
      case 'toml':
        return readToml(text, source);
      default:
        return readYaml(text, source);
    }
  } catch (error) {
    return {
      data: undefined,
      locate: noLocation,
      problems: [{ severity: 'error', source, message: `cannot parse ${format}: ${errorText(error)}` }],
    };
  }
}

function topLevel(value: unknown, format: FlagFileFormat, source: string | undefined): RawFlagFile['problems'] {
  if (value === null || value === undefined) return []; // an empty file holds no flags
  if (typeof value !== 'object' || Array.isArray(value)) {
    return [
      {
        severity: 'error',
        source,
        line: 1,
        column: 1,
        message: `a ${format} flag file must be a map of flag keys to flags, not ${describeType(value)}`,
      },
    ];
  }
  return [];
}

/**
 * A YAML scalar that resolved to a bool or a number, with its source text. As a mapping key it must stay the text the
 * user wrote (a variation named `True` or `1.0`, as GO Feature Flag keeps it); as a value it becomes the bool or number.
 */
class ResolvedScalar {
  constructor(
    readonly value: unknown,
    readonly text: string,
  ) {}
  toString(): string {
    return this.text;
  }
  // js-yaml turns plain objects used as keys into "[object Object]"; a tag of our own makes it call toString().
  get [Symbol.toStringTag](): string {
    return 'ResolvedScalar';
  }
}

function keepingText(base: TaggedType): YamlType {
  return new YamlType(base.tag, {
    kind: 'scalar',
    resolve: (data: string) => base.resolve(data),
    construct: (data: string) => new ResolvedScalar(base.construct(data), data),
  });
}

/**
 * YAML 1.2 core schema (no timestamps: dates stay RFC 3339 strings), keys kept as written, and `<<` merge keys, which
 * GO Feature Flag's YAML decoder (yaml.v3) applies: flags sharing fields through an anchor (`<<: *base`).
 */
const YAML_DATA_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [yamlTypes.null, keepingText(yamlTypes.bool), keepingText(yamlTypes.int), keepingText(yamlTypes.float), yamlTypes.merge],
});

/**
 * Replaces each ResolvedScalar by its value, in place. With `seen` (the text may hold aliases), a node shared through
 * aliases is visited once.
 */
function unwrapScalars(value: unknown, seen?: Set<object>): unknown {
  if (value instanceof ResolvedScalar) return value.value;
  if (value === null || typeof value !== 'object') return value;
  if (seen) {
    if (seen.has(value)) return value;
    seen.add(value);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = unwrapScalars(value[i], seen);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = unwrapScalars(record[key], seen);
  return value;
}

const ALIAS_TOKEN = /(?:^|[\s[{,])\*[^\s,[\]{}]/m;

/** Where the first alias of a YAML text is, for a problem about aliases. */
function firstAlias(text: string): SourcePosition | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
  let offset: number | undefined;
  visitYaml(doc, {
    Alias(_, node) {
      offset = node.range?.[0];
      return visitYaml.BREAK;
    },
  });
  if (offset === undefined) return undefined;
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/**
 * YAML is read twice over only when needed: js-yaml builds the data fast (a 10,000-flag file in well under a second,
 * where the positioned parser takes seconds), and the `yaml` package builds a positioned document lazily, when a
 * problem must name its line.
 */
function readYaml(text: string, source: string | undefined): RawFlagFile {
  // Every alias is a `*name` token after a space, a line start or `[ { ,`: a text without one (most files, and a "*"
  // inside a quoted query or a comment) skips the alias checks.
  const mayHaveAliases = ALIAS_TOKEN.test(text);
  let data: unknown;
  try {
    data = unwrapScalars(loadYaml(text, { schema: YAML_DATA_SCHEMA, json: false }), mayHaveAliases ? new Set() : undefined);
  } catch (error) {
    if (!(error instanceof YAMLException)) throw error;
    const mark = (error as YAMLException & { mark?: { line: number; column: number } }).mark;
    return {
      data: undefined,
      locate: noLocation,
      problems: [
        {
          severity: 'error',
          source,
          ...(mark ? { line: mark.line + 1, column: mark.column + 1 } : {}),
          message: firstLine((error as YAMLException & { reason?: string }).reason ?? error.message),
        },
      ],
    };
  }
  const aliases = mayHaveAliases ? checkYamlAliases(data, text.length) : undefined;
  if (aliases && !aliases.ok) {
    return { data: undefined, locate: noLocation, problems: [{ severity: 'error', source, ...firstAlias(text), message: aliases.message }] };
  }
  const problems = topLevel(data, 'yaml', source);
  let locator: Locate | undefined;
  const locate: Locate = (path) => {
    if (!locator) {
      const lineCounter = new LineCounter();
      const doc = parseDocument(text, { lineCounter, uniqueKeys: false, schema: 'core', stringKeys: true });
      locator = (p) => locateInYaml(doc.contents as YamlNode | null, p, lineCounter);
    }
    return locator(path);
  };
  return { data: problems.length ? undefined : ((data ?? {}) as Record<string, unknown>), locate, problems };
}

function locateInYaml(root: YamlNode | null, path: FieldPath, lineCounter: LineCounter): SourcePosition | undefined {
  let node: unknown = root;
  let best: [number, number, number] | undefined = (root as { range?: [number, number, number] } | null)?.range;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      const keyRange = (pair.key as { range?: [number, number, number] }).range;
      if (keyRange) best = keyRange;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as { range?: [number, number, number] } | undefined;
      if (!item) break;
      if (item.range) best = item.range;
      node = item;
    } else {
      break;
    }
  }
  if (!best) return undefined;
  const pos = lineCounter.linePos(best[0]);
  return { line: pos.line, column: pos.col };
}

function readJson(text: string, source: string | undefined): RawFlagFile {
  let data: unknown;
  try {
    data = text.trim() === '' ? {} : JSON.parse(text);
  } catch (error) {
    const message = errorText(error);
    const at = /position (\d+)/.exec(message);
    const offset = at ? Number(at[1]) : jsonErrorOffset(text);
    const pos = offset !== undefined ? offsetToPosition(text, offset) : undefined;
    return {
      data: undefined,
      locate: noLocation,
      problems: [{ severity: 'error', source, ...pos, message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}` }],
    };
  }
  const problems = topLevel(data, 'json', source);
  // JSON is a subset of YAML 1.2, so the YAML parser gives us positions, but only when a problem needs one.
  let locator: Locate | undefined;
  const locate: Locate = (path) => {
    if (!locator) {
      const lineCounter = new LineCounter();
      const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
      locator = doc.errors.length ? noLocation : (p) => locateInYaml(doc.contents as YamlNode | null, p, lineCounter);
    }
    // A document the YAML parser gives up on (nested too deep) still gets its flags' lines.
    return locator(path) ?? (path.length === 1 ? locateJsonKey(text, String(path[0])) : undefined);
  };
  return { data: problems.length ? undefined : (data as Record<string, unknown>), locate, problems };
}

/** Where a top-level key of a JSON document is written (its first occurrence as a key). */
function locateJsonKey(text: string, key: string): SourcePosition | undefined {
  const match = new RegExp(`${JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`).exec(text);
  return match ? offsetToPosition(text, match.index) : undefined;
}

function readToml(text: string, source: string | undefined): RawFlagFile {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      return {
        data: undefined,
        locate: noLocation,
        problems: [{ severity: 'error', source, line: error.line, column: error.column, message: firstLine(error.message) }],
      };
    }
    throw error;
  }
  data = datesToStrings(data);
  const lines = text.split('\n');
  return { data: data as Record<string, unknown>, locate: (path) => locateInToml(lines, path), problems: [] };
}

/** TOML has native datetimes; the flag model (like GO Feature Flag's JSON) uses RFC 3339 strings. */
function datesToStrings(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (Array.isArray(value)) return value.map(datesToStrings);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = datesToStrings(inner);
    return out;
  }
  return value;
}

/**
 * TOML positions, approximately: the line of the flag's table header, then the first later line that names the
 * deepest field. smol-toml keeps no positions, and an exact line for the flag and field is what a user needs.
 */
function locateInToml(lines: string[], path: FieldPath): SourcePosition | undefined {
  const [flagKey, ...rest] = path;
  if (flagKey === undefined) return undefined;
  const quoted = `"${String(flagKey)}"`;
  const bare = String(flagKey);
  const headerLine = lines.findIndex((line) => {
    const trimmed = line.trim();
    const inner = trimmed.replace(/^\[\[?\s*/, '');
    return trimmed.startsWith('[') && (inner.startsWith(bare + ']') || inner.startsWith(bare + '.') || inner.startsWith(quoted));
  });
  if (headerLine < 0) return undefined;
  let found = headerLine;
  const names = rest.filter((segment): segment is string => typeof segment === 'string');
  for (const name of names) {
    const pattern = new RegExp(`(^\\s*"?${escapeRegExp(name)}"?\\s*=)|([.\\[]"?${escapeRegExp(name)}"?[\\].])`);
    const next = lines.findIndex((line, index) => index > found && pattern.test(line));
    if (next < 0) break;
    found = next;
  }
  const line = lines[found] ?? '';
  return { line: found + 1, column: line.length - line.trimStart().length + 1 };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
