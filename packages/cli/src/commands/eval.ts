import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { evaluate, missingContextHint, withRequestHint, wrappedContextHint, type EvaluationContext, type EvaluationDetail, type Snapshot } from '@vexil/core';
import { environmentLabel } from '@vexil/store';
import { loadSnapshot, parseFormat } from './files.js';
import { addScopeOptions, environmentFiles, type ScopeOptions } from './scope.js';

interface EvalOptions extends ScopeOptions {
  flags: string[];
  flag?: string;
  context?: string;
  requests?: string;
  now?: string;
  explain?: boolean;
  format?: string;
}

/** The CLI's output shape (a contract scripts depend on): key, value, variant, reason, errorCode?, errorMessage?, flagMetadata. */
export function toOutput(detail: EvaluationDetail, explain: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { key: detail.key, value: detail.value, variant: detail.variant, reason: detail.reason };
  if (detail.errorCode) out.errorCode = detail.errorCode;
  if (detail.errorMessage) out.errorMessage = detail.errorMessage;
  out.flagMetadata = detail.flagMetadata;
  if (explain && detail.explain) out.explain = detail.explain;
  return out;
}

const REQUEST_SHAPE = '--requests wants {"flag": "...", "context": {...}} per line';

function parseNow(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new Error(`--now "${value}" is not an ISO 8601 date`);
  return at;
}

function parseContext(text: string, where: string): EvaluationContext {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where} must be a JSON object`);
  return value as EvaluationContext;
}

/** The files to evaluate: those of the environment `--env` names, or of the only environment the files are for. */
function filesToEvaluate(items: string[], options: ScopeOptions): string[] {
  const environments = environmentFiles(items, options);
  if (environments.length > 1)
    throw new Error(`the flag files are for ${environments.length} environments (${environments.map(environmentLabel).join(', ')}): choose one with --env (and --project)`);
  return environments[0]!.paths;
}

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description('Evaluate flags from files, for one context or a JSON-lines file of requests')
    .requiredOption('--flags <files...>', 'flag files (YAML, JSON or TOML); later files override earlier ones; ENV=FILE or PROJECT/ENV=FILE for an environment\'s files')
    .option('--flag <key>', 'the flag to evaluate (default: every flag, one JSON line each)')
    .option('--context <json>', 'evaluation context as JSON, e.g. {"targetingKey":"user-42"}', '{}')
    .option('--requests <file>', 'JSON-lines file of {"flag": KEY, "context": {...}} ("-" for standard input); one output line per input line')
    .option('--now <iso8601>', 'evaluate as of this time (scheduled and progressive rollouts, experiment windows)')
    .option('--explain', 'add why: the rule that matched, the bucket and its range, or why none did')
    .option('--format <format>', 'yaml, json or toml (default: from the file extension)')
    .addHelpText(
      'after',
      `
Examples:
  vexil eval --flags flags.goff.yaml --flag new-checkout --context '{"targetingKey":"user-42","email":"a@example.com"}'
  vexil eval --flags flags.goff.yaml --requests requests.jsonl --now 2026-12-01T00:00:00Z
  vexil eval --flags production=flags.prod.yaml,staging=flags.staging.yaml --env staging --flag new-checkout`,
    );
  addScopeOptions(command, 'the flags to evaluate: its files (needed when the files are for several environments)');
  command.action(async (options: EvalOptions) => {
    const now = parseNow(options.now);
    const { snapshot } = await loadSnapshot(filesToEvaluate(options.flags, options), parseFormat(options.format));
    const explain = options.explain === true;
    if (options.requests !== undefined) {
      if (options.flag !== undefined) throw new Error('--flag and --requests cannot be combined');
      await evaluateRequests(snapshot, options.requests, now, explain);
      return;
    }
    const context = parseContext(options.context ?? '{}', '--context');
    const keys = options.flag !== undefined ? [options.flag] : [...snapshot.flags.keys()].sort();
    // `--context '{"context": {...}}'` (OFREP's wrapper) is a likely slip: said before the error it causes.
    const hint = wrappedContextHint(context, '--context');
    const lines = keys.map((key) => {
      const detail = evaluate(snapshot, key, context, { ...(now ? { now } : {}), explain });
      const withHint = hint && detail.errorCode !== undefined && detail.errorCode !== 'FLAG_NOT_FOUND' ? { ...detail, errorMessage: withRequestHint(detail.errorMessage ?? detail.errorCode, hint) } : detail;
      return JSON.stringify(toOutput(withHint, explain));
    });
    process.stdout.write(lines.join('\n') + '\n');
  });
}

async function evaluateRequests(snapshot: Snapshot, file: string, now: Date | undefined, explain: boolean): Promise<void> {
  const input = file === '-' ? process.stdin : createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    input.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`)),
    );
    input.once('readable', () => resolve());
    input.once('end', () => resolve());
  });
  const lines = createInterface({ input, crlfDelay: Infinity });
  // --now pins the time for every line; without it each line may pin its own (gofeatureflag.currentDateTime, as in
  // GO Feature Flag), else the wall clock applies.
  const pinnedNow = now?.getTime();
  let buffer = '';
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') {
      buffer += JSON.stringify(errorLine(null, `line ${lineNumber}: empty line`)) + '\n';
      continue;
    }
    let request: { flag?: unknown; context?: unknown };
    try {
      request = JSON.parse(line) as { flag?: unknown; context?: unknown };
    } catch (error) {
      buffer += JSON.stringify(errorLine(null, `line ${lineNumber}: not JSON: ${(error as Error).message}`)) + '\n';
      continue;
    }
    if (request === null || typeof request !== 'object' || typeof request.flag !== 'string') {
      buffer += JSON.stringify(errorLine(null, `line ${lineNumber}: expected {"flag": KEY, "context": {...}}`)) + '\n';
      continue;
    }
    const context = request.context;
    if (context !== undefined && (context === null || typeof context !== 'object' || Array.isArray(context))) {
      buffer += JSON.stringify(errorLine(request.flag, `line ${lineNumber}: "context" must be an object`)) + '\n';
      continue;
    }
    let detail = evaluate(snapshot, request.flag, (context ?? {}) as EvaluationContext, { ...(pinnedNow !== undefined ? { now: pinnedNow } : {}), explain });
    // A line with the context's attributes at the top level (no "context"): say so, as OFREP does for such a body.
    const hint =
      detail.errorCode !== undefined && detail.errorCode !== 'FLAG_NOT_FOUND'
        ? (missingContextHint(request, `line ${lineNumber}`, REQUEST_SHAPE) ?? wrappedContextHint(context, `line ${lineNumber}'s context`))
        : undefined;
    if (hint) detail = { ...detail, errorMessage: withRequestHint(detail.errorMessage ?? detail.errorCode!, hint) };
    buffer += JSON.stringify(toOutput(detail, explain)) + '\n';
    if (buffer.length > 1 << 16) {
      if (!process.stdout.write(buffer)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      buffer = '';
    }
  }
  process.stdout.write(buffer);
}

function errorLine(key: string | null, message: string): Record<string, unknown> {
  return { key, value: null, reason: 'ERROR', errorCode: 'PARSE_ERROR', errorMessage: message, flagMetadata: {} };
}
