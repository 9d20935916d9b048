import { EventEmitter } from 'node:events';
import { applyChanges, compileFlagSet, formatProblem, type FlagDefinition, type Problem, type SegmentDefinition, type Snapshot } from '@vexil/core';
import type { ChangeEvent, FlagStore } from '@vexil/store';
import { ChangeLog } from './change-log.js';

/** One flag as the holder keeps it: the stored definition and its version. */
export interface HeldFlag {
  flag: FlagDefinition;
  version: number;
}

/** What listeners of `change` receive, once the new snapshot is compiled and in place. */
export interface SnapshotChange {
  /** The revision now served. */
  revision: number;
  previousRevision: number;
  /** The store's change events, in revision order; empty on a resync (`resync: true`). */
  events: ChangeEvent[];
  /** Flag keys whose definition changed (added, updated, removed). */
  keys: string[];
  /** True when the state was replaced as a whole (after the store came back, or the change feed failed). */
  resync: boolean;
}

export type HealthStatus = 'starting' | 'ok' | 'degraded';

export interface SnapshotHolderOptions {
  /** Coalesce changes that arrive within this many milliseconds into one recompile. Default 2. */
  debounceMs?: number;
  /** How often to ping the store for health. Default 2000 ms. */
  healthIntervalMs?: number;
  /** A ping slower than this counts as a failure. Default 2000 ms. */
  pingTimeoutMs?: number;
  /** How many recent changes to keep for `Last-Event-ID` resumes. Default 1000. */
  changeLogSize?: number;
  /** How long `start()` keeps trying the first load before serving an empty snapshot (degraded). Default 10 s. */
  startTimeoutMs?: number;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

const silentLog = { info() {}, warn() {}, error() {} };

/**
 * The live, compiled snapshot of a store. Loads everything once, then follows the store's change feed: each change
 * updates the raw state at once, and a recompile follows after a few milliseconds (so bursts compile once). Servers
 * read `snapshot` synchronously on every request; it is replaced, never mutated.
 *
 * When the store stops answering, the last good snapshot keeps being served and `status` says `degraded`; when it
 * answers again, the holder catches up (the change feed replays what was missed, and a full re-read guards against a
 * feed that fell behind).
 */
export class SnapshotHolder extends EventEmitter {
  readonly store: FlagStore;
  /** The compiled snapshot served now. */
  snapshot: Snapshot;
  /** Raw state, at `appliedRevision` (may be a few ms ahead of `snapshot` while a recompile is pending). */
  readonly flags = new Map<string, HeldFlag>();
  segments: Record<string, SegmentDefinition> = {};
  /** The revision of the raw state. */
  appliedRevision = 0;
  /** Each flag's version in the served snapshot (the stored flags at `snapshot.revision`, valid or not). */
  get snapshotVersions(): Readonly<Record<string, number>> {
    // Built when read: a write only updates the map, and does not copy every flag's version.
    return (this.#snapshotVersionsRecord ??= Object.fromEntries(this.#snapshotVersions));
  }
  set snapshotVersions(versions: Readonly<Record<string, number>>) {
    this.#snapshotVersions = new Map(Object.entries(versions));
    this.#snapshotVersionsRecord = versions;
  }
  /** When the served snapshot was last replaced. */
  loadedAt = new Date(0);
  storeReachable = false;
  lastError: { message: string; at: string } | undefined;
  readonly changes: ChangeLog;
  /** Times the store was found to have gone back in time (reset or restored) and was re-read whole. */
  storeResets = 0;

  readonly #options: Required<Omit<SnapshotHolderOptions, 'log'>>;
  readonly #log: NonNullable<SnapshotHolderOptions['log']>;
  #pending: ChangeEvent[] = [];
  #pendingKeys = new Set<string>();
  #compileTimer: NodeJS.Timeout | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #watchAbort: AbortController | undefined;
  #following: Promise<void> | undefined;
  #stopped = false;
  #started = false;
  #resyncing: Promise<void> | undefined;
  #reportedProblems = new Set<string>();
  /** The store's instance id as last confirmed (see `#checkStoreIdentity`). */
  #instanceId: string | undefined;
  #checking: Promise<boolean> | undefined;
  /** The segments `snapshot` was compiled with: a change of `segments` recompiles the flags that use them. */
  #compiledSegments: Record<string, SegmentDefinition> = {};
  #snapshotVersions = new Map<string, number>();
  #snapshotVersionsRecord: Readonly<Record<string, number>> | undefined = {};

  constructor(store: FlagStore, options: SnapshotHolderOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.store = store;
    this.#options = {
      debounceMs: options.debounceMs ?? 2,
      healthIntervalMs: options.healthIntervalMs ?? 2000,
      pingTimeoutMs: options.pingTimeoutMs ?? 2000,
      changeLogSize: options.changeLogSize ?? 1000,
      startTimeoutMs: options.startTimeoutMs ?? 10_000,
    };
    this.#log = options.log ?? silentLog;
    this.changes = new ChangeLog(this.#options.changeLogSize);
    this.snapshot = compileFlagSet({}, { revision: 0 });
  }

  get revision(): number {
    return this.snapshot.revision ?? 0;
  }

  get status(): HealthStatus {
    if (!this.#started) return 'starting';
    return this.storeReachable ? 'ok' : 'degraded';
  }

  /** Loads the store (retrying until `startTimeoutMs`), then follows its change feed and pings it for health. */
  async start(): Promise<void> {
    if (this.#started) return;
    const deadline = Date.now() + this.#options.startTimeoutMs;
    let delay = 100;
    for (;;) {
      try {
        await this.#load();
        break;
      } catch (error) {
        this.#fail(error);
        if (this.#stopped) return;
        if (Date.now() + delay > deadline) {
          this.#log.error({ err: error }, 'the store did not answer: starting with no flags (degraded), retrying in the background');
          break;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
    this.#started = true;
    this.#following = this.#follow();
    this.#healthTimer = setInterval(() => void this.#checkHealth(), this.#options.healthIntervalMs);
    this.#healthTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#healthTimer);
    clearTimeout(this.#compileTimer);
    this.#watchAbort?.abort();
    await this.#following?.catch(() => undefined);
  }

  /** Definitions of every stored flag (valid or not), as the store holds them. */
  definitions(): Record<string, FlagDefinition> {
    const out: Record<string, FlagDefinition> = {};
    for (const [key, held] of this.flags) out[key] = held.flag;
    return out;
  }

  /**
   * Resolves once the served snapshot includes `revision` (read-your-writes after an admin write), or after
   * `timeoutMs` either way. Resolves true when the revision was reached.
   */
  waitFor(revision: number, timeoutMs = 2000): Promise<boolean> {
    if (this.revision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onChange = (): void => {
        if (this.revision < revision) return;
        cleanup();
        resolve(true);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(false);
      }, timeoutMs);
      timer.unref();
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('change', onChange);
      };
      this.on('change', onChange);
    });
  }

  /** Forces a full re-read now (used after the store comes back, and by tests). */
  resync(): Promise<void> {
    this.#resyncing ??= this.#resyncOnce().finally(() => {
      this.#resyncing = undefined;
    });
    return this.#resyncing;
  }

  // ---- loading and following ------------------------------------------------------------------------------------

  async #load(): Promise<void> {
    const list = await this.store.list();
    this.storeReachable = true;
    this.#reportProblems(list.problems);
    this.flags.clear();
    for (const stored of list.flags) this.flags.set(stored.key, { flag: stored.flag, version: stored.version });
    this.segments = list.segments;
    this.appliedRevision = list.revision;
    this.changes.reset(list.revision);
    this.#compileNow();
  }

  async #resyncOnce(): Promise<void> {
    const list = await this.store.list();
    this.storeReachable = true;
    this.#reportProblems(list.problems);
    // Only move forward: a change applied from the feed meanwhile may already be newer than this read.
    if (list.revision <= this.appliedRevision) return;
    const before = this.flags;
    const keys = new Set<string>();
    const next = new Map<string, HeldFlag>();
    for (const stored of list.flags) {
      next.set(stored.key, { flag: stored.flag, version: stored.version });
      if (before.get(stored.key)?.version !== stored.version) keys.add(stored.key);
    }
    for (const key of before.keys()) if (!next.has(key)) keys.add(key);
    this.flags.clear();
    for (const [key, held] of next) this.flags.set(key, held);
    this.segments = list.segments;
    const previous = this.revision;
    this.appliedRevision = list.revision;
    this.changes.reset(list.revision);
    this.#pending = [];
    this.#pendingKeys.clear();
    clearTimeout(this.#compileTimer);
    this.#compileTimer = undefined;
    this.#compileNow();
    this.#log.info({ revision: list.revision, previous, changed: keys.size }, 'flags re-read from the store');
    this.emit('change', { revision: list.revision, previousRevision: previous, events: [], keys: [...keys], resync: true } satisfies SnapshotChange);
  }

  async #follow(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      const abort = new AbortController();
      this.#watchAbort = abort;
      try {
        for await (const event of this.store.watch({ fromRevision: this.appliedRevision, signal: abort.signal })) {
          if (this.#stopped) return;
          failures = 0;
          this.#apply(event);
        }
        if (this.#stopped) return;
        this.#log.warn({}, 'the change feed ended: following again');
      } catch (error) {
        if (this.#stopped) return;
        this.#fail(error);
        this.#log.warn({ err: error }, 'the change feed failed: following again');
      }
      await sleep(Math.min(100 * 2 ** failures++, 5000));
      if (this.#stopped) return;
      await this.resync().catch((error: unknown) => this.#fail(error));
    }
  }

  #apply(event: ChangeEvent): void {
    if (event.revision <= this.appliedRevision) return;
    switch (event.type) {
      case 'put':
        this.flags.set(event.key, { flag: event.flag, version: event.version });
        this.#pendingKeys.add(event.key);
        break;
      case 'delete':
        this.flags.delete(event.key);
        this.#pendingKeys.add(event.key);
        break;
      case 'segments':
        this.segments = event.segments;
        break;
    }
    this.appliedRevision = event.revision;
    this.storeReachable = true;
    this.changes.push(event);
    this.#pending.push(event);
    this.#compileTimer ??= setTimeout(() => {
      this.#compileTimer = undefined;
      this.#flush();
    }, this.#options.debounceMs);
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    const keys = [...this.#pendingKeys];
    this.#pending = [];
    this.#pendingKeys = new Set();
    const previous = this.revision;
    this.#applyNow(keys);
    this.emit('change', { revision: this.revision, previousRevision: previous, events, keys, resync: false } satisfies SnapshotChange);
  }

  /**
   * Recompiles only what changed (these flags, and the flags using a changed segment) into a new snapshot that shares
   * every other compiled flag with the served one: a write costs the size of the change, not of the whole set.
   */
  #applyNow(keys: string[]): void {
    const segmentsChanged = this.segments !== this.#compiledSegments;
    for (const key of keys) {
      const held = this.flags.get(key);
      if (held) this.#snapshotVersions.set(key, held.version);
      else this.#snapshotVersions.delete(key);
    }
    this.#snapshotVersionsRecord = undefined;
    this.snapshot = applyChanges(this.snapshot, {
      flags: keys.map((key) => [key, this.flags.get(key)?.flag] as const),
      ...(segmentsChanged ? { segments: this.segments } : {}),
      revision: this.appliedRevision,
    });
    this.#compiledSegments = this.segments;
    this.loadedAt = new Date();
    // Only what this change can have broken (the errors of an invalid flag are its `invalid` entry).
    const snapshot = this.snapshot;
    this.#reportProblems(
      segmentsChanged ? snapshot.problems.filter((problem) => problem.severity === 'error') : keys.flatMap((key) => snapshot.invalid.get(key) ?? []),
    );
  }

  #compileNow(): void {
    const definitions: Record<string, unknown> = {};
    const versions: Record<string, number> = {};
    for (const [key, held] of this.flags) {
      definitions[key] = held.flag;
      versions[key] = held.version;
    }
    this.snapshotVersions = versions;
    this.snapshot = compileFlagSet(definitions, { segments: this.segments, revision: this.appliedRevision, source: `${this.store.kind} store` });
    this.#compiledSegments = this.segments;
    this.loadedAt = new Date();
    this.#reportProblems(this.snapshot.problems.filter((problem) => problem.severity === 'error'));
  }

  async #checkHealth(): Promise<void> {
    if (this.#stopped) return;
    const wasReachable = this.storeReachable;
    try {
      await withTimeout(this.store.ping(), this.#options.pingTimeoutMs);
    } catch (error) {
      this.#fail(error);
      if (wasReachable) this.#log.warn({ err: error }, 'the store is unreachable: serving the last flags (degraded)');
      return;
    }
    if (!wasReachable) {
      this.storeReachable = true;
      this.#log.info({}, 'the store answers again: catching up');
      this.emit('health', this.status);
    }
    try {
      if (await this.checkStore()) return;
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (!wasReachable) await this.resync().catch((error: unknown) => this.#fail(error));
  }

  // ---- a store that went back in time -----------------------------------------------------------------------------

  /** Checks now whether the store went back in time, and re-reads it if so (see `#checkStoreIdentity`). */
  checkStore(): Promise<boolean> {
    this.#checking ??= this.#checkStoreIdentity().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /**
   * Notices a store that went back in time: a new instance id (recreated: Redis restarted empty, the prefix's keys or
   * the schema deleted) or a revision below one already applied (restored from a backup). Its change feed then
   * announces revisions this holder takes for old news, so the whole state is re-read instead (`#resyncAfterReset`).
   * Until that succeeds, the last good flags keep being served. Resolves true when a reset was handled.
   */
  async #checkStoreIdentity(): Promise<boolean> {
    if (!this.store.identity) return false;
    // Read before asking: every revision applied so far was committed before the question, so a lower answer is a reset.
    const seen = this.appliedRevision;
    this.#instanceId ??= this.store.instanceId;
    const known = this.#instanceId;
    const now = await this.store.identity();
    const recreated = known !== undefined && now.instanceId !== undefined && now.instanceId !== known;
    if (!recreated && now.revision >= seen) {
      this.#instanceId ??= now.instanceId;
      return false;
    }
    this.#log.warn(
      { previousInstance: known, instance: now.instanceId, revision: now.revision, seenRevision: seen },
      recreated
        ? 'the store was reset (a new instance id): re-reading every flag'
        : `the store went back in time (revision ${now.revision} < ${seen} already served: restored from a backup?): re-reading every flag`,
    );
    await this.#resyncAfterReset(now.instanceId);
    this.storeResets++;
    return true;
  }

  /** Replaces the whole state by the store's, whatever its revision, and follows the change feed from there. */
  async #resyncAfterReset(instanceId: string | undefined): Promise<void> {
    const list = await this.store.list();
    const keys = new Set<string>([...this.flags.keys(), ...list.flags.map((stored) => stored.key)]);
    this.flags.clear();
    for (const stored of list.flags) this.flags.set(stored.key, { flag: stored.flag, version: stored.version });
    this.segments = list.segments;
    this.#reportProblems(list.problems);
    const previous = this.revision;
    this.appliedRevision = list.revision;
    this.changes.reset(list.revision);
    this.#pending = [];
    this.#pendingKeys.clear();
    clearTimeout(this.#compileTimer);
    this.#compileTimer = undefined;
    this.#compileNow();
    this.#instanceId = instanceId;
    // The feed was following revisions of the old data: start it again from the new revision.
    this.#watchAbort?.abort();
    this.#log.info({ revision: list.revision, previous, flags: list.flags.length }, 'flags re-read after the store reset');
    this.emit('change', { revision: list.revision, previousRevision: previous, events: [], keys: [...keys], resync: true } satisfies SnapshotChange);
  }

  #fail(error: unknown): void {
    const wasReachable = this.storeReachable;
    this.storeReachable = false;
    this.lastError = { message: error instanceof Error ? error.message : String(error), at: new Date().toISOString() };
    if (wasReachable) this.emit('health', this.status);
  }

  #reportProblems(problems: readonly Problem[]): void {
    for (const problem of problems) {
      const text = formatProblem(problem);
      if (this.#reportedProblems.has(text)) continue;
      if (this.#reportedProblems.size > 1000) this.#reportedProblems.clear();
      this.#reportedProblems.add(text);
      this.#log.warn({ problem: text }, 'stored flag problem');
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
