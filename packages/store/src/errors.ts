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

/** Who owns an embedded store (the content of its folder's `vexil.lock`). */
export interface EmbeddedStoreOwner {
  pid: number;
  host: string;
  startedAt: string;
  /** `vexil serve`, `vexil import`, … */
  command?: string;
  /** Where the owner serves (a `vexil serve`), once it listens. */
  url?: string;
}

/**
 * Another process owns this embedded store (one process per embedded store: PGlite keeps the database in that
 * process's memory, so a second writer's changes would be lost). One line that says who and what to do instead.
 */
export class EmbeddedStoreLockedError extends Error {
  readonly dataDir: string;
  readonly lockFile: string;
  readonly owner: EmbeddedStoreOwner;
  constructor(dataDir: string, lockFile: string, owner: EmbeddedStoreOwner) {
    const who = `process ${owner.pid}${owner.host ? ` on ${owner.host}` : ''} (${owner.command ?? 'vexil'}${owner.url ? ` at ${owner.url}` : ''}, since ${owner.startedAt})`;
    const through = owner.url
      ? `write through that server: vexil import --server ${owner.url} --admin-key KEY (export: vexil export --server ${owner.url} --admin-key KEY)`
      : 'wait until it ends, or write through the server that owns it (vexil import --server URL --admin-key KEY)';
    super(
      `the embedded store ${dataDir} is in use by ${who}: one process owns an embedded store; use --store with another folder, or ${through} (if that process is not Vexil, delete ${lockFile})`,
    );
    this.name = 'EmbeddedStoreLockedError';
    this.dataDir = dataDir;
    this.lockFile = lockFile;
    this.owner = owner;
  }
}

/** A project that the catalog does not hold (HTTP 404 with its name). */
export class UnknownProjectError extends Error {
  override readonly name = 'UnknownProjectError';
  constructor(readonly project: string) {
    super(`no project "${project}"`);
  }
}

/** An environment that the catalog does not hold (HTTP 404 with its name). */
export class UnknownEnvironmentError extends Error {
  override readonly name = 'UnknownEnvironmentError';
  constructor(
    readonly project: string,
    readonly environment: string,
  ) {
    super(`no environment "${environment}" in project "${project}"`);
  }
}
