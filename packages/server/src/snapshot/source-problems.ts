import { formatProblem, type Problem } from '@vexil/core';
import type { FlagStore } from '@vexil/store';

type Log = { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };

/** At most this many problems are listed in `/health` (the count is always exact). */
const LISTED = 20;

/**
 * Makes a broken flag file visible while serving. The file store keeps the last good flags of a file that breaks
 * (right), which alone would go unnoticed: this logs each new problem (`file:line:col flag field: message`), says when
 * they clear, and gives `/health`, the metrics and the admin page the current errors. Stores without such data (SQL,
 * Redis: every write is validated) never have any.
 */
export class SourceProblems {
  #problems: Problem[] = [];
  #known = new Set<string>();
  #unsubscribe: (() => void) | undefined;
  readonly #log: Log;

  constructor(store: FlagStore, log: Log) {
    this.#log = log;
    const feed = store.sourceProblems;
    if (!feed) return;
    // The problems found at start are logged once by the snapshot holder's first load; only changes are logged here.
    this.#problems = feed.current();
    this.#known = new Set(this.#problems.map(formatProblem));
    this.#unsubscribe = feed.subscribe((problems) => this.#update(problems));
  }

  /** Current errors (a file that does not parse, a flag left out or kept at its last good definition). */
  get errors(): Problem[] {
    return this.#problems.filter((problem) => problem.severity === 'error');
  }

  /** Flags named by a current error. */
  get invalidFlags(): Set<string> {
    return new Set(this.errors.flatMap((problem) => (problem.flagKey ? [problem.flagKey] : [])));
  }

  /** For `/health`: the error count and the first errors, formatted. */
  report(): { count: number; problems: string[] } {
    const errors = this.errors;
    return { count: errors.length, problems: errors.slice(0, LISTED).map(formatProblem) };
  }

  counts(): { error: number; warning: number } {
    const error = this.errors.length;
    return { error, warning: this.#problems.length - error };
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #update(problems: Problem[]): void {
    const hadErrors = this.errors.length > 0;
    const texts = new Set(problems.map(formatProblem));
    for (const problem of problems) {
      const text = formatProblem(problem);
      if (this.#known.has(text)) continue;
      this.#log.warn(
        { problem: text, file: problem.source, line: problem.line, flag: problem.flagKey, field: problem.path, severity: problem.severity },
        problem.severity === 'error' ? `flag file problem, serving the last good flags: ${text}` : `flag file warning: ${text}`,
      );
    }
    this.#problems = problems;
    this.#known = texts;
    if (hadErrors && this.errors.length === 0) this.#log.info({}, 'flag files fixed: every file is served as written again');
  }
}
