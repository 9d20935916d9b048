import type { Command } from 'commander';
import { openEventsStore, defaultEventsUrl, parseTimeArg, type EventsStore, type FlagEventsSummary, type MetricSummary } from '@vexil/store';

interface SourceOptions {
  events?: string;
  server?: string;
  adminKey?: string;
  environment?: string;
  since: string;
  until?: string;
  json?: boolean;
}

/**
 * Reads the events store directly (`--events URL`, VEXIL_EVENTS, or the default of `vexil serve`), or through a
 * running server's admin API (`--server URL --admin-key K`): an embedded store belongs to the one process that
 * opened it, so while `vexil serve` runs on it, ask the server.
 */
async function fromSource<T>(options: SourceOptions, path: string, query: Record<string, string | undefined>, direct: (store: EventsStore) => Promise<T>): Promise<T> {
  if (options.server) {
    const url = new URL(path, options.server.endsWith('/') ? options.server : `${options.server}/`);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value);
    const key = options.adminKey ?? process.env.VEXIL_ADMIN_KEY;
    const response = await fetch(url, { headers: key ? { 'x-api-key': key } : {} });
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not JSON: the text as it is
      }
      throw new Error(`${url.origin}${url.pathname}: HTTP ${response.status}: ${message}`);
    }
    return JSON.parse(text) as T;
  }
  const events = options.events ?? process.env.VEXIL_EVENTS ?? defaultEventsUrl(process.env.VEXIL_STORE);
  if (events === 'off') throw new Error('--events off: no events store to read');
  const store = await openEventsStore(events, { pruneIntervalMs: 0 });
  try {
    return await direct(store);
  } finally {
    await store.close();
  }
}

function range(options: SourceOptions): { since: number; until: number; environment?: string } {
  const now = Date.now();
  const since = parseTimeArg(options.since, '--since', now);
  const until = options.until === undefined ? now : parseTimeArg(options.until, '--until', now);
  return { since, until, ...(options.environment ? { environment: options.environment } : {}) };
}

const integer = (n: number) => n.toLocaleString('en-US');
const decimal = (n: number | null, digits = 2) => (n === null ? '-' : Number(n.toFixed(digits)).toString());
const percent = (n: number | null) => (n === null ? '-' : `${(n * 100).toFixed(2)}%`);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function printFlagSummary(summary: FlagEventsSummary): string {
  let out = `${summary.flag} (${summary.environment})  ${summary.since} → ${summary.until}, ${summary.stepMinutes}-minute steps\n`;
  if (summary.variations.length === 0) return out + 'no evaluations in this range\n';
  out += table([
    ['variation', 'evaluations', 'units', 'errors'],
    ...summary.variations.map((v) => {
      const errors = Object.entries(v.errors).map(([code, n]) => `${code} ${integer(n)}`).join(', ');
      return [v.variation, integer(v.evaluations), integer(v.units), errors || '-'];
    }),
  ]);
  const variations = summary.variations.map((v) => v.variation);
  const byTime = new Map<string, Map<string, { evaluations: number; units: number }>>();
  for (const point of summary.series) {
    const row = byTime.get(point.at) ?? new Map();
    row.set(point.variation, point);
    byTime.set(point.at, row);
  }
  out += '\n' + table([
    ['time', ...variations.map((v) => `${v} evals/units`)],
    ...[...byTime.entries()].map(([at, row]) => [at.slice(0, 16).replace('T', ' '), ...variations.map((v) => (row.get(v) ? `${integer(row.get(v)!.evaluations)}/${integer(row.get(v)!.units)}` : '-'))]),
  ]);
  return out;
}

export function printMetricSummary(summary: MetricSummary): string {
  let out = `${summary.metric}${summary.flag ? ` by variation of ${summary.flag}` : ''} (${summary.environment})  ${summary.since} → ${summary.until}\n`;
  if (summary.rows.length === 0) return out + 'no events in this range\n';
  out += table([
    ['variation', 'events', 'errors', 'error rate', 'exposed units', 'errors/unit', 'mean', 'p50', 'p95', 'p99'],
    ...summary.rows.map((r) => [
      r.variation,
      integer(r.count),
      integer(r.errors),
      percent(r.errorRate),
      r.exposedUnits === null ? '-' : integer(r.exposedUnits),
      decimal(r.errorsPerExposedUnit, 4),
      decimal(r.mean),
      decimal(r.p50),
      decimal(r.p95),
      decimal(r.p99),
    ]),
  ]);
  return out;
}

function sourceOptions(command: Command): Command {
  return command
    .option('--events <url>', 'the events store: sqlite:<file> | pglite:<dir> | postgres://…?schema=… (env VEXIL_EVENTS; default as vexil serve: from VEXIL_STORE, else the default store\'s file, sqlite:./.vexil/vexil.db)')
    .option('--server <url>', 'ask a running server instead (its admin API)')
    .option('--admin-key <key>', 'admin (reader) key for --server (env VEXIL_ADMIN_KEY)')
    .option('--environment <name>', 'the environment (default "default")')
    .option('--since <time>', 'a duration back from now (30s, 15m, 1h, 7d) or an ISO 8601 date', '1h')
    .option('--until <time>', 'same forms (default now)')
    .option('--json', 'print JSON');
}

export function registerEvents(program: Command): void {
  const events = program.command('events').description('Query the events store: evaluations, distinct units and tracked metrics per variation over time');

  sourceOptions(
    events
      .command('summary')
      .description('Per variation of a flag: evaluations, distinct units, errors, and the per-minute (or wider) series')
      .requiredOption('--flag <key>', 'the flag')
      .option('--step <minutes>', 'series step in minutes (default: about 60 to 120 points)'),
  ).action(async (options: SourceOptions & { flag: string; step?: string }) => {
    const step = options.step === undefined ? undefined : Number(options.step);
    if (step !== undefined && !(Number.isInteger(step) && step >= 1)) throw new Error(`--step must be a whole number of minutes, not ${options.step}`);
    const summary = await fromSource<FlagEventsSummary>(
      options,
      `admin/v1/flags/${encodeURIComponent(options.flag)}/events`,
      { since: options.since, until: options.until, environment: options.environment, step: step?.toString() },
      (store) => store.flagSummary(options.flag, { ...range(options), ...(step ? { stepMinutes: step } : {}) }),
    );
    process.stdout.write(options.json ? JSON.stringify(summary, null, 2) + '\n' : printFlagSummary(summary));
  });

  sourceOptions(
    events
      .command('metric')
      .description('A tracked metric: events, errors, error rate (errors ÷ events), errors per exposed unit, mean, p50/p95/p99')
      .argument('<event>', 'the tracked event name (track(<event>, …))')
      .option('--flag <key>', 'only units exposed to this flag, attributed to the variation each saw first')
      .option('--by <grouping>', 'variation (needs --flag) or none', undefined),
  ).action(async (event: string, options: SourceOptions & { flag?: string; by?: string }) => {
    const by = options.by ?? (options.flag ? 'variation' : 'none');
    if (by !== 'variation' && by !== 'none') throw new Error(`--by must be variation or none, not ${by}`);
    if (by === 'variation' && !options.flag) throw new Error('--by variation needs --flag <key>');
    const summary = await fromSource<MetricSummary>(
      options,
      `admin/v1/metrics/${encodeURIComponent(event)}`,
      { since: options.since, until: options.until, environment: options.environment, flag: options.flag, by },
      (store) => store.metricSummary({ metric: event, ...range(options), by, ...(options.flag ? { flag: options.flag } : {}) }),
    );
    process.stdout.write(options.json ? JSON.stringify(summary, null, 2) + '\n' : printMetricSummary(summary));
  });

  events
    .command('prune')
    .description('Delete events past their retention now (vexil serve also does it hourly)')
    .option('--events <url>', 'the events store (env VEXIL_EVENTS)')
    .option('--unit-days <days>', 'unit-level rows kept this many days', '90')
    .option('--minute-days <days>', 'minute series kept this many days', '400')
    .action(async (options: { events?: string; unitDays: string; minuteDays: string }) => {
      const url = options.events ?? process.env.VEXIL_EVENTS ?? defaultEventsUrl(process.env.VEXIL_STORE);
      const store = await openEventsStore(url, { pruneIntervalMs: 0, unitDays: Number(options.unitDays), minuteDays: Number(options.minuteDays) });
      try {
        process.stdout.write(JSON.stringify(await store.prune()) + '\n');
      } finally {
        await store.close();
      }
    });
}
