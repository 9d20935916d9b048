// The effect of a treatment against the control and its standard error (gbstats EffectMoments): an absolute
// difference of means, or a relative one by the delta method, with CUPED's own variance for relative effects.
import { ZERO_NEGATIVE_BASELINE_VARIATION, ZERO_NEGATIVE_VARIANCE, type ComparisonErrorCode } from './errors.js';
import {
  baseMean,
  baseVariance,
  meanOf,
  quadraticForm,
  ratioCupedCovariance,
  ratioCupedGradient,
  regressionCovariance,
  thetaOf,
  unadjustedMeanOf,
  varianceOf,
  varianceOfRatio,
  type ArmStatistic,
  type RegressionAdjustedRatioStatistic,
  type RegressionAdjustedStatistic,
} from './statistics.js';

export type Difference = 'relative' | 'absolute';

export interface EffectEstimate {
  /** Relative uplift (treatment − control) / |control|, or the absolute difference. */
  readonly estimate: number;
  readonly stdError: number;
  /** Units in both arms. */
  readonly pairwiseSampleSize: number;
  readonly error?: ComparisonErrorCode;
}

function relativeCupedVariance(a: RegressionAdjustedStatistic, b: RegressionAdjustedStatistic): number {
  const controlMean = unadjustedMeanOf(a);
  const denominatorTreatment = b.n * controlMean ** 2;
  const denominatorControl = a.n * controlMean ** 2;
  if (denominatorTreatment === 0 || denominatorControl === 0) return 0;
  const theta = thetaOf(a);
  const treatment = (baseVariance(b.post) + theta ** 2 * baseVariance(b.pre) - 2 * theta * regressionCovariance(b)) / denominatorTreatment;
  // The control's gradient: −μ_B/μ_A on its post-period mean, θ on its covariate (gbstats' grouping, kept for parity).
  const negatedTreatmentMean = -baseMean(b.post);
  const postMean = baseMean(a.post);
  const control =
    (baseVariance(a.post) * negatedTreatmentMean ** 2) / postMean ** 2 +
    (2 * theta * regressionCovariance(a) * negatedTreatmentMean) / postMean +
    theta ** 2 * baseVariance(a.pre);
  return treatment + control / denominatorControl;
}

function relativeRatioCupedVariance(a: RegressionAdjustedRatioStatistic, b: RegressionAdjustedRatioStatistic): number {
  const controlMean = unadjustedMeanOf(a);
  const denominatorMean = baseMean(a.denominatorPost);
  if (controlMean === 0 || denominatorMean === 0) return 0;
  // The estimate is (B − A)/|A₀|: the gradient's control part carries the baseline's sign.
  const absoluteGradient = (meanOf(b) - meanOf(a)) * Math.sign(controlMean);
  const scale = Math.abs(controlMean);
  const numeratorMean = baseMean(a.numeratorPost);
  const gradientA = ratioCupedGradient(a);
  const controlGradient = [
    -(scale + absoluteGradient) / denominatorMean / scale ** 2,
    ((numeratorMean * scale) / denominatorMean ** 2 + (numeratorMean * absoluteGradient) / denominatorMean ** 2) / scale ** 2,
    -gradientA[2]! / scale,
    -gradientA[3]! / scale,
  ];
  const treatmentGradient = ratioCupedGradient(b).map((g) => g / scale);
  return (
    quadraticForm(controlGradient, ratioCupedCovariance(a), controlGradient) / a.n +
    quadraticForm(treatmentGradient, ratioCupedCovariance(b), treatmentGradient) / b.n
  );
}

/** Variance of the effect estimate: arms independent; relative effects by the delta method on the unadjusted means. */
export function effectVariance(a: ArmStatistic, b: ArmStatistic, difference: Difference): number {
  if (difference === 'relative' && a.kind === 'regressionAdjusted' && b.kind === 'regressionAdjusted') {
    return relativeCupedVariance(a, b);
  }
  if (difference === 'relative' && a.kind === 'regressionAdjustedRatio' && b.kind === 'regressionAdjustedRatio') {
    return relativeRatioCupedVariance(a, b);
  }
  const varianceA = varianceOf(a) / a.n;
  const varianceB = varianceOf(b) / b.n;
  if (difference === 'relative') return varianceOfRatio(unadjustedMeanOf(b), varianceB, unadjustedMeanOf(a), varianceA, 0);
  return varianceB + varianceA;
}

/** The point estimate: relative effects divide by the unadjusted control mean's magnitude (signs stay meaningful). */
export function effectEstimate(a: ArmStatistic, b: ArmStatistic, difference: Difference): number {
  const meanA = meanOf(a);
  const meanB = meanOf(b);
  if (difference === 'absolute') return meanB - meanA;
  const unadjustedA = unadjustedMeanOf(a);
  const divisor = unadjustedA ? unadjustedA : meanA;
  return (meanB - meanA) / Math.abs(divisor);
}

/**
 * The effect of `b` (treatment) over `a` (control), or gbstats' error code when it cannot be estimated: a variance
 * that is 0 or negative in either arm or in the effect (this includes a relative effect over a control mean of 0),
 * or a control mean of 0.
 */
export function estimateEffect(a: ArmStatistic, b: ArmStatistic, difference: Difference): EffectEstimate {
  // Checked in gbstats' order, so the effect's variance is only computed when both arms have a spread (and units).
  if (varianceOf(a) <= 0 || varianceOf(b) <= 0) return degenerate(ZERO_NEGATIVE_VARIANCE);
  const variance = effectVariance(a, b, difference);
  if (variance <= 0) return degenerate(ZERO_NEGATIVE_VARIANCE);
  if (meanOf(a) === 0 || unadjustedMeanOf(a) === 0) {
    return degenerate(ZERO_NEGATIVE_BASELINE_VARIATION);
  }
  return { estimate: effectEstimate(a, b, difference), stdError: Math.sqrt(variance), pairwiseSampleSize: a.n + b.n };
}

function degenerate(error: ComparisonErrorCode): EffectEstimate {
  return { estimate: 0, stdError: 0, pairwiseSampleSize: 0, error };
}
