// Judging one gate on one check: successful, failed or inconclusive, with the figures that decided it. A check with
// too few units or no data is inconclusive, never a pass.
import type { GateCheck, NormalizedGate, ThresholdRange } from '@vexil/core';
import { frequentistTest } from '../stats/frequentist.js';
import { sampleMean, type SampleMeanStatistic } from '../stats/statistics.js';
import type { ArmMeasurement, Measurements, MetricMeasurement } from './measurements.js';

export interface GateOptions {
  minSampleSize: number;
  /** One-sided level of the relative test. Default 0.05. */
  alpha?: number;
  /** N* of the sequential test (total units at which it is tightest). Default 5000, GrowthBook's. */
  sequentialTuning?: number;
}

export function describeRange(range: ThresholdRange): string {
  if (range.min !== undefined && range.max !== undefined) return `${range.min} ≤ value ≤ ${range.max}`;
  if (range.min !== undefined) return `≥ ${range.min}`;
  return `≤ ${range.max}`;
}

export function inRange(value: number, range: ThresholdRange): boolean {
  return !(range.min !== undefined && value < range.min) && !(range.max !== undefined && value > range.max);
}

function metricOf(arm: ArmMeasurement | undefined, metric: string): MetricMeasurement {
  return arm?.metrics[metric] ?? { events: 0, errors: 0 };
}

/** Errors per unit as gbstats' sample-mean statistic (see MetricMeasurement.errorsSumSquares for the default). */
export function errorRateStatistic(units: number, metric: MetricMeasurement, scale = 1): SampleMeanStatistic {
  const sumSquares = metric.errorsSumSquares ?? (metric.errors <= units ? metric.errors : metric.errors + (metric.errors * metric.errors) / units);
  return sampleMean(units, metric.errors * scale, sumSquares * scale * scale);
}

const round = (value: number): number => (Number.isFinite(value) ? Number(value.toPrecision(6)) : value);

/** Judges `gate` on `measurements` (the window since the step started). */
export function judgeGate(gate: NormalizedGate, measurements: Measurements | undefined, options: GateOptions): GateCheck {
  const { minSampleSize } = options;
  if (gate.kind === 'prometheus') {
    const threshold = describeRange(gate.thresholdRange);
    const result = measurements?.queries[gate.query];
    if (!result) return { gate: gate.name, phase: 'inconclusive', threshold, message: 'no result for the query' };
    if (!result.ok) return { gate: gate.name, phase: 'inconclusive', threshold, message: `${result.reason}: ${result.message}` };
    if (!Number.isFinite(result.value)) return { gate: gate.name, phase: 'inconclusive', threshold, message: `no data (${result.value})` };
    return { gate: gate.name, phase: inRange(result.value, gate.thresholdRange) ? 'successful' : 'failed', value: round(result.value), threshold };
  }

  const rollout = measurements?.rollout;
  const control = measurements?.control;
  const rolloutUnits = rollout?.units ?? 0;
  const controlUnits = control?.units ?? 0;

  if (gate.kind === 'relative') {
    const threshold = `increase ≤ ${round(gate.maxIncrease * 100)}% over control`;
    const units = { rollout: rolloutUnits, control: controlUnits };
    if (rolloutUnits < minSampleSize || controlUnits < minSampleSize) {
      return { gate: gate.name, phase: 'inconclusive', threshold, units, message: `too few units (rollout ${rolloutUnits}, control ${controlUnits}; need ${minSampleSize} each)` };
    }
    const rolloutMetric = metricOf(rollout, gate.metric);
    const controlMetric = metricOf(control, gate.metric);
    const value = rolloutMetric.errors / rolloutUnits;
    const controlValue = controlMetric.errors / controlUnits;
    const increase = controlValue > 0 ? value / controlValue - 1 : value > 0 ? Infinity : 0;
    // H0: rollout rate ≤ (1 + maxIncrease) × control rate. The control arm is scaled by (1 + maxIncrease) and the
    // absolute difference tested one-sided with a sequential confidence sequence (valid however often it is checked):
    // the gate fails only when the lower bound of (rollout − scaled control) is above 0.
    const scaled = errorRateStatistic(controlUnits, controlMetric, 1 + gate.maxIncrease);
    const test = frequentistTest(scaled, errorRateStatistic(rolloutUnits, rolloutMetric), {
      difference: 'absolute',
      sides: 'greater',
      alpha: options.alpha ?? 0.05,
      sequential: { tuning: options.sequentialTuning ?? 5000 },
    });
    const lower = test.error ? 0 : test.ci[0];
    const base = { gate: gate.name, value: round(value), control: round(controlValue), increase: round(increase), units, threshold };
    if (test.error && value > 0 && controlValue === 0 && rolloutMetric.errors >= 5) {
      // No variance to test against (the control had no error at all): a handful of errors on the rollout arm fails.
      return { ...base, phase: 'failed', message: `${rolloutMetric.errors} errors on the rollout arm, none on control` };
    }
    const increaseLowerBound = controlValue > 0 ? round((lower + (1 + gate.maxIncrease) * controlValue) / controlValue - 1) : undefined;
    return { ...base, ...(increaseLowerBound !== undefined ? { increaseLowerBound } : {}), phase: !test.error && lower > 0 ? 'failed' : 'successful' };
  }

  const threshold = describeRange(gate.thresholdRange);
  if (rolloutUnits < minSampleSize) {
    return { gate: gate.name, phase: 'inconclusive', threshold, units: { rollout: rolloutUnits }, message: `too few units (${rolloutUnits}; need ${minSampleSize})` };
  }
  if (gate.kind === 'rate') {
    const value = metricOf(rollout, gate.metric).errors / rolloutUnits;
    return { gate: gate.name, phase: inRange(value, gate.thresholdRange) ? 'successful' : 'failed', value: round(value), units: { rollout: rolloutUnits }, threshold };
  }
  const metric = rollout?.metrics[gate.metric];
  const value = metric?.quantiles?.[String(gate.quantile)];
  if (!metric || metric.events === 0 || value === undefined || !Number.isFinite(value)) {
    return { gate: gate.name, phase: 'inconclusive', threshold, units: { rollout: rolloutUnits }, message: `no ${gate.metric} values on the rollout arm` };
  }
  return { gate: gate.name, phase: inRange(value, gate.thresholdRange) ? 'successful' : 'failed', value: round(value), units: { rollout: rolloutUnits }, threshold };
}
