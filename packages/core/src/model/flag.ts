/**
 * The flag format: GO Feature Flag's, as it appears in YAML, JSON and TOML files, plus Vexil's optional extensions
 * (`offVariation`, and `segments` at file level). These are the *definitions*, as users write them; `compile/`
 * turns them into the snapshot that `evaluate()` reads.
 */

/** Any JSON value a variation can hold: boolean, string, number, array or object (never null). */
import type { ExperimentDefinition } from './experiment.js';
import type { KillSwitchDefinition, RolloutPlanDefinition, RolloutStateDefinition } from './rollout.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface ProgressiveRolloutStep {
  variation?: string;
  percentage?: number;
  /** RFC 3339 date (a TOML datetime is converted to one when the file is parsed). */
  date?: string;
}

export interface ProgressiveRollout {
  initial?: ProgressiveRolloutStep;
  end?: ProgressiveRolloutStep;
}

export interface Rule {
  name?: string;
  /** GO Feature Flag query (nikunjy/rules dialect), or a JsonLogic object written as JSON text. */
  query?: string;
  variation?: string;
  /** Variation name → weight. Weights need not sum to 100 (they are relative), but must not sum to 0. */
  percentage?: Record<string, number>;
  progressiveRollout?: ProgressiveRollout;
  disable?: boolean;
}

export interface Experimentation {
  start?: string;
  end?: string;
}

/** A dated patch applied to the flag from `date` on (GO Feature Flag's scheduled rollout). */
export interface ScheduledStep extends Partial<Omit<FlagDefinition, 'scheduledRollout'>> {
  date?: string;
}

export interface FlagDefinition {
  variations?: Record<string, JsonValue>;
  targeting?: Rule[];
  defaultRule?: Rule;
  /** Dot path into the evaluation context used for hashing instead of `targetingKey`. */
  bucketingKey?: string;
  trackEvents?: boolean;
  disable?: boolean;
  version?: string;
  metadata?: Record<string, JsonValue>;
  scheduledRollout?: ScheduledStep[];
  experimentation?: Experimentation;
  /** Vexil extension: the variation a disabled flag serves instead of the caller's default. */
  offVariation?: string;
  /** Legacy GO Feature Flag field, accepted and ignored. */
  converter?: string;
  /** Vexil extension: a progressive-delivery plan judged by the rollout controller (model/rollout.ts). */
  rollout?: RolloutPlanDefinition;
  /** Vexil extension: disable the flag when a metric crosses a threshold. */
  killSwitch?: KillSwitchDefinition;
  /** Vexil extension, written by the rollout controller only: where the rollout stands. */
  rolloutState?: RolloutStateDefinition;
  /** Vexil extension: what an experiment on this flag measures (model/experiment.ts); evaluation ignores it. */
  experiment?: ExperimentDefinition;
}

/**
 * A reusable audience: a named query. Queries reference it as `@name` (Vexil extension; GO Feature Flag has no
 * segments). Defined in a flag file under the reserved top-level key `$segments`.
 */
export interface SegmentDefinition {
  query: string;
  description?: string;
}

/** The reserved top-level key of a flag file that holds segments. `$` can never start a GO Feature Flag key in practice. */
export const SEGMENTS_KEY = '$segments';

/** The fields a flag may have; anything else is reported as an unknown field. */
export const FLAG_FIELDS = [
  'variations',
  'targeting',
  'defaultRule',
  'bucketingKey',
  'trackEvents',
  'disable',
  'version',
  'metadata',
  'scheduledRollout',
  'experimentation',
  'offVariation',
  'converter',
  'rollout',
  'killSwitch',
  'rolloutState',
  'experiment',
] as const;

export const RULE_FIELDS = ['name', 'query', 'variation', 'percentage', 'progressiveRollout', 'disable'] as const;
