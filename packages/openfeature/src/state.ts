import { compileFlagSet, segmentReferences, type FlagDefinition, type SegmentDefinition, type Snapshot } from '@vexil/core/json';
import { canonicalJson } from '@vexil/core/json';
import type { FlagData } from './snapshot-file.js';

/** A change as the server's stream and the store's change feed describe it. */
export type FlagChange =
  | { type: 'put'; key: string; flag: FlagDefinition; version?: number; revision: number }
  | { type: 'delete'; key: string; revision: number }
  | { type: 'segments'; segments: Record<string, SegmentDefinition>; revision: number };

/**
 * The flags the provider serves: definitions as received, and the compiled snapshot `evaluate()` reads. Every update
 * builds a new immutable snapshot and swaps it in; an evaluation running meanwhile keeps the one it started with.
 */
export class FlagState {
  private data: FlagData = { flags: {}, segments: {}, revision: -1, versions: {} };
  /** Canonical JSON of each definition, to tell which flags really changed. */
  private fingerprints = new Map<string, string>();
  private compiled: Snapshot | undefined;

  get snapshot(): Snapshot | undefined {
    return this.compiled;
  }

  get revision(): number {
    return this.data.revision;
  }

  get flagData(): FlagData {
    return this.data;
  }

  /** Replaces everything; returns the keys that were added, removed or changed (empty on first load). */
  replace(next: FlagData): string[] {
    const first = this.compiled === undefined;
    const fingerprints = new Map<string, string>();
    for (const [key, flag] of Object.entries(next.flags)) fingerprints.set(key, canonicalJson(flag));
    const changed = new Set<string>();
    if (!first) {
      for (const [key, print] of fingerprints) if (this.fingerprints.get(key) !== print) changed.add(key);
      for (const key of this.fingerprints.keys()) if (!fingerprints.has(key)) changed.add(key);
      for (const key of flagsUsingChangedSegments(next.flags, this.data.segments, next.segments)) changed.add(key);
    }
    this.data = { flags: { ...next.flags }, segments: { ...next.segments }, revision: next.revision, versions: { ...(next.versions ?? {}) } };
    this.fingerprints = fingerprints;
    this.compile();
    return [...changed].sort();
  }

  /**
   * Applies one change. Returns the flags it changed, or undefined when the change is older than what is held
   * (a replayed or duplicated event) and was ignored.
   */
  apply(change: FlagChange): string[] | undefined {
    if (this.data.revision >= 0 && change.revision <= this.data.revision) return undefined;
    const flags = { ...this.data.flags };
    const versions = { ...(this.data.versions ?? {}) };
    let segments = this.data.segments;
    let changed: string[];
    if (change.type === 'put') {
      const print = canonicalJson(change.flag);
      changed = this.fingerprints.get(change.key) === print ? [] : [change.key];
      flags[change.key] = change.flag;
      if (change.version !== undefined) versions[change.key] = change.version;
      this.fingerprints.set(change.key, print);
    } else if (change.type === 'delete') {
      changed = change.key in flags ? [change.key] : [];
      delete flags[change.key];
      delete versions[change.key];
      this.fingerprints.delete(change.key);
    } else {
      changed = flagsUsingChangedSegments(flags, segments, change.segments);
      segments = { ...change.segments };
    }
    this.data = { flags, segments, revision: change.revision, versions };
    this.compile();
    return changed;
  }

  private compile(): void {
    this.compiled = compileFlagSet(this.data.flags, { segments: this.data.segments, revision: this.data.revision });
  }
}

/** Flags whose queries reference a segment that was added, removed or changed (directly or through another segment). */
function flagsUsingChangedSegments(
  flags: Record<string, FlagDefinition>,
  before: Record<string, SegmentDefinition>,
  after: Record<string, SegmentDefinition>,
): string[] {
  const changed = new Set<string>();
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[name];
    const b = after[name];
    if (a === undefined || b === undefined || canonicalJson(a) !== canonicalJson(b)) changed.add(name);
  }
  if (changed.size === 0) return [];
  // A segment that references a changed segment has changed too.
  let grew = true;
  while (grew) {
    grew = false;
    for (const [name, segment] of Object.entries(after)) {
      if (changed.has(name)) continue;
      if (segmentReferences(segment.query).some((ref) => changed.has(ref))) {
        changed.add(name);
        grew = true;
      }
    }
  }
  const keys: string[] = [];
  for (const [key, flag] of Object.entries(flags)) {
    if (queriesOf(flag).some((query) => segmentReferences(query).some((ref) => changed.has(ref)))) keys.push(key);
  }
  return keys;
}

function queriesOf(flag: FlagDefinition): string[] {
  const queries: string[] = [];
  const rules = [...(flag.targeting ?? []), ...(flag.scheduledRollout ?? []).flatMap((step) => step.targeting ?? [])];
  for (const rule of rules) if (typeof rule.query === 'string') queries.push(rule.query);
  return queries;
}
