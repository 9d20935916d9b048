// The evaluation core's benchmark (issue 2, "Performance"): ns per evaluation for three scenarios on Vexil and, in
// the same process and on the same 10,000 contexts, on @openfeature/flagd-core, unleash-client, GrowthBook and the
// LaunchDarkly server SDK, every one of them offline; then the load time of a 10,000-flag GO Feature Flag file.
//
//   node --conditions=source --import tsx bench/run.ts core
//
// Prints a Markdown table and writes it to bench/results/core.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTEXT_COUNT, generateUsers, type BenchUser } from './core/contexts.js';
import { CONTENDERS, type Contender } from './core/contenders.js';
import { measureLoad, type LoadResult } from './core/load.js';
import { PROBES, SCENARIOS, SCENARIO_TITLES, type ScenarioId } from './core/scenarios.js';
import { DEFAULT_TIMING, measureInterleaved, sinkValue, type Measurement } from './core/timing.js';
import { verifyScenario } from './core/verify.js';

const here = dirname(fileURLToPath(import.meta.url));
const resultsFile = join(here, 'results', 'core.md');

interface Column {
  name: string;
  contender?: Contender;
  /** Why the library has no figures (could not be set up offline, or failed its answer check). */
  unavailable?: string;
  failed: Partial<Record<ScenarioId, string>>;
  results: Partial<Record<ScenarioId, Measurement>>;
}

const SETUP_TIMEOUT_MS = 20_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/** Handles that would mean a library went to the network. */
function networkHandles(): string[] {
  return process.getActiveResourcesInfo().filter((name) => /TCP|UDP|GetAddrInfo|TLS|HTTP/i.test(name));
}

async function setUp(users: readonly BenchUser[]): Promise<Column[]> {
  const columns: Column[] = [];
  for (const factory of CONTENDERS) {
    const column: Column = { name: factory.name, failed: {}, results: {} };
    columns.push(column);
    try {
      column.contender = await withTimeout(factory.create(users), SETUP_TIMEOUT_MS, `${factory.name} setup`);
      column.name = column.contender.name;
    } catch (error) {
      column.unavailable = `could not be set up offline: ${errorText(error)}`;
      if (factory.name === 'Vexil') throw error;
      console.warn(`  ! ${factory.name}: ${column.unavailable}`);
      continue;
    }
    for (const scenario of SCENARIOS) {
      const problems = await verifyScenario(column.contender, scenario, users);
      if (problems.length > 0) {
        column.failed[scenario] = problems.join('; ');
        console.warn(`  ! ${column.name} ${scenario} gives wrong answers, not timed: ${column.failed[scenario]}`);
        if (factory.name === 'Vexil') throw new Error(`Vexil ${scenario}: ${column.failed[scenario]}`);
      }
    }
  }
  const handles = networkHandles();
  if (handles.length > 0) console.warn(`  ! network handles open after setup: ${handles.join(', ')}`);
  return columns;
}

function formatNs(ns: number): string {
  if (ns < 100) return `${ns.toFixed(1)} ns`;
  return `${Math.round(ns).toLocaleString('en-US')} ns`;
}

function formatMs(ms: number): string {
  if (Number.isNaN(ms)) return '–';
  return ms < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms).toLocaleString('en-US')} ms`;
}

function columnHeader(column: Column): string {
  return column.contender?.async ? `${column.name} (async ¹)` : column.name;
}

function cell(column: Column, scenario: ScenarioId): string {
  if (column.unavailable) return 'n/a';
  if (column.failed[scenario]) return 'wrong answers ²';
  const result = column.results[scenario];
  return result ? formatNs(result.median) : '–';
}

function ratioCell(columns: Column[], scenario: ScenarioId): string {
  const vexil = columns[0]!.results[scenario];
  const peers = columns
    .slice(1)
    .filter((column) => column.results[scenario])
    .sort((a, b) => a.results[scenario]!.median - b.results[scenario]!.median);
  const best = peers[0];
  if (!vexil || !best) return '–';
  return `${(best.results[scenario]!.median / vexil.median).toFixed(1)}× (${best.name})`;
}

function renderTable(columns: Column[], loads: LoadResult[], started: Date, loadAverage: number, overheadNs: number): string {
  const lines: string[] = [];
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  lines.push(`### Evaluation: ns per evaluation (median; lower is better)`);
  lines.push('');
  lines.push(`| Scenario | ${columns.map(columnHeader).join(' | ')} | Best peer ÷ Vexil |`);
  lines.push(`|---|${columns.map(() => '---:').join('|')}|---:|`);
  for (const scenario of SCENARIOS) {
    lines.push(`| ${SCENARIO_TITLES[scenario]} | ${columns.map((column) => cell(column, scenario)).join(' | ')} | ${ratioCell(columns, scenario)} |`);
  }
  lines.push('');
  lines.push('"Best peer ÷ Vexil" is how many times faster Vexil is than the fastest other library (goal, issue 2: at least 3× on S2 and S3).');
  lines.push('');
  if (loads.length > 0) {
    lines.push(`### Loading ${loads[0]!.flags.toLocaleString('en-US')} GO Feature Flag flags with \`compileFlags\``);
    lines.push('');
    lines.push('| File | Size | Median (runs) | Fastest | First run | Parse only | Parse + validate |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const load of loads) {
      lines.push(
        `| ${load.format.toUpperCase()} | ${load.lines.toLocaleString('en-US')} lines, ${(load.bytes / 1e6).toFixed(1)} MB | ${formatMs(load.median)} (${load.runs}) | ${formatMs(load.min)} | ${formatMs(load.first)} | ${formatMs(load.stages.read)} | ${formatMs(load.stages.validate)} |`,
      );
    }
    lines.push('');
    lines.push(
      'Both files hold the same generated flags (every variation type, percentage default rules, a quarter with targeting rules, some metadata, disabled rules and flags), ' +
        "YAML in GO Feature Flag's layout and pretty-printed JSON; `compileFlags` end to end: parse with positions, validate, compile queries and buckets. " +
        '"Parse only" is `readFlagFile`, "Parse + validate" `parseFlagFile`. Goal: under 1 s.',
    );
    lines.push('');
  }
  const timing = DEFAULT_TIMING;
  lines.push(
    `Every library runs offline in one Node process, on the same ${CONTEXT_COUNT.toLocaleString('en-US')} precomputed users (each in its own context shape), cycled in order; ` +
      `each cell is the median of ${timing.rounds} rounds of about ${timing.roundMs} ms (interleaved across libraries) after at least ${timing.warmupMs} ms of warm-up, ` +
      `and includes the timing loop's own ${formatNs(overheadNs)} per call. ` +
      `Before timing, every library's answers on all ${CONTEXT_COUNT.toLocaleString('en-US')} users are checked: rule matches exactly, splits within 3 points of their weights.`,
  );
  lines.push('');
  for (const column of columns) {
    if (column.contender) lines.push(`- **${column.name}** (\`${column.contender.packageLabel}\`): ${column.contender.call}`);
    else lines.push(`- **${column.name}**: ${column.unavailable}`);
  }
  lines.push('');
  if (columns.some((column) => column.contender?.async)) {
    lines.push('¹ Its evaluation API returns a promise; it is measured as it is used, awaiting each call, so its figures include a microtask turn per evaluation.');
  }
  if (columns.some((column) => Object.keys(column.failed).length > 0)) {
    lines.push('² Its answers did not match the scenario, so it was not timed; see the console output for what differed.');
  }
  lines.push('');
  lines.push(
    `Node ${process.version}, ${platform()}/${arch()}, ${cpus().length} × ${cpu} (load average ${loadAverage.toFixed(1)} at start); ` +
      `${started.toISOString().slice(0, 10)}. Reproduce with \`npm run bench -- core\`.`,
  );
  return lines.join('\n') + '\n';
}

export async function run(): Promise<void> {
  const started = new Date();
  const users = generateUsers();
  console.log(`Setting up ${CONTENDERS.length} libraries offline and checking their answers on ${users.length.toLocaleString('en-US')} users…`);
  const loadAverage = loadavg()[0]!;
  const columns = await setUp(users);
  // What the timing loop itself costs per call (reading the next context, calling, comparing): included in every
  // figure, reported so small figures can be read for what they are.
  const [overhead] = await measureInterleaved([{ evaluate: (context: never) => context, contexts: users, probe: null, async: false }]);
  console.log(`  loop overhead ${formatNs(overhead!.median)} per call (included in every figure)`);
  try {
    for (const scenario of SCENARIOS) {
      const timed = columns.filter((column) => column.contender && !column.failed[scenario]);
      const results = await measureInterleaved(
        timed.map((column) => {
          const contender = column.contender!;
          const { evaluate, contexts } = contender.scenarios[scenario];
          return { evaluate, contexts, probe: PROBES[scenario], async: contender.async };
        }),
      );
      timed.forEach((column, index) => {
        const result = results[index]!;
        column.results[scenario] = result;
        console.log(
          `  ${scenario} ${column.name.padEnd(13)} ${formatNs(result.median).padStart(10)}  (rounds ${formatNs(result.min)} … ${formatNs(result.max)}, ${result.iterations.toLocaleString('en-US')} evals each)`,
        );
      });
    }
  } finally {
    for (const column of columns) await column.contender?.close().catch(() => {});
  }

  console.log('Loading 10,000 flags…');
  const loads: LoadResult[] = [];
  for (const format of ['yaml', 'json'] as const) {
    const load = measureLoad(format);
    loads.push(load);
    console.log(
      `  ${format}: median ${formatMs(load.median)} of ${load.runs}, first ${formatMs(load.first)} (parse ${formatMs(load.stages.read)}, parse + validate ${formatMs(load.stages.validate)})`,
    );
  }

  const table = renderTable(columns, loads, started, loadAverage, overhead!.median);
  console.log('\n' + table);
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, `<!-- Written by bench/core.bench.ts (npm run bench -- core); do not edit by hand. -->\n## Core benchmark\n\n${table}`);
  console.log(`(written to ${resultsFile}; checksum ${sinkValue()})`);
}
