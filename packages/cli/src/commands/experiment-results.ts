// `vexil experiment results FLAG`: the results of a flag's experiment, through a running server's admin API or
// straight from the stores (the flag from the flag store or a flag file, the statistics from the events store).
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { parseFlagFile, formatProblem, type FlagDefinition } from '@vexil/core';
import { openEventsStore, defaultEventsUrl, openStore } from '@vexil/store';
import { experimentResults, type ExperimentResults } from '@vexil/server';

interface ResultsOptions {
  server?: string;
  adminKey?: string;
  events?: string;
  store?: string;
  flags?: string;
  environment?: string;
  json?: boolean;
}

async function fromServer(options: ResultsOptions & { server: string }, key: string): Promise<ExperimentResults> {
  const url = new URL(`admin/v1/flags/${encodeURIComponent(key)}/experiment`, options.server.endsWith('/') ? options.server : `${options.server}/`);
  if (options.environment) url.searchParams.set('environment', options.environment);
  const adminKey = options.adminKey ?? process.env.VEXIL_ADMIN_KEY;
  let response: Response;
  try {
    response = await fetch(url, { headers: adminKey ? { 'x-api-key': adminKey } : {} });
  } catch (error) {
    throw new Error(`cannot reach ${url.origin}: ${(error as Error).message}`);
  }
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
  return JSON.parse(text) as ExperimentResults;
}

async function flagDefinition(options: ResultsOptions, key: string): Promise<FlagDefinition> {
  if (options.flags) {
    const parsed = parseFlagFile(await readFile(options.flags, 'utf8'), { source: options.flags });
    const errors = parsed.problems.filter((p) => p.severity === 'error' && (p.flagKey === key || p.flagKey === undefined));
    if (errors.length > 0) throw new Error(errors.map(formatProblem).join('\n'));
    const flag = parsed.flags[key];
    if (!flag) throw new Error(`${options.flags}: no flag "${key}"`);
    return flag;
  }
  const store = await openStore(options.store ?? process.env.VEXIL_STORE);
  try {
    const stored = await store.get(key);
    if (!stored) throw new Error(`flag "${key}" does not exist in the store`);
    return stored.flag;
  } finally {
    await store.close();
  }
}

async function direct(options: ResultsOptions, key: string): Promise<ExperimentResults> {
  const flag = await flagDefinition(options, key);
  const url = options.events ?? process.env.VEXIL_EVENTS ?? defaultEventsUrl(options.store ?? process.env.VEXIL_STORE);
  if (url === 'off') throw new Error('--events off: no events store to read');
  const events = await openEventsStore(url, { pruneIntervalMs: 0 });
  try {
    return await experimentResults(events, key, flag, options.environment ? { environment: options.environment } : {});
  } finally {
    await events.close();
  }
}

const percent = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? '-' : `${x > 0 ? '+' : ''}${(x * 100).toFixed(digits)}%`);
const number = (x: number) => (Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(4))));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd()).join('\n');
}

export function formatResults(r: ExperimentResults): string {
  const lines = [
    `${r.flag} (${r.environment}): ${r.status}, control "${r.control}", ${r.engine}${r.engine === 'frequentist' ? (r.sequential ? ' sequential' : ' fixed-horizon') : ''}, ${r.attributionWindowHours}h attribution window${r.cupedLookbackDays ? `, CUPED over ${r.cupedLookbackDays} days before exposure` : ''}${r.start ? `, from ${r.start}` : ''}${r.end ? ` to ${r.end}` : ''}`,
    `exposures: ${r.exposures.map((e) => `${e.variation} ${e.units}`).join(', ')}; seen in several variations ${r.multipleExposures} (${(r.multipleExposureShare * 100).toFixed(2)}%); SRM p = ${number(r.srm.pValue)}`,
  ];
  for (const metric of r.metrics) {
    lines.push('', `${metric.name} (${metric.type}, ${metric.role}${metric.inverse ? ', lower is better' : ''})`);
    const frequentist = r.engine === 'frequentist';
    const header = ['variation', 'units', metric.type === 'binomial' ? 'conversions' : 'mean', metric.type === 'binomial' ? 'rate' : 'sd', 'uplift', '95% CI', ...(frequentist ? ['p-value', 'adjusted'] : ['chance to win', 'risk']), ''];
    const rows = metric.variations.map((v) => {
      const u = v.uplift;
      const stat = metric.type === 'binomial' ? [String(v.conversions ?? 0), percent(v.mean).replace('+', '')] : [number(v.mean), number(v.stdDev)];
      if (!u) return [v.variation, String(v.units), ...stat, 'control', '', '', '', ''];
      const figures = frequentist
        ? [u.pValue === null || u.pValue === undefined ? '-' : number(u.pValue), u.pValueAdjusted === undefined ? '' : number(u.pValueAdjusted)]
        : [u.chanceToWin === undefined ? '-' : `${(u.chanceToWin * 100).toFixed(1)}%`, u.risk ? number(u.risk[1]) : '-'];
      return [v.variation, String(v.units), ...stat, percent(u.expected), `[${percent(u.ci[0])}, ${percent(u.ci[1])}]`, ...figures, u.error ?? (u.significant === 'none' ? '' : u.significant)];
    });
    lines.push(table([header, ...rows]));
  }
  if (r.warnings.length > 0) lines.push('', 'warnings:', ...r.warnings.map((w) => `  ${w.code}: ${w.message}`));
  return lines.join('\n') + '\n';
}

export function registerExperimentResults(experiment: Command): void {
  experiment
    .command('results')
    .description("Results of a flag's experiment: per metric and variation, uplift with its interval, p-value or chance to win, and warnings (SRM, multiple exposures, too little data, peeking)")
    .argument('<flag>', 'the flag key')
    .option('--server <url>', 'ask a running vexil serve (admin API) instead of opening the stores')
    .option('--admin-key <key>', 'admin API key (reader role is enough; default VEXIL_ADMIN_KEY)')
    .option('--events <url>', 'the events store (default VEXIL_EVENTS, else as vexil serve)')
    .option('--store <url>', 'the flag store holding the flag (default VEXIL_STORE, else as vexil serve)')
    .option('--flags <file>', 'read the flag from this flag file instead of the flag store')
    .option('--environment <name>', 'the environment (default "default")')
    .option('--json', 'print only the JSON result (the same as GET /admin/v1/flags/{key}/experiment)')
    .action(async (key: string, options: ResultsOptions) => {
      const results = options.server ? await fromServer(options as ResultsOptions & { server: string }, key) : await direct(options, key);
      process.stdout.write(options.json ? JSON.stringify(results) + '\n' : formatResults(results));
    });
}
