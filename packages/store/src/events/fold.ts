// What every events store does the same way, whatever its database: folding batches of events into per-minute and
// per-unit deltas, merging those into stored rows, and turning stored minute rows into the summaries the API answers.
// The SQL stores (PostgreSQL/PGlite in store.ts, SQLite in sqlite-store.ts) only read and write rows.
import type { DDSketch } from '@datadog/sketches-js';
import { newSketch, parseSketch, quantile, serialiseSketch } from './quantiles.js';
import { UnitSet } from './unit-set.js';
import {
  DEFAULT_ENVIRONMENT,
  type EventBatch,
  type FlagEventsSummary,
  type FlagSeriesPoint,
  type MetricQuery,
  type MetricSummary,
  type MetricSummaryRow,
  type RetentionOptions,
  type TimeRange,
} from './types.js';

export const MINUTE = 60_000;
export const DAY = 86_400_000;
/** Joins the parts of a composite key (no flag, metric or unit name holds it). */
export const sep = '\u0000';

export const minuteOf = (at: number) => Math.floor(at / MINUTE) * MINUTE;
export const iso = (ms: number) => new Date(ms).toISOString();
export const num = (value: unknown) => Number(value ?? 0);

export interface FlagMinuteDelta {
  environment: string;
  flag: string;
  minute: number;
  variation: string;
  evaluations: number;
  errors: Record<string, number>;
  units: UnitSet;
}

export interface UnitExposureDelta {
  environment: string;
  flag: string;
  unit: string;
  firstVariation: string;
  variations: Set<string>;
  firstAt: number;
  lastAt: number;
  evaluations: number;
}

export interface Moments {
  count: number;
  valueCount: number;
  sum: number;
  sumSquares: number;
  errors: number;
}

export interface MetricMinuteDelta extends Moments {
  environment: string;
  metric: string;
  flag: string;
  minute: number;
  variation: string;
  sketch: DDSketch | undefined;
}

export interface MetricUnitDayDelta extends Moments {
  environment: string;
  metric: string;
  unit: string;
  day: number;
}

export interface PendingTrack {
  environment: string;
  metric: string;
  unit: string | undefined;
  at: number;
  value: number | undefined;
  error: boolean;
}

/** Per environment × unit: the flags the unit was exposed to, the variation it saw first, and when. */
export type Attribution = Map<string, { flag: string; variation: string; firstAt: number }[]>;

export const zeroMoments = (): Moments => ({ count: 0, valueCount: 0, sum: 0, sumSquares: 0, errors: 0 });

export function addMoments(target: Moments, value: number | undefined, error: boolean): void {
  target.count++;
  if (value !== undefined) {
    target.valueCount++;
    target.sum += value;
    target.sumSquares += value * value;
  }
  if (error) target.errors++;
}

export function mergeMoments(target: Moments, source: Moments): void {
  target.count += source.count;
  target.valueCount += source.valueCount;
  target.sum += source.sum;
  target.sumSquares += source.sumSquares;
  target.errors += source.errors;
}

export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The batches with an id seen for the first time (by environment and id), repeats within the call counted apart. */
export function batchesById(batches: EventBatch[]): { withId: Map<string, EventBatch>; fresh: EventBatch[]; duplicates: number } {
  const withId = new Map<string, EventBatch>();
  const fresh: EventBatch[] = [];
  let duplicates = 0;
  for (const batch of batches) {
    if (batch.id === undefined) fresh.push(batch);
    else {
      const key = `${batch.environment ?? DEFAULT_ENVIRONMENT}${sep}${batch.id}`;
      if (withId.has(key)) duplicates++;
      else withId.set(key, batch);
    }
  }
  return { withId, fresh, duplicates };
}

/** Folds the exposures of fresh batches into minute series and unit exposures; collects their tracked events. */
export async function foldExposures(fresh: EventBatch[]): Promise<{
  flagMinutes: Map<string, FlagMinuteDelta>;
  unitExposures: Map<string, UnitExposureDelta>;
  tracks: PendingTrack[];
  events: number;
}> {
  const flagMinutes = new Map<string, FlagMinuteDelta>();
  const unitExposures = new Map<string, UnitExposureDelta>();
  const tracks: PendingTrack[] = [];
  let events = 0;
  for (const batch of fresh) {
    const environment = batch.environment ?? DEFAULT_ENVIRONMENT;
    for (const exposure of batch.exposures) {
      // Folding is CPU work in the server's one thread: let requests (evaluations) in every 2,000 events.
      if (++events % 2_000 === 0) await yieldToEventLoop();
      const count = exposure.count ?? 1;
      const minute = minuteOf(exposure.at);
      const key = `${environment}${sep}${exposure.flag}${sep}${minute}${sep}${exposure.variation}`;
      let series = flagMinutes.get(key);
      if (!series) {
        series = { environment, flag: exposure.flag, minute, variation: exposure.variation, evaluations: 0, errors: {}, units: new UnitSet() };
        flagMinutes.set(key, series);
      }
      series.evaluations += count;
      if (exposure.errorCode) series.errors[exposure.errorCode] = (series.errors[exposure.errorCode] ?? 0) + count;
      if (exposure.unit === undefined) continue;
      series.units.addUnit(exposure.unit);
      const unitKey = `${environment}${sep}${exposure.flag}${sep}${exposure.unit}`;
      const unit = unitExposures.get(unitKey);
      if (!unit) {
        unitExposures.set(unitKey, {
          environment,
          flag: exposure.flag,
          unit: exposure.unit,
          firstVariation: exposure.variation,
          variations: new Set([exposure.variation]),
          firstAt: exposure.at,
          lastAt: exposure.at,
          evaluations: count,
        });
      } else {
        if (exposure.at < unit.firstAt) {
          unit.firstAt = exposure.at;
          unit.firstVariation = exposure.variation;
        }
        unit.lastAt = Math.max(unit.lastAt, exposure.at);
        unit.variations.add(exposure.variation);
        unit.evaluations += count;
      }
    }
    for (const track of batch.tracks) {
      if (++events % 2_000 === 0) await yieldToEventLoop();
      tracks.push({ environment, metric: track.metric, unit: track.unit, at: track.at, value: track.value, error: track.error === true });
    }
  }
  return { flagMinutes, unitExposures, tracks, events };
}

/** The environment × unit pairs whose exposures attribute tracked events. */
export function attributionKeys(tracks: PendingTrack[]): Map<string, { environment: string; unit: string }> {
  const keys = new Map<string, { environment: string; unit: string }>();
  for (const track of tracks)
    if (track.unit !== undefined) keys.set(`${track.environment}${sep}${track.unit}`, { environment: track.environment, unit: track.unit });
  return keys;
}

/** Adds an exposure row to an attribution map. */
export function attribute(result: Attribution, environment: string, unit: string, flag: string, variation: string, firstAt: number): void {
  const key = `${environment}${sep}${unit}`;
  const list = result.get(key) ?? [];
  list.push({ flag, variation, firstAt });
  result.set(key, list);
}

/**
 * Tracked events per metric × minute, overall ('' × '') and per flag × the variation the unit saw first (exposures
 * recorded before the event), and per metric × unit × day.
 */
export async function foldTracks(
  tracks: PendingTrack[],
  attribution: Attribution,
): Promise<{ metricMinutes: Map<string, MetricMinuteDelta>; unitDays: Map<string, MetricUnitDayDelta> }> {
  const metricMinutes = new Map<string, MetricMinuteDelta>();
  const unitDays = new Map<string, MetricUnitDayDelta>();
  const addMinute = (track: PendingTrack, flag: string, variation: string) => {
    const minute = minuteOf(track.at);
    const key = `${track.environment}${sep}${track.metric}${sep}${flag}${sep}${minute}${sep}${variation}`;
    let series = metricMinutes.get(key);
    if (!series) {
      series = { environment: track.environment, metric: track.metric, flag, minute, variation, ...zeroMoments(), sketch: undefined };
      metricMinutes.set(key, series);
    }
    addMoments(series, track.value, track.error);
    if (track.value !== undefined) (series.sketch ??= newSketch()).accept(track.value);
  };
  let folded = 0;
  for (const track of tracks) {
    if (++folded % 2_000 === 0) await yieldToEventLoop();
    addMinute(track, '', '');
    if (track.unit === undefined) continue;
    for (const exposure of attribution.get(`${track.environment}${sep}${track.unit}`) ?? [])
      if (exposure.firstAt <= track.at) addMinute(track, exposure.flag, exposure.variation);
    const day = Math.floor(track.at / DAY) * DAY;
    const key = `${track.environment}${sep}${track.metric}${sep}${track.unit}${sep}${day}`;
    let totals = unitDays.get(key);
    if (!totals) {
      totals = { environment: track.environment, metric: track.metric, unit: track.unit, day, ...zeroMoments() };
      unitDays.set(key, totals);
    }
    addMoments(totals, track.value, track.error);
  }
  return { metricMinutes, unitDays };
}

/** A stored flag minute with a delta added (errors by code added, distinct units merged). */
export function mergeFlagMinute(
  stored: { evaluations: number; errors: Record<string, number>; units: string },
  delta: FlagMinuteDelta | undefined,
): { evaluations: number; errors: Record<string, number>; units: string } {
  if (!delta) return stored;
  const errors = { ...stored.errors };
  for (const [code, n] of Object.entries(delta.errors)) errors[code] = (errors[code] ?? 0) + n;
  const units = UnitSet.parse(stored.units);
  units.merge(delta.units);
  return { evaluations: stored.evaluations + delta.evaluations, errors, units: units.serialise() };
}

/** A stored metric minute with a delta added (moments summed, value sketches merged). */
export function mergeMetricMinute(stored: Moments & { sketch: string }, delta: MetricMinuteDelta | undefined): Moments & { sketch: string } {
  if (!delta) return stored;
  const moments: Moments = { count: stored.count, valueCount: stored.valueCount, sum: stored.sum, sumSquares: stored.sumSquares, errors: stored.errors };
  mergeMoments(moments, delta);
  let sketch = stored.sketch;
  if (delta.sketch) {
    const merged = parseSketch(stored.sketch);
    merged.merge(delta.sketch);
    sketch = serialiseSketch(merged);
  }
  return { ...moments, sketch };
}

export function compareBy<T>(fields: (keyof T)[]): (a: T, b: T) => number {
  return (a, b) => {
    for (const field of fields) {
      const x = a[field];
      const y = b[field];
      if (x < y) return -1;
      if (x > y) return 1;
    }
    return 0;
  };
}

export function checkRange(range: TimeRange): { environment: string; since: number; until: number } {
  const until = range.until ?? Date.now();
  if (!Number.isFinite(range.since) || !Number.isFinite(until)) throw new TypeError('events query: since and until must be times');
  if (range.since >= until) throw new TypeError('events query: since must be before until');
  return { environment: range.environment ?? DEFAULT_ENVIRONMENT, since: minuteOf(range.since), until };
}

/** About 60 to 120 points for any range: 1 minute up to 2 hours, then wider steps. */
export function autoStep(since: number, until: number): number {
  const minutes = Math.ceil((until - since) / MINUTE);
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 360, 720, 1440];
  return steps.find((step) => minutes / step <= 120) ?? 1440;
}

/** One stored flag minute, as every store reads it. */
export interface FlagMinuteRow {
  minuteMs: number;
  variation: string;
  evaluations: number;
  errors: Record<string, number>;
  units: string;
}

/** A flag's summary over a range, from its minute rows (ordered by minute and variation). */
export function summariseFlag(
  environment: string,
  flag: string,
  since: number,
  until: number,
  stepMinutes: number,
  rows: FlagMinuteRow[],
): FlagEventsSummary {
  const step = stepMinutes * MINUTE;
  const totals = new Map<string, { evaluations: number; errors: Record<string, number>; units: UnitSet }>();
  const points = new Map<string, { at: number; variation: string; evaluations: number; units: UnitSet }>();
  for (const row of rows) {
    const units = UnitSet.parse(row.units);
    let total = totals.get(row.variation);
    if (!total) totals.set(row.variation, (total = { evaluations: 0, errors: {}, units: new UnitSet() }));
    total.evaluations += row.evaluations;
    total.units.merge(units);
    for (const [code, n] of Object.entries(row.errors)) total.errors[code] = (total.errors[code] ?? 0) + n;
    const at = since + Math.floor((row.minuteMs - since) / step) * step;
    const key = `${at}${sep}${row.variation}`;
    let point = points.get(key);
    if (!point) points.set(key, (point = { at, variation: row.variation, evaluations: 0, units: new UnitSet() }));
    point.evaluations += row.evaluations;
    point.units.merge(units);
  }
  const series: FlagSeriesPoint[] = [...points.values()]
    .sort((a, b) => a.at - b.at || (a.variation < b.variation ? -1 : 1))
    .map((p) => ({ at: iso(p.at), variation: p.variation, evaluations: p.evaluations, units: p.units.size() }));
  return {
    environment,
    flag,
    since: iso(since),
    until: iso(until),
    stepMinutes,
    variations: [...totals.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([variation, t]) => ({ variation, evaluations: t.evaluations, units: t.units.size(), errors: t.errors })),
    series,
  };
}

/** One stored metric minute, as every store reads it. */
export interface MetricMinuteRow extends Moments {
  minuteMs: number;
  variation: string;
  sketch: string;
}

/** Checks a metric query; its environment, range, flag and whether rows split by variation. */
export function checkMetricQuery(query: MetricQuery): { environment: string; since: number; until: number; flag: string; byVariation: boolean; asked: number[] } {
  const { environment, since, until } = checkRange(query);
  if (typeof query.metric !== 'string' || query.metric === '') throw new TypeError('metric summary: a metric name is needed');
  const flag = query.flag ?? '';
  const byVariation = query.by === 'variation';
  if (byVariation && !flag) throw new TypeError('metric summary: by=variation needs a flag');
  const asked = query.quantiles ?? [];
  for (const q of asked) if (typeof q !== 'number' || !(q > 0 && q < 1)) throw new TypeError(`metric summary: quantile ${String(q)} must be a number between 0 and 1 (exclusive)`);
  return { environment, since, until, flag, byVariation, asked };
}

/**
 * A metric's summary over a range, from its minute rows; `exposedUnits` (per variation, when the query names a flag)
 * gives rows to variations with exposures but no events yet, so a canary with no traffic shows.
 */
export function summariseMetric(
  query: MetricQuery,
  checked: ReturnType<typeof checkMetricQuery>,
  rows: MetricMinuteRow[],
  exposedUnits: Map<string, number> | undefined,
): MetricSummary {
  const { environment, since, until, flag, byVariation, asked } = checked;
  const stepMinutes = autoStep(since, until);
  const step = stepMinutes * MINUTE;
  type Group = Moments & { sketch: DDSketch };
  const groups = new Map<string, Group>();
  const points = new Map<string, Group & { at: number; variation: string }>();
  for (const row of rows) {
    const variation = byVariation ? row.variation : '*';
    const moments: Moments = { count: row.count, valueCount: row.valueCount, sum: row.sum, sumSquares: row.sumSquares, errors: row.errors };
    const sketch = row.sketch ? parseSketch(row.sketch) : undefined;
    let group = groups.get(variation);
    if (!group) groups.set(variation, (group = { ...zeroMoments(), sketch: newSketch() }));
    mergeMoments(group, moments);
    if (sketch) group.sketch.merge(sketch);
    const at = since + Math.floor((row.minuteMs - since) / step) * step;
    const key = `${at}${sep}${variation}`;
    let point = points.get(key);
    if (!point) points.set(key, (point = { at, variation, ...zeroMoments(), sketch: newSketch() }));
    mergeMoments(point, moments);
    if (sketch) point.sketch.merge(sketch);
  }
  let exposed = exposedUnits;
  if (exposed) {
    if (!byVariation) exposed = new Map([['*', [...exposed.values()].reduce((a, b) => a + b, 0)]]);
    for (const variation of exposed.keys()) if (!groups.has(variation)) groups.set(variation, { ...zeroMoments(), sketch: newSketch() });
  }
  const summaryRows: MetricSummaryRow[] = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([variation, g]) => {
      const units = exposed ? (exposed.get(variation) ?? 0) : null;
      const mean = g.valueCount > 0 ? g.sum / g.valueCount : null;
      const variance = g.valueCount > 1 && mean !== null ? Math.max(0, (g.sumSquares - g.valueCount * mean * mean) / (g.valueCount - 1)) : null;
      return {
        variation,
        count: g.count,
        valueCount: g.valueCount,
        errors: g.errors,
        errorRate: g.count > 0 ? g.errors / g.count : null,
        exposedUnits: units,
        errorsPerExposedUnit: units ? g.errors / units : null,
        mean,
        stddev: variance === null ? null : Math.sqrt(variance),
        p50: quantile(g.sketch, 0.5),
        p95: quantile(g.sketch, 0.95),
        p99: quantile(g.sketch, 0.99),
        ...(asked.length > 0 ? { quantiles: Object.fromEntries(asked.map((q) => [String(q), quantile(g.sketch, q)])) } : {}),
      };
    });
  return {
    environment,
    metric: query.metric,
    flag: flag || null,
    since: iso(since),
    until: iso(until),
    stepMinutes,
    rows: summaryRows,
    series: [...points.values()]
      .sort((a, b) => a.at - b.at || (a.variation < b.variation ? -1 : 1))
      .map((p) => ({
        at: iso(p.at),
        variation: p.variation,
        count: p.count,
        errors: p.errors,
        mean: p.valueCount > 0 ? p.sum / p.valueCount : null,
        p99: quantile(p.sketch, 0.99),
      })),
  };
}

/** The retention settings with their defaults (90 days of unit rows, 400 of minute series, 7 of batch ids), checked. */
export function retentionOf(options: RetentionOptions): Required<RetentionOptions> {
  const retention = { unitDays: options.unitDays ?? 90, minuteDays: options.minuteDays ?? 400, batchDays: options.batchDays ?? 7 };
  for (const [name, days] of Object.entries(retention))
    if (!(typeof days === 'number' && days > 0)) throw new TypeError(`events retention ${name} must be a positive number of days`);
  return retention;
}

/** Prunes in the background every `intervalMs` (default hourly; 0: never), not keeping the process alive. */
export function prunePeriodically(prune: () => Promise<unknown>, intervalMs = 3_600_000): NodeJS.Timeout | undefined {
  if (!(intervalMs > 0)) return undefined;
  const timer = setInterval(() => void prune().catch(() => undefined), intervalMs);
  timer.unref();
  return timer;
}
