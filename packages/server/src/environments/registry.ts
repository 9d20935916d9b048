import {
  DEFAULT_ENVIRONMENT,
  DEFAULT_PROJECT,
  UnknownEnvironmentError,
  UnknownProjectError,
  type EnvironmentCatalog,
  type EnvironmentRecord,
  type EnvironmentRef,
  type FlagStore,
} from '@vexil/store';
import { HttpError } from '../http/errors.js';
import { SnapshotHolder, type SnapshotHolderOptions } from '../snapshot/holder.js';
import { SourceProblems } from '../snapshot/source-problems.js';

/**
 * One environment as the server serves it: its catalog record, its scoped store and the live snapshot of that store.
 * default/default's store and holder are the server's own (`ctx.store`, `ctx.holder`).
 */
export interface EnvironmentScope {
  readonly ref: EnvironmentRef;
  /** Updated when the catalog changes (a rename, `requireApproval`). */
  record: EnvironmentRecord;
  readonly store: FlagStore;
  readonly holder: SnapshotHolder;
  /** Errors of the flag files it is served from (file stores): a broken file keeps its last good flags, visibly. */
  readonly sourceProblems: SourceProblems;
  /** `project/environment`: the registry's key, and how logs and messages name it. */
  readonly name: string;
  readonly isDefault: boolean;
  /** How the events store names this environment: `default` for default/default (today's data). */
  readonly eventsEnvironment: string;
}

/** Environments opened at once while following the catalog. */
const OPEN_CONCURRENCY = 4;

export const DEFAULT_REF: EnvironmentRef = Object.freeze({ project: DEFAULT_PROJECT, environment: DEFAULT_ENVIRONMENT });

export function scopeName(ref: EnvironmentRef): string {
  return `${ref.project}/${ref.environment}`;
}

/**
 * The events store's name for an environment. Events written before environments are `default`; the default
 * project's environments keep their plain key (`production`), other projects' are `project/environment`, so that two
 * projects' `production` never mix.
 */
export function eventsEnvironmentOf(ref: EnvironmentRef): string {
  return ref.project === DEFAULT_PROJECT ? ref.environment : scopeName(ref);
}

export function unknownProject(project: string): HttpError {
  return new HttpError(404, 'unknown_project', `no project "${project}"`, { project });
}

export function unknownEnvironment(ref: EnvironmentRef): HttpError {
  return new HttpError(404, 'unknown_environment', `no environment "${ref.environment}" in project "${ref.project}"`, { ...ref });
}

/** The record of default/default for a store without a catalog (it has that one environment). */
function defaultRecord(): EnvironmentRecord {
  return {
    project: DEFAULT_PROJECT,
    key: DEFAULT_ENVIRONMENT,
    name: DEFAULT_ENVIRONMENT,
    requireApproval: false,
    id: 'default',
    createdAt: new Date(0).toISOString(),
    createdBy: 'vexil',
    version: 0,
  };
}

export interface EnvironmentRegistryOptions {
  store: FlagStore;
  holder: SnapshotHolder;
  /** default/default's file problems (the server's own). */
  sourceProblems: SourceProblems;
  /** Options of the holders of the other environments (as the root holder's). */
  holderOptions?: Omit<SnapshotHolderOptions, 'log'>;
  /** How often to look at `catalog.revision()` for environments created or deleted elsewhere (ms). Default 3000; 0: never. */
  pollMs?: number;
  log?: NonNullable<SnapshotHolderOptions['log']>;
}

/** What route modules attach to each environment served (listeners on its holder); the returned function detaches. */
export type ScopeAttachment = (scope: EnvironmentScope) => (() => void) | void;

/**
 * Every project × environment the server serves, each with a live snapshot: created at start for every environment in
 * the catalog, then following the catalog (polled, and at once after this server's own catalog writes). `get()`
 * opens an environment the server has not seen yet (created by another server a moment ago) on demand.
 */
export class EnvironmentRegistry {
  readonly catalog: EnvironmentCatalog | undefined;
  readonly defaultScope: EnvironmentScope;
  readonly #store: FlagStore;
  readonly #options: EnvironmentRegistryOptions;
  readonly #log: NonNullable<SnapshotHolderOptions['log']>;
  readonly #scopes = new Map<string, EnvironmentScope>();
  readonly #opening = new Map<string, Promise<EnvironmentScope>>();
  readonly #attachments: ScopeAttachment[] = [];
  readonly #detach = new Map<EnvironmentScope, Array<() => void>>();
  #catalogRevision: number | undefined;
  /** Resolves once every environment known at start is open (or failed to open). */
  started: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;
  #stopped = false;

  /**
   * How often an environment's holder pings its store. Environments share the root's connections, whose holder
   * already checks them every `healthIntervalMs`; theirs look mainly for a reset of their own data, so they check
   * 15 times less often (at least every 30 s): 100 environments must not cost 100 pings per interval on the hot path
   * (the embedded store answers them on the server's own thread).
   */
  readonly #scopeHealthIntervalMs: number;

  constructor(options: EnvironmentRegistryOptions) {
    this.#options = options;
    this.#scopeHealthIntervalMs = Math.max((options.holderOptions?.healthIntervalMs ?? 2000) * 15, 30_000);
    this.#store = options.store;
    this.catalog = options.store.catalog;
    this.#log = options.log ?? { info() {}, warn() {}, error() {} };
    this.defaultScope = {
      ref: DEFAULT_REF,
      record: defaultRecord(),
      store: options.store,
      holder: options.holder,
      sourceProblems: options.sourceProblems,
      name: scopeName(DEFAULT_REF),
      isDefault: true,
      eventsEnvironment: DEFAULT_ENVIRONMENT,
    };
    this.#scopes.set(this.defaultScope.name, this.defaultScope);
  }

  /**
   * Opens every environment of the catalog in the background (a failing one is logged, and retried on the next look),
   * then polls. `started` resolves once the first look is done.
   */
  start(): void {
    this.started = this.refresh().catch((error: unknown) => this.#log.error({ err: error }, 'environments: could not read the catalog at start'));
    const pollMs = this.#options.pollMs ?? 3000;
    if (pollMs > 0 && this.catalog) {
      this.#timer = setInterval(() => {
        void this.#poll();
      }, pollMs);
      this.#timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#refreshing?.catch(() => undefined);
    await this.started;
    await Promise.all([...this.#opening.values()].map((opening) => opening.catch(() => undefined)));
    for (const scope of [...this.#scopes.values()]) if (!scope.isDefault) await this.#close(scope);
  }

  /** The environments served now (default/default first). */
  list(): EnvironmentScope[] {
    return [...this.#scopes.values()];
  }

  get size(): number {
    return this.#scopes.size;
  }

  /** The scope when it is open already: the synchronous path of every request. */
  cached(ref: EnvironmentRef): EnvironmentScope | undefined {
    if (ref.project === DEFAULT_PROJECT && ref.environment === DEFAULT_ENVIRONMENT) return this.defaultScope;
    return this.#scopes.get(scopeName(ref));
  }

  /** The scope of `ref`, opening it when the catalog has it; HttpError 404 `unknown_project`/`unknown_environment` otherwise. */
  async get(ref: EnvironmentRef): Promise<EnvironmentScope> {
    const cached = this.cached(ref);
    if (cached) return cached;
    const name = scopeName(ref);
    const opening = this.#opening.get(name);
    if (opening) return opening;
    if (!this.catalog || this.#stopped) {
      if (ref.project !== DEFAULT_PROJECT) throw unknownProject(ref.project);
      throw unknownEnvironment(ref);
    }
    const record = await this.#lookUp(ref);
    return this.#open(record);
  }

  /**
   * Calls `attach` for every environment served now and every one opened later; what it returns is called when the
   * environment stops being served (deleted) or the registry stops.
   */
  each(attach: ScopeAttachment): void {
    this.#attachments.push(attach);
    for (const scope of this.#scopes.values()) this.#attach(scope, attach);
  }

  /**
   * Follows the catalog now: opens the environments it has that are not served yet, stops serving those it no longer
   * has, refreshes records. Called after this server's own catalog writes, and by the poll when the revision moved.
   */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    const run = async (): Promise<void> => {
      do {
        this.#refreshAgain = false;
        await this.#sync();
      } while (this.#refreshAgain && !this.#stopped);
    };
    this.#refreshing = run().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #poll(): Promise<void> {
    if (!this.catalog || this.#stopped || this.#refreshing) return;
    try {
      const revision = await this.catalog.revision();
      if (revision !== this.#catalogRevision) await this.refresh();
    } catch (error) {
      this.#log.warn({ err: error }, 'environments: could not read the catalog revision');
    }
  }

  async #lookUp(ref: EnvironmentRef): Promise<EnvironmentRecord> {
    const catalog = this.catalog!;
    const record = await catalog.getEnvironment(ref);
    if (record) return record;
    if (!(await catalog.getProject(ref.project))) throw unknownProject(ref.project);
    throw unknownEnvironment(ref);
  }

  async #sync(): Promise<void> {
    const catalog = this.catalog;
    if (!catalog || this.#stopped) return;
    // Read the revision first: a change during the listing is seen again by the next poll.
    const revision = await catalog.revision();
    const records: EnvironmentRecord[] = [];
    for (const project of await catalog.listProjects()) {
      try {
        records.push(...(await catalog.listEnvironments(project.key)));
      } catch (error) {
        // Deleted between the two reads.
        if (!(error instanceof UnknownProjectError)) throw error;
      }
    }
    const wanted = new Map(records.map((record) => [scopeName({ project: record.project, environment: record.key }), record]));
    for (const [name, scope] of [...this.#scopes]) {
      const record = wanted.get(name);
      if (scope.isDefault) {
        if (record) scope.record = record;
        continue;
      }
      if (!record || record.id !== scope.record.id) {
        this.#log.info({ environment: name }, record ? 'environment re-created: serving its new data' : 'environment deleted: no longer served');
        await this.#close(scope);
      } else scope.record = record;
    }
    let failed = false;
    // A few at a time: each open reads and compiles a whole environment.
    const pending = [...wanted].filter(([name]) => !this.#scopes.has(name));
    const worker = async () => {
      for (let next = pending.shift(); next && !this.#stopped; next = pending.shift()) {
        const [name, record] = next;
        await this.#open(record).catch((error: unknown) => {
          failed = true;
          this.#log.error({ err: error, environment: name }, 'environments: could not open an environment');
        });
      }
    };
    await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, worker));
    // A failed open is retried at the next poll (the revision is not taken as seen).
    if (!failed) this.#catalogRevision = revision;
  }

  #open(record: EnvironmentRecord): Promise<EnvironmentScope> {
    const ref = { project: record.project, environment: record.key };
    const name = scopeName(ref);
    const existing = this.#scopes.get(name) ?? this.#opening.get(name);
    if (existing) return Promise.resolve(existing);
    const opening = (async () => {
      let store: FlagStore;
      try {
        store = await this.catalog!.environment(ref);
      } catch (error) {
        if (error instanceof UnknownEnvironmentError) throw unknownEnvironment(ref);
        if (error instanceof UnknownProjectError) throw unknownProject(ref.project);
        throw error;
      }
      const holder = new SnapshotHolder(store, { ...(this.#options.holderOptions ?? {}), healthIntervalMs: this.#scopeHealthIntervalMs, log: this.#log });
      await holder.start();
      const sourceProblems = new SourceProblems(store, this.#log);
      const scope: EnvironmentScope = { ref, record, store, holder, sourceProblems, name, isDefault: false, eventsEnvironment: eventsEnvironmentOf(ref) };
      if (this.#stopped) {
        sourceProblems.stop();
        await holder.stop();
        throw new HttpError(503, 'shutting_down', 'the server is shutting down');
      }
      this.#scopes.set(name, scope);
      for (const attach of this.#attachments) this.#attach(scope, attach);
      this.#log.info({ environment: name, revision: holder.revision, flags: holder.snapshot.flags.size }, 'serving environment');
      return scope;
    })();
    this.#opening.set(name, opening);
    void opening.then(
      () => this.#opening.delete(name),
      () => this.#opening.delete(name),
    );
    return opening;
  }

  #attach(scope: EnvironmentScope, attach: ScopeAttachment): void {
    const detach = attach(scope);
    if (!detach) return;
    const list = this.#detach.get(scope) ?? [];
    list.push(detach);
    this.#detach.set(scope, list);
  }

  async #close(scope: EnvironmentScope): Promise<void> {
    if (this.#scopes.get(scope.name) === scope) this.#scopes.delete(scope.name);
    for (const detach of this.#detach.get(scope) ?? []) {
      try {
        detach();
      } catch (error) {
        this.#log.warn({ err: error, environment: scope.name }, 'environments: error while detaching');
      }
    }
    this.#detach.delete(scope);
    scope.sourceProblems.stop();
    await scope.holder.stop().catch(() => undefined);
  }

  /** Stops serving one environment now (before it is deleted): its streams end, its snapshot stops following. */
  async release(ref: EnvironmentRef): Promise<void> {
    const scope = this.cached(ref);
    if (scope && !scope.isDefault) await this.#close(scope);
  }

  /** The root store (default/default). */
  get store(): FlagStore {
    return this.#store;
  }
}
