import type { FlagDefinition, JsonValue, Rule, SegmentDefinition } from '../model/flag.js';
import { SEGMENTS_KEY } from '../model/flag.js';
import { FlagValidationError, type Problem } from '../model/problem.js';
import { compileQuery, segmentReferences, type CompiledQuery } from '../query/index.js';
import { buildPercentageBuckets, type PercentageBuckets } from '../bucketing/percentage.js';
import { fnv1a32 } from '../bucketing/fnv.js';
import type { FlagFileFormat, Locate, SourcePosition } from '../parse/flag-file.js';
import { defaultFormat, detectFormat, readFlagFileText } from '../parse/read.js';
import { checkFlag, jsonTypeOf } from '../validate/flag.js';
import { compileSegments, normalizeSegments, type SegmentResolver } from './segments.js';
import { LayeredMap } from './layered-map.js';
import { applyScheduledStep, orderedSteps, parseDate } from '../rollout/scheduled.js';
import { reservedNameProblem } from '../validate/limits.js';

export type RuleOutcome =
  | { kind: 'variation'; variation: string }
  /** A rule GO Feature Flag cannot serve (a progressive rollout without both dates, nothing to serve): an error when reached. */
  | { kind: 'error'; message: string }
  | { kind: 'percentage'; buckets: PercentageBuckets; percentages: Record<string, number> }
  | {
      kind: 'progressive';
      initialVariation: string;
      endVariation: string;
      /** Unix seconds, as GO Feature Flag computes the ramp in whole seconds. */
      startSeconds: number;
      endSeconds: number;
      startMs: number;
      endMs: number;
      /** Percentages × 1000 (out of 100,000). */
      initialShare: number;
      endShare: number;
    };

export interface CompiledRule {
  /** Index in `targeting`, or -1 for the default rule. */
  index: number;
  name?: string;
  /** Undefined: matches every context (the default rule, or an empty query). */
  query?: CompiledQuery;
  disabled: boolean;
  outcome: RuleOutcome;
  /** A split (percentage without a 100% entry, or a progressive rollout): reasons SPLIT / TARGETING_MATCH_SPLIT. */
  dynamic: boolean;
  /** The flag's metadata plus `evaluatedRuleName` when this is a named targeting rule. Frozen, shared. */
  metadata: Readonly<Record<string, JsonValue>>;
}

/** The flag as it stands from `from` on (the base flag, or the flag after some scheduled steps). */
export interface FlagPhase {
  from: number;
  variations: Readonly<Record<string, JsonValue>>;
  rules: CompiledRule[];
  defaultRule: CompiledRule;
  hasTargeting: boolean;
  disable: boolean;
  experimentStart: number;
  experimentEnd: number;
  /**
   * The flag needs a bucketing key (a rule of this phase or of any scheduled step, due or not, splits users), as GO
   * Feature Flag's `RequiresBucketing` decides: an empty key is then TARGETING_KEY_MISSING.
   */
  requiresBucketing: boolean;
  /**
   * Index of the first targeting rule that splits users; else `rules.length` when the default rule splits users, else
   * `rules.length + 1`. With `bucketingKey: ""` and no targeting key, GO Feature Flag evaluates the rules before that
   * one and fails on it.
   */
  firstSplittingRule: number;
  offVariation?: string;
  needsQueryContext: boolean;
  /** Some query reads `key`/`targetingKey`/`anonymous`: it needs the query view of the context, not the context. */
  needsIdentityView: boolean;
}

export interface CompiledFlag {
  key: string;
  definition: FlagDefinition;
  /** Sorted by `from`; phases[0].from is -Infinity. */
  phases: FlagPhase[];
  /** Dot path of `bucketingKey`, split once. */
  bucketingPath?: string[];
  /** `bucketingKey: ""`: GO Feature Flag then hashes the targeting key but never reports it missing (see `firstSplittingRule`). */
  emptyBucketingKey: boolean;
  /** FNV-1a state after hashing the flag key: bucketing continues from here with the user's key. */
  hashSeed: number;
  metadata: Readonly<Record<string, JsonValue>>;
  trackEvents: boolean;
  version?: string;
  /** True when results depend on the time (scheduled steps, experiment window): never cacheable. */
  timeDependent: boolean;
  /** True when evaluation must read the clock (the above, or a progressive rollout). */
  needsClock: boolean;
  valueType: 'boolean' | 'string' | 'number' | 'object';
}

export interface Snapshot {
  readonly flags: ReadonlyMap<string, CompiledFlag>;
  /** Flags that were rejected, with why: they evaluate as FLAG_NOT_FOUND with the reason in errorMessage. */
  readonly invalid: ReadonlyMap<string, Problem[]>;
  /** Every problem found, errors and warnings. */
  readonly problems: readonly Problem[];
  readonly definitions: Readonly<Record<string, FlagDefinition>>;
  readonly segments: Readonly<Record<string, SegmentDefinition>>;
  /** The store revision this snapshot was built from, when it came from a store. */
  readonly revision?: number;
}

export interface CompileOptions {
  format?: FlagFileFormat;
  /** File name, for messages (and to guess the format when `format` is absent). */
  source?: string;
}

export interface ParsedFlagFile {
  /** The flags that passed validation, normalised. */
  flags: Record<string, FlagDefinition>;
  segments: Record<string, SegmentDefinition>;
  /** Every problem, errors and warnings. An error without `flagKey` means the file itself is unusable. */
  problems: Problem[];
  /** The rejected flags with their problems. */
  invalid: Record<string, Problem[]>;
  /** False when the file itself could not be read: nothing in it should replace what was loaded before. */
  readable: boolean;
}

/** Parses and validates a flag file (YAML, JSON or TOML), reporting every problem with its position. Never throws. */
export function parseFlagFile(text: string, options: CompileOptions = {}): ParsedFlagFile {
  const format = options.format ?? (options.source ? detectFormat(options.source) : defaultFormat(text));
  const raw = readFlagFileText(text, format, options.source);
  if (!raw.data) return { flags: {}, segments: {}, problems: raw.problems, invalid: {}, readable: false };
  return validateFlagSet(raw.data, options.source, raw.locate);
}

/** Validates a map of flag key → definition (with an optional `$segments` entry). */
export function validateFlagSet(data: Record<string, unknown>, source?: string, locate?: Locate): ParsedFlagFile {
  const set = checkFlagSet(data, source, locate, false);
  const flags: Record<string, FlagDefinition> = {};
  const invalid: Record<string, Problem[]> = {};
  const problems = [...set.segments.problems, ...set.reserved];
  for (const entry of set.entries.values()) {
    problems.push(...entry.problems);
    if (entry.definition) flags[entry.key] = entry.definition;
    else invalid[entry.key] = entry.invalid!;
  }
  return { flags, segments: set.segments.segments, problems, invalid, readable: true };
}

/**
 * Parses, validates and compiles a flag file into a snapshot ready for `evaluate()`. Invalid flags are left out and
 * reported; a file that cannot be read at all throws a `FlagValidationError` (so a caller keeps its last good snapshot).
 */
export function compileFlags(text: string, options: CompileOptions = {}): Snapshot {
  const format = options.format ?? (options.source ? detectFormat(options.source) : defaultFormat(text));
  const raw = readFlagFileText(text, format, options.source);
  if (!raw.data) throw new FlagValidationError(raw.problems);
  return compileFlagData(raw.data, options.source, raw.locate);
}

/** Validates and compiles a flag file's data (flag key → raw flag, maybe with `$segments`). */
export function compileFlagData(data: Record<string, unknown>, source?: string, locate?: Locate): Snapshot {
  return assembleSnapshot(checkFlagSet(data, source, locate, true));
}

/** Compiles flag definitions held as data (from a store or the API). Invalid ones are left out and reported. */
export function compileFlagSet(
  definitions: Record<string, unknown>,
  options: { segments?: Record<string, SegmentDefinition>; source?: string; revision?: number } = {},
): Snapshot {
  const data: Record<string, unknown> = options.segments ? { ...definitions, [SEGMENTS_KEY]: options.segments } : definitions;
  return assembleSnapshot(checkFlagSet(data, options.source, undefined, true), options.revision);
}

/** What changed since a snapshot: see `applyChanges`. */
export interface SnapshotChanges {
  /** Flags added or replaced (their raw definition, validated here) or deleted (`undefined`), by key. */
  flags?: Iterable<readonly [string, unknown]>;
  /** The whole new set of segments, when it changed. */
  segments?: Record<string, SegmentDefinition>;
  /** The store revision the new snapshot stands for. */
  revision?: number;
}

/**
 * A new snapshot equal to compiling the whole set again with `changes` applied, built by validating and compiling
 * only the changed flags, and the flags that use a changed segment (directly or through another segment); every other
 * compiled flag is shared with `previous`, which is left untouched (readers may still hold it). `previous` must come
 * from `compileFlags`, `compileFlagSet` or `applyChanges`.
 */
export function applyChanges(previous: Snapshot, changes: SnapshotChanges): Snapshot {
  const before = SETS.get(previous);
  if (!before) throw new TypeError('applyChanges needs a snapshot built by compileFlags, compileFlagSet or applyChanges');
  let segments = before.segments;
  let affected: ReadonlySet<string> = new Set();
  if (changes.segments !== undefined) {
    segments = checkSegments(changes.segments, before.source, undefined);
    affected = segmentsAffected(before.segments.segments, segments.segments);
  }
  // Patching the previous maps keeps a full compile's order unless a flag moves between valid and invalid, a key
  // comes twice, or an integer-like key is added (an object lists those first): then they are rebuilt in order.
  let rebuild = false;
  const touched = new Map<string, FlagEntry | undefined>();
  const sequence: Array<[string, FlagEntry | undefined]> = [];
  for (const [key, raw] of changes.flags ?? []) {
    if (key === SEGMENTS_KEY || reservedNameProblem(key, 'the flag key')) continue;
    if (touched.has(key)) rebuild = true;
    const entry = raw === undefined ? undefined : checkEntry(key, raw, segments.resolve, before.source, undefined, true);
    if (entry && !before.entries.has(key) && isArrayIndex(key)) rebuild = true;
    touched.set(key, entry);
    sequence.push([key, entry]);
  }
  let entries = LayeredMap.of(before.entries).with(sequence);
  if (affected.size > 0) {
    const users: Array<[string, FlagEntry]> = [];
    for (const [key, entry] of entries) {
      if (touched.has(key) || !usesAny(entry.segmentsUsed, affected)) continue;
      const checked = checkEntry(key, entry.raw, segments.resolve, before.source, undefined, true);
      users.push([key, checked]);
      touched.set(key, checked);
    }
    entries = entries.with(users);
  }
  for (const [key, entry] of touched) {
    const old = before.entries.get(key);
    if (entry && old && !old.definition !== !entry.definition) rebuild = true;
  }
  const revision = changes.revision ?? previous.revision;
  if (rebuild) {
    const ordered: Record<string, FlagEntry> = Object.create(null) as Record<string, FlagEntry>;
    for (const [key, entry] of entries) ordered[key] = entry;
    return assembleSnapshot({ source: before.source, segments, entries: new Map(Object.entries(ordered)), reserved: before.reserved }, revision);
  }
  const flags: Array<[string, CompiledFlag | undefined]> = [];
  const invalid: Array<[string, Problem[] | undefined]> = [];
  for (const [key, entry] of touched) {
    flags.push([key, entry?.compiled]);
    invalid.push([key, entry?.invalid]);
  }
  return snapshotOf(
    { source: before.source, segments, entries, reserved: before.reserved },
    LayeredMap.of(previous.flags).with(flags),
    LayeredMap.of(previous.invalid).with(invalid),
    revision,
  );
}

/** An integer-like key, which an object lists before every other key (as a full compile visits them). */
function isArrayIndex(key: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** One flag of a set, validated and compiled; kept with its snapshot so a later change redoes only what it touches. */
interface FlagEntry {
  readonly key: string;
  readonly raw: unknown;
  /** Its problems, errors and warnings. */
  readonly problems: Problem[];
  /** The normalised definition, when valid. */
  readonly definition?: FlagDefinition;
  readonly compiled?: CompiledFlag;
  /** Its errors, when invalid. */
  readonly invalid?: Problem[];
  /** Segment names its queries looked up, known or not (a segment added later may make it valid). */
  readonly segmentsUsed: ReadonlySet<string>;
}

interface CheckedSegments {
  segments: Record<string, SegmentDefinition>;
  problems: Problem[];
  resolve: SegmentResolver;
}

interface CheckedSet {
  source?: string;
  segments: CheckedSegments;
  /** In the order a full compile visits them (an object's key order). */
  entries: ReadonlyMap<string, FlagEntry>;
  /** Flag keys refused outright (`__proto__`, `.`…): reported, and kept out of every map keyed by flag. */
  reserved: readonly Problem[];
}

/** The validated flags behind each snapshot, for `applyChanges`. */
const SETS = new WeakMap<Snapshot, CheckedSet>();

function checkSegments(raw: unknown, source: string | undefined, locate: Locate | undefined): CheckedSegments {
  const { segments, problems } = normalizeSegments(raw, source, locate);
  const compiled = compileSegments(segments, source, locate);
  problems.push(...compiled.problems);
  return { segments, problems, resolve: compiled.resolve };
}

function checkFlagSet(data: Record<string, unknown>, source: string | undefined, locate: Locate | undefined, compile: boolean): CheckedSet {
  const segments = checkSegments(data[SEGMENTS_KEY], source, locate);
  const entries = new Map<string, FlagEntry>();
  const reserved: Problem[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (key === SEGMENTS_KEY) continue;
    const refused = reservedNameProblem(key, 'the flag key');
    if (refused) {
      reserved.push({ severity: 'error', source, ...positionOf(locate?.([key])), flagKey: key, message: refused });
      continue;
    }
    entries.set(key, checkEntry(key, value, segments.resolve, source, locate, compile));
  }
  return { ...(source !== undefined ? { source } : {}), segments, entries, reserved };
}

function checkEntry(
  key: string,
  raw: unknown,
  resolve: SegmentResolver,
  source: string | undefined,
  locate: Locate | undefined,
  compile: boolean,
): FlagEntry {
  const segmentsUsed = new Set<string>();
  const resolveSegment: SegmentResolver = (name) => {
    segmentsUsed.add(name);
    return resolve(name);
  };
  const checked = checkFlag(key, raw, { source, locate, resolveSegment });
  if (!checked.flag) {
    const invalid = checked.problems.filter((problem) => problem.severity === 'error');
    return { key, raw, problems: checked.problems, invalid, segmentsUsed };
  }
  const compiled = compile ? compileFlag(key, checked.flag, resolveSegment) : undefined;
  return { key, raw, problems: checked.problems, definition: checked.flag, ...(compiled ? { compiled } : {}), segmentsUsed };
}

function assembleSnapshot(set: CheckedSet, revision?: number): Snapshot {
  const flags = new Map<string, CompiledFlag>();
  const invalid = new Map<string, Problem[]>();
  for (const [key, entry] of set.entries) {
    if (entry.definition) flags.set(key, entry.compiled!);
    else invalid.set(key, entry.invalid!);
  }
  return snapshotOf(set, flags, invalid, revision);
}

/** `problems` and `definitions` are gathered when first read: a write does not pay for them. */
function snapshotOf(set: CheckedSet, flags: ReadonlyMap<string, CompiledFlag>, invalid: ReadonlyMap<string, Problem[]>, revision: number | undefined): Snapshot {
  let problems: Problem[] | undefined;
  let definitions: Record<string, FlagDefinition> | undefined;
  const snapshot: Snapshot = {
    flags,
    invalid,
    get problems(): readonly Problem[] {
      if (!problems) {
        problems = [...set.segments.problems, ...set.reserved];
        for (const entry of set.entries.values()) if (entry.problems.length > 0) problems.push(...entry.problems);
      }
      return problems;
    },
    get definitions(): Readonly<Record<string, FlagDefinition>> {
      if (!definitions) {
        definitions = {};
        for (const [key, entry] of set.entries) if (entry.definition) definitions[key] = entry.definition;
      }
      return definitions;
    },
    segments: set.segments.segments,
    ...(revision !== undefined ? { revision } : {}),
  };
  SETS.set(snapshot, set);
  return snapshot;
}

/** Segments whose compiled query may differ: added, removed or changed ones, and those that use them, transitively. */
function segmentsAffected(before: Record<string, SegmentDefinition>, after: Record<string, SegmentDefinition>): Set<string> {
  const affected = new Set<string>();
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const old = Object.prototype.hasOwnProperty.call(before, name) ? before[name] : undefined;
    const now = Object.prototype.hasOwnProperty.call(after, name) ? after[name] : undefined;
    if (old?.query !== now?.query) affected.add(name);
  }
  if (affected.size === 0) return affected;
  const usedBy = new Map<string, string[]>();
  for (const [name, definition] of Object.entries(after)) {
    for (const used of segmentReferences(definition.query)) usedBy.set(used, [...(usedBy.get(used) ?? []), name]);
  }
  const queue = [...affected];
  while (queue.length > 0) {
    for (const user of usedBy.get(queue.pop()!) ?? []) {
      if (affected.has(user)) continue;
      affected.add(user);
      queue.push(user);
    }
  }
  return affected;
}

function usesAny(used: ReadonlySet<string>, affected: ReadonlySet<string>): boolean {
  for (const name of used) if (affected.has(name)) return true;
  return false;
}

/** Compiles one flag that already passed validation. */
export function compileFlag(key: string, definition: FlagDefinition, resolveSegment?: SegmentResolver): CompiledFlag {
  const metadata = Object.freeze({ ...(definition.metadata ?? {}) }) as Readonly<Record<string, JsonValue>>;
  // GO Feature Flag asks for a bucketing key when any scheduled step, due or not (or undated), has a splitting rule.
  const stepsSplit = (definition.scheduledRollout ?? []).some(
    (step) => isMap(step) && ((Array.isArray(step.targeting) && step.targeting.some(splitsUsers)) || splitsUsers(step.defaultRule)),
  );
  const phases: FlagPhase[] = [compilePhase(key, definition, Number.NEGATIVE_INFINITY, metadata, resolveSegment, stepsSplit)];
  let current = definition;
  for (const { step, at } of orderedSteps(definition.scheduledRollout)) {
    current = applyScheduledStep(current, step);
    phases.push(compilePhase(key, current, at, metadata, resolveSegment, stepsSplit));
  }
  const timeDependent = phases.length > 1 || definition.experimentation !== undefined || (definition.scheduledRollout?.length ?? 0) > 0;
  const firstValue = Object.values(definition.variations ?? {})[0];
  const type = jsonTypeOf(firstValue);
  return {
    key,
    definition,
    phases,
    ...(definition.bucketingKey ? { bucketingPath: definition.bucketingKey.split('.') } : {}),
    emptyBucketingKey: definition.bucketingKey === '',
    hashSeed: fnv1a32(key),
    metadata,
    trackEvents: definition.trackEvents ?? true,
    ...(definition.version !== undefined ? { version: definition.version } : {}),
    timeDependent,
    needsClock: timeDependent || phases.some((phase) => [...phase.rules, phase.defaultRule].some((rule) => rule.outcome.kind === 'progressive')),
    valueType: type === 'boolean' || type === 'string' || type === 'number' ? type : 'object',
  };
}

function compilePhase(
  key: string,
  flag: FlagDefinition,
  from: number,
  metadata: Readonly<Record<string, JsonValue>>,
  resolveSegment: SegmentResolver | undefined,
  stepsSplit: boolean,
): FlagPhase {
  const targeting = flag.targeting ?? [];
  const rules = targeting.map((rule, index) => compileRule(key, rule, index, metadata, resolveSegment));
  const defaultRule = compileRule(key, flag.defaultRule ?? {}, -1, metadata, resolveSegment);
  const firstSplittingRule = targeting.findIndex(splitsUsers);
  return {
    from,
    variations: Object.freeze({ ...(flag.variations ?? {}) }),
    rules,
    defaultRule,
    hasTargeting: rules.length > 0,
    disable: flag.disable === true,
    experimentStart: flag.experimentation?.start ? parseDate(flag.experimentation.start) : Number.NEGATIVE_INFINITY,
    experimentEnd: flag.experimentation?.end ? parseDate(flag.experimentation.end) : Number.POSITIVE_INFINITY,
    // GO Feature Flag counts every rule here, disabled ones included.
    requiresBucketing: stepsSplit || firstSplittingRule >= 0 || splitsUsers(flag.defaultRule),
    firstSplittingRule: firstSplittingRule >= 0 ? firstSplittingRule : rules.length + (splitsUsers(flag.defaultRule) ? 0 : 1),
    ...(flag.offVariation !== undefined ? { offVariation: flag.offVariation } : {}),
    needsQueryContext: rules.some((rule) => !rule.disabled && rule.query !== undefined && rule.query.kind !== 'match-all'),
    needsIdentityView: rules.some((rule) => !rule.disabled && rule.query !== undefined && rule.query.usesIdentity),
  };
}

function compileRule(
  flagKey: string,
  rule: Rule,
  index: number,
  flagMetadata: Readonly<Record<string, JsonValue>>,
  resolveSegment: SegmentResolver | undefined,
): CompiledRule {
  const disabled = index >= 0 && rule.disable === true;
  let query: CompiledQuery | undefined;
  if (index >= 0 && !disabled && rule.query !== undefined) {
    const text = typeof rule.query === 'string' ? rule.query : JSON.stringify(rule.query);
    const result = compileQuery(text, resolveSegment ? { resolveSegment } : {});
    // A query that does not parse never matches, as in GO Feature Flag (validation reported it as an error).
    query = result.ok ? result.query : { kind: 'nikunjy', text, matches: () => false, usesIdentity: false };
  }
  const outcome = compileOutcome(rule);
  const dynamic =
    rule.progressiveRollout !== undefined ||
    (outcome.kind === 'percentage' && !Object.values(outcome.percentages).some((weight) => weight === 100));
  const named = index >= 0 && typeof rule.name === 'string' && rule.name !== '';
  return {
    index,
    ...(rule.name !== undefined ? { name: rule.name } : {}),
    ...(query ? { query } : {}),
    disabled,
    outcome,
    dynamic,
    metadata: named ? Object.freeze({ ...flagMetadata, evaluatedRuleName: rule.name! }) : flagMetadata,
  };
}

/** GO Feature Flag's `Rule.RequiresBucketing`: the rule has a non-empty percentage or a progressive rollout. */
function splitsUsers(rule: Rule | undefined): boolean {
  if (!isMap(rule)) return false;
  return (isMap(rule.percentage) && Object.keys(rule.percentage).length > 0) || rule.progressiveRollout !== undefined;
}

function isMap<T>(value: T | null | undefined): value is T {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** GO Feature Flag's words when a progressive rollout lacks a variation or a date, or ends before it starts. */
const PROGRESSIVE_ERROR = 'error in the progressive rollout, missing params';

function compileOutcome(rule: Rule): RuleOutcome {
  // progressiveRollout > percentage > variation, as in GO Feature Flag's Rule.Evaluate.
  const progressive = rule.progressiveRollout;
  if (progressive !== undefined) {
    if (!isMap(progressive) || !isMap(progressive.initial) || !isMap(progressive.end)) return { kind: 'error', message: PROGRESSIVE_ERROR };
    const startMs = parseDate(progressive.initial.date);
    const endMs = parseDate(progressive.end.date);
    if (
      typeof progressive.initial.variation !== 'string' ||
      typeof progressive.end.variation !== 'string' ||
      Number.isNaN(startMs) ||
      Number.isNaN(endMs) ||
      !(endMs > startMs)
    ) {
      return { kind: 'error', message: PROGRESSIVE_ERROR };
    }
    let endPercentage = progressive.end.percentage ?? 0;
    // GO Feature Flag forces an end percentage of 0 (unset) or above 100 to 100.
    if (endPercentage === 0 || endPercentage > 100) endPercentage = 100;
    return {
      kind: 'progressive',
      initialVariation: progressive.initial.variation,
      endVariation: progressive.end.variation,
      startMs,
      endMs,
      startSeconds: Math.floor(startMs / 1000),
      endSeconds: Math.floor(endMs / 1000),
      initialShare: (progressive.initial.percentage ?? 0) * 1000,
      endShare: endPercentage * 1000,
    };
  }
  if (isMap(rule.percentage) && Object.keys(rule.percentage).length > 0) {
    return { kind: 'percentage', buckets: buildPercentageBuckets(rule.percentage), percentages: rule.percentage };
  }
  if (typeof rule.variation !== 'string') return { kind: 'error', message: 'error in the configuration, no variation available for this rule' };
  return { kind: 'variation', variation: rule.variation };
}

function positionOf(position: SourcePosition | undefined): { line?: number; column?: number } {
  return position ? { line: position.line, column: position.column } : {};
}
