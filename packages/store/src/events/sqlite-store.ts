import type BetterSqlite3 from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import { SqliteDatabase } from '../sqlite/database.js';
import { migrateSqlite, type SqliteMigration } from '../sqlite/migrations.js';
import { parseSqliteUrl } from '../sqlite/url.js';
import {
  attribute,
  prunePeriodically,
  retentionOf,
  attributionKeys,
  autoStep,
  batchesById,
  checkMetricQuery,
  checkRange,
  compareBy,
  DAY,
  foldExposures,
  foldTracks,
  MINUTE,
  mergeFlagMinute,
  mergeMetricMinute,
  num,
  type Attribution,
  type FlagMinuteDelta,
  type MetricMinuteDelta,
  type MetricUnitDayDelta,
  type PendingTrack,
  type UnitExposureDelta,
  summariseFlag,
  summariseMetric,
} from './fold.js';
import {
  DEFAULT_ENVIRONMENT,
  type EventBatch,
  type EventsStore,
  type EventsWriteResult,
  type ExperimentStatistics,
  type ExperimentStatisticsQuery,
  type FirstExposure,
  type FirstExposureQuery,
  type FlagEventsSummary,
  type MetricQuery,
  type MetricSummary,
  type PruneResult,
  type RetentionOptions,
  type TimeRange,
  type UnitMetricTotal,
} from './types.js';
import { sqliteExperimentStatistics } from './sqlite-statistics.js';

export interface SqliteEventsStoreOptions extends RetentionOptions {
  /** Base directory for a relative database path (default: the process's working directory). */
  cwd?: string;
  /** Prune in the background this often (default hourly); 0 disables the timer (call `prune()` yourself). */
  pruneIntervalMs?: number;
  /** Rows deleted per statement while pruning (default 5,000). */
  pruneChunk?: number;
}

/**
 * The events tables in SQLite. Times are epoch milliseconds (integers); `day` is the UTC day's first millisecond;
 * `variations` and `errors` are JSON text. Text compares byte by byte (BINARY), as PostgreSQL's "C" collation does,
 * so pages of units come in the same order on every store. Prefixed with `events_`, so one file can also hold other
 * tables.
 */
export const SQLITE_EVENTS_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'events: batches, flag minutes, unit exposures, metric minutes, metric unit days',
    statements: [
      `CREATE TABLE events_batches (
        environment TEXT NOT NULL, batch_id TEXT NOT NULL, received_at INTEGER NOT NULL, events INTEGER NOT NULL,
        PRIMARY KEY (environment, batch_id))`,
      `CREATE INDEX events_batches_received_at ON events_batches (received_at)`,
      `CREATE TABLE events_flag_minutes (
        environment TEXT NOT NULL, flag TEXT NOT NULL, minute INTEGER NOT NULL, variation TEXT NOT NULL,
        evaluations INTEGER NOT NULL, errors TEXT NOT NULL, units TEXT NOT NULL,
        PRIMARY KEY (environment, flag, minute, variation))`,
      `CREATE INDEX events_flag_minutes_minute ON events_flag_minutes (minute)`,
      `CREATE TABLE events_unit_exposures (
        environment TEXT NOT NULL, flag TEXT NOT NULL, unit TEXT NOT NULL, first_variation TEXT NOT NULL,
        variations TEXT NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, evaluations INTEGER NOT NULL,
        PRIMARY KEY (environment, flag, unit))`,
      `CREATE INDEX events_unit_exposures_unit ON events_unit_exposures (environment, unit)`,
      `CREATE INDEX events_unit_exposures_first_at ON events_unit_exposures (environment, flag, first_at)`,
      `CREATE INDEX events_unit_exposures_last_at ON events_unit_exposures (last_at)`,
      `CREATE TABLE events_metric_minutes (
        environment TEXT NOT NULL, metric TEXT NOT NULL, flag TEXT NOT NULL, minute INTEGER NOT NULL, variation TEXT NOT NULL,
        count INTEGER NOT NULL, value_count INTEGER NOT NULL, sum REAL NOT NULL, sum_squares REAL NOT NULL,
        errors INTEGER NOT NULL, sketch TEXT NOT NULL,
        PRIMARY KEY (environment, metric, flag, minute, variation))`,
      `CREATE INDEX events_metric_minutes_minute ON events_metric_minutes (minute)`,
      `CREATE TABLE events_metric_unit_days (
        environment TEXT NOT NULL, metric TEXT NOT NULL, unit TEXT NOT NULL, day INTEGER NOT NULL,
        count INTEGER NOT NULL, value_count INTEGER NOT NULL, sum REAL NOT NULL, sum_squares REAL NOT NULL, errors INTEGER NOT NULL,
        PRIMARY KEY (environment, metric, unit, day))`,
      `CREATE INDEX events_metric_unit_days_day ON events_metric_unit_days (day)`,
    ],
  },
];

const PRUNED_TABLES = {
  unitExposures: ['events_unit_exposures', 'last_at'],
  metricUnitDays: ['events_metric_unit_days', 'day'],
  flagMinutes: ['events_flag_minutes', 'minute'],
  metricMinutes: ['events_metric_minutes', 'minute'],
  batches: ['events_batches', 'received_at'],
} as const;

interface UnitExposureRow {
  first_variation: string;
  variations: string;
  first_at: number;
  last_at: number;
  evaluations: number;
}

/**
 * The events store in SQLite (`sqlite:<file>`, `sqlite:memory:`): the embedded default, with the same folding and
 * summaries as the PostgreSQL store (events/fold.ts). A write is one transaction; within it rows are read, merged
 * here and written back, which needs no row locks: the database has one writer at a time.
 */
export class SqliteEventsStore implements EventsStore {
  readonly kind = 'sqlite' as const;
  /** No schemas in SQLite: the tables' prefix. */
  readonly schema = 'events_';
  readonly #database: SqliteDatabase;
  readonly #retention: Required<RetentionOptions>;
  readonly #pruneChunk: number;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<PruneResult> | undefined;
  #closed = false;

  private constructor(database: SqliteDatabase, options: SqliteEventsStoreOptions) {
    this.#database = database;
    this.#retention = retentionOf(options);
    this.#pruneChunk = options.pruneChunk ?? 5_000;
    this.#pruneTimer = prunePeriodically(() => this.prune(), options.pruneIntervalMs);
  }

  /** Opens `sqlite:<file>` or `sqlite:memory:`, creating or migrating the events tables. */
  static async open(url: string, options: SqliteEventsStoreOptions = {}): Promise<SqliteEventsStore> {
    const location = parseSqliteUrl(url);
    let database: SqliteDatabase | undefined;
    try {
      database = SqliteDatabase.open(location, options.cwd);
      await migrateSqlite(database, 'events', SQLITE_EVENTS_MIGRATIONS);
      return new SqliteEventsStore(database, options);
    } catch (error) {
      await database?.close().catch(() => undefined);
      throw new StoreUnavailableError('sqlite', new Error(`${url}: ${(error as Error).message}`, { cause: error }));
    }
  }

  isUnavailable(error: unknown): boolean {
    return this.#closed || this.#database.closed || (error instanceof Error && /SQLITE_(BUSY|IOERR|CANTOPEN|FULL|READONLY)|closed/.test(`${(error as { code?: string }).code ?? ''} ${error.message}`));
  }

  async ping(): Promise<boolean> {
    try {
      await this.#database.exclusive((db) => db.prepare('SELECT 1').get());
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
    await this.#database.close();
  }

  // ---- writing ---------------------------------------------------------------------------------------------------

  write(batches: EventBatch[]): Promise<EventsWriteResult> {
    if (batches.length === 0) return Promise.resolve({ written: 0, duplicates: 0, events: 0 });
    return this.#database.exclusive((db) => this.#write(db, batches), { transaction: true });
  }

  async #write(db: BetterSqlite3.Database, batches: EventBatch[]): Promise<EventsWriteResult> {
    // 1. Batch ids: the ones already recorded (or repeated in this call) are skipped.
    const { withId, fresh, duplicates: repeated } = batchesById(batches);
    let duplicates = repeated;
    const record = db.prepare('INSERT INTO events_batches (environment, batch_id, received_at, events) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
    const now = Date.now();
    for (const batch of withId.values()) {
      const added = record.run(batch.environment ?? DEFAULT_ENVIRONMENT, batch.id, now, batch.exposures.length + batch.tracks.length).changes;
      if (added === 1) fresh.push(batch);
      else duplicates++;
    }

    // 2. Fold the fresh batches (yielding to requests now and then: this process's other work waits on the lock).
    const { flagMinutes, unitExposures, tracks, events } = await foldExposures(fresh);

    // 3. Per unit × flag: first and last exposure, the variations seen in the order first seen.
    this.#mergeUnitExposures(db, unitExposures);

    // 4. Tracked events, attributed to the variation each unit saw first.
    if (tracks.length > 0) {
      const { metricMinutes, unitDays } = await foldTracks(tracks, this.#attribution(db, tracks));
      this.#mergeUnitDays(db, unitDays);
      this.#mergeMetricMinutes(db, metricMinutes);
    }

    // 5. Minute series.
    this.#mergeFlagMinutes(db, flagMinutes);
    return { written: fresh.length, duplicates, events };
  }

  #mergeUnitExposures(db: BetterSqlite3.Database, deltas: Map<string, UnitExposureDelta>): void {
    const read = db.prepare<[string, string, string], UnitExposureRow>(
      'SELECT first_variation, variations, first_at, last_at, evaluations FROM events_unit_exposures WHERE environment = ? AND flag = ? AND unit = ?',
    );
    const write = db.prepare(
      `INSERT OR REPLACE INTO events_unit_exposures (environment, flag, unit, first_variation, variations, first_at, last_at, evaluations)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const delta of deltas.values()) {
      const stored = read.get(delta.environment, delta.flag, delta.unit);
      let firstVariation = delta.firstVariation;
      let firstAt = delta.firstAt;
      let lastAt = delta.lastAt;
      let evaluations = delta.evaluations;
      let variations = [...delta.variations];
      if (stored) {
        const kept = JSON.parse(stored.variations) as string[];
        variations = [...kept, ...variations.filter((variation) => !kept.includes(variation))];
        if (stored.first_at <= firstAt) {
          firstAt = stored.first_at;
          firstVariation = stored.first_variation;
        }
        lastAt = Math.max(lastAt, stored.last_at);
        evaluations += stored.evaluations;
      }
      write.run(delta.environment, delta.flag, delta.unit, firstVariation, JSON.stringify(variations), firstAt, lastAt, evaluations);
    }
  }

  #attribution(db: BetterSqlite3.Database, tracks: PendingTrack[]): Attribution {
    const result: Attribution = new Map();
    const read = db.prepare<[string, string], { flag: string; first_variation: string; first_at: number }>(
      'SELECT flag, first_variation, first_at FROM events_unit_exposures WHERE environment = ? AND unit = ?',
    );
    for (const { environment, unit } of attributionKeys(tracks).values())
      for (const row of read.all(environment, unit)) attribute(result, environment, unit, row.flag, row.first_variation, row.first_at);
    return result;
  }

  #mergeUnitDays(db: BetterSqlite3.Database, deltas: Map<string, MetricUnitDayDelta>): void {
    const add = db.prepare(
      `INSERT INTO events_metric_unit_days (environment, metric, unit, day, count, value_count, sum, sum_squares, errors)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (environment, metric, unit, day) DO UPDATE SET
         count = count + excluded.count, value_count = value_count + excluded.value_count, sum = sum + excluded.sum,
         sum_squares = sum_squares + excluded.sum_squares, errors = errors + excluded.errors`,
    );
    for (const d of deltas.values()) add.run(d.environment, d.metric, d.unit, d.day, d.count, d.valueCount, d.sum, d.sumSquares, d.errors);
  }

  #mergeFlagMinutes(db: BetterSqlite3.Database, deltas: Map<string, FlagMinuteDelta>): void {
    const read = db.prepare<[string, string, number, string], { evaluations: number; errors: string; units: string }>(
      'SELECT evaluations, errors, units FROM events_flag_minutes WHERE environment = ? AND flag = ? AND minute = ? AND variation = ?',
    );
    const write = db.prepare(
      'INSERT OR REPLACE INTO events_flag_minutes (environment, flag, minute, variation, evaluations, errors, units) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const delta of [...deltas.values()].sort(compareBy(['environment', 'flag', 'minute', 'variation']))) {
      const stored = read.get(delta.environment, delta.flag, delta.minute, delta.variation);
      const merged = mergeFlagMinute(
        stored ? { evaluations: stored.evaluations, errors: JSON.parse(stored.errors) as Record<string, number>, units: stored.units } : { evaluations: 0, errors: {}, units: '' },
        delta,
      );
      write.run(delta.environment, delta.flag, delta.minute, delta.variation, merged.evaluations, JSON.stringify(merged.errors), merged.units);
    }
  }

  #mergeMetricMinutes(db: BetterSqlite3.Database, deltas: Map<string, MetricMinuteDelta>): void {
    const read = db.prepare<[string, string, string, number, string], { count: number; value_count: number; sum: number; sum_squares: number; errors: number; sketch: string }>(
      `SELECT count, value_count, sum, sum_squares, errors, sketch FROM events_metric_minutes
       WHERE environment = ? AND metric = ? AND flag = ? AND minute = ? AND variation = ?`,
    );
    const write = db.prepare(
      `INSERT OR REPLACE INTO events_metric_minutes (environment, metric, flag, minute, variation, count, value_count, sum, sum_squares, errors, sketch)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const delta of [...deltas.values()].sort(compareBy(['environment', 'metric', 'flag', 'minute', 'variation']))) {
      const stored = read.get(delta.environment, delta.metric, delta.flag, delta.minute, delta.variation);
      const merged = mergeMetricMinute(
        stored
          ? { count: stored.count, valueCount: stored.value_count, sum: stored.sum, sumSquares: stored.sum_squares, errors: stored.errors, sketch: stored.sketch }
          : { count: 0, valueCount: 0, sum: 0, sumSquares: 0, errors: 0, sketch: '' },
        delta,
      );
      write.run(delta.environment, delta.metric, delta.flag, delta.minute, delta.variation, merged.count, merged.valueCount, merged.sum, merged.sumSquares, merged.errors, merged.sketch);
    }
  }

  // ---- reading ---------------------------------------------------------------------------------------------------

  async flagSummary(flag: string, range: TimeRange & { stepMinutes?: number }): Promise<FlagEventsSummary> {
    const { environment, since, until } = checkRange(range);
    const stepMinutes = range.stepMinutes ?? autoStep(since, until);
    const rows = await this.#database.exclusive((db) =>
      db
        .prepare<[string, string, number, number], { minute: number; variation: string; evaluations: number; errors: string; units: string }>(
          `SELECT minute, variation, evaluations, errors, units FROM events_flag_minutes
           WHERE environment = ? AND flag = ? AND minute >= ? AND minute < ? ORDER BY minute, variation`,
        )
        .all(environment, flag, since, until),
    );
    return summariseFlag(
      environment,
      flag,
      since,
      until,
      stepMinutes,
      rows.map((row) => ({ minuteMs: row.minute, variation: row.variation, evaluations: row.evaluations, errors: JSON.parse(row.errors) as Record<string, number>, units: row.units })),
    );
  }

  async metricSummary(query: MetricQuery): Promise<MetricSummary> {
    const checked = checkMetricQuery(query);
    const { environment, since, until, flag } = checked;
    const rows = await this.#database.exclusive((db) =>
      db
        .prepare<[string, string, string, number, number], { minute: number; variation: string; count: number; value_count: number; sum: number; sum_squares: number; errors: number; sketch: string }>(
          `SELECT minute, variation, count, value_count, sum, sum_squares, errors, sketch FROM events_metric_minutes
           WHERE environment = ? AND metric = ? AND flag = ? AND minute >= ? AND minute < ? ORDER BY minute, variation`,
        )
        .all(environment, query.metric, flag, since, until),
    );
    let exposed: Map<string, number> | undefined;
    if (flag) {
      const summary = await this.flagSummary(flag, { environment, since, until, stepMinutes: Math.max(1, Math.ceil((until - since) / MINUTE)) });
      exposed = new Map(summary.variations.map((v) => [v.variation, v.units]));
    }
    return summariseMetric(
      query,
      checked,
      rows.map((row) => ({
        minuteMs: row.minute,
        variation: row.variation,
        count: row.count,
        valueCount: row.value_count,
        sum: row.sum,
        sumSquares: row.sum_squares,
        errors: row.errors,
        sketch: row.sketch,
      })),
      exposed,
    );
  }

  async firstExposures(query: FirstExposureQuery): Promise<FirstExposure[]> {
    const environment = query.environment ?? DEFAULT_ENVIRONMENT;
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 1000)), 100_000);
    const rows = await this.#database.exclusive((db) =>
      db
        .prepare<[string, string, number, string, number], { unit: string } & UnitExposureRow>(
          `SELECT unit, first_variation, variations, first_at, last_at, evaluations FROM events_unit_exposures
           WHERE environment = ? AND flag = ? AND first_at >= ? AND unit > ? ORDER BY unit LIMIT ?`,
        )
        .all(environment, query.flag, query.since ?? 0, query.after ?? '', limit),
    );
    return rows.map((row) => ({
      unit: row.unit,
      firstVariation: row.first_variation,
      variations: JSON.parse(row.variations) as string[],
      firstAt: new Date(row.first_at).toISOString(),
      lastAt: new Date(row.last_at).toISOString(),
      evaluations: row.evaluations,
    }));
  }

  async unitMetricTotals(query: { environment?: string; flag: string; metric: string; since: number }): Promise<UnitMetricTotal[]> {
    const rows = await this.#database.exclusive((db) =>
      db
        .prepare<[string, number, string, string], { unit: string; first_variation: string; count: number; sum: number; errors: number }>(
          `SELECT u.unit, u.first_variation, coalesce(sum(m.count), 0) AS count, coalesce(sum(m.sum), 0) AS sum, coalesce(sum(m.errors), 0) AS errors
           FROM events_unit_exposures u
           LEFT JOIN events_metric_unit_days m ON m.environment = u.environment AND m.unit = u.unit AND m.metric = ? AND m.day >= ?
           WHERE u.environment = ? AND u.flag = ?
           GROUP BY u.unit, u.first_variation ORDER BY u.unit`,
        )
        .all(query.metric, Math.floor(query.since / DAY) * DAY, query.environment ?? DEFAULT_ENVIRONMENT, query.flag),
    );
    return rows.map((row) => ({ unit: row.unit, firstVariation: row.first_variation, count: num(row.count), sum: num(row.sum), errors: num(row.errors) }));
  }

  experimentStatistics(query: ExperimentStatisticsQuery): Promise<ExperimentStatistics> {
    return this.#database.exclusive((db) => sqliteExperimentStatistics(db, query));
  }

  // ---- retention -------------------------------------------------------------------------------------------------

  prune(now: number = Date.now()): Promise<PruneResult> {
    this.#pruning ??= this.#prune(now).finally(() => {
      this.#pruning = undefined;
    });
    return this.#pruning;
  }

  async #prune(now: number): Promise<PruneResult> {
    const { unitDays, minuteDays, batchDays } = this.#retention;
    const unitCutoff = now - unitDays * DAY;
    const cutoffs: Record<keyof typeof PRUNED_TABLES, number> = {
      unitExposures: unitCutoff,
      // Whole UTC days, as the PostgreSQL store's `date` column compares.
      metricUnitDays: Math.floor(unitCutoff / DAY) * DAY,
      flagMinutes: now - minuteDays * DAY,
      metricMinutes: now - minuteDays * DAY,
      batches: now - batchDays * DAY,
    };
    const result = {} as PruneResult;
    for (const [name, [table, column]] of Object.entries(PRUNED_TABLES) as Array<[keyof typeof PRUNED_TABLES, readonly [string, string]]>) {
      let total = 0;
      // One chunk per turn of the lock: writes wait for at most one chunk.
      for (;;) {
        if (this.#closed) break;
        const n = await this.#database.exclusive(
          (db) =>
            db.prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < ? LIMIT ?)`).run(cutoffs[name], this.#pruneChunk).changes,
        );
        total += n;
        if (n < this.#pruneChunk) break;
      }
      result[name] = total;
    }
    return result;
  }
}
