// Load time of a 10,000-flag file: `compileFlags` end to end (parse with positions, validate, compile queries and
// buckets), as a server or the CLI does at start-up and on every reload.
import { compileFlags, parseFlagFile, readFlagFile, type FlagFileFormat } from '@vexil/core';
import { BIG_FLAG_COUNT, bigFlagSet, toJson, toYaml } from './big-file.js';
import { median } from './timing.js';

export interface LoadResult {
  format: FlagFileFormat;
  flags: number;
  lines: number;
  bytes: number;
  /** The first run, in a process that has not compiled a big file yet (ms). */
  first: number;
  /** Median of the following runs (ms); the first run when none followed. */
  median: number;
  min: number;
  runs: number;
  /** Medians of the stages (ms): parsing the text, parsing + validating, and everything. */
  stages: { read: number; validate: number; compile: number };
}

function time<T>(work: () => T): [T, number] {
  const start = process.hrtime.bigint();
  const result = work();
  return [result, Number(process.hrtime.bigint() - start) / 1e6];
}

function loadOnce(text: string, format: FlagFileFormat): number {
  const [snapshot, ms] = time(() => compileFlags(text, { format, source: `big.${format}` }));
  if (snapshot.flags.size !== BIG_FLAG_COUNT) {
    const first = [...snapshot.invalid.entries()][0];
    throw new Error(`${format}: loaded ${snapshot.flags.size} of ${BIG_FLAG_COUNT} flags` + (first ? ` (e.g. ${first[0]}: ${first[1].map((p) => p.message).join('; ')})` : ''));
  }
  return ms;
}

export interface LoadOptions {
  /** Timed runs after the first (fewer when they do not fit the budget; none when the first run alone exceeds it). */
  runs: number;
  /** Time allowed for the timed runs, in ms, so a slow parser cannot stretch the suite past its budget. */
  budgetMs: number;
}

/** Above this, a first run is "slow": fewer runs, and the stage breakdown only looks at parsing. */
const SLOW_MS = 3_000;

export function measureLoad(format: FlagFileFormat, options: LoadOptions = { runs: 5, budgetMs: 8_000 }): LoadResult {
  const data = bigFlagSet();
  const text = format === 'json' ? toJson(data) : toYaml(data);
  const first = loadOnce(text, format);
  const times: number[] = [];
  let spent = 0;
  // A run is only started when another one like the last fits the budget; when the first run alone exceeds it,
  // the first run is the only figure.
  let estimate = first;
  while (times.length < options.runs && spent + estimate <= options.budgetMs) {
    const ms = loadOnce(text, format);
    times.push(ms);
    spent += ms;
    estimate = ms;
  }
  if (times.length === 0) times.push(first);
  // Where the time goes: reading the text alone, then reading + validating (compiling is the rest).
  const slow = first > SLOW_MS;
  const read: number[] = [];
  const validate: number[] = [];
  for (let run = 0; run < (slow ? 1 : 3); run++) {
    read.push(time(() => readFlagFile(text, format, `big.${format}`))[1]);
    if (!slow) validate.push(time(() => parseFlagFile(text, { format, source: `big.${format}` }))[1]);
  }
  return {
    format,
    flags: BIG_FLAG_COUNT,
    lines: text.split('\n').length - 1,
    bytes: Buffer.byteLength(text),
    first,
    median: median(times),
    min: Math.min(...times),
    runs: times.length,
    stages: { read: median(read), validate: validate.length > 0 ? median(validate) : Number.NaN, compile: median(times) },
  };
}
