import { watch as watchPath, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { detectFormat, formatProblem, parseFlagFile, type FlagDefinition, type Problem, type SegmentDefinition } from '@vexil/core';
import type {
  AuditEntry,
  AuditPage,
  AuditQuery,
  ChangeEvent,
  FlagList,
  FlagSnapshotDocument,
  FlagStore,
  SourceProblemFeed,
  StoredFlag,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { ReadOnlyStoreError } from '../errors.js';
import { DEFAULT_ENVIRONMENT, DEFAULT_PROJECT, type EnvironmentCatalog } from '../catalog/types.js';
import { FileEnvironmentCatalog } from './catalog.js';
import { groupFlagFileSpecs, parseFlagFileSpecs } from './sources.js';
import { canonicalJson, createSnapshot } from '../snapshot/index.js';
import { AsyncQueue } from '../util/async-queue.js';

export interface FileStoreOptions {
  /** Re-read the files when they change. Default true. */
  watch?: boolean;
  /** Quiet time after the last file event before re-reading. Default 100 ms. */
  debounceMs?: number;
  /** Called once for each problem found when a file's content changes (format it with `formatProblem`). */
  onProblem?: (problem: Problem) => void;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json', '.toml']);
/** The in-memory audit log keeps this many entries (changes seen since the store opened). */
const AUDIT_CAPACITY = 10_000;

/** The last good content of one file, and what is wrong with its current content. */
interface FileState {
  text: string | undefined;
  flags: Record<string, FlagDefinition>;
  segments: Record<string, SegmentDefinition>;
  problems: Problem[];
}

interface Entry {
  flag: FlagDefinition;
  canonical: string;
  version: number;
  revision: number;
  updatedAt: string;
  updatedBy: string;
}

interface Tombstone {
  version: number;
  revision: number;
  at: string;
  actor: string;
}

/** One configured path: a file, or a directory whose flag files are read in name order. */
interface Source {
  path: string;
  directory: boolean;
}

const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Read-only flags from files (GitOps): YAML, JSON or TOML, one or more files or directories. A later file overrides
 * an earlier one for the same key, and within a directory files are read in name order.
 *
 * Watched: an edit is picked up after `debounceMs` of quiet (directories are watched rather than files, so editors
 * that save by writing a new file and renaming it over the old one are followed). A file that no longer parses keeps
 * its last good flags and reports the error (file:line); a flag that is invalid keeps its last good definition from
 * the same file, or is skipped when it never had one. Each change a reload finds gets a revision of its own (an edit
 * that changes three flags moves the revision by three); changes go to `watch()` as `put` / `delete` / `segments`
 * events, and a flag's version goes up by one each time its content changes. `audit()` lists the changes seen since the store opened (kept in memory).
 */
export class FileFlagStore implements FlagStore {
  readonly kind = 'file';
  readonly writable = false;
  /**
   * The projects and environments the specs name (`production=flags.prod.yaml`), each a file store of its own;
   * this store is default/default. Present on the store `open` returns, absent on its environments' stores.
   */
  catalog?: EnvironmentCatalog;
  #catalog: FileEnvironmentCatalog | undefined;

  private readonly sources: Source[];
  private readonly options: FileStoreOptions;
  private readonly files = new Map<string, FileState>();
  /** The last successful listing of each directory source. */
  private readonly listings = new Map<string, string[]>();
  private listingProblems: Problem[] = [];
  private flags = new Map<string, Entry>();
  private readonly tombstones = new Map<string, Tombstone>();
  private segments: Record<string, SegmentDefinition> = {};
  private segmentsCanonical = '{}';
  private segmentsRevision = 0;
  private segmentsUpdatedAt = new Date(0).toISOString();
  private revision = 0;
  private problems: Problem[] = [];
  private readonly auditLog: AuditEntry[] = [];
  private auditCounter = 0;
  private readonly queues = new Set<{ queue: AsyncQueue<ChangeEvent>; last: number }>();
  private readonly watchers = new Map<string, FSWatcher>();
  private debounceTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private closed = false;
  private readonly problemListeners = new Set<(problems: Problem[]) => void>();
  private problemsText = '';

  /** The files' current problems, and each change of them (a file breaks, a file is fixed). */
  readonly sourceProblems: SourceProblemFeed = {
    current: () => [...this.problems],
    subscribe: (listener) => {
      this.problemListeners.add(listener);
      return () => this.problemListeners.delete(listener);
    },
  };

  private constructor(sources: Source[], options: FileStoreOptions) {
    this.sources = sources;
    this.options = options;
  }

  /**
   * Opens the store on files and/or directories. Each item may name its environment (`production=flags.prod.yaml`,
   * `checkout/staging=flags.yaml`, see `parseFlagFileSpec`); bare paths are this store (default/default), the others
   * are the environments of its `catalog`. Throws when a path does not exist or an item is not a valid spec.
   */
  static async open(paths: string[], options: FileStoreOptions = {}): Promise<FileFlagStore> {
    if (paths.length === 0) throw new Error('the file store needs at least one flag file or directory');
    const specs = parseFlagFileSpecs(paths);
    const groups = groupFlagFileSpecs(specs);
    const rootPaths = specs.filter((spec) => spec.project === DEFAULT_PROJECT && spec.environment === DEFAULT_ENVIRONMENT).map((spec) => spec.path);
    const root = await FileFlagStore.openPaths(rootPaths, options);
    const environments: Array<{ project: string; environment: string; store: FlagStore }> = [];
    try {
      for (const group of groups) {
        if (group.project === DEFAULT_PROJECT && group.environment === DEFAULT_ENVIRONMENT) continue;
        environments.push({ project: group.project, environment: group.environment, store: await FileFlagStore.openPaths(group.paths, options) });
      }
    } catch (error) {
      await Promise.all([root, ...environments.map((environment) => environment.store)].map((store) => store.close()));
      throw error;
    }
    root.#catalog = new FileEnvironmentCatalog(root, environments);
    root.catalog = root.#catalog;
    return root;
  }

  /** One environment's store over plain paths (none: an empty environment). */
  private static async openPaths(paths: string[], options: FileStoreOptions): Promise<FileFlagStore> {
    const sources: Source[] = [];
    for (const path of paths) {
      let info;
      try {
        info = await stat(path);
      } catch (error) {
        throw new Error(`cannot open flag file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
      }
      sources.push({ path, directory: info.isDirectory() });
    }
    const store = new FileFlagStore(sources, options);
    await store.reload();
    if (options.watch ?? true) store.startWatching();
    return store;
  }

  // -------------------------------------------------------------------------------------------------------- loading

  /** Re-reads every file now (also what the watcher does after a change). */
  reload(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.reloadAgain = false;
          await this.reloadOnce();
        } while (this.reloadAgain && !this.closed);
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  /** The files to read, in order; a directory that cannot be listed keeps its last listing (and is reported). */
  private async listFiles(): Promise<{ files: string[]; problems: Problem[] }> {
    const files: string[] = [];
    const problems: Problem[] = [];
    for (const source of this.sources) {
      if (!source.directory) {
        files.push(source.path);
        continue;
      }
      let names: string[];
      try {
        names = (await readdir(source.path, { withFileTypes: true }))
          .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && EXTENSIONS.has(extname(entry.name).toLowerCase()))
          .map((entry) => entry.name)
          .sort(byKey);
        this.listings.set(source.path, names);
      } catch (error) {
        names = this.listings.get(source.path) ?? [];
        problems.push({ severity: 'error', source: source.path, message: `cannot list the flag directory: ${(error as NodeJS.ErrnoException).code ?? String(error)}` });
      }
      for (const name of names) files.push(join(source.path, name));
    }
    return { files, problems };
  }

  private async reloadOnce(): Promise<void> {
    const { files, problems: listingProblems } = await this.listFiles();
    const explicit = new Set(this.sources.filter((source) => !source.directory).map((source) => source.path));
    for (const file of files) if (this.files.has(file)) explicit.add(file); // known files are kept if unreadable
    const texts = await Promise.all(
      files.map((file) =>
        readFile(file, 'utf8').then(
          (text) => ({ text, error: undefined }),
          (error: NodeJS.ErrnoException) => ({ text: undefined, error }),
        ),
      ),
    );
    if (this.closed) return;
    const fresh: Problem[] = listingProblems.filter(
      (problem) => !this.listingProblems.some((known) => known.source === problem.source && known.message === problem.message),
    );
    this.listingProblems = listingProblems;
    const present = new Set<string>();
    files.forEach((file, index) => {
      const { text, error } = texts[index]!;
      if (error && !explicit.has(file)) return; // a file removed from a directory meanwhile: its flags go
      present.add(file);
      const state = this.files.get(file) ?? { text: undefined, flags: {}, segments: {}, problems: [] };
      this.files.set(file, state);
      if (text === undefined) {
        // An explicitly named file that cannot be read (e.g. mid-rename): keep its last good flags.
        const message = `cannot read the flag file: ${error?.code ?? error?.message ?? 'unknown error'}`;
        if (state.problems.length !== 1 || state.problems[0]!.message !== message) {
          state.problems = [{ severity: 'error', source: file, message }];
          fresh.push(...state.problems);
        }
        state.text = undefined;
        return;
      }
      if (text === state.text) return;
      state.text = text;
      const parsed = parseFlagFile(text, { format: detectFormat(file), source: file });
      state.problems = parsed.problems;
      fresh.push(...parsed.problems);
      if (!parsed.readable) return; // keep the last good flags of this file
      const flags = { ...parsed.flags };
      for (const key of Object.keys(parsed.invalid)) {
        const previous = state.flags[key];
        if (previous) flags[key] = previous; // keep the last good definition of a flag that broke
      }
      state.flags = flags;
      state.segments = parsed.segments;
    });
    for (const file of [...this.files.keys()]) if (!present.has(file)) this.files.delete(file);
    this.problems = [...listingProblems, ...files.filter((file) => present.has(file)).flatMap((file) => this.files.get(file)!.problems)];
    this.applyMerged(files.filter((file) => present.has(file)));
    this.announceProblems();
    for (const problem of fresh) {
      try {
        this.options.onProblem?.(problem);
      } catch {
        // a failing callback must not stop the reload
      }
    }
  }

  private announceProblems(): void {
    const text = this.problems.map(formatProblem).join('\n');
    if (text === this.problemsText) return;
    this.problemsText = text;
    for (const listener of this.problemListeners) {
      try {
        listener([...this.problems]);
      } catch {
        // a failing listener must not stop the reload
      }
    }
  }

  /** Merges the files in order (later wins), diffs against the current flags, and publishes the changes. */
  private applyMerged(files: string[]): void {
    const merged = new Map<string, { flag: FlagDefinition; file: string }>();
    const segments: Record<string, SegmentDefinition> = {};
    for (const file of files) {
      const state = this.files.get(file)!;
      for (const [key, flag] of Object.entries(state.flags)) {
        merged.delete(key); // re-insert so the order follows the last definition
        merged.set(key, { flag, file });
      }
      Object.assign(segments, state.segments);
    }
    // Each change gets a revision of its own (as a write to any other store does), so that a reader that follows the
    // feed by revision (`watch({ fromRevision })`, the server's snapshot, `Last-Event-ID`) misses none of the changes
    // one edit makes. Segments come first: the flags of the same edit may use them.
    let revision = this.revision;
    const firstLoad = revision === 0;
    const at = new Date().toISOString();
    const events: ChangeEvent[] = [];
    const audit: AuditEntry[] = [];
    const segmentsCanonical = canonicalJson(segments);
    if (segmentsCanonical !== this.segmentsCanonical) {
      revision++;
      this.segments = segments;
      this.segmentsCanonical = segmentsCanonical;
      this.segmentsRevision = revision;
      this.segmentsUpdatedAt = at;
      events.push({ type: 'segments', segments, revision, actor: 'file', at });
    }
    const next = new Map<string, Entry>();
    for (const [key, { flag, file }] of [...merged].sort(([a], [b]) => byKey(a, b))) {
      const canonical = canonicalJson(flag);
      const previous = this.flags.get(key);
      if (previous && previous.canonical === canonical) {
        next.set(key, previous);
        continue;
      }
      revision++;
      const entry: Entry = { flag, canonical, version: (previous?.version ?? 0) + 1, revision, updatedAt: at, updatedBy: file };
      next.set(key, entry);
      this.tombstones.delete(key);
      events.push({ type: 'put', key, flag, version: entry.version, revision, actor: file, at });
      audit.push(this.auditEntry(revision, key, previous ? 'update' : 'create', file, at, previous?.flag ?? null, flag, entry.version));
    }
    for (const [key, previous] of this.flags) {
      if (next.has(key)) continue;
      revision++;
      const tombstone: Tombstone = { version: previous.version + 1, revision, at, actor: previous.updatedBy };
      this.tombstones.set(key, tombstone);
      events.push({ type: 'delete', key, version: tombstone.version, revision, actor: tombstone.actor, at });
      audit.push(this.auditEntry(revision, key, 'delete', tombstone.actor, at, previous.flag, null, tombstone.version));
    }
    this.flags = next;
    if (events.length === 0) return;
    this.revision = revision;
    // The first load is the starting state, not a change anyone made: no audit entries for it.
    if (!firstLoad) this.appendAudit(audit);
    for (const watcher of this.queues) this.deliver(watcher, events);
  }

  private auditEntry(
    revision: number,
    key: string,
    action: AuditEntry['action'],
    actor: string,
    at: string,
    before: FlagDefinition | null,
    after: FlagDefinition | null,
    version: number,
  ): AuditEntry {
    return { id: String(++this.auditCounter), revision, key, action, actor, reason: 'file changed', at, before, after, version };
  }

  private appendAudit(entries: AuditEntry[]): void {
    this.auditLog.push(...entries);
    if (this.auditLog.length > AUDIT_CAPACITY) this.auditLog.splice(0, this.auditLog.length - AUDIT_CAPACITY);
  }

  // ------------------------------------------------------------------------------------------------------- watching

  /**
   * Watches directories, not files: a save by rename replaces the file's inode, which a file watch would lose. Any
   * event in a watched directory schedules a reload (a Kubernetes ConfigMap update, for one, only swaps a `..data`
   * link beside the files); a reload re-parses only the files whose text changed.
   */
  private startWatching(): void {
    const directories = new Set<string>();
    for (const source of this.sources) directories.add(source.directory ? resolve(source.path) : dirname(resolve(source.path)));
    for (const directory of directories) this.watchDirectory(directory);
  }

  private watchDirectory(directory: string): void {
    if (this.closed) return;
    let watcher: FSWatcher;
    try {
      watcher = watchPath(directory, { persistent: false }, () => this.scheduleReload());
    } catch (error) {
      this.reportWatchError(directory, error);
      return;
    }
    watcher.on('error', (error) => {
      watcher.close();
      this.watchers.delete(directory);
      this.reportWatchError(directory, error);
      // The directory may come back (a volume remount, a checkout): try again later.
      const retry = setTimeout(() => {
        this.watchDirectory(directory);
        this.scheduleReload();
      }, 1_000);
      retry.unref();
    });
    this.watchers.set(directory, watcher);
  }

  private reportWatchError(directory: string, error: unknown): void {
    const problem: Problem = { severity: 'warning', source: directory, message: `cannot watch for changes: ${error instanceof Error ? error.message : String(error)}` };
    try {
      this.options.onProblem?.(problem);
    } catch {
      // ignore
    }
  }

  private scheduleReload(): void {
    if (this.closed) return;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.reload().catch((error: unknown) =>
        this.options.onProblem?.({ severity: 'error', source: 'file store', message: `reload failed: ${String(error)}` }),
      );
    }, this.options.debounceMs ?? 100);
  }

  // ---------------------------------------------------------------------------------------------------------- reads

  private stored(key: string, entry: Entry): StoredFlag {
    return { key, flag: entry.flag, version: entry.version, revision: entry.revision, updatedAt: entry.updatedAt, updatedBy: entry.updatedBy };
  }

  async list(): Promise<FlagList> {
    return {
      flags: [...this.flags].map(([key, entry]) => this.stored(key, entry)),
      segments: this.segments,
      revision: this.revision,
      problems: [...this.problems],
    };
  }

  async get(key: string): Promise<StoredFlag | undefined> {
    const entry = this.flags.get(key);
    return entry ? this.stored(key, entry) : undefined;
  }

  /** The current problems of every file, formatted `file:line:col flag field: message`. */
  problemReport(): string[] {
    return this.problems.map(formatProblem);
  }

  watch(options: WatchOptions = {}): AsyncIterable<ChangeEvent> {
    const watcher = { queue: undefined as unknown as AsyncQueue<ChangeEvent>, last: this.revision };
    watcher.queue = new AsyncQueue<ChangeEvent>({ signal: options.signal, onEnd: () => this.queues.delete(watcher) });
    if (this.closed) {
      watcher.queue.end();
      return watcher.queue;
    }
    if (options.fromRevision !== undefined && options.fromRevision < this.revision) {
      // Catch up from the current state: the latest change of each flag since `fromRevision`, in revision order.
      const from = options.fromRevision;
      const events: ChangeEvent[] = [];
      for (const [key, entry] of this.flags) {
        if (entry.revision > from) {
          events.push({ type: 'put', key, flag: entry.flag, version: entry.version, revision: entry.revision, actor: entry.updatedBy, at: entry.updatedAt });
        }
      }
      for (const [key, tombstone] of this.tombstones) {
        if (tombstone.revision > from) {
          events.push({ type: 'delete', key, version: tombstone.version, revision: tombstone.revision, actor: tombstone.actor, at: tombstone.at });
        }
      }
      if (this.segmentsRevision > from) {
        events.push({ type: 'segments', segments: this.segments, revision: this.segmentsRevision, actor: 'file', at: this.segmentsUpdatedAt });
      }
      events.sort((a, b) => a.revision - b.revision);
      watcher.last = from;
      this.deliver(watcher, events);
    }
    if (!watcher.queue.closed) this.queues.add(watcher);
    return watcher.queue;
  }

  private deliver(watcher: { queue: AsyncQueue<ChangeEvent>; last: number }, events: ChangeEvent[]): void {
    for (const event of events) watcher.queue.push(event);
    const last = events[events.length - 1];
    if (last) watcher.last = last.revision;
  }

  async audit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(Math.floor(query.limit ?? 50), 1), 500);
    const since = query.since !== undefined ? Date.parse(query.since) : -Infinity;
    const until = query.until !== undefined ? Date.parse(query.until) : Infinity;
    const before = query.cursor !== undefined ? Number(Buffer.from(query.cursor, 'base64url').toString('utf8')) : Infinity;
    const entries: AuditEntry[] = [];
    for (let i = this.auditLog.length - 1; i >= 0; i--) {
      const entry = this.auditLog[i]!;
      if (Number(entry.id) >= before) continue;
      if (query.key !== undefined && entry.key !== query.key) continue;
      const at = Date.parse(entry.at);
      if (at < since || at > until) continue;
      if (entries.length === limit) return { entries, next: Buffer.from(entries[limit - 1]!.id, 'utf8').toString('base64url') };
      entries.push(entry);
    }
    return { entries };
  }

  async exportSnapshot(): Promise<FlagSnapshotDocument> {
    const list = await this.list();
    return createSnapshot({ revision: list.revision, flags: list.flags, segments: list.segments });
  }

  // --------------------------------------------------------------------------------------------------------- writes

  async put(_key: string, _flag: FlagDefinition, _options: WriteOptions): Promise<WriteResult> {
    throw new ReadOnlyStoreError(this.kind);
  }

  async delete(_key: string, _options: WriteOptions): Promise<WriteResult> {
    throw new ReadOnlyStoreError(this.kind);
  }

  async putSegments(_segments: Record<string, SegmentDefinition>, _options: WriteOptions): Promise<{ revision: number }> {
    throw new ReadOnlyStoreError(this.kind);
  }

  async importSnapshot(_doc: FlagSnapshotDocument, _options: WriteOptions): Promise<{ revision: number }> {
    throw new ReadOnlyStoreError(this.kind);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('the file store is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    for (const { queue } of [...this.queues]) queue.end();
    this.queues.clear();
    this.problemListeners.clear();
    await this.reloading?.catch(() => undefined);
    await this.#catalog?.close();
  }
}
