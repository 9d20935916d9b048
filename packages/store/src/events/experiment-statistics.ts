// Per-variation sufficient statistics of an experiment, computed in SQL from per-unit rows (one query per metric, the
// same text on PGlite and PostgreSQL): each unit counts under the variation it was first exposed to, units seen in
// more than one variation are left out (and counted), and a metric adds up the unit's events from its first exposure
// to the end of the attribution window.
//
// The per-unit rows (`metric_unit_days`) are per UTC day, so the window is rounded out to whole days: it takes every
// event of the day of first exposure (also those just before it) through the day the window ends. With a 72h window
// that is at most one extra day at each end, the same for every variation. CUPED's covariate (`covariateLookbackMs`)
// takes the whole days before the day of first exposure, so the two never share a day.
import type { SqlQueryable } from '../sql/driver.js';
import { DEFAULT_ENVIRONMENT, type ExperimentStatistics, type ExperimentStatisticsQuery, type ExperimentVariationStatistics } from './types.js';

const num = (value: unknown) => Number(value ?? 0);
const bound = (ms: number | undefined, fallback: string) => (ms === undefined ? fallback : new Date(ms).toISOString());

export async function experimentStatistics(driver: SqlQueryable, schema: string, query: ExperimentStatisticsQuery): Promise<ExperimentStatistics> {
  const environment = query.environment ?? DEFAULT_ENVIRONMENT;
  const since = bound(query.since, '-infinity');
  const until = bound(query.until, 'infinity');
  const windowSeconds = Math.max(0, Math.floor(query.attributionWindowMs / 1000));
  const exposure = await driver.query<{ first_variation: string; units: string; multiple: string }>(
    `SELECT first_variation,
            count(*) FILTER (WHERE cardinality(variations) = 1) AS units,
            count(*) FILTER (WHERE cardinality(variations) > 1) AS multiple
     FROM ${schema}.unit_exposures
     WHERE environment = $1 AND flag = $2 AND first_at >= $3::text::timestamptz AND first_at < $4::text::timestamptz
     GROUP BY first_variation ORDER BY first_variation`,
    [environment, query.flag, since, until],
  );
  const units = new Map(exposure.map((row) => [row.first_variation, num(row.units)]));
  const multipleExposures = exposure.reduce((total, row) => total + num(row.multiple), 0);
  const totalUnits = [...units.values()].reduce((a, b) => a + b, 0);

  // Units first exposed per hour and variation (single-variation units), for the cumulative exposures chart.
  const hours = await driver.query<{ hour: Date | string; first_variation: string; units: string }>(
    `SELECT date_trunc('hour', first_at AT TIME ZONE 'UTC') AS hour, first_variation, count(*) AS units
     FROM ${schema}.unit_exposures
     WHERE environment = $1 AND flag = $2 AND cardinality(variations) = 1 AND first_at >= $3::text::timestamptz AND first_at < $4::text::timestamptz
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [environment, query.flag, since, until],
  );
  const exposuresByHour = hours.map((row) => ({
    at: `${(row.hour instanceof Date ? row.hour.toISOString() : new Date(`${String(row.hour).replace(' ', 'T')}Z`).toISOString()).slice(0, 13)}:00:00.000Z`,
    variation: row.first_variation,
    units: num(row.units),
  }));

  // Every metric in one query. Only units with events in their window need a row of their own: a unit without any
  // adds 0 to every sum, so the units counted above complete the figures. The join starts from the metric's rows (a
  // few per converting unit) and finds each unit's exposure by its primary key, whatever the table statistics say.
  const metrics: ExperimentStatistics['metrics'] = [];
  if (query.metrics.length > 0) {
    // CUPED: whole days before the day of first exposure (0: none; the join then starts on that day).
    const lookbackDays = query.covariateLookbackMs === undefined ? 0 : Math.max(0, Math.ceil(query.covariateLookbackMs / 86_400_000));
    const params: unknown[] = [environment, query.flag, since, until, windowSeconds, lookbackDays];
    const placeholder = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const events = [...new Set(query.metrics.flatMap((metric) => [metric.event, ...(metric.denominator !== undefined ? [metric.denominator] : [])]))];
    const eventList = events.map(placeholder).join(', ');
    const perUnit: string[] = [];
    const sums: string[] = [];
    // Days from the first exposure on count for the metric; the days before it (CUPED's lookback) for its covariate.
    const after = `m.day >= (e.first_at AT TIME ZONE 'UTC')::date`;
    const before = `m.day < (e.first_at AT TIME ZONE 'UTC')::date`;
    query.metrics.forEach((metric, k) => {
      // What one unit contributes: its number of events, or the sum of their values; binomial: 1 when it has any.
      const quantity = metric.value === 'count' ? 'm.count' : 'm.sum';
      const event = placeholder(metric.event);
      const perUnitValue = (days: string) =>
        metric.type === 'binomial'
          ? `CASE WHEN coalesce(sum(m.count) FILTER (WHERE m.metric = ${event} AND ${days}), 0) > 0 THEN 1 ELSE 0 END::double precision`
          : `coalesce(sum(${quantity}) FILTER (WHERE m.metric = ${event} AND ${days}), 0)::double precision`;
      perUnit.push(`${perUnitValue(after)} AS x${k}`);
      perUnit.push(metric.type === 'ratio' ? `coalesce(sum(${quantity}) FILTER (WHERE m.metric = ${placeholder(metric.denominator ?? metric.event)} AND ${after}), 0)::double precision AS d${k}` : `0::double precision AS d${k}`);
      perUnit.push(lookbackDays > 0 && metric.type !== 'ratio' ? `${perUnitValue(before)} AS c${k}` : `0::double precision AS c${k}`);
      sums.push(
        `sum(x${k}) AS sum_${k}, sum(x${k} * x${k}) AS sum_squares_${k}, sum(d${k}) AS denominator_sum_${k}, sum(d${k} * d${k}) AS denominator_sum_squares_${k}, sum(x${k} * d${k}) AS sum_product_${k}, ` +
          `sum(c${k}) AS covariate_sum_${k}, sum(c${k} * c${k}) AS covariate_sum_squares_${k}, sum(x${k} * c${k}) AS sum_product_covariate_${k}`,
      );
    });
    const rows = await driver.query<Record<string, string>>(
      `WITH per_unit AS (
         SELECT e.first_variation, ${perUnit.join(', ')}
         FROM ${schema}.metric_unit_days m
         JOIN ${schema}.unit_exposures e
           ON e.environment = $1 AND e.flag = $2 AND e.unit = m.unit COLLATE "C"
          AND cardinality(e.variations) = 1 AND e.first_at >= $3::text::timestamptz AND e.first_at < $4::text::timestamptz
         WHERE m.environment = $1 AND m.metric IN (${eventList})
           AND m.day >= (e.first_at AT TIME ZONE 'UTC')::date - $6::int
           AND m.day <= (least(e.first_at + make_interval(secs => $5), $4::text::timestamptz) AT TIME ZONE 'UTC')::date
         GROUP BY e.unit, e.first_variation
       )
       SELECT first_variation, ${sums.join(', ')} FROM per_unit GROUP BY first_variation`,
      params,
    );
    const byVariation = new Map(rows.map((row) => [row.first_variation!, row]));
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

/**
 * Per metric of the query and per variation with units: the sums of the per-unit query's row of that variation
 * (columns `sum_<k>`, `sum_squares_<k>`… for metric k). Units without events in their window add 0, so the units
 * counted alone complete the figures.
 */
export function metricStatistics(
  query: ExperimentStatisticsQuery,
  units: Map<string, number>,
  byVariation: Map<string, Record<string, unknown>>,
  lookbackDays: number,
): ExperimentStatistics['metrics'] {
  return query.metrics.map((metric, k) => {
    const variations: ExperimentVariationStatistics[] = [...units.entries()]
      .filter(([, n]) => n > 0)
      .map(([variation, n]) => {
        const row = byVariation.get(variation);
        return {
          variation,
          units: n,
          sum: num(row?.[`sum_${k}`]),
          sumSquares: num(row?.[`sum_squares_${k}`]),
          denominatorSum: num(row?.[`denominator_sum_${k}`]),
          denominatorSumSquares: num(row?.[`denominator_sum_squares_${k}`]),
          sumProductWithDenominator: num(row?.[`sum_product_${k}`]),
          ...(lookbackDays > 0 && metric.type !== 'ratio'
            ? {
                covariateSum: num(row?.[`covariate_sum_${k}`]),
                covariateSumSquares: num(row?.[`covariate_sum_squares_${k}`]),
                sumProductWithCovariate: num(row?.[`sum_product_covariate_${k}`]),
              }
            : {}),
        };
      });
    return { name: metric.name ?? metric.event, variations };
  });
}
