// The automatic kill switch: trips when the flag's error rate over its window leaves the threshold range, once enough
// units were exposed. Pure; the controller disables the flag when it trips.
import { parseDuration, type KillSwitchDefinition } from '@vexil/core';
import { describeRange, inRange } from './gates.js';
import type { ArmMeasurement } from './measurements.js';

export const DEFAULT_KILL_SWITCH_WINDOW_MS = 5 * 60_000;
export const DEFAULT_KILL_SWITCH_MIN_SAMPLE = 100;

export interface KillSwitchVerdict {
  trips: boolean;
  /** The error rate, when there were enough units to judge it. */
  value?: number;
  units: number;
  reason: string;
}

export function killSwitchWindowMs(killSwitch: KillSwitchDefinition): number {
  const ms = parseDuration(killSwitch.window);
  return Number.isNaN(ms) ? DEFAULT_KILL_SWITCH_WINDOW_MS : ms;
}

/** Judges the switch on every arm of the flag over its window (all variations together). */
export function judgeKillSwitch(killSwitch: KillSwitchDefinition, arms: ArmMeasurement[]): KillSwitchVerdict {
  const metric = killSwitch.metric!;
  const range = killSwitch.thresholdRange ?? {};
  const minimum = killSwitch.minSampleSize ?? DEFAULT_KILL_SWITCH_MIN_SAMPLE;
  const units = arms.reduce((sum, arm) => sum + arm.units, 0);
  const errors = arms.reduce((sum, arm) => sum + (arm.metrics[metric]?.errors ?? 0), 0);
  if (units < minimum) return { trips: false, units, reason: `too few units to judge ${metric} (${units} < ${minimum})` };
  const value = errors / units;
  const trips = !inRange(value, range);
  return { trips, value, units, reason: `${metric} error rate ${Number(value.toPrecision(6))} over ${units} units (threshold ${describeRange(range)})` };
}
