// Per-variation sufficient statistics of an experiment, computed in SQL from per-unit rows (one query per metric, the
// same text on PGlite and PostgreSQL): each unit counts under the variation it was first exposed to, units seen in
// more than one variation are left out (and counted), and a metric adds up the unit's events from its first exposure
// to the end of the attribution window.
//
// The per-unit rows (`metric_unit_days`) are per UTC day, so the window is rounded out to whole days: it takes every
// event of the day of first exposure (also those just before it) through the day the window ends. With a 72h window
// that is at most one extra day at each end, the same for every variation.
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

  const metrics: ExperimentStatistics['metrics'] = [];
  for (const metric of query.metrics) {
    // What one unit contributes: its number of events, or the sum of their values; binomial: 1 when it has any.
    const quantity = metric.value === 'count' ? 'm.count' : 'm.sum';
    const numerator =
      metric.type === 'binomial'
        ? `CASE WHEN coalesce(sum(m.count) FILTER (WHERE m.metric = $5), 0) > 0 THEN 1 ELSE 0 END`
        : `coalesce(sum(${quantity}) FILTER (WHERE m.metric = $5), 0)`;
    const denominator = metric.type === 'ratio' ? `coalesce(sum(${quantity}) FILTER (WHERE m.metric = $6), 0)` : '0';
    const rows = await driver.query<Record<string, string>>(
      `WITH exposed AS (
         SELECT unit, first_variation, first_at,
                least(first_at + make_interval(secs => $7), $4::text::timestamptz) AS window_end
         FROM ${schema}.unit_exposures
         WHERE environment = $1 AND flag = $2 AND cardinality(variations) = 1
           AND first_at >= $3::text::timestamptz AND first_at < $4::text::timestamptz
       ),
       per_unit AS (
         SELECT e.first_variation, ${numerator}::double precision AS x, ${denominator}::double precision AS d
         FROM exposed e
         LEFT JOIN ${schema}.metric_unit_days m
           ON m.environment = $1 AND m.unit = e.unit AND m.metric IN ($5, $6)
          AND m.day >= (e.first_at AT TIME ZONE 'UTC')::date
          AND m.day <= (e.window_end AT TIME ZONE 'UTC')::date
         GROUP BY e.unit, e.first_variation
       )
       SELECT first_variation, count(*) AS units, sum(x) AS sum, sum(x * x) AS sum_squares,
              sum(d) AS denominator_sum, sum(d * d) AS denominator_sum_squares, sum(x * d) AS sum_product
       FROM per_unit GROUP BY first_variation ORDER BY first_variation`,
      [environment, query.flag, since, until, metric.event, metric.denominator ?? metric.event, windowSeconds],
    );
    const variations: ExperimentVariationStatistics[] = rows.map((row) => ({
      variation: row.first_variation!,
      units: num(row.units),
      sum: num(row.sum),
      sumSquares: num(row.sum_squares),
      denominatorSum: num(row.denominator_sum),
      denominatorSumSquares: num(row.denominator_sum_squares),
      sumProductWithDenominator: num(row.sum_product),
    }));
    metrics.push({ name: metric.name ?? metric.event, variations });
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
