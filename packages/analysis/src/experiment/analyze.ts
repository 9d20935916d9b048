// `vexil experiment analyze`: from per-variation sufficient statistics to gbstats-compatible results, every treatment
// compared with the first variation (the control). Field by field, see reference/experiments.md §14.
import { bayesianTest } from '../stats/bayesian.js';
import { frequentistTest, type Sides } from '../stats/frequentist.js';
import { sampleRatioMismatchPValue } from '../stats/srm.js';
import {
  proportion,
  ratio,
  regressionAdjusted,
  sampleMean,
  stdDevOf,
  unadjustedMeanOf,
  unadjustedVarianceOf,
  type ArmStatistic,
} from '../stats/statistics.js';
import type { AnalysisInput, AnalysisSettings, VariationStatistics } from './input.js';

/** JSON has no infinities: an open side of a one-sided interval is null. */
export type Bound = number | null;

export interface EffectOutput {
  readonly expected: number;
  readonly stdError: number;
  readonly ci: [Bound, Bound];
  /** Frequentist; null when the sequential one-sided search does not converge. */
  readonly pValue?: number | null;
  /** Bayesian. */
  readonly chanceToWin?: number;
  /** Bayesian: [risk of choosing the control, risk of choosing the treatment]. */
  readonly risk?: [number, number];
  /** gbstats' error code for a comparison it cannot make; the numbers are then its defaults. */
  readonly error?: string;
}

export interface VariationOutput {
  readonly name: string;
  readonly units: number;
  /** The variation's own (unadjusted) mean: conversion rate, mean value, or ratio. */
  readonly mean: number;
  readonly stdDev: number;
  /** Absent on the control. */
  readonly effect?: EffectOutput;
}

export interface AnalysisOutput {
  readonly srm: { readonly pValue: number };
  readonly variations: VariationOutput[];
}

/** The engine's statistic for one variation, as gbstats builds it from a metric row. */
export function statisticOf(variation: VariationStatistics, settings: Pick<AnalysisSettings, 'metric' | 'cuped'>): ArmStatistic {
  const n = variation.units;
  const type = settings.metric.type;
  if (type === 'ratio') {
    return ratio(
      n,
      sampleMean(n, variation.sum, variation.sumSquares),
      sampleMean(n, variation.denominatorSum, variation.denominatorSumSquares),
      variation.sumProductWithDenominator,
    );
  }
  const post = type === 'binomial' ? proportion(n, variation.sum) : sampleMean(n, variation.sum, variation.sumSquares);
  if (!settings.cuped) return post;
  const pre = type === 'binomial' ? proportion(n, variation.covariateSum) : sampleMean(n, variation.covariateSum, variation.covariateSumSquares);
  return regressionAdjusted(n, post, pre, variation.sumProductWithCovariate);
}

function bound(x: number): Bound {
  return Number.isFinite(x) ? x : null;
}

function sidesFor(settings: AnalysisSettings): Sides {
  if (!settings.oneSided) return 'two-sided';
  // gbstats looks for harm: a lower value of a normal metric, a higher value of an inverse one.
  return settings.metric.inverse ? 'greater' : 'lesser';
}

function compare(control: ArmStatistic, treatment: ArmStatistic, settings: AnalysisSettings): EffectOutput {
  if (settings.engine === 'bayesian') {
    const r = bayesianTest(control, treatment, {
      difference: settings.difference,
      alpha: settings.alpha,
      inverse: settings.metric.inverse,
      ...(settings.prior ? { prior: settings.prior } : {}),
    });
    return {
      expected: r.expected,
      stdError: r.stdError,
      ci: [bound(r.ci[0]), bound(r.ci[1])],
      chanceToWin: r.chanceToWin,
      risk: [r.risk[0], r.risk[1]],
      ...(r.error ? { error: r.error } : {}),
    };
  }
  const r = frequentistTest(control, treatment, {
    difference: settings.difference,
    alpha: settings.alpha,
    sides: sidesFor(settings),
    ...(settings.sequential ? { sequential: settings.sequential } : {}),
  });
  return {
    expected: r.expected,
    stdError: r.stdError,
    ci: [bound(r.ci[0]), bound(r.ci[1])],
    pValue: r.pValue,
    ...(r.error ? { error: r.error } : {}),
  };
}

/** Analyses one metric of an experiment: the SRM check and each treatment against the control. Pure; never throws on parsed input. */
export function analyzeExperiment(input: AnalysisInput): AnalysisOutput {
  const statistics = input.variations.map((v) => statisticOf(v, input));
  const control = statistics[0]!;
  const variations = input.variations.map((variation, i): VariationOutput => {
    const statistic = statistics[i]!;
    const row = {
      name: variation.name,
      units: variation.units,
      mean: unadjustedMeanOf(statistic),
      stdDev: stdDevOf(unadjustedVarianceOf(statistic)),
    };
    return i === 0 ? row : { ...row, effect: compare(control, statistic, input) };
  });
  return { srm: { pValue: sampleRatioMismatchPValue(input.variations.map((v) => v.units), input.weights) }, variations };
}
