/**
 * A problem found in a flag file or definition: what `vexil lint` prints, what the admin API returns on a rejected
 * write, and what a loader reports for a flag it skipped.
 */
export interface Problem {
  severity: 'error' | 'warning';
  /** File name or other origin ("admin API", "redis key vexil:flags:x"). */
  source?: string;
  /** 1-based line and column in the source text, when known. */
  line?: number;
  column?: number;
  flagKey?: string;
  /** Dotted path of the field inside the flag, e.g. `targeting[0].query`. */
  path?: string;
  message: string;
}

/** `file:line:col flag-key field.path: message`, leaving out what is unknown. */
export function formatProblem(problem: Problem): string {
  let where = problem.source ?? '';
  if (problem.line !== undefined) where += `:${problem.line}${problem.column !== undefined ? `:${problem.column}` : ''}`;
  const parts = [where, problem.flagKey, problem.path].filter((part): part is string => !!part);
  const prefix = parts.join(' ');
  const severity = problem.severity === 'warning' ? 'warning: ' : '';
  return prefix ? `${prefix}: ${severity}${problem.message}` : `${severity}${problem.message}`;
}

/** Thrown by APIs that must reject input as a whole (e.g. `compileFlags` on a file that does not parse). */
export class FlagValidationError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'FlagValidationError';
    this.problems = problems;
  }
}
