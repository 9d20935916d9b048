import { formatProblem, type Problem } from '@vexil/core';

/** A write whose `expectedVersion` did not match: nothing was changed. */
export class StoreConflictError extends Error {
  readonly key: string;
  readonly expectedVersion: number | undefined;
  /** The version in the store now; 0 when the flag does not exist. */
  readonly currentVersion: number;
  constructor(key: string, expectedVersion: number | undefined, currentVersion: number) {
    super(
      currentVersion === 0
        ? `flag "${key}" does not exist (expected version ${expectedVersion})`
        : expectedVersion === 0
          ? `flag "${key}" already exists (version ${currentVersion})`
          : `flag "${key}" is at version ${currentVersion}, not ${expectedVersion}: it changed meanwhile`,
    );
    this.name = 'StoreConflictError';
    this.key = key;
    this.expectedVersion = expectedVersion;
    this.currentVersion = currentVersion;
  }
}

/** The flag did not pass the core's validation: nothing was written. */
export class StoreValidationError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'StoreValidationError';
    this.problems = problems;
  }
}

/** The flag to delete does not exist. */
export class FlagNotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`flag "${key}" does not exist`);
    this.name = 'FlagNotFoundError';
    this.key = key;
  }
}

/** Writes to a read-only store (the file store). */
export class ReadOnlyStoreError extends Error {
  constructor(kind: string) {
    super(`the ${kind} store is read-only: change the flag files instead`);
    this.name = 'ReadOnlyStoreError';
  }
}

/** The backend did not answer (connection refused, timed out). */
export class StoreUnavailableError extends Error {
  constructor(kind: string, cause: unknown) {
    super(`the ${kind} store is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}
