import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { registerExperimentResults } from './experiment-results.js';
import {
  AnalysisInputError,
  analyzeExperiment,
  isSampleRatioMismatch,
  parseAnalysisInput,
  SRM_P_VALUE_THRESHOLD,
  type AnalysisInput,
  type AnalysisOutput,
} from '@vexil/analysis';

interface AnalyzeOptions {
  input: string;
  json?: boolean;
}

async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads and checks stats.json; every error names the file and, for bad values, the field. */
async function readInput(file: string): Promise<AnalysisInput> {
  let text: string;
  try {
    text = file === '-' ? await readStandardInput() : await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  try {
    return parseAnalysisInput(value);
  } catch (error) {
    if (error instanceof AnalysisInputError) throw new Error(`${file}: ${error.message}`);
    throw error;
  }
}

function significant(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined) return '';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const magnitude = Math.abs(x);
  if (magnitude >= 1e6 || magnitude < 1e-4) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

function percent(x: number | null, sign = true): string {
  if (x === null) return '';
  const text = `${(x * 100).toFixed(2)}%`;
  return sign && x > 0 ? `+${text}` : text;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/** The human-readable report: settings, the SRM check, then one row per variation. */
export function formatAnalysis(input: AnalysisInput, output: AnalysisOutput): string {
  const relative = input.difference === 'relative';
  const frequentist = input.engine === 'frequentist';
  const level = `${Number(((1 - input.alpha) * 100).toPrecision(6))}%`;
  const method = frequentist
    ? [
        input.sequential ? `sequential (N* = ${input.sequential.tuning})` : 'fixed-horizon',
        input.oneSided ? `one-sided (looks for ${input.metric.inverse ? 'an increase' : 'a decrease'})` : 'two-sided',
      ].join(', ')
    : input.prior
      ? `prior N(${input.prior.mean}, ${input.prior.stdDev}²)`
      : 'flat prior';
  const lines = [
    `${input.metric.type} metric${input.metric.inverse ? ' (lower is better)' : ''}${input.cuped ? ', CUPED' : ''}; ${input.engine}, ${method}; ${input.difference} difference; ${level} interval`,
  ];
  const srm = output.srm.pValue;
  lines.push(
    isSampleRatioMismatch(srm)
      ? `Sample ratio mismatch: p = ${significant(srm)} < ${SRM_P_VALUE_THRESHOLD}: units are not split as allocated; do not trust these results until the cause is found`
      : `Sample ratio: p = ${significant(srm)} (no mismatch)`,
  );
  const header = ['variation', 'units', 'mean', 'std dev', relative ? 'uplift' : 'difference', `${level} ${frequentist ? 'CI' : 'credible interval'}`];
  header.push(...(frequentist ? ['p-value'] : ['chance to win', 'risk (control / treatment)']), '');
  const rows = [header];
  for (const v of output.variations) {
    const row = [v.name, String(v.units), significant(v.mean), significant(v.stdDev)];
    const e = v.effect;
    if (!e) rows.push([...row, '(control)']);
    else if (e.error && e.pValue !== null) rows.push([...row, '', '', '', '', e.error]);
    else {
      const show = (x: number | null) => (x === null ? '' : relative ? percent(x) : significant(x));
      const ci = `[${e.ci[0] === null ? '-inf' : show(e.ci[0])}, ${e.ci[1] === null ? '+inf' : show(e.ci[1])}]`;
      row.push(show(e.expected), ci);
      if (frequentist) row.push(e.pValue === null || e.pValue === undefined ? '' : significant(e.pValue));
      else row.push(percent(e.chanceToWin ?? 0, false), `${significant(e.risk?.[0])} / ${significant(e.risk?.[1])}`);
      row.push(e.error ?? '');
      rows.push(row);
    }
  }
  lines.push('', table(rows));
  return lines.join('\n') + '\n';
}

export function registerExperiment(program: Command): void {
  const experiment = program.command('experiment').description('Experiments: analyse per-variation statistics');
  experiment
    .command('analyze')
    .description('Compare every variation with the first (the control), with the same numbers as GrowthBook\'s gbstats')
    .requiredOption('--input <file>', 'stats.json: the metric, the analysis settings and per-variation sums ("-" for standard input)')
    .option('--json', 'print only the JSON result (the contract scripts rely on)')
    .addHelpText(
      'after',
      `
stats.json:
  { "metric": { "type": "binomial" | "mean" | "ratio", "inverse": false },
    "engine": "frequentist" | "bayesian", "difference": "relative" | "absolute", "alpha": 0.05,
    "sequential": { "tuning": 5000 }, "oneSided": false, "prior": { "mean": 0, "stddev": 0.3 }, "cuped": false,
    "variations": [ { "name": "control", "units": 3407, "sum": 1396.87, "sumSquares": 52377.9767 }, ... ] }

Examples:
  vexil experiment analyze --input stats.json
  vexil experiment analyze --input stats.json --json`,
    )
    .action(async (options: AnalyzeOptions) => {
      const input = await readInput(options.input);
      const output = analyzeExperiment(input);
      process.stdout.write(options.json ? JSON.stringify(output) + '\n' : formatAnalysis(input, output));
    });
  registerExperimentResults(experiment);
}
