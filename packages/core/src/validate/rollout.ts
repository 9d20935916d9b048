// Validation of Vexil's progressive-delivery fields (`rollout`, `killSwitch`, `rolloutState`): every problem names the
// field, and the flag checker adds the file, line and flag key.
import type { FlagDefinition } from '../model/flag.js';
import type { FieldPath } from '../parse/flag-file.js';
import { describeType } from '../model/describe.js';
import { baselineVariation, parseDuration, parseFraction, stepPercentages } from '../rollout/progressive-delivery.js';

export interface RolloutProblemSink {
  error(path: FieldPath, message: string): void;
  warning(path: FieldPath, message: string): void;
  /** Fields unknown to a map (reported as warnings, ignored). */
  unknownFields(object: Record<string, unknown>, path: FieldPath, known: readonly string[], what: string): void;
}

const PLAN_FIELDS = ['variation', 'steps', 'stepWeight', 'maxWeight', 'interval', 'approval', 'onFailure', 'gates', 'failureLimit', 'consecutiveSuccessLimit', 'minSampleSize', 'inconclusiveLimit'];
const GATE_FIELDS = ['name', 'metric', 'compare', 'maxIncrease', 'quantile', 'prometheus', 'thresholdRange', 'dryRun'];
const KILL_SWITCH_FIELDS = ['metric', 'thresholdRange', 'window', 'minSampleSize'];
const STATUSES = ['running', 'waiting-for-approval', 'paused', 'promoted', 'rolled-back', 'aborted'];

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isInteger(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min;
}

export function checkRolloutFields(flag: FlagDefinition, variationNames: ReadonlySet<string>, sink: RolloutProblemSink): void {
  if (flag.rollout !== undefined) checkPlan(flag, variationNames, sink);
  if (flag.killSwitch !== undefined) checkKillSwitch(flag.killSwitch, sink);
  if (flag.rolloutState !== undefined) checkState(flag, sink);
}

function checkVariation(name: unknown, path: FieldPath, variationNames: ReadonlySet<string>, sink: RolloutProblemSink): boolean {
  if (typeof name !== 'string') {
    sink.error(path, name === undefined ? 'missing: name the variation being released' : `a variation name must be a string, not ${describeType(name)}`);
    return false;
  }
  if (variationNames.size > 0 && !variationNames.has(name)) {
    sink.error(path, `unknown variation "${name}" (the flag has ${[...variationNames].map((n) => `"${n}"`).join(', ')})`);
    return false;
  }
  return true;
}

function checkPlan(flag: FlagDefinition, variationNames: ReadonlySet<string>, sink: RolloutProblemSink): void {
  const path: FieldPath = ['rollout'];
  const raw = flag.rollout as unknown;
  if (!isMap(raw)) {
    sink.error(path, `rollout must be a map (variation, steps, interval, gates…), not ${describeType(raw)}`);
    return;
  }
  sink.unknownFields(raw, path, PLAN_FIELDS, 'rollout');
  const variationOk = checkVariation(raw.variation, [...path, 'variation'], variationNames, sink);
  if (variationOk && flag.rolloutState === undefined) {
    const base = baselineVariation(flag.defaultRule);
    if (base === undefined) {
      sink.error(['defaultRule'], 'a flag with a rollout needs a defaultRule serving one variation (what the units outside the rollout keep)');
    } else if (base === raw.variation) {
      sink.warning([...path, 'variation'], `the defaultRule already serves "${base}": the rollout has nothing to release`);
    }
  }

  if (raw.steps !== undefined && raw.stepWeight !== undefined) sink.error([...path, 'stepWeight'], 'give either steps or stepWeight (with maxWeight), not both');
  if (raw.steps === undefined && raw.stepWeight === undefined) sink.error([...path, 'steps'], 'missing: give steps (e.g. [1, 5, 25, 50, 100]) or stepWeight with maxWeight');
  let stepsOk = true;
  if (raw.steps !== undefined) {
    if (!Array.isArray(raw.steps) || raw.steps.length === 0) {
      sink.error([...path, 'steps'], `steps must be a non-empty list of percentages, not ${describeType(raw.steps)}`);
      stepsOk = false;
    } else {
      let previous = 0;
      raw.steps.forEach((step: unknown, index) => {
        if (typeof step !== 'number' || !Number.isFinite(step) || step <= 0 || step > 100) {
          sink.error([...path, 'steps', index], `a step is a percentage above 0 and at most 100, not ${typeof step === 'number' ? step : describeType(step)}`);
          stepsOk = false;
        } else if (step <= previous) {
          sink.error([...path, 'steps', index], `steps must increase: ${step} comes after ${previous}`);
          stepsOk = false;
        } else previous = step;
      });
    }
  }
  for (const field of ['stepWeight', 'maxWeight'] as const) {
    const value = raw[field];
    if (value !== undefined && (typeof value !== 'number' || !(value > 0) || value > 100)) {
      sink.error([...path, field], `${field} is a percentage above 0 and at most 100, not ${typeof value === 'number' ? value : describeType(value)}`);
      stepsOk = false;
    }
  }
  if (raw.maxWeight !== undefined && raw.stepWeight === undefined) sink.error([...path, 'maxWeight'], 'maxWeight needs stepWeight');

  if (raw.interval === undefined) sink.error([...path, 'interval'], 'missing: how long each step runs before its gates are judged (e.g. 10m)');
  else if (Number.isNaN(parseDuration(raw.interval))) sink.error([...path, 'interval'], `"${String(raw.interval)}" is not a duration (e.g. 30s, 10m, 1h30m)`);

  if (raw.approval !== undefined) {
    if (!Array.isArray(raw.approval)) sink.error([...path, 'approval'], `approval must be a list of step percentages, not ${describeType(raw.approval)}`);
    else if (stepsOk) {
      const steps = stepPercentages(raw as never);
      raw.approval.forEach((percent: unknown, index) => {
        if (typeof percent !== 'number' || (percent < 100 && !steps.includes(percent)) || percent > 100) {
          sink.error([...path, 'approval', index], `${String(percent)} is not one of the steps (${[...steps, 100].join(', ')})`);
        }
      });
    }
  }
  if (raw.onFailure !== undefined && raw.onFailure !== 'rollback' && raw.onFailure !== 'pause') {
    sink.error([...path, 'onFailure'], `onFailure is rollback or pause, not ${JSON.stringify(raw.onFailure)}`);
  }
  if (raw.failureLimit !== undefined && !isInteger(raw.failureLimit, -1)) sink.error([...path, 'failureLimit'], 'failureLimit is a whole number ≥ 0 (or -1: never act on failures)');
  if (raw.consecutiveSuccessLimit !== undefined && !isInteger(raw.consecutiveSuccessLimit, 0)) sink.error([...path, 'consecutiveSuccessLimit'], 'consecutiveSuccessLimit is a whole number ≥ 0');
  if (raw.inconclusiveLimit !== undefined && !isInteger(raw.inconclusiveLimit, -1)) {
    sink.error([...path, 'inconclusiveLimit'], 'inconclusiveLimit is a whole number ≥ 0 (or -1: never pause on inconclusive checks)');
  }
  if (raw.minSampleSize !== undefined && !isInteger(raw.minSampleSize, 1)) sink.error([...path, 'minSampleSize'], 'minSampleSize is a whole number of units ≥ 1');
  if (raw.failureLimit === -1 && (raw.consecutiveSuccessLimit ?? 0) === 0) {
    sink.warning([...path, 'failureLimit'], 'with failureLimit -1 and no consecutiveSuccessLimit, no gate can ever stop the rollout');
  }

  if (raw.gates === undefined || (Array.isArray(raw.gates) && raw.gates.length === 0)) {
    sink.warning([...path, 'gates'], 'no gates: each step advances on time alone');
  } else if (!Array.isArray(raw.gates)) sink.error([...path, 'gates'], `gates must be a list, not ${describeType(raw.gates)}`);
  else raw.gates.forEach((gate: unknown, index) => checkGate(gate, [...path, 'gates', index], sink));
}

function checkGate(raw: unknown, path: FieldPath, sink: RolloutProblemSink): void {
  if (!isMap(raw)) {
    sink.error(path, `a gate must be a map (metric or prometheus, with a threshold), not ${describeType(raw)}`);
    return;
  }
  sink.unknownFields(raw, path, GATE_FIELDS, 'gate');
  if (raw.name !== undefined && typeof raw.name !== 'string') sink.error([...path, 'name'], `name must be a string, not ${describeType(raw.name)}`);
  if (raw.dryRun !== undefined && typeof raw.dryRun !== 'boolean') sink.error([...path, 'dryRun'], `dryRun is true or false, not ${describeType(raw.dryRun)}`);
  if (raw.prometheus !== undefined && raw.metric !== undefined) {
    sink.error(path, 'a gate has either metric or prometheus, not both');
    return;
  }
  if (raw.prometheus !== undefined) {
    if (typeof raw.prometheus !== 'string' || raw.prometheus.trim() === '') sink.error([...path, 'prometheus'], 'prometheus must be a PromQL query returning one number');
    for (const field of ['compare', 'maxIncrease', 'quantile'] as const) {
      if (raw[field] !== undefined) sink.error([...path, field], `${field} does not apply to a prometheus gate (its query computes the figure)`);
    }
    checkThresholdRange(raw.thresholdRange, [...path, 'thresholdRange'], sink, true);
    return;
  }
  if (raw.metric === undefined) {
    sink.error(path, 'a gate needs a metric (a tracked event) or a prometheus query');
    return;
  }
  if (typeof raw.metric !== 'string' || raw.metric === '') sink.error([...path, 'metric'], `metric must be the name of a tracked event, not ${describeType(raw.metric)}`);
  if (raw.compare !== undefined) {
    if (raw.compare !== 'control') sink.error([...path, 'compare'], `compare can only be "control", not ${JSON.stringify(raw.compare)}`);
    if (raw.quantile !== undefined) sink.error([...path, 'quantile'], 'a quantile gate is absolute: use thresholdRange, not compare');
    if (raw.thresholdRange !== undefined) sink.error([...path, 'thresholdRange'], 'a gate compared with control uses maxIncrease, not thresholdRange');
    if (raw.maxIncrease === undefined) sink.error([...path, 'maxIncrease'], 'missing: the largest tolerated increase over control (e.g. 10%)');
    else {
      const fraction = parseFraction(raw.maxIncrease);
      if (Number.isNaN(fraction) || fraction < 0) sink.error([...path, 'maxIncrease'], `"${String(raw.maxIncrease)}" is not a percentage (e.g. 10%)`);
    }
    return;
  }
  if (raw.maxIncrease !== undefined) sink.error([...path, 'maxIncrease'], 'maxIncrease needs compare: control');
  if (raw.quantile !== undefined && (typeof raw.quantile !== 'number' || !(raw.quantile > 0 && raw.quantile < 1))) {
    sink.error([...path, 'quantile'], `quantile is a number between 0 and 1 (0.99 for p99), not ${JSON.stringify(raw.quantile)}`);
  }
  checkThresholdRange(raw.thresholdRange, [...path, 'thresholdRange'], sink, true);
}

function checkThresholdRange(raw: unknown, path: FieldPath, sink: RolloutProblemSink, required: boolean): void {
  if (raw === undefined) {
    if (required) sink.error(path, 'missing: give thresholdRange { min, max } (or compare: control with maxIncrease)');
    return;
  }
  if (!isMap(raw)) {
    sink.error(path, `thresholdRange must be a map with min and/or max, not ${describeType(raw)}`);
    return;
  }
  sink.unknownFields(raw, path, ['min', 'max'], 'thresholdRange');
  for (const side of ['min', 'max'] as const) {
    const value = raw[side];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) sink.error([...path, side], `${side} must be a number, not ${describeType(value)}`);
  }
  if (raw.min === undefined && raw.max === undefined) sink.error(path, 'thresholdRange needs min, max or both');
  if (typeof raw.min === 'number' && typeof raw.max === 'number' && raw.min > raw.max) sink.error(path, `min (${raw.min}) is above max (${raw.max}): every value fails`);
}

function checkKillSwitch(raw: unknown, sink: RolloutProblemSink): void {
  const path: FieldPath = ['killSwitch'];
  if (!isMap(raw)) {
    sink.error(path, `killSwitch must be a map (metric, thresholdRange, window, minSampleSize), not ${describeType(raw)}`);
    return;
  }
  sink.unknownFields(raw, path, KILL_SWITCH_FIELDS, 'killSwitch');
  if (typeof raw.metric !== 'string' || raw.metric === '') sink.error([...path, 'metric'], raw.metric === undefined ? 'missing: the tracked event whose error rate trips the switch' : `metric must be a string, not ${describeType(raw.metric)}`);
  checkThresholdRange(raw.thresholdRange, [...path, 'thresholdRange'], sink, true);
  if (raw.window !== undefined && Number.isNaN(parseDuration(raw.window))) sink.error([...path, 'window'], `"${String(raw.window)}" is not a duration (e.g. 5m)`);
  if (raw.minSampleSize !== undefined && !isInteger(raw.minSampleSize, 1)) sink.error([...path, 'minSampleSize'], 'minSampleSize is a whole number of units ≥ 1');
}

function checkState(flag: FlagDefinition, sink: RolloutProblemSink): void {
  const path: FieldPath = ['rolloutState'];
  const raw = flag.rolloutState as unknown;
  if (!isMap(raw)) {
    sink.error(path, `rolloutState (written by the rollout controller) must be a map, not ${describeType(raw)}`);
    return;
  }
  if (flag.rollout === undefined) sink.warning(path, 'rolloutState without a rollout plan is ignored');
  if (typeof raw.status !== 'string' || !STATUSES.includes(raw.status)) sink.error([...path, 'status'], `status is one of ${STATUSES.join(', ')}`);
  if (!isInteger(raw.stepIndex, 0)) sink.error([...path, 'stepIndex'], 'stepIndex is a whole number ≥ 0');
  if (typeof raw.percent !== 'number' || raw.percent < 0 || raw.percent > 100) sink.error([...path, 'percent'], 'percent is a number from 0 to 100');
  if (!isMap(raw.baseline) || baselineVariation(raw.baseline) === undefined) sink.error([...path, 'baseline'], 'baseline must be the default rule before the rollout, serving one variation');
  if (!Array.isArray(raw.history)) sink.error([...path, 'history'], 'history must be a list');
}
