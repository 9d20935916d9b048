import { canonicalJson, type FlagDefinition, type SegmentDefinition } from '@vexil/core';
import {
  StoreConflictError,
  snapshotHash,
  type ChangeRequest,
  type ChangeRequestStore,
  type EnvironmentRef,
  type FlagSnapshotDocument,
  type FlagStore,
  type ProposedChange,
} from '@vexil/store';
import { EarlyAnswer, HttpError } from '../http/errors.js';
import { actorOf, type Principal } from '../auth/keys.js';
import { appliedReason, checkReview, reviewed, type ReviewAction } from './transitions.js';

/**
 * The pseudo flag key of a change of the environment's segments (flag keys cannot start with `$`): its `before` and
 * `after` hold the whole segment set.
 */
export const SEGMENTS_KEY = '$segments';

export interface ChangeRequestServiceOptions {
  requests: ChangeRequestStore;
  /** The store of one environment (the catalog's scoped store). */
  environmentStore(ref: EnvironmentRef): Promise<FlagStore>;
  /** Called after a request was applied, with the environment revision it reached (wait for the snapshot, share fields…). */
  afterApply?(ref: EnvironmentRef, revision: number, request: ChangeRequest): Promise<void>;
  now?: () => Date;
}

/** Thrown by a write that became a change request: the route answers 202 `{ changeRequest }`. */
export class ChangeRequestCreated extends EarlyAnswer {
  readonly changeRequest: ChangeRequest;
  constructor(changeRequest: ChangeRequest) {
    super(202, { changeRequest }, `change request ${changeRequest.id} created`);
    this.name = 'ChangeRequestCreated';
    this.changeRequest = changeRequest;
  }
}

/** A change whose base version moved: which flag, from which version to which. */
interface Moved {
  key: string;
  baseVersion: number;
  currentVersion: number;
}

function movedText(moved: Moved): string {
  if (moved.key === SEGMENTS_KEY) return 'the segments changed since it was proposed';
  const was = moved.baseVersion === 0 ? 'did not exist' : `was at version ${moved.baseVersion}`;
  const now = moved.currentVersion === 0 ? 'is deleted now' : `is at version ${moved.currentVersion} now`;
  return `flag "${moved.key}" ${was} when it was proposed and ${now}`;
}

/** Change requests: proposing, reviewing and applying them as one batch through the environment's store. */
export class ChangeRequestService {
  readonly requests: ChangeRequestStore;
  readonly #options: ChangeRequestServiceOptions;
  readonly #now: () => Date;
  /** One review at a time per request in this process (two approvals at once must not apply twice). */
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(options: ChangeRequestServiceOptions) {
    this.requests = options.requests;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  async propose(ref: EnvironmentRef, author: Principal | undefined, changes: ProposedChange[], reason?: string): Promise<ChangeRequest> {
    if (changes.length === 0) throw new HttpError(400, 'bad_request', 'a change request needs at least one change');
    return this.requests.create({
      project: ref.project,
      environment: ref.environment,
      author: actorOf(author),
      ...(reason !== undefined && reason !== '' ? { reason: reason.slice(0, 2000) } : {}),
      changes,
    });
  }

  async get(id: string): Promise<ChangeRequest> {
    const request = await this.requests.get(id);
    if (!request) throw new HttpError(404, 'not_found', `no change request "${id}"`, { id });
    return request;
  }

  approve(id: string, reviewer: Principal | undefined, comment?: string): Promise<ChangeRequest> {
    return this.#serial(id, () => this.#approve(id, reviewer, comment));
  }

  reject(id: string, reviewer: Principal | undefined, comment?: string): Promise<ChangeRequest> {
    return this.#serial(id, () => this.#close(id, reviewer, 'reject', comment));
  }

  withdraw(id: string, author: Principal | undefined, comment?: string): Promise<ChangeRequest> {
    return this.#serial(id, () => this.#close(id, author, 'withdraw', comment));
  }

  async #serial<T>(id: string, run: () => Promise<T>): Promise<T> {
    while (this.#busy.has(id)) await this.#busy.get(id)!.catch(() => undefined);
    const running = run();
    this.#busy.set(id, running);
    try {
      return await running;
    } finally {
      this.#busy.delete(id);
    }
  }

  async #close(id: string, principal: Principal | undefined, action: Exclude<ReviewAction, 'approve'>, comment: string | undefined): Promise<ChangeRequest> {
    const request = await this.get(id);
    checkReview(request, principal, action);
    const next = reviewed(request, action === 'reject' ? 'rejected' : 'withdrawn', actorOf(principal), comment, this.#now());
    return this.requests.update(next, request.version);
  }

  async #approve(id: string, principal: Principal | undefined, comment: string | undefined): Promise<ChangeRequest> {
    const request = await this.get(id);
    checkReview(request, principal, 'approve');
    const reviewer = actorOf(principal);
    const ref = { project: request.project, environment: request.environment };
    const store = await this.#options.environmentStore(ref);
    let moved = await findMoved(store, request.changes);
    let revision: number | undefined;
    if (!moved) {
      try {
        revision = await applyChanges(store, request.changes, { actor: request.author, reason: appliedReason(request, reviewer) });
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error;
        moved = { key: error.key, baseVersion: error.expectedVersion ?? 0, currentVersion: error.currentVersion };
      }
    }
    if (moved) {
      const conflict = movedText(moved);
      const marked = await this.requests.update({ ...request, status: 'conflicting', conflict }, request.version);
      throw new HttpError(409, 'conflicting', `change request ${id} was not applied: ${conflict}`, {
        id,
        key: moved.key,
        baseVersion: moved.baseVersion,
        currentVersion: moved.currentVersion,
        changeRequest: marked,
      });
    }
    const applied = await this.requests.update(
      reviewed(request, 'applied', reviewer, comment, this.#now(), { appliedRevision: revision! }),
      request.version,
    );
    await this.#options.afterApply?.(ref, revision!, applied);
    return applied;
  }
}

/** The first change whose flag (or the segments) is no longer as it was proposed against. */
export async function findMoved(store: FlagStore, changes: ProposedChange[]): Promise<Moved | undefined> {
  for (const change of changes) {
    if (change.key === SEGMENTS_KEY) {
      const current = (await store.list()).segments;
      if (canonicalJson(current as never) !== canonicalJson((change.before ?? {}) as never)) return { key: SEGMENTS_KEY, baseVersion: 0, currentVersion: 0 };
      continue;
    }
    const current = await store.get(change.key);
    const currentVersion = current?.version ?? 0;
    if (currentVersion !== change.baseVersion) return { key: change.key, baseVersion: change.baseVersion, currentVersion };
  }
  return undefined;
}

/**
 * Applies the changes through the environment's store, as `options.actor` with `options.reason`; resolves the
 * revision reached. One change: one conditional write (its base version), so a flag that moved is a
 * `StoreConflictError`, never overwritten. More: one `importSnapshot` of the current state with the changes applied
 * (one transaction on SQL stores: all or nothing), after `findMoved` checked every base version.
 */
export async function applyChanges(store: FlagStore, changes: ProposedChange[], options: { actor: string; reason: string }): Promise<number> {
  if (changes.length === 1) {
    const [change] = changes as [ProposedChange];
    if (change.key === SEGMENTS_KEY) {
      if (!store.putSegments) throw new HttpError(501, 'not_implemented', `the ${store.kind} store cannot keep segments`);
      return (await store.putSegments((change.after ?? {}) as unknown as Record<string, SegmentDefinition>, options)).revision;
    }
    const write = { ...options, expectedVersion: change.baseVersion };
    if (change.action === 'delete') return (await store.delete(change.key, write)).revision;
    return (await store.put(change.key, change.after as FlagDefinition, write)).revision;
  }
  const current = await store.exportSnapshot();
  const doc: FlagSnapshotDocument = { ...current, flags: { ...current.flags }, segments: { ...current.segments } };
  for (const change of changes) {
    if (change.key === SEGMENTS_KEY) doc.segments = (change.after ?? {}) as unknown as Record<string, SegmentDefinition>;
    else if (change.action === 'delete') delete doc.flags[change.key];
    else doc.flags[change.key] = { flag: change.after as FlagDefinition, version: change.baseVersion };
  }
  doc.hash = snapshotHash(doc.flags, doc.segments);
  return (await store.importSnapshot(doc, options)).revision;
}
