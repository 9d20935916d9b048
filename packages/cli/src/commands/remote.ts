import { Option, type Command } from 'commander';

/** Exit codes of the remote commands: 0 done, 1 error, 3 refused or conflicting (HTTP 403 / 409). */
export const EXIT_REFUSED = 3;

/** An error with the exit code the command should end with (the bin prints the message). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
    /** The server's error code (`forbidden`, `self_approval`, `conflicting`, `environment_in_use`…). */
    readonly code?: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface RemoteOptions {
  server?: string;
  adminKey?: string;
  json?: boolean;
}

/** `--server` and `--admin-key` (and `--json`), with the same environment variables as `vexil rollout`. */
export function addRemoteOptions(command: Command, { json = true } = {}): Command {
  command
    .addOption(new Option('--server <url>', 'the Vexil server (env VEXIL_SERVER)').default(process.env.VEXIL_SERVER ?? 'http://127.0.0.1:1031', 'http://127.0.0.1:1031'))
    .option('--admin-key <key>', 'an admin API key (env VEXIL_ADMIN_KEY)');
  if (json) command.option('--json', 'print the API answer as JSON');
  return command;
}

/** A running server's admin API, for the remote commands (env, promote, changes). */
export class RemoteClient {
  readonly #base: string;
  readonly #key: string;

  constructor(options: RemoteOptions) {
    const server = options.server ?? process.env.VEXIL_SERVER ?? 'http://127.0.0.1:1031';
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new CliError(`--server ${server} is not a URL (e.g. http://127.0.0.1:1031)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--server ${server}: use an http:// or https:// URL`);
    const key = options.adminKey ?? process.env.VEXIL_ADMIN_KEY;
    if (!key) throw new CliError('give an admin key: --admin-key or VEXIL_ADMIN_KEY');
    this.#base = url.href.replace(/\/+$/, '');
    this.#key = key;
  }

  /** Calls the admin API; resolves the status and body of a 2xx answer, rejects with a `CliError` otherwise. */
  async call<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const { response, text, parsed } = await sendJson(this.#base, this.#key, method, path, body);
    if (response.ok) return { status: response.status, body: parsed as T };
    const message: string = parsed?.message ?? parsed?.error ?? (text || response.statusText);
    const refused = response.status === 403 || response.status === 409;
    const what = response.status === 401 ? `${this.#base} refused the admin key: ${message}` : message;
    throw new CliError(`${what} (${response.status}${parsed?.error ? ` ${parsed.error}` : ''})`, refused ? EXIT_REFUSED : 1, parsed?.error, parsed);
  }
}

/**
 * One admin API request with a key and a JSON body: the response, its text and its JSON (undefined when it is none).
 * A server that cannot be reached is a `CliError` naming it.
 */
export async function sendJson(
  base: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ response: Response; text: string; parsed: any }> {
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    throw new CliError(`cannot reach ${base}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`);
  }
  const text = await response.text();
  let parsed: any;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { response, text, parsed };
}

/** `/admin/v1/projects/P/environments[/E]`. */
export function environmentsPath(project: string, environment?: string): string {
  const base = `/admin/v1/projects/${encodeURIComponent(project)}/environments`;
  return environment === undefined ? base : `${base}/${encodeURIComponent(environment)}`;
}

/** One difference between two values, by path (`defaultRule.variation`, `targeting[0].query`). */
export interface ValueDifference {
  path: string;
  before: unknown;
  after: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The leaves where two JSON values differ; arrays of different length compare whole. */
export function diffValues(before: unknown, after: unknown, path = ''): ValueDifference[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => diffValues(before[key], after[key], path ? `${path}.${key}` : key));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, index) => diffValues(item, after[index], `${path}[${index}]`));
  }
  return [{ path: path || '(whole)', before, after }];
}

const shown = (value: unknown): string => (value === undefined ? '(none)' : JSON.stringify(value));

/** `    path: before → after` lines. */
export function formatDifferences(differences: ValueDifference[], indent = '    '): string[] {
  return differences.map((difference) => `${indent}${difference.path}: ${shown(difference.before)} → ${shown(difference.after)}`);
}

/** Asks yes/no on the terminal; false when standard input is not a terminal. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Pads columns of a small table. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd()).join('\n') + '\n';
}
