import type { FlagDefinition, SegmentDefinition } from '@vexil/core/json';
import { Backoff, sleep } from './backoff.js';
import { toFlagChange, type AssignmentAsk, type FlagSync, type SyncTarget } from './types.js';

/**
 * The part of `@vexil/store`'s `FlagStore` that daemon mode reads. Any object with these methods works, so a test or
 * an app can pass a store it opened itself.
 */
export interface DaemonStore {
  list(): Promise<{ flags: Array<{ key: string; flag: FlagDefinition; version: number }>; segments: Record<string, SegmentDefinition>; revision: number }>;
  watch(options?: { fromRevision?: number; signal?: AbortSignal }): AsyncIterable<unknown>;
  ping?(): Promise<void>;
  close?(): Promise<void>;
  /** Sticky experiment assignments (SQL, Redis and DynamoDB stores). */
  assignments?: { assign(requests: readonly AssignmentAsk[]): Promise<string[]> };
}

export interface StoreSyncOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** How often to ping the store to notice it is gone (the change feed alone can stay silent). */
  healthIntervalMs: number;
  requestTimeoutMs: number;
  /** Options for `openStore` when the store is given as a URL (e.g. `{ prefix }` for Redis). */
  storeOptions: Record<string, unknown>;
  /** `environment` or `project/environment`: read that environment of the store (its catalog) instead of default/default. */
  environment?: string;
  debug: (message: string) => void;
}

/**
 * Daemon mode: flags straight from a store (Redis, PostgreSQL…) and its change feed, no server in between.
 * `@vexil/store` is imported only here, and only when a store URL is given, so the base provider stays light.
 */
export class StoreSync implements FlagSync {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private store: DaemonStore | undefined;
  /** The store opened (or given): `store` itself, or the root whose catalog gave the environment's store. */
  private root: DaemonStore | undefined;
  private readonly ownsStore: boolean;
  private healthTimer: NodeJS.Timeout | undefined;
  private reachable = false;
  private revision = -1;

  constructor(
    private readonly source: string | DaemonStore,
    private readonly options: StoreSyncOptions,
  ) {
    this.ownsStore = typeof source === 'string';
  }

  /** From the environment's store; undefined until it is open, or when it keeps no assignments. */
  async assign(asks: readonly AssignmentAsk[]): Promise<string[] | undefined> {
    return this.store?.assignments?.assign(asks);
  }

  start(target: SyncTarget): void {
    this.running ??= this.run(target).catch((error: unknown) => target.lost(`daemon sync stopped: ${(error as Error).message}`));
  }

  async close(): Promise<void> {
    this.abort.abort();
    clearInterval(this.healthTimer);
    await this.running;
    if (this.ownsStore) await (this.root ?? this.store)?.close?.().catch(() => undefined);
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  private async open(target: SyncTarget): Promise<DaemonStore | undefined> {
    const root = await this.openRoot(target);
    this.root = root;
    const wanted = this.options.environment;
    if (!root || wanted === undefined) return root;
    const [project, environment] = wanted.includes('/') ? wanted.split('/', 2) : ['default', wanted];
    if (project === 'default' && environment === 'default') return root;
    const catalog = (root as { catalog?: { environment(ref: { project: string; environment: string }): Promise<DaemonStore> } }).catalog;
    if (!catalog) {
      target.fatal(new Error(`environment "${wanted}": this store has no environments other than default/default`));
      return undefined;
    }
    try {
      return await catalog.environment({ project: project!, environment: environment! });
    } catch (error) {
      // Tried again later (the environment may not exist yet): close what was opened for this attempt.
      if (this.ownsStore) await root.close?.().catch(() => undefined);
      this.root = undefined;
      throw error;
    }
  }

  private async openRoot(target: SyncTarget): Promise<DaemonStore | undefined> {
    if (typeof this.source !== 'string') return this.source;
    let module: { openStore(url: string, options?: Record<string, unknown>): Promise<DaemonStore> };
    try {
      module = (await import('@vexil/store')) as unknown as typeof module;
    } catch (error) {
      target.fatal(new Error(`daemon mode needs the @vexil/store package (npm install @vexil/store): ${(error as Error).message}`));
      return undefined;
    }
    return module.openStore(this.source, {
      ...this.options.storeOptions,
      onError: (error: Error) => this.options.debug(`store: ${error.message}`),
    });
  }

  private async run(target: SyncTarget): Promise<void> {
    const backoff = new Backoff(this.options.initialDelayMs, this.options.maxDelayMs);
    while (!this.closed && !this.store) {
      try {
        this.store = await this.open(target);
        if (!this.store) return;
      } catch (error) {
        target.lost(`cannot open the store: ${(error as Error).message}`);
        await sleep(backoff.next(), this.abort.signal);
      }
    }
    if (this.closed) return;
    const store = this.store!;
    if (store.ping) {
      this.healthTimer = setInterval(() => void this.checkHealth(store, target), this.options.healthIntervalMs);
      this.healthTimer.unref();
    }
    while (!this.closed) {
      try {
        await this.load(store, target, false);
        backoff.reset();
        for await (const event of store.watch({ fromRevision: this.revision, signal: this.abort.signal })) {
          if (this.closed) return;
          const change = toFlagChange('', event);
          if (!change) continue;
          this.reachable = true;
          this.revision = Math.max(this.revision, change.revision);
          target.changes([change]);
        }
        if (this.closed) return;
        this.options.debug('the store change feed ended: following again');
      } catch (error) {
        if (this.closed) return;
        this.reachable = false;
        target.lost(`the store does not answer: ${(error as Error).message}`);
      }
      await sleep(backoff.next(), this.abort.signal);
    }
  }

  private async load(store: DaemonStore, target: SyncTarget, forwardOnly: boolean): Promise<void> {
    const list = await withTimeout(store.list(), this.options.requestTimeoutMs);
    if (this.closed) return;
    const flags: Record<string, FlagDefinition> = {};
    const versions: Record<string, number> = {};
    for (const stored of list.flags) {
      flags[stored.key] = stored.flag;
      versions[stored.key] = stored.version;
    }
    this.reachable = true;
    if (forwardOnly && list.revision < this.revision) return;
    this.revision = Math.max(forwardOnly ? this.revision : -1, list.revision);
    target.full({ flags, segments: list.segments, revision: list.revision, versions }, forwardOnly);
  }

  /** The feed can stay silent while the store is gone: a ping tells. When it answers again, re-read everything. */
  private async checkHealth(store: DaemonStore, target: SyncTarget): Promise<void> {
    if (this.closed) return;
    try {
      await withTimeout(store.ping!(), this.options.requestTimeoutMs);
    } catch (error) {
      if (this.reachable) {
        this.reachable = false;
        target.lost(`the store does not answer: ${(error as Error).message}`);
      }
      return;
    }
    if (!this.reachable) {
      this.options.debug('the store answers again: re-reading the flags');
      await this.load(store, target, true).catch((error: unknown) => this.options.debug(`re-read failed: ${(error as Error).message}`));
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
