import type { JsonValue } from './flag.js';

/** OpenFeature's evaluation context: an optional targeting key plus any attributes. */
export interface EvaluationContext {
  targetingKey?: string;
  [attribute: string]: unknown;
}

/** OpenFeature resolution reasons, as GO Feature Flag uses them. */
export type Reason =
  | 'STATIC'
  | 'DEFAULT'
  | 'TARGETING_MATCH'
  | 'TARGETING_MATCH_SPLIT'
  | 'SPLIT'
  | 'DISABLED'
  | 'ERROR'
  | 'CACHED'
  | 'STALE'
  | 'UNKNOWN';

/**
 * OpenFeature error codes. GO Feature Flag's own FLAG_CONFIG (a rule that cannot produce a value: a progressive rollout
 * without dates, nothing to serve, no key to bucket with under `bucketingKey: ""`) is reported as GENERAL.
 */
export type ErrorCode =
  | 'FLAG_NOT_FOUND'
  | 'TYPE_MISMATCH'
  | 'TARGETING_KEY_MISSING'
  | 'PARSE_ERROR'
  | 'INVALID_CONTEXT'
  | 'PROVIDER_NOT_READY'
  | 'GENERAL';

export type FlagValueType = 'boolean' | 'string' | 'number' | 'object';

export interface EvaluationDetail<T = JsonValue> {
  key: string;
  /** The served value; the caller's default (or null when none was given) on error or when disabled. */
  value: T;
  /** The variation name; absent when the caller's default was served. */
  variant?: string;
  reason: Reason;
  errorCode?: ErrorCode;
  errorMessage?: string;
  flagMetadata: Record<string, JsonValue>;
  trackEvents: boolean;
  version?: string;
  /** False when the result depends on the time of evaluation (scheduled steps, progressive rollout, experiment window). */
  cacheable: boolean;
  /** Present when `explain: true` was asked: the steps that led to this result, in words. */
  explain?: ExplainStep[];
}

export interface ExplainStep {
  step: string;
  detail: string;
  rule?: string;
  matched?: boolean;
  bucket?: number;
  range?: [number, number];
}

export interface EvaluateOptions<T = JsonValue> {
  /** The time of evaluation (scheduled and progressive rollouts, experiment windows). Defaults to the wall clock. */
  now?: Date | number;
  /** What to return when the flag cannot be served (errors, disabled flags). Defaults to null. */
  defaultValue?: T;
  /** When set, a value of another type is a TYPE_MISMATCH error and the default is served. */
  expectedType?: FlagValueType;
  /** Record the reasoning into `detail.explain`. */
  explain?: boolean;
}
