import type { FlagDefinition, Problem, SegmentDefinition } from '@vexil/core';
import { SEGMENTS_KEY } from '@vexil/core';
import type { StoredFlag } from '../types.js';
import { readStoredSegments, storedFlagChecker } from '../validation.js';
import { int, iso, type StoredFlagCheck } from './records.js';

/** A flag row as the SQL stores read it: the definition as stored text. */
export interface FlagRowText {
  key: string;
  definition: string;
  version: number | string;
  revision: number | string;
  updated_at: Date | string;
  updated_by: string;
}

/**
 * Reads stored flags and segments back, checking each with the core: a malformed row becomes problems naming its
 * source, never a crash. Remembers the definitions (as stored text) that passed with the current segments, so listing
 * an unchanged store again skips validation (it dominates the cost of `list()`).
 */
export class StoredFlagReader {
  readonly #valid = new Map<string, string>();
  #validSignature = '';

  constructor(
    /** Where a flag row comes from, for messages (`pglite vexil.flags["key"]`). */
    private readonly source: (key: string) => string,
    /** Where the segments come from, for messages. */
    private readonly segmentsSource: string,
  ) {}

  segments(rows: { name: string; definition: string }[]): { segments: Record<string, SegmentDefinition>; problems: Problem[] } {
    const raw: Record<string, unknown> = {};
    const problems: Problem[] = [];
    for (const row of rows) {
      try {
        raw[row.name] = JSON.parse(row.definition);
      } catch {
        problems.push({ severity: 'error', source: this.segmentsSource, path: `${SEGMENTS_KEY}.${row.name}`, message: 'stored segment is not JSON' });
      }
    }
    const read = readStoredSegments(raw, this.segmentsSource);
    return { segments: read.segments, problems: [...problems, ...read.problems] };
  }

  checker(segments: Record<string, SegmentDefinition>, segmentRows: { name: string; definition: string }[]): StoredFlagCheck {
    const signature = JSON.stringify(segmentRows);
    if (signature !== this.#validSignature) {
      this.#valid.clear();
      this.#validSignature = signature;
    }
    const check = storedFlagChecker(segments, this.source);
    return (key, raw, text) => {
      if (this.#valid.get(key) === text) return { ok: true, flag: raw as FlagDefinition };
      const result = check(key, raw);
      if (result.ok) this.#valid.set(key, text);
      else this.#valid.delete(key);
      return result;
    };
  }

  flag(row: FlagRowText, check: StoredFlagCheck): StoredFlag | Problem[] {
    let raw: unknown;
    try {
      raw = JSON.parse(row.definition);
    } catch (error) {
      return [{ severity: 'error', source: this.source(row.key), flagKey: row.key, message: `stored definition is not JSON: ${(error as Error).message}` }];
    }
    const result = check(row.key, raw, row.definition);
    if (!result.ok) return result.problems;
    return { key: row.key, flag: result.flag, version: int(row.version), revision: int(row.revision), updatedAt: iso(row.updated_at), updatedBy: row.updated_by };
  }

  /** Forgets remembered definitions of keys no longer stored (after a full listing). */
  keepOnly(rows: { key: string }[]): void {
    if (this.#valid.size <= rows.length) return;
    const present = new Set(rows.map((row) => row.key));
    for (const key of this.#valid.keys()) if (!present.has(key)) this.#valid.delete(key);
  }
}
