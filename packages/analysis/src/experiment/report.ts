// An experiment's results as `vexil experiment results` and `GET /admin/v1/flags/{key}/experiment` show them: every
// metric analysed per variation against the control, goal metrics corrected together, and health warnings. Pure:
// the caller brings the plan (from the flag's `experiment` block) and the sufficient statistics (from the events store).
import { analyzeExperiment, type AnalysisOutput } from './analyze.js';
import { adjustGoalMetrics } from './corrections.js';
import { isSampleRatioMismatch, sampleRatioMismatchPValue, SRM_P_VALUE_THRESHOLD } from '../stats/srm.js';
import type { Bound } from './analyze.js';

/** Structurally @vexil/core's ExperimentPlan (analysis depends on nothing). */
export interface ReportPlan {
  control: string;
  variations: string[];
  weights: number[];
  start?: number;
  end?: number;
  attributionWindowMs: number;
  engine: 'frequentist' | 'bayesian';
  alpha: number;
  sequential: boolean;
  correction: 'holm-bonferroni' | 'benjamini-hochberg' | 'none';
  minUnits: number;
  /** CUPED: set when the plan asks for it (the statistics then carry the covariate sums). */
  cupedLookbackMs?: number;
  metrics: { name: string; event: string; type: 'binomial' | 'mean' | 'ratio'; denominator?: string; role: 'goal' | 'guardrail' | 'secondary'; inverse: boolean }[];
}

/** Structurally the events store's ExperimentStatistics. */
export interface ReportStatistics {
  units: { variation: string; units: number }[];
  multipleExposures: number;
  multipleExposureShare: number;
  exposuresByHour?: { at: string; variation: string; units: number }[];
  metrics: {
    name: string;
    variations: {
      variation: string;
      units: number;
      sum: number;
      sumSquares: number;
      denominatorSum: number;
      denominatorSumSquares: number;
      sumProductWithDenominator: number;
      covariateSum?: number;
      covariateSumSquares?: number;
      sumProductWithCovariate?: number;
    }[];
  }[];
}

export type WarningCode = 'srm' | 'multiple_exposures' | 'too_little_data' | 'peeking' | 'unknown_variations';

export interface ExperimentWarning {
  code: WarningCode;
  message: string;
}

export interface VariationResult {
  variation: string;
  units: number;
  /** Binomial: converted units. */
  conversions?: number;
  /** Conversion rate, mean per unit, or ratio. */
  mean: number;
  stdDev: number;
  /** Against the control (absent on it): relative uplift, its interval, and the engine's figures. */
  uplift?: {
    expected: number;
    ci: [Bound, Bound];
    pValue?: number | null;
    /** With the goal-metric correction (frequentist goal metrics). */
    pValueAdjusted?: number;
    ciAdjusted?: [Bound, Bound];
    chanceToWin?: number;
    risk?: [number, number];
    /** The metric moved the right way (respecting `inverse`) with confidence: p < alpha, or chance to win ≥ 95 %. */
    significant: 'better' | 'worse' | 'none';
    error?: string;
  };
}

export interface MetricResult {
  name: string;
  event: string;
  type: 'binomial' | 'mean' | 'ratio';
  role: 'goal' | 'guardrail' | 'secondary';
  inverse: boolean;
  variations: VariationResult[];
}

export interface ExperimentReport {
  control: string;
  engine: 'frequentist' | 'bayesian';
  alpha: number;
  sequential: boolean;
  correction: ReportPlan['correction'];
  status: 'not-started' | 'running' | 'ended';
  start: string | null;
  end: string | null;
  attributionWindowHours: number;
  /** CUPED's lookback in days (binomial and mean metrics adjusted); null: no CUPED. */
  cupedLookbackDays: number | null;
  exposures: { variation: string; units: number; expectedShare: number }[];
  /** Per hour (ISO 8601) with new units, the units first exposed so far per variation (plan order). */
  cumulativeExposures: { at: string; units: number[] }[];
  multipleExposures: number;
  multipleExposureShare: number;
  srm: { pValue: number; mismatch: boolean };
  metrics: MetricResult[];
  warnings: ExperimentWarning[];
}

const CHANCE_TO_WIN = 0.95;
/** Above this share of units seen in more than one variation, the assignment is suspect (GrowthBook warns at 1 %). */
export const MULTIPLE_EXPOSURE_THRESHOLD = 0.01;

export function experimentReport(plan: ReportPlan, stats: ReportStatistics, now: number): ExperimentReport {
  const unitsOf = new Map(stats.units.map((row) => [row.variation, row.units]));
  const counts = plan.variations.map((name) => unitsOf.get(name) ?? 0);
  const srmPValue = sampleRatioMismatchPValue(counts, plan.weights);
  const totalWeight = plan.weights.reduce((a, b) => a + b, 0) || 1;
  const warnings: ExperimentWarning[] = [];
  const status = plan.start !== undefined && now < plan.start ? 'not-started' : plan.end !== undefined && now >= plan.end ? 'ended' : 'running';

  if (isSampleRatioMismatch(srmPValue)) {
    const shares = counts.map((n, i) => `${plan.variations[i]} ${n}`).join(', ');
    warnings.push({
      code: 'srm',
      message: `sample ratio mismatch (p = ${srmPValue.toPrecision(2)} < ${SRM_P_VALUE_THRESHOLD}): units per variation (${shares}) do not follow the split; the results cannot be trusted until the cause is found`,
    });
  }
  if (stats.multipleExposureShare > MULTIPLE_EXPOSURE_THRESHOLD) {
    warnings.push({
      code: 'multiple_exposures',
      message: `${(stats.multipleExposureShare * 100).toFixed(1)} % of units (${stats.multipleExposures}) saw more than one variation and are left out: is the split stable for a unit (bucketingKey, changing percentages)?`,
    });
  }
  const small = plan.variations.filter((_, i) => counts[i]! < plan.minUnits);
  if (small.length > 0) {
    warnings.push({ code: 'too_little_data', message: `too little data: ${small.map((v) => `"${v}" has ${unitsOf.get(v) ?? 0} units`).join(', ')} (fewer than ${plan.minUnits})` });
  }
  const unknown = stats.units.filter((row) => !plan.variations.includes(row.variation));
  if (unknown.length > 0) {
    warnings.push({ code: 'unknown_variations', message: `units were exposed to variations the flag no longer has: ${unknown.map((u) => `"${u.variation}" (${u.units})`).join(', ')}; they are left out` });
  }
  if (plan.engine === 'frequentist' && !plan.sequential && status === 'running') {
    warnings.push({
      code: 'peeking',
      message: `fixed-horizon test still running${plan.end === undefined ? ' (no end date)' : ` until ${new Date(plan.end).toISOString()}`}: its p-values hold only at the planned end; stopping early on a significant result inflates false positives (set sequential: true to look any time)`,
    });
  }

  const analyses: AnalysisOutput[] = plan.metrics.map((metric) => {
    const rows = new Map((stats.metrics.find((m) => m.name === metric.name)?.variations ?? []).map((row) => [row.variation, row]));
    return analyzeExperiment({
      metric: { type: metric.type, inverse: metric.inverse },
      engine: plan.engine,
      difference: 'relative',
      alpha: plan.alpha,
      ...(plan.sequential ? { sequential: { tuning: 5000 } } : {}),
      oneSided: false,
      // CUPED where the plan asks for it and the metric allows it (gbstats adjusts binomial and mean metrics here).
      cuped: plan.cupedLookbackMs !== undefined && metric.type !== 'ratio',
      weights: plan.weights,
      variations: plan.variations.map((name) => {
        const row = rows.get(name);
        return {
          name,
          units: row?.units ?? 0,
          sum: row?.sum ?? 0,
          sumSquares: row?.sumSquares ?? 0,
          denominatorSum: row?.denominatorSum ?? 0,
          denominatorSumSquares: row?.denominatorSumSquares ?? 0,
          sumProductWithDenominator: row?.sumProductWithDenominator ?? 0,
          covariateSum: row?.covariateSum ?? 0,
          covariateSumSquares: row?.covariateSumSquares ?? 0,
          sumProductWithCovariate: row?.sumProductWithCovariate ?? 0,
        };
      }),
    });
  });

  const goalIndexes = plan.metrics.flatMap((metric, i) => (metric.role === 'goal' ? [i] : []));
  const adjusted =
    plan.engine === 'frequentist' && plan.correction !== 'none' && goalIndexes.length > 0
      ? adjustGoalMetrics(
          goalIndexes.map((i) => analyses[i]!),
          plan.correction,
          plan.alpha,
        )
      : [];

  const metrics = plan.metrics.map((metric, m): MetricResult => {
    const output = analyses[m]!;
    const rows = new Map((stats.metrics.find((x) => x.name === metric.name)?.variations ?? []).map((row) => [row.variation, row]));
    return {
      name: metric.name,
      event: metric.event,
      type: metric.type,
      role: metric.role,
      inverse: metric.inverse,
      variations: output.variations.map((v, i): VariationResult => {
        const base: VariationResult = {
          variation: v.name,
          units: v.units,
          ...(metric.type === 'binomial' ? { conversions: rows.get(v.name)?.sum ?? 0 } : {}),
          mean: v.mean,
          stdDev: v.stdDev,
        };
        if (i === 0 || !v.effect) return base;
        const effect = v.effect;
        const correction = adjusted.find((a) => goalIndexes[a.metric] === m && a.variation === i);
        const up = effect.expected > 0;
        let significant: 'better' | 'worse' | 'none' = 'none';
        if (!effect.error) {
          const pValue = correction?.pValueAdjusted ?? effect.pValue;
          if (plan.engine === 'frequentist' && typeof pValue === 'number' && pValue < plan.alpha) significant = up !== metric.inverse ? 'better' : 'worse';
          if (plan.engine === 'bayesian' && effect.chanceToWin !== undefined) {
            if (effect.chanceToWin >= CHANCE_TO_WIN) significant = 'better';
            else if (effect.chanceToWin <= 1 - CHANCE_TO_WIN) significant = 'worse';
          }
        }
        return {
          ...base,
          uplift: {
            expected: effect.expected,
            ci: effect.ci,
            ...(effect.pValue !== undefined ? { pValue: effect.pValue } : {}),
            ...(correction ? { pValueAdjusted: correction.pValueAdjusted, ciAdjusted: correction.ciAdjusted } : {}),
            ...(effect.chanceToWin !== undefined ? { chanceToWin: effect.chanceToWin } : {}),
            ...(effect.risk !== undefined ? { risk: effect.risk } : {}),
            significant,
            ...(effect.error ? { error: effect.error } : {}),
          },
        };
      }),
    };
  });

  return {
    control: plan.control,
    engine: plan.engine,
    alpha: plan.alpha,
    sequential: plan.sequential,
    correction: plan.correction,
    status,
    start: plan.start === undefined ? null : new Date(plan.start).toISOString(),
    end: plan.end === undefined ? null : new Date(plan.end).toISOString(),
    attributionWindowHours: plan.attributionWindowMs / 3_600_000,
    cupedLookbackDays: plan.cupedLookbackMs === undefined ? null : plan.cupedLookbackMs / 86_400_000,
    exposures: plan.variations.map((variation, i) => ({ variation, units: counts[i]!, expectedShare: plan.weights[i]! / totalWeight })),
    cumulativeExposures: cumulative(plan.variations, stats.exposuresByHour ?? []),
    multipleExposures: stats.multipleExposures,
    multipleExposureShare: stats.multipleExposureShare,
    srm: { pValue: srmPValue, mismatch: isSampleRatioMismatch(srmPValue) },
    metrics,
    warnings,
  };
}

function cumulative(variations: readonly string[], points: readonly { at: string; variation: string; units: number }[]): { at: string; units: number[] }[] {
  const running = variations.map(() => 0);
  const out: { at: string; units: number[] }[] = [];
  for (const point of [...points].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))) {
    const index = variations.indexOf(point.variation);
    if (index === -1) continue;
    running[index]! += point.units;
    const last = out[out.length - 1];
    if (last && last.at === point.at) last.units = [...running];
    else out.push({ at: point.at, units: [...running] });
  }
  return out;
}
