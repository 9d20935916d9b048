// The `stats.json` input of `vexil experiment analyze` (and of the results page): per-variation sufficient statistics
// plus the analysis settings. Parsing checks every field and names the one that is wrong.
import type { Difference } from '../stats/effect.js';
import type { GaussianPrior } from '../stats/bayesian.js';

export type MetricType = 'binomial' | 'mean' | 'ratio';
export type Engine = 'frequentist' | 'bayesian';

export interface VariationStatistics {
  readonly name: string;
  readonly units: number;
  /** Binomial: converted units. Mean: Σ value. Ratio: Σ numerator. */
  readonly sum: number;
  readonly sumSquares: number;
  readonly denominatorSum: number;
  readonly denominatorSumSquares: number;
  readonly sumProductWithDenominator: number;
  /** CUPED: the pre-exposure covariate (usually the same metric before exposure). */
  readonly covariateSum: number;
  readonly covariateSumSquares: number;
  readonly sumProductWithCovariate: number;
}

export interface AnalysisSettings {
  readonly metric: { readonly type: MetricType; readonly inverse: boolean };
  readonly engine: Engine;
  readonly difference: Difference;
  readonly alpha: number;
  /** Present: sequential testing with this tuning N*. */
  readonly sequential?: { readonly tuning: number };
  readonly oneSided: boolean;
  /** Present: a proper Gaussian prior on the relative effect (Bayesian engine). */
  readonly prior?: GaussianPrior;
  readonly cuped: boolean;
  /** Expected traffic split for the sample-ratio-mismatch check; absent = equal. */
  readonly weights?: readonly number[];
}

export interface AnalysisInput extends AnalysisSettings {
  /** The first is the control. */
  readonly variations: readonly VariationStatistics[];
}

/** Bad input, with the path of the offending field (e.g. `variations[1].units`). */
export class AnalysisInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'AnalysisInputError';
  }
}

type Json = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function finiteNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new AnalysisInputError(field, `must be a finite number, got ${describe(value)}`);
  return value;
}

function optionalNumber(object: Json, key: string, field: string, required: boolean): number {
  const value = object[key];
  if (value === undefined || value === null) {
    if (required) throw new AnalysisInputError(field, `is required for this metric, got ${describe(value)}`);
    return 0;
  }
  return finiteNumber(value, field);
}

function optionalBoolean(object: Json, key: string, field: string): boolean {
  const value = object[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new AnalysisInputError(field, `must be true or false, got ${describe(value)}`);
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string, fallback?: T): T {
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new AnalysisInputError(field, `must be one of ${allowed.map((x) => `"${x}"`).join(', ')}, got ${describe(value)}`);
}

function parseVariation(value: unknown, index: number, settings: AnalysisSettings): VariationStatistics {
  const at = `variations[${index}]`;
  if (!isObject(value)) throw new AnalysisInputError(at, `must be an object, got ${describe(value)}`);
  if (typeof value.name !== 'string') throw new AnalysisInputError(`${at}.name`, `must be a string, got ${describe(value.name)}`);
  const units = finiteNumber(value.units, `${at}.units`);
  if (units < 0 || !Number.isInteger(units)) throw new AnalysisInputError(`${at}.units`, `must be a whole number ≥ 0, got ${describe(units)}`);
  const type = settings.metric.type;
  const field = (key: string, required: boolean) => optionalNumber(value, key, `${at}.${key}`, required);
  // The contract makes the ratio and covariate sums optional (absent = 0); a value that is there must be a number.
  return {
    name: value.name,
    units,
    sum: field('sum', true),
    sumSquares: field('sumSquares', type !== 'binomial'),
    denominatorSum: field('denominatorSum', false),
    denominatorSumSquares: field('denominatorSumSquares', false),
    sumProductWithDenominator: field('sumProductWithDenominator', false),
    covariateSum: field('covariateSum', false),
    covariateSumSquares: field('covariateSumSquares', false),
    sumProductWithCovariate: field('sumProductWithCovariate', false),
  };
}

/**
 * Reads and checks a parsed `stats.json`. Absent settings take gbstats' defaults (engine bayesian, difference
 * relative, alpha 0.05, flat prior, fixed-horizon two-sided test, no CUPED); unknown fields are ignored.
 */
export function parseAnalysisInput(value: unknown): AnalysisInput {
  if (!isObject(value)) throw new AnalysisInputError('(root)', `must be a JSON object, got ${describe(value)}`);
  const metricValue = value.metric;
  if (!isObject(metricValue)) throw new AnalysisInputError('metric', `must be an object like {"type": "binomial"}, got ${describe(metricValue)}`);
  const metric = {
    type: oneOf<MetricType>(metricValue.type, ['binomial', 'mean', 'ratio'], 'metric.type'),
    inverse: optionalBoolean(metricValue, 'inverse', 'metric.inverse'),
  };
  const engine = oneOf<Engine>(value.engine, ['frequentist', 'bayesian'], 'engine', 'bayesian');
  const difference = oneOf<Difference>(value.difference, ['relative', 'absolute'], 'difference', 'relative');

  let alpha = 0.05;
  if (value.alpha !== undefined && value.alpha !== null) {
    alpha = finiteNumber(value.alpha, 'alpha');
    if (!(alpha > 0 && alpha < 1)) throw new AnalysisInputError('alpha', `must be between 0 and 1 (exclusive), got ${describe(alpha)}`);
  }

  let sequential: { tuning: number } | undefined;
  const sequentialValue = value.sequential;
  if (sequentialValue === true) sequential = { tuning: 5000 };
  else if (isObject(sequentialValue)) {
    const tuning = sequentialValue.tuning === undefined || sequentialValue.tuning === null ? 5000 : finiteNumber(sequentialValue.tuning, 'sequential.tuning');
    if (!(tuning > 0)) throw new AnalysisInputError('sequential.tuning', `must be a positive number of units, got ${describe(tuning)}`);
    sequential = { tuning };
  } else if (sequentialValue !== undefined && sequentialValue !== null && sequentialValue !== false) {
    throw new AnalysisInputError('sequential', `must be an object like {"tuning": 5000}, got ${describe(sequentialValue)}`);
  }

  let prior: GaussianPrior | undefined;
  const priorValue = value.prior;
  if (isObject(priorValue)) {
    const mean = priorValue.mean === undefined || priorValue.mean === null ? 0 : finiteNumber(priorValue.mean, 'prior.mean');
    const stdDev = priorValue.stddev === undefined || priorValue.stddev === null ? 0.3 : finiteNumber(priorValue.stddev, 'prior.stddev');
    if (!(stdDev > 0)) throw new AnalysisInputError('prior.stddev', `must be greater than 0, got ${describe(stdDev)}`);
    prior = { mean, stdDev };
  } else if (priorValue !== undefined && priorValue !== null) {
    throw new AnalysisInputError('prior', `must be an object like {"mean": 0, "stddev": 0.3}, got ${describe(priorValue)}`);
  }

  const oneSided = optionalBoolean(value, 'oneSided', 'oneSided');
  const cuped = optionalBoolean(value, 'cuped', 'cuped');
  if (cuped && metric.type === 'ratio') {
    throw new AnalysisInputError('cuped', 'applies to binomial and mean metrics only (a ratio needs pre-exposure sums for both parts)');
  }

  const variationsValue = value.variations;
  if (!Array.isArray(variationsValue) || variationsValue.length === 0) {
    throw new AnalysisInputError('variations', `must be a non-empty array (the first is the control), got ${describe(variationsValue)}`);
  }

  let weights: number[] | undefined;
  if (value.weights !== undefined && value.weights !== null) {
    if (!Array.isArray(value.weights) || value.weights.length !== variationsValue.length) {
      throw new AnalysisInputError('weights', `must be an array with one weight per variation (${variationsValue.length}), got ${describe(value.weights)}`);
    }
    weights = value.weights.map((w, i) => {
      const weight = finiteNumber(w, `weights[${i}]`);
      if (weight < 0) throw new AnalysisInputError(`weights[${i}]`, `must be ≥ 0, got ${describe(weight)}`);
      return weight;
    });
    if (!weights.some((w) => w > 0)) throw new AnalysisInputError('weights', 'must have at least one weight above 0');
  }

  const settings: AnalysisSettings = {
    metric,
    engine,
    difference,
    alpha,
    oneSided,
    cuped,
    ...(sequential ? { sequential } : {}),
    ...(prior ? { prior } : {}),
    ...(weights ? { weights } : {}),
  };
  const variations = variationsValue.map((v, i) => parseVariation(v, i, settings));
  return { ...settings, variations };
}
