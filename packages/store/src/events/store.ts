import type { Row, SqlDriver, SqlQueryable } from '../sql/driver.js';
import { migrate } from '../sql/migrations.js';
import { openPGliteDriver } from '../sql/pglite-driver.js';
import { openPostgresDriver, type PostgresDriverOptions } from '../sql/postgres-driver.js';
import { parseSqlUrl, redact } from '../sql/url.js';
import { StoreUnavailableError } from '../errors.js';
import { EVENTS_MIGRATIONS } from './migrations.js';
import { lockEventsFolder } from './folder-lock.js';
import { experimentStatistics } from './experiment-statistics.js';
import {
  attribute,
  prunePeriodically,
  retentionOf,
  attributionKeys,
  batchesById,
  checkMetricQuery,
  checkRange,
  autoStep,
  compareBy,
  DAY,
  foldExposures,
  foldTracks,
  iso,
  MINUTE,
  mergeFlagMinute,
  mergeMetricMinute,
  num,
  sep,
  summariseFlag,
  summariseMetric,
  type Attribution,
  type FlagMinuteDelta,
  type MetricMinuteDelta,
  type PendingTrack,
} from './fold.js';
import {
  type EventBatch,
  type EventsStore,
  type FirstExposure,
  type FirstExposureQuery,
  type FlagEventsSummary,
  type MetricQuery,
  type MetricSummary,
  type PruneResult,
  type RetentionOptions,
  type TimeRange,
  type UnitMetricTotal,
  type EventsWriteResult,
  type ExperimentStatistics,
  type ExperimentStatisticsQuery,
  DEFAULT_ENVIRONMENT,
} from './types.js';

export interface SqlEventsStoreOptions extends PostgresDriverOptions, RetentionOptions {
  /** Schema of the events tables (default `vexil_events`, or `?schema=` in the URL). */
  schema?: string;
  /** Base directory for a relative PGlite data directory. */
  cwd?: string;
  /** Prune in the background this often (default hourly); 0 disables the timer (call `prune()` yourself). */
  pruneIntervalMs?: number;
  /** Rows deleted per statement while pruning (default 5,000). */
  pruneChunk?: number;
}

export const DEFAULT_EVENTS_SCHEMA = 'vexil_events';
/** PostgreSQL's identifier limit (63 bytes): room for a flag store's schema name plus `_events`. */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
/** A transaction that lost a deadlock or a serialisation race is tried again this many times. */
const WRITE_ATTEMPTS = 6;

function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === '40P01' || code === '40001';
}

/**
 * The events store over SQL: one schema, one implementation, over PGlite (embedded) and PostgreSQL (many servers).
 *
 * A write is one transaction: record the batch ids (a retried batch finds its id and is skipped, so totals stay exact
 * across retries and servers), upsert per unit × flag exposures, then merge the minute series. Counters that SQL can
 * add are added in SQL; sketches (distinct units, value quantiles) are merged here under a row lock (`FOR UPDATE`,
 * rows locked in key order so that concurrent servers never deadlock for long, and retried when they do).
 */
export class SqlEventsStore implements EventsStore {
  readonly kind: 'pglite' | 'postgres';
  readonly schema: string;
  readonly #driver: SqlDriver;
  readonly #s: string;
  readonly #retention: Required<RetentionOptions>;
  readonly #pruneChunk: number;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<PruneResult> | undefined;
  #closed = false;
  #unlock: (() => void) | undefined;

  private constructor(driver: SqlDriver, schema: string, options: SqlEventsStoreOptions, unlock: (() => void) | undefined) {
    this.#driver = driver;
    this.#unlock = unlock;
    this.kind = driver.kind;
    this.schema = schema;
    this.#s = `"${schema}"`;
    this.#retention = retentionOf(options);
    this.#pruneChunk = options.pruneChunk ?? 5_000;
    this.#pruneTimer = prunePeriodically(() => this.prune(), options.pruneIntervalMs);
  }

  /** Opens `pglite:…` or `postgres://…`, creating or migrating the events schema. */
  static async open(url: string, options: SqlEventsStoreOptions = {}): Promise<SqlEventsStore> {
    const location = parseSqlUrl(url);
    const schema = options.schema ?? location.schema ?? DEFAULT_EVENTS_SCHEMA;
    if (!SCHEMA_PATTERN.test(schema))
      throw new TypeError(`invalid events schema name "${schema}": lower-case letters, digits and _, at most 63 characters`);
    let driver: SqlDriver | undefined;
    // An embedded store on a folder belongs to one process: a second process gets EventsFolderLockedError.
    const unlock =
      location.driver === 'pglite' && !location.location.startsWith('memory:') ? lockEventsFolder(location.location, options.cwd) : undefined;
    try {
      driver =
        location.driver === 'pglite'
          ? await openPGliteDriver({ location: location.location, ...(options.cwd ? { cwd: options.cwd } : {}) })
          : openPostgresDriver(location.url, { applicationName: 'vexil-events', ...options });
      await migrate(driver, schema, EVENTS_MIGRATIONS);
      return new SqlEventsStore(driver, schema, options, unlock);
    } catch (error) {
      await driver?.close().catch(() => undefined);
      unlock?.();
      if (driver?.isUnavailable(error))
        throw new StoreUnavailableError(location.driver, new Error(`${redact(url)}: ${(error as Error).message}`, { cause: error }));
      throw error;
    }
  }

  isUnavailable(error: unknown): boolean {
    return this.#driver.isUnavailable(error);
  }

  async ping(): Promise<boolean> {
    try {
      await this.#driver.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    await this.#pruning?.catch(() => undefined);
    await this.#driver.close();
    this.#unlock?.();
  }

  // ---- writing ---------------------------------------------------------------------------------------------------

  async write(batches: EventBatch[]): Promise<EventsWriteResult> {
    if (batches.length === 0) return { written: 0, duplicates: 0, events: 0 };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#driver.transaction((tx) => this.#write(tx, batches));
      } catch (error) {
        if (attempt >= WRITE_ATTEMPTS || !isRetryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
      }
    }
  }

  async #write(tx: SqlQueryable, batches: EventBatch[]): Promise<EventsWriteResult> {
    const s = this.#s;
    // 1. Batch ids: the ones already recorded (or repeated in this call) are skipped.
    const { withId, fresh, duplicates: repeated } = batchesById(batches);
    let duplicates = repeated;
    if (withId.size > 0) {
      const rows = [...withId.values()].map((batch) => ({
        environment: batch.environment ?? DEFAULT_ENVIRONMENT,
        batch_id: batch.id,
        events: batch.exposures.length + batch.tracks.length,
      }));
      const inserted = await tx.query<{ environment: string; batch_id: string }>(
        `INSERT INTO ${s}.batches (environment, batch_id, events)
         SELECT environment, batch_id, events FROM jsonb_to_recordset($1::text::jsonb) AS x(environment text, batch_id text, events integer)
         ORDER BY environment, batch_id
         ON CONFLICT (environment, batch_id) DO NOTHING RETURNING environment, batch_id`,
        [JSON.stringify(rows)],
      );
      const insertedKeys = new Set(inserted.map((row) => `${row.environment}${sep}${row.batch_id}`));
      for (const [key, batch] of withId) {
        if (insertedKeys.has(key)) fresh.push(batch);
        else duplicates++;
      }
    }

    // 2. Fold the fresh batches.
    const { flagMinutes, unitExposures, tracks, events } = await foldExposures(fresh);

    // 3. Per unit × flag: SQL merges first/last exposure and the variations seen.
    if (unitExposures.size > 0) {
      const rows = [...unitExposures.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, unit]) => ({
          environment: unit.environment,
          flag: unit.flag,
          unit: unit.unit,
          first_variation: unit.firstVariation,
          variations: [...unit.variations],
          first_at: iso(unit.firstAt),
          last_at: iso(unit.lastAt),
          evaluations: unit.evaluations,
        }));
      await tx.query(
        `INSERT INTO ${s}.unit_exposures AS t (environment, flag, unit, first_variation, variations, first_at, last_at, evaluations)
         SELECT environment, flag, unit, first_variation, ARRAY(SELECT jsonb_array_elements_text(variations)), first_at, last_at, evaluations
         FROM jsonb_to_recordset($1::text::jsonb) AS x(environment text, flag text, unit text, first_variation text, variations jsonb,
                                                  first_at timestamptz, last_at timestamptz, evaluations bigint)
         ON CONFLICT (environment, flag, unit) DO UPDATE SET
           first_variation = CASE WHEN excluded.first_at < t.first_at THEN excluded.first_variation ELSE t.first_variation END,
           first_at = least(t.first_at, excluded.first_at),
           last_at = greatest(t.last_at, excluded.last_at),
           variations = t.variations || ARRAY(SELECT v FROM unnest(excluded.variations) AS v WHERE v <> ALL (t.variations)),
           evaluations = t.evaluations + excluded.evaluations`,
        [JSON.stringify(rows)],
      );
    }

    // 4. Tracked events: per metric × unit × day, and per metric × minute, overall ('' × '') and per flag × the
    //    variation the unit saw first (exposures recorded before the event).
    const { metricMinutes, unitDays } = tracks.length > 0 ? await foldTracks(tracks, await this.#attribution(tx, tracks)) : { metricMinutes: new Map(), unitDays: new Map() };
    if (unitDays.size > 0) {
      const rows = [...unitDays.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, d]) => ({
          environment: d.environment,
          metric: d.metric,
          unit: d.unit,
          day: iso(d.day).slice(0, 10),
          count: d.count,
          value_count: d.valueCount,
          sum: d.sum,
          sum_squares: d.sumSquares,
          errors: d.errors,
        }));
      await tx.query(
        `INSERT INTO ${s}.metric_unit_days AS t (environment, metric, unit, day, count, value_count, sum, sum_squares, errors)
         SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS x(environment text, metric text, unit text, day date, count bigint,
                                                         value_count bigint, sum double precision, sum_squares double precision, errors bigint)
         ON CONFLICT (environment, metric, unit, day) DO UPDATE SET
           count = t.count + excluded.count, value_count = t.value_count + excluded.value_count, sum = t.sum + excluded.sum,
           sum_squares = t.sum_squares + excluded.sum_squares, errors = t.errors + excluded.errors`,
        [JSON.stringify(rows)],
      );
    }

    // 5. Minute series: lock (creating missing rows first), merge the sketches here, write back.
    if (flagMinutes.size > 0) await this.#mergeFlagMinutes(tx, flagMinutes);
    if (metricMinutes.size > 0) await this.#mergeMetricMinutes(tx, metricMinutes);
    return { written: fresh.length, duplicates, events };
  }

  async #attribution(tx: SqlQueryable, tracks: PendingTrack[]): Promise<Attribution> {
    const keys = attributionKeys(tracks);
    const result: Attribution = new Map();
    if (keys.size === 0) return result;
    const rows = await tx.query<{ environment: string; unit: string; flag: string; first_variation: string; first_ms: string | number }>(
      `SELECT u.environment, u.unit, u.flag, u.first_variation, (extract(epoch FROM u.first_at) * 1000)::float8 AS first_ms
       FROM ${this.#s}.unit_exposures u
       JOIN jsonb_to_recordset($1::text::jsonb) AS x(environment text, unit text) ON u.environment = x.environment AND u.unit = x.unit`,
      [JSON.stringify([...keys.values()])],
    );
    for (const row of rows) attribute(result, row.environment, row.unit, row.flag, row.first_variation, num(row.first_ms));
    return result;
  }

  async #mergeFlagMinutes(tx: SqlQueryable, deltas: Map<string, FlagMinuteDelta>): Promise<void> {
    const s = this.#s;
    const sorted = [...deltas.values()].sort(compareBy(['environment', 'flag', 'minute', 'variation']));
    const keys = JSON.stringify(
      sorted.map((d) => ({ environment: d.environment, flag: d.flag, minute: iso(d.minute), variation: d.variation })),
    );
    const recordset = `jsonb_to_recordset($1::text::jsonb) AS x(environment text, flag text, minute timestamptz, variation text)`;
    await tx.query(
      `INSERT INTO ${s}.flag_minutes (environment, flag, minute, variation) SELECT environment, flag, minute, variation FROM ${recordset}
       ON CONFLICT DO NOTHING`,
      [keys],
    );
    const current = await tx.query<{ environment: string; flag: string; minute_ms: number | string; variation: string; evaluations: string | number; errors: string; units: string }>(
      `SELECT t.environment, t.flag, (extract(epoch FROM t.minute) * 1000)::float8 AS minute_ms, t.variation, t.evaluations, t.errors::text AS errors, t.units
       FROM ${s}.flag_minutes t JOIN ${recordset} USING (environment, flag, minute, variation)
       ORDER BY t.environment, t.flag, t.minute, t.variation FOR UPDATE OF t`,
      [keys],
    );
    const rows = current.map((row) => {
      const delta = deltas.get(`${row.environment}${sep}${row.flag}${sep}${num(row.minute_ms)}${sep}${row.variation}`);
      const merged = mergeFlagMinute({ evaluations: num(row.evaluations), errors: JSON.parse(row.errors) as Record<string, number>, units: row.units }, delta);
      return { environment: row.environment, flag: row.flag, minute: iso(num(row.minute_ms)), variation: row.variation, ...merged };
    });
    await tx.query(
      `UPDATE ${s}.flag_minutes t SET evaluations = x.evaluations, errors = x.errors, units = x.units
       FROM jsonb_to_recordset($1::text::jsonb) AS x(environment text, flag text, minute timestamptz, variation text, evaluations bigint, errors jsonb, units text)
       WHERE t.environment = x.environment AND t.flag = x.flag AND t.minute = x.minute AND t.variation = x.variation`,
      [JSON.stringify(rows)],
    );
  }

  async #mergeMetricMinutes(tx: SqlQueryable, deltas: Map<string, MetricMinuteDelta>): Promise<void> {
    const s = this.#s;
    const sorted = [...deltas.values()].sort(compareBy(['environment', 'metric', 'flag', 'minute', 'variation']));
    const keys = JSON.stringify(
      sorted.map((d) => ({ environment: d.environment, metric: d.metric, flag: d.flag, minute: iso(d.minute), variation: d.variation })),
    );
    const recordset = `jsonb_to_recordset($1::text::jsonb) AS x(environment text, metric text, flag text, minute timestamptz, variation text)`;
    await tx.query(
      `INSERT INTO ${s}.metric_minutes (environment, metric, flag, minute, variation)
       SELECT environment, metric, flag, minute, variation FROM ${recordset} ON CONFLICT DO NOTHING`,
      [keys],
    );
    const current = await tx.query<Row & { environment: string; metric: string; flag: string; minute_ms: number | string; variation: string; sketch: string }>(
      `SELECT t.environment, t.metric, t.flag, (extract(epoch FROM t.minute) * 1000)::float8 AS minute_ms, t.variation,
              t.count, t.value_count, t.sum, t.sum_squares, t.errors, t.sketch
       FROM ${s}.metric_minutes t JOIN ${recordset} USING (environment, metric, flag, minute, variation)
       ORDER BY t.environment, t.metric, t.flag, t.minute, t.variation FOR UPDATE OF t`,
      [keys],
    );
    const rows = current.map((row) => {
      const delta = deltas.get(`${row.environment}${sep}${row.metric}${sep}${row.flag}${sep}${num(row.minute_ms)}${sep}${row.variation}`);
      const merged = mergeMetricMinute(
        { count: num(row.count), valueCount: num(row.value_count), sum: num(row.sum), sumSquares: num(row.sum_squares), errors: num(row.errors), sketch: row.sketch },
        delta,
      );
      return {
        environment: row.environment,
        metric: row.metric,
        flag: row.flag,
        minute: iso(num(row.minute_ms)),
        variation: row.variation,
        count: merged.count,
        value_count: merged.valueCount,
        sum: merged.sum,
        sum_squares: merged.sumSquares,
        errors: merged.errors,
        sketch: merged.sketch,
      };
    });
    await tx.query(
      `UPDATE ${s}.metric_minutes t SET count = x.count, value_count = x.value_count, sum = x.sum, sum_squares = x.sum_squares,
         errors = x.errors, sketch = x.sketch
       FROM jsonb_to_recordset($1::text::jsonb) AS x(environment text, metric text, flag text, minute timestamptz, variation text, count bigint,
         value_count bigint, sum double precision, sum_squares double precision, errors bigint, sketch text)
       WHERE t.environment = x.environment AND t.metric = x.metric AND t.flag = x.flag AND t.minute = x.minute AND t.variation = x.variation`,
      [JSON.stringify(rows)],
    );
  }

  // ---- reading ---------------------------------------------------------------------------------------------------

  async flagSummary(flag: string, range: TimeRange & { stepMinutes?: number }): Promise<FlagEventsSummary> {
    const { environment, since, until } = checkRange(range);
    const stepMinutes = range.stepMinutes ?? autoStep(since, until);
    const rows = await this.#driver.query<{ minute_ms: number | string; variation: string; evaluations: string | number; errors: string; units: string }>(
      `SELECT (extract(epoch FROM minute) * 1000)::float8 AS minute_ms, variation, evaluations, errors::text AS errors, units
       FROM ${this.#s}.flag_minutes WHERE environment = $1 AND flag = $2 AND minute >= $3::timestamptz AND minute < $4::timestamptz
       ORDER BY minute, variation`,
      [environment, flag, iso(since), iso(until)],
    );
    return summariseFlag(
      environment,
      flag,
      since,
      until,
      stepMinutes,
      rows.map((row) => ({ minuteMs: num(row.minute_ms), variation: row.variation, evaluations: num(row.evaluations), errors: JSON.parse(row.errors) as Record<string, number>, units: row.units })),
    );
  }

  async metricSummary(query: MetricQuery): Promise<MetricSummary> {
    const checked = checkMetricQuery(query);
    const { environment, since, until, flag } = checked;
    const rows = await this.#driver.query<Row & { minute_ms: number | string; variation: string; sketch: string }>(
      `SELECT (extract(epoch FROM minute) * 1000)::float8 AS minute_ms, variation, count, value_count, sum, sum_squares, errors, sketch
       FROM ${this.#s}.metric_minutes
       WHERE environment = $1 AND metric = $2 AND flag = $3 AND minute >= $4::timestamptz AND minute < $5::timestamptz
       ORDER BY minute, variation`,
      [environment, query.metric, flag, iso(since), iso(until)],
    );
    const exposed = flag ? await this.#exposedUnits(environment, flag, since, until) : undefined;
    return summariseMetric(
      query,
      checked,
      rows.map((row) => ({
        minuteMs: num(row.minute_ms),
        variation: row.variation,
        count: num(row.count),
        valueCount: num(row.value_count),
        sum: num(row.sum),
        sumSquares: num(row.sum_squares),
        errors: num(row.errors),
        sketch: row.sketch,
      })),
      exposed,
    );
  }

  /** Distinct units per variation of `flag` over the range. */
  async #exposedUnits(environment: string, flag: string, since: number, until: number): Promise<Map<string, number>> {
    const summary = await this.flagSummary(flag, { environment, since, until, stepMinutes: Math.max(1, Math.ceil((until - since) / MINUTE)) });
    return new Map(summary.variations.map((v) => [v.variation, v.units]));
  }

  async firstExposures(query: FirstExposureQuery): Promise<FirstExposure[]> {
    const environment = query.environment ?? DEFAULT_ENVIRONMENT;
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 1000)), 100_000);
    const rows = await this.#driver.query<{ unit: string; first_variation: string; variations: string; first_at: Date | string; last_at: Date | string; evaluations: string | number }>(
      `SELECT unit, first_variation, array_to_json(variations)::text AS variations, first_at, last_at, evaluations
       FROM ${this.#s}.unit_exposures
       WHERE environment = $1 AND flag = $2 AND first_at >= $3::timestamptz AND unit > $4
       ORDER BY unit LIMIT ${limit}`,
      [environment, query.flag, iso(query.since ?? 0), query.after ?? ''],
    );
    return rows.map((row) => ({
      unit: row.unit,
      firstVariation: row.first_variation,
      variations: JSON.parse(row.variations) as string[],
      firstAt: new Date(row.first_at).toISOString(),
      lastAt: new Date(row.last_at).toISOString(),
      evaluations: num(row.evaluations),
    }));
  }

  async unitMetricTotals(query: { environment?: string; flag: string; metric: string; since: number }): Promise<UnitMetricTotal[]> {
    const rows = await this.#driver.query<{ unit: string; first_variation: string; count: string; sum: string; errors: string }>(
      `SELECT u.unit, u.first_variation, coalesce(sum(m.count), 0) AS count, coalesce(sum(m.sum), 0) AS sum, coalesce(sum(m.errors), 0) AS errors
       FROM ${this.#s}.unit_exposures u
       LEFT JOIN ${this.#s}.metric_unit_days m
         ON m.environment = u.environment AND m.unit = u.unit AND m.metric = $3 AND m.day >= $4::date
       WHERE u.environment = $1 AND u.flag = $2
       GROUP BY u.unit, u.first_variation ORDER BY u.unit`,
      [query.environment ?? DEFAULT_ENVIRONMENT, query.flag, query.metric, iso(query.since).slice(0, 10)],
    );
    return rows.map((row) => ({ unit: row.unit, firstVariation: row.first_variation, count: num(row.count), sum: num(row.sum), errors: num(row.errors) }));
  }

  experimentStatistics(query: ExperimentStatisticsQuery): Promise<ExperimentStatistics> {
    return experimentStatistics(this.#driver, this.#s, query);
  }

  // ---- retention -------------------------------------------------------------------------------------------------

  prune(now: number = Date.now()): Promise<PruneResult> {
    // One pruning at a time; a caller during a run gets that run's result.
    this.#pruning ??= this.#prune(now).finally(() => {
      this.#pruning = undefined;
    });
    return this.#pruning;
  }

  async #prune(now: number): Promise<PruneResult> {
    const { unitDays, minuteDays, batchDays } = this.#retention;
    const unitCutoff = iso(now - unitDays * DAY);
    const minuteCutoff = iso(now - minuteDays * DAY);
    return {
      unitExposures: await this.#deleteChunked('unit_exposures', 'last_at < $1::timestamptz', unitCutoff),
      metricUnitDays: await this.#deleteChunked('metric_unit_days', 'day < $1::date', unitCutoff.slice(0, 10)),
      flagMinutes: await this.#deleteChunked('flag_minutes', 'minute < $1::timestamptz', minuteCutoff),
      metricMinutes: await this.#deleteChunked('metric_minutes', 'minute < $1::timestamptz', minuteCutoff),
      batches: await this.#deleteChunked('batches', 'received_at < $1::timestamptz', iso(now - batchDays * DAY)),
    };
  }

  /** Deletes in chunks, each its own short statement, so writers wait for at most one chunk. */
  async #deleteChunked(table: string, condition: string, cutoff: string): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.#closed) return total;
      const deleted = await this.#driver.query<{ n: number }>(
        `WITH gone AS (
           DELETE FROM ${this.#s}.${table} WHERE ctid IN (SELECT ctid FROM ${this.#s}.${table} WHERE ${condition} LIMIT ${this.#pruneChunk})
           RETURNING 1
         ) SELECT count(*)::int AS n FROM gone`,
        [cutoff],
      );
      const n = num(deleted[0]?.n);
      total += n;
      if (n < this.#pruneChunk) return total;
    }
  }
}
