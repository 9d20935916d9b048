import type { JsonValue } from '../model/flag.js';
import type {
  EvaluateOptions,
  EvaluationContext,
  EvaluationDetail,
  ErrorCode,
  ExplainStep,
  FlagValueType,
  Reason,
} from '../model/evaluation.js';
import type { CompiledFlag, CompiledRule, FlagPhase, Snapshot } from '../compile/snapshot.js';
import { fnv1a32Continue } from '../bucketing/fnv.js';
import { bucketOf, pickBucket, PROGRESSIVE_BUCKETS, toUint32 } from '../bucketing/percentage.js';
import { formatProblem } from '../model/problem.js';
import { bucketingKeyMessage, flagNotFoundMessage } from './error-messages.js';

const EMPTY_METADATA: Readonly<Record<string, JsonValue>> = Object.freeze({});

/**
 * Evaluates one flag for one context. Pure: the result depends only on the snapshot, the context and `now`.
 * Follows GO Feature Flag's order: scheduled steps → bucketing key → disabled / experiment window → first matching
 * targeting rule → default rule.
 */
export function evaluate<T = JsonValue>(
  snapshot: Snapshot,
  flagKey: string,
  context: EvaluationContext | undefined,
  options: EvaluateOptions<T> = {},
): EvaluationDetail<T> {
  const flag = snapshot.flags.get(flagKey);
  const explain: ExplainStep[] | undefined = options.explain ? [] : undefined;
  if (!flag) {
    const rejected = snapshot.invalid.get(flagKey);
    const message = rejected
      ? `flag "${flagKey}" is invalid: ${rejected.map(formatProblem).join('; ')}`
      : flagNotFoundMessage(flagKey);
    explain?.push({ step: 'lookup', detail: message });
    return failure(flagKey, 'FLAG_NOT_FOUND', message, options, undefined, explain);
  }
  return evaluateFlag(flag, context ?? {}, options, explain);
}

/** Evaluates every flag of the snapshot (sorted by key), e.g. for OFREP's bulk endpoint. */
export function evaluateAll(
  snapshot: Snapshot,
  context: EvaluationContext | undefined,
  options: Omit<EvaluateOptions, 'expectedType' | 'defaultValue'> = {},
): EvaluationDetail[] {
  const keys = [...snapshot.flags.keys()].sort();
  return keys.map((key) => evaluate(snapshot, key, context, options));
}

function nowOf(options: EvaluateOptions<unknown>, context: EvaluationContext): number {
  if (options.now !== undefined) return typeof options.now === 'number' ? options.now : options.now.getTime();
  // GO Feature Flag lets a context pin the time (`gofeatureflag.currentDateTime`), to test time-based rollouts.
  const goff = context.gofeatureflag as { currentDateTime?: unknown } | undefined;
  if (goff && typeof goff.currentDateTime === 'string') {
    const pinned = Date.parse(goff.currentDateTime);
    if (!Number.isNaN(pinned)) return pinned;
  }
  return Date.now();
}

/** The value of variation `name` at time `now` (scheduled steps may change variations); undefined when it has none. */
export function variationValueAt(flag: CompiledFlag, name: string, now: number): JsonValue | undefined {
  const variations = phaseAt(flag, now).variations;
  return Object.prototype.hasOwnProperty.call(variations, name) ? variations[name] : undefined;
}

/** The unit a flag splits on: its `bucketingKey` attribute, else the targeting key; undefined when absent or empty. */
export function bucketingUnitOf(flag: CompiledFlag, context: EvaluationContext): string | undefined {
  const found = flag.bucketingPath ? readPath(context, flag.bucketingPath) : context.targetingKey;
  return typeof found === 'string' && found !== '' ? found : undefined;
}

function phaseAt(flag: CompiledFlag, now: number): FlagPhase {
  const phases = flag.phases;
  let phase = phases[0]!;
  for (let i = 1; i < phases.length; i++) {
    if (phases[i]!.from <= now) phase = phases[i]!;
    else break;
  }
  return phase;
}

function evaluateFlag<T>(
  flag: CompiledFlag,
  context: EvaluationContext,
  options: EvaluateOptions<T>,
  explain: ExplainStep[] | undefined,
): EvaluationDetail<T> {
  const now = flag.needsClock || options.explain ? nowOf(options, context) : 0;
  const phase = flag.phases.length === 1 ? flag.phases[0]! : phaseAt(flag, now);
  if (explain && flag.phases.length > 1) {
    const applied = flag.phases.indexOf(phase);
    explain.push({ step: 'schedule', detail: applied === 0 ? 'no scheduled step is due yet' : `scheduled step ${applied} of ${flag.phases.length - 1} applies (from ${new Date(phase.from).toISOString()})` });
  }

  // The bucketing key: a `bucketingKey` attribute path, or the targeting key.
  let bucketingValue: string;
  if (flag.bucketingPath) {
    const found = readPath(context, flag.bucketingPath);
    if (typeof found !== 'string') {
      const message = bucketingKeyMessage(flag.key, flag.bucketingPath, found);
      explain?.push({ step: 'bucketing key', detail: message });
      return failure(flag.key, 'TARGETING_KEY_MISSING', message, options, flag, explain);
    }
    bucketingValue = found;
  } else {
    const key = context.targetingKey;
    bucketingValue = typeof key === 'string' ? key : '';
  }
  // `bucketingKey: ""` hashes the targeting key without ever reporting it missing (GO Feature Flag): without one, the
  // rules run up to the first that splits users, which is then a configuration error.
  let keyless = false;
  if (bucketingValue === '' && phase.requiresBucketing) {
    if (flag.emptyBucketingKey) keyless = true;
    else {
      const message = bucketingKeyMessage(flag.key, flag.bucketingPath, flag.bucketingPath ? '' : context.targetingKey);
      explain?.push({ step: 'bucketing key', detail: message });
      return failure(flag.key, 'TARGETING_KEY_MISSING', message, options, flag, explain);
    }
  }

  if (phase.disable || now < phase.experimentStart || now > phase.experimentEnd) {
    const why = phase.disable ? 'the flag is disabled' : 'the time is outside the experimentation window';
    const offValue = phase.offVariation !== undefined ? phase.variations[phase.offVariation] : undefined;
    if (offValue !== undefined) {
      explain?.push({ step: 'disabled', detail: `${why}: serving offVariation "${phase.offVariation}"` });
      return typed(flag, offValue, phase.offVariation!, 'DISABLED', flag.metadata, false, options, explain);
    }
    explain?.push({ step: 'disabled', detail: `${why}: serving the caller's default` });
    return {
      key: flag.key,
      value: (options.defaultValue ?? null) as T,
      reason: 'DISABLED',
      flagMetadata: flag.metadata,
      trackEvents: flag.trackEvents,
      ...(flag.version !== undefined ? { version: flag.version } : {}),
      cacheable: !flag.timeDependent,
      ...(explain ? { explain } : {}),
    };
  }

  const queryContext = !phase.needsQueryContext
    ? undefined
    : phase.needsIdentityView
      ? toQueryContext(context, bucketingKeyForQuery(context))
      : (context as Record<string, unknown>);
  const rules = phase.rules;
  const end = keyless ? Math.min(phase.firstSplittingRule, rules.length) : rules.length;
  for (let i = 0; i < end; i++) {
    const rule = rules[i]!;
    if (rule.disabled) {
      explain?.push({ step: 'rule', rule: ruleLabel(rule), matched: false, detail: 'disabled, skipped' });
      continue;
    }
    const matched = rule.query === undefined || rule.query.kind === 'match-all' || rule.query.matches(queryContext!);
    if (!matched) {
      explain?.push({ step: 'rule', rule: ruleLabel(rule), matched: false, detail: `query did not match: ${rule.query!.text}` });
      continue;
    }
    explain?.push({ step: 'rule', rule: ruleLabel(rule), matched: true, detail: rule.query ? `query matched: ${rule.query.text}` : 'empty query matches everyone' });
    return serveRule(flag, phase, rule, bucketingValue, now, rule.dynamic ? 'TARGETING_MATCH_SPLIT' : 'TARGETING_MATCH', options, explain);
  }
  if (keyless && phase.firstSplittingRule <= rules.length) {
    // GO Feature Flag's words (FLAG_CONFIG there; GENERAL here, which the relay API passes on as errorDetails).
    const message = 'evaluate Rule: no key for bucketing-required rule';
    explain?.push({ step: 'bucketing key', detail: message });
    return failure(flag.key, 'GENERAL', message, options, flag, explain);
  }
  const reason: Reason = phase.defaultRule.dynamic ? 'SPLIT' : phase.hasTargeting ? 'DEFAULT' : 'STATIC';
  explain?.push({ step: 'default rule', detail: phase.hasTargeting ? 'no targeting rule matched: default rule' : 'no targeting rules: default rule' });
  return serveRule(flag, phase, phase.defaultRule, bucketingValue, now, reason, options, explain);
}

function serveRule<T>(
  flag: CompiledFlag,
  phase: FlagPhase,
  rule: CompiledRule,
  bucketingValue: string,
  now: number,
  reason: Reason,
  options: EvaluateOptions<T>,
  explain: ExplainStep[] | undefined,
): EvaluationDetail<T> {
  const outcome = rule.outcome;
  let variation: string;
  let cacheable = !flag.timeDependent;
  if (outcome.kind === 'variation') {
    variation = outcome.variation;
  } else if (outcome.kind === 'percentage') {
    const hash = fnv1a32Continue(flag.hashSeed, bucketingValue);
    const bucket = bucketOf(hash, outcome.buckets.modulus);
    const index = pickBucket(outcome.buckets, bucket);
    if (index < 0) {
      return failure(flag.key, 'GENERAL', `impossible to find the variation for bucket ${bucket}`, options, flag, explain);
    }
    variation = outcome.buckets.names[index]!;
    explain?.push({
      step: 'split',
      detail: `"${bucketingValue}" hashes to bucket ${bucket} of ${outcome.buckets.modulus}, inside "${variation}"'s range`,
      bucket,
      range: [outcome.buckets.starts[index]!, outcome.buckets.ends[index]!],
    });
  } else if (outcome.kind === 'error') {
    explain?.push({ step: 'rule', detail: outcome.message });
    return failure(flag.key, 'GENERAL', outcome.message, options, flag, explain);
  } else {
    cacheable = false;
    const bucket = fnv1a32Continue(flag.hashSeed, bucketingValue) % PROGRESSIVE_BUCKETS;
    if (now < outcome.startMs) {
      variation = outcome.initialVariation;
      explain?.push({ step: 'progressive rollout', detail: `not started (starts ${new Date(outcome.startMs).toISOString()}): everyone gets "${variation}"`, bucket });
    } else {
      let share: number;
      if (now >= outcome.endMs) share = outcome.endShare;
      else {
        const elapsed = Math.floor(now / 1000) - outcome.startSeconds;
        share = elapsed * ((outcome.endShare - outcome.initialShare) / (outcome.endSeconds - outcome.startSeconds)) + outcome.initialShare;
      }
      const threshold = toUint32(share);
      variation = bucket < threshold ? outcome.endVariation : outcome.initialVariation;
      explain?.push({
        step: 'progressive rollout',
        detail: `${(threshold / 1000).toFixed(3)}% of users get "${outcome.endVariation}"; bucket ${bucket} of 100000 ${bucket < threshold ? 'is' : 'is not'} below ${threshold}`,
        bucket,
        range: [0, threshold],
      });
    }
  }
  const value = phase.variations[variation];
  if (value === undefined) {
    return failure(flag.key, 'GENERAL', `the rule serves unknown variation "${variation}"`, options, flag, explain);
  }
  return typed(flag, value, variation, reason, rule.index >= 0 ? rule.metadata : flag.metadata, cacheable, options, explain);
}

function typed<T>(
  flag: CompiledFlag,
  value: JsonValue,
  variant: string,
  reason: Reason,
  metadata: Readonly<Record<string, JsonValue>>,
  cacheable: boolean,
  options: EvaluateOptions<T>,
  explain: ExplainStep[] | undefined,
): EvaluationDetail<T> {
  if (options.expectedType !== undefined && !hasType(value, options.expectedType)) {
    const message = `flag "${flag.key}" serves ${describe(value)}, not the ${options.expectedType} that was asked for`;
    explain?.push({ step: 'type check', detail: message });
    return failure(flag.key, 'TYPE_MISMATCH', message, options, flag, explain);
  }
  const detail: EvaluationDetail<T> = {
    key: flag.key,
    value: value as T,
    variant,
    reason,
    flagMetadata: metadata,
    trackEvents: flag.trackEvents,
    cacheable,
  };
  if (flag.version !== undefined) detail.version = flag.version;
  if (explain) detail.explain = explain;
  return detail;
}

function failure<T>(
  key: string,
  errorCode: ErrorCode,
  errorMessage: string,
  options: EvaluateOptions<T>,
  flag: CompiledFlag | undefined,
  explain: ExplainStep[] | undefined,
): EvaluationDetail<T> {
  return {
    key,
    value: (options.defaultValue ?? null) as T,
    reason: 'ERROR',
    errorCode,
    errorMessage,
    flagMetadata: flag?.metadata ?? EMPTY_METADATA,
    trackEvents: flag?.trackEvents ?? true,
    ...(flag?.version !== undefined ? { version: flag.version } : {}),
    cacheable: false,
    ...(explain ? { explain } : {}),
  };
}

export function hasType(value: unknown, type: FlagValueType): boolean {
  if (type === 'object') return value !== null && typeof value === 'object';
  return typeof value === type;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function ruleLabel(rule: CompiledRule): string {
  return rule.name ? `targeting[${rule.index}] "${rule.name}"` : `targeting[${rule.index}]`;
}

function bucketingKeyForQuery(context: EvaluationContext): string {
  return typeof context.targetingKey === 'string' ? context.targetingKey : '';
}

/**
 * What a query sees: the context's attributes plus `key`/`targetingKey` (the targeting key) and `anonymous` (false
 * unless given). A plain copy: a view with the context as prototype looked cheaper but is 10× slower in V8, since
 * every context then becomes a prototype object.
 */
function toQueryContext(context: EvaluationContext, targetingKey: string): Record<string, unknown> {
  const view: Record<string, unknown> = { anonymous: false };
  for (const name in context) view[name] = context[name];
  view.key = targetingKey;
  view.targetingKey = targetingKey;
  return view;
}

function readPath(context: EvaluationContext, path: string[]): unknown {
  let current: unknown = context;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
