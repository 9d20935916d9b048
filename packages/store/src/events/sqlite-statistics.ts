// The experiment's sufficient statistics from SQLite's events tables: the same rules as experiment-statistics.ts
// (PostgreSQL), written for SQLite's types. Times are epoch milliseconds; a unit's days run from the UTC day of its
// first exposure to the UTC day its attribution window ends (capped at `until`), and CUPED's covariate takes the whole
// days before the first one.
import type BetterSqlite3 from 'better-sqlite3';
import { DAY } from './fold.js';
import { DEFAULT_ENVIRONMENT, type ExperimentStatistics, type ExperimentStatisticsQuery } from './types.js';
import { metricStatistics } from './experiment-statistics.js';

const num = (value: unknown) => Number(value ?? 0);
/** Beyond any date JavaScript can hold: an open end of the range. */
const FOREVER = 8.64e15;
const HOUR = 3_600_000;

export function sqliteExperimentStatistics(db: BetterSqlite3.Database, query: ExperimentStatisticsQuery): ExperimentStatistics {
  const environment = query.environment ?? DEFAULT_ENVIRONMENT;
  const since = query.since ?? -FOREVER;
  const until = query.until ?? FOREVER;
  const windowMs = Math.max(0, Math.floor(query.attributionWindowMs / 1000)) * 1000;
  const range = { environment, flag: query.flag, since, until };
  const exposure = db
    .prepare<typeof range, { first_variation: string; units: number; multiple: number }>(
      `SELECT first_variation,
              count(*) FILTER (WHERE json_array_length(variations) = 1) AS units,
              count(*) FILTER (WHERE json_array_length(variations) > 1) AS multiple
       FROM events_unit_exposures
       WHERE environment = @environment AND flag = @flag AND first_at >= @since AND first_at < @until
       GROUP BY first_variation ORDER BY first_variation`,
    )
    .all(range);
  const units = new Map(exposure.map((row) => [row.first_variation, num(row.units)]));
  const multipleExposures = exposure.reduce((total, row) => total + num(row.multiple), 0);
  const totalUnits = [...units.values()].reduce((a, b) => a + b, 0);

  const hours = db
    .prepare<typeof range & { hour: number }, { hour: number; first_variation: string; units: number }>(
      `SELECT CAST(first_at / @hour AS INTEGER) * @hour AS hour, first_variation, count(*) AS units
       FROM events_unit_exposures
       WHERE environment = @environment AND flag = @flag AND json_array_length(variations) = 1 AND first_at >= @since AND first_at < @until
       GROUP BY 1, 2 ORDER BY 1, 2`,
    )
    .all({ ...range, hour: HOUR });
  const exposuresByHour = hours.map((row) => ({ at: new Date(num(row.hour)).toISOString(), variation: row.first_variation, units: num(row.units) }));

  const metrics: ExperimentStatistics['metrics'] = [];
  if (query.metrics.length > 0) {
    const lookbackDays = query.covariateLookbackMs === undefined ? 0 : Math.max(0, Math.ceil(query.covariateLookbackMs / DAY));
    const params: Record<string, string | number> = { ...range, window: windowMs, lookback: lookbackDays * DAY, day: DAY };
    const events = [...new Set(query.metrics.flatMap((metric) => [metric.event, ...(metric.denominator !== undefined ? [metric.denominator] : [])]))];
    events.forEach((event, i) => (params[`event${i}`] = event));
    const eventList = events.map((_, i) => `@event${i}`).join(', ');
    const firstDay = '(CAST(e.first_at / @day AS INTEGER) * @day)';
    const after = `m.day >= ${firstDay}`;
    const before = `m.day < ${firstDay}`;
    const perUnit: string[] = [];
    const sums: string[] = [];
    query.metrics.forEach((metric, k) => {
      params[`metric${k}`] = metric.event;
      params[`denominator${k}`] = metric.denominator ?? metric.event;
      const quantity = metric.value === 'count' ? 'm.count' : 'm.sum';
      const perUnitValue = (days: string) =>
        metric.type === 'binomial'
          ? `(CASE WHEN coalesce(sum(m.count) FILTER (WHERE m.metric = @metric${k} AND ${days}), 0) > 0 THEN 1.0 ELSE 0.0 END)`
          : `(coalesce(sum(${quantity}) FILTER (WHERE m.metric = @metric${k} AND ${days}), 0) * 1.0)`;
      perUnit.push(`${perUnitValue(after)} AS x${k}`);
      perUnit.push(metric.type === 'ratio' ? `(coalesce(sum(${quantity}) FILTER (WHERE m.metric = @denominator${k} AND ${after}), 0) * 1.0) AS d${k}` : `0.0 AS d${k}`);
      perUnit.push(lookbackDays > 0 && metric.type !== 'ratio' ? `${perUnitValue(before)} AS c${k}` : `0.0 AS c${k}`);
      sums.push(
        `sum(x${k}) AS sum_${k}, sum(x${k} * x${k}) AS sum_squares_${k}, sum(d${k}) AS denominator_sum_${k}, sum(d${k} * d${k}) AS denominator_sum_squares_${k}, sum(x${k} * d${k}) AS sum_product_${k}, ` +
          `sum(c${k}) AS covariate_sum_${k}, sum(c${k} * c${k}) AS covariate_sum_squares_${k}, sum(x${k} * c${k}) AS sum_product_covariate_${k}`,
      );
    });
    const rows = db
      .prepare<Record<string, string | number>, Record<string, number | string>>(
        `WITH per_unit AS (
           SELECT e.first_variation, ${perUnit.join(', ')}
           FROM events_metric_unit_days m
           JOIN events_unit_exposures e
             ON e.environment = @environment AND e.flag = @flag AND e.unit = m.unit
            AND json_array_length(e.variations) = 1 AND e.first_at >= @since AND e.first_at < @until
           WHERE m.environment = @environment AND m.metric IN (${eventList})
             AND m.day >= ${firstDay} - @lookback
             AND m.day <= CAST(min(e.first_at + @window, @until) / @day AS INTEGER) * @day
           GROUP BY e.unit, e.first_variation
         )
         SELECT first_variation, ${sums.join(', ')} FROM per_unit GROUP BY first_variation`,
      )
      .all(params);
    const byVariation = new Map(rows.map((row) => [String(row.first_variation), row]));
    metrics.push(...metricStatistics(query, units, byVariation, lookbackDays));
  }
  return {
    environment,
    flag: query.flag,
    units: [...units.entries()].filter(([, n]) => n > 0).map(([variation, n]) => ({ variation, units: n })),
    multipleExposures,
    multipleExposureShare: totalUnits + multipleExposures === 0 ? 0 : multipleExposures / (totalUnits + multipleExposures),
    exposuresByHour,
    metrics,
  };
}
