import type { Migration } from '../sql/migrations.js';

/**
 * The events store's schema (its own schema, default `vexil_events`, with its own `schema_migrations`), applied by
 * the flag store's `migrate` under the same advisory lock. Every key starts with `environment`.
 */
export const EVENTS_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'events: batches, flag minutes, unit exposures, metric minutes, metric unit days',
    statements: [
      // Ids of the batches already counted: a retried batch finds its id here and is skipped.
      `CREATE TABLE $schema.batches (
        environment text NOT NULL DEFAULT 'default',
        batch_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        events integer NOT NULL,
        PRIMARY KEY (environment, batch_id)
      )`,
      `CREATE INDEX batches_received_at ON $schema.batches (received_at)`,
      // Per flag × variation × minute: evaluations, errors by code, distinct units (UnitSet: exact, then HyperLogLog).
      `CREATE TABLE $schema.flag_minutes (
        environment text NOT NULL DEFAULT 'default',
        flag text NOT NULL,
        minute timestamptz NOT NULL,
        variation text NOT NULL,
        evaluations bigint NOT NULL DEFAULT 0,
        errors jsonb NOT NULL DEFAULT '{}',
        units text NOT NULL DEFAULT '',
        PRIMARY KEY (environment, flag, minute, variation)
      )`,
      `CREATE INDEX flag_minutes_minute ON $schema.flag_minutes (minute)`,
      // Per unit × flag: first variation (experiments attribute later events to it), every variation seen, when.
      `CREATE TABLE $schema.unit_exposures (
        environment text NOT NULL DEFAULT 'default',
        flag text NOT NULL,
        -- Byte order ("C"): pages of units follow the primary key, whatever the database's locale.
        unit text COLLATE "C" NOT NULL,
        first_variation text NOT NULL,
        variations text[] NOT NULL,
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL,
        evaluations bigint NOT NULL,
        PRIMARY KEY (environment, flag, unit)
      )`,
      `CREATE INDEX unit_exposures_unit ON $schema.unit_exposures (environment, unit)`,
      `CREATE INDEX unit_exposures_first_at ON $schema.unit_exposures (environment, flag, first_at)`,
      `CREATE INDEX unit_exposures_last_at ON $schema.unit_exposures (last_at)`,
      // Per metric × (flag × variation the unit saw first, or '' × '' for all events) × minute: moments and a DDSketch.
      `CREATE TABLE $schema.metric_minutes (
        environment text NOT NULL DEFAULT 'default',
        metric text NOT NULL,
        flag text NOT NULL DEFAULT '',
        minute timestamptz NOT NULL,
        variation text NOT NULL DEFAULT '',
        count bigint NOT NULL DEFAULT 0,
        value_count bigint NOT NULL DEFAULT 0,
        sum double precision NOT NULL DEFAULT 0,
        sum_squares double precision NOT NULL DEFAULT 0,
        errors bigint NOT NULL DEFAULT 0,
        sketch text NOT NULL DEFAULT '',
        PRIMARY KEY (environment, metric, flag, minute, variation)
      )`,
      `CREATE INDEX metric_minutes_minute ON $schema.metric_minutes (minute)`,
      // Per metric × unit × day (UTC): per-unit totals for experiments.
      `CREATE TABLE $schema.metric_unit_days (
        environment text NOT NULL DEFAULT 'default',
        metric text NOT NULL,
        unit text NOT NULL,
        day date NOT NULL,
        count bigint NOT NULL,
        value_count bigint NOT NULL,
        sum double precision NOT NULL,
        sum_squares double precision NOT NULL,
        errors bigint NOT NULL,
        PRIMARY KEY (environment, metric, unit, day)
      )`,
      `CREATE INDEX metric_unit_days_day ON $schema.metric_unit_days (day)`,
    ],
  },
];
