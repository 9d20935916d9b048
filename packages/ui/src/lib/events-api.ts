// The events part of the admin API: per flag series and per metric summaries, from the server's events store.
import { call } from './api.js';

export interface FlagEventsSummary {
  flag: string;
  since: string;
  until: string;
  stepMinutes: number;
  variations: Array<{ variation: string; evaluations: number; units: number; errors: Record<string, number> }>;
  series: Array<{ at: string; variation: string; evaluations: number; units: number }>;
}

export interface MetricSummary {
  metric: string;
  flag: string | null;
  since: string;
  until: string;
  stepMinutes: number;
  rows: Array<{
    variation: string;
    count: number;
    errors: number;
    errorRate: number | null;
    exposedUnits: number | null;
    errorsPerExposedUnit: number | null;
    mean: number | null;
    p50: number | null;
    p95: number | null;
    p99: number | null;
  }>;
  series: Array<{ at: string; variation: string; count: number; errors: number; mean: number | null; p99: number | null }>;
}

const enc = encodeURIComponent;

export const eventsApi = {
  async flag(key: string, since: string): Promise<FlagEventsSummary> {
    return (await call<FlagEventsSummary>('GET', `/admin/v1/flags/${enc(key)}/events?since=${enc(since)}`)).data;
  },
  async metric(metric: string, flag: string | undefined, since: string): Promise<MetricSummary> {
    const query = `since=${enc(since)}${flag ? `&flag=${enc(flag)}&by=variation` : ''}`;
    return (await call<MetricSummary>('GET', `/admin/v1/metrics/${enc(metric)}?${query}`)).data;
  },
};

/**
 * Series points (one per time × variation) as uPlot's columns: shared x (Unix seconds, every step of the range) and
 * one y column per variation, with `empty` where a variation had nothing in a step.
 */
export function toColumns<P extends { at: string; variation: string }>(
  points: P[],
  variations: string[],
  value: (point: P) => number | null,
  range: { since: string; until: string; stepMinutes: number },
  /** What a step without a point shows: 0 for counts, null (a gap) for values such as percentiles. */
  empty: number | null = 0,
): { x: number[]; ys: Array<Array<number | null>> } {
  const step = range.stepMinutes * 60;
  const start = Math.floor(Date.parse(range.since) / 1000);
  const end = Math.floor(Date.parse(range.until) / 1000);
  const x: number[] = [];
  for (let t = start; t < end; t += step) x.push(t);
  const index = new Map(x.map((t, i) => [t, i]));
  const ys = variations.map(() => x.map((): number | null => empty));
  for (const point of points) {
    const i = index.get(Math.floor(Date.parse(point.at) / 1000));
    const v = variations.indexOf(point.variation);
    if (i !== undefined && v !== -1) ys[v]![i] = value(point);
  }
  return { x, ys };
}
