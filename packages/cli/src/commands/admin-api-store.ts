import type { FlagDefinition, SegmentDefinition } from '@vexil/core';
import {
  createSnapshot,
  StoreConflictError,
  StoreValidationError,
  type FlagList,
  type FlagSnapshotDocument,
  type FlagStore,
  type StoredFlag,
  type WriteOptions,
  type WriteResult,
} from '@vexil/store';
import { sendJson } from './remote.js';

/** What the store commands (import, export) need from a store: a `FlagStore`, or a running server's admin API. */
export type StoreTarget = Pick<FlagStore, 'kind' | 'writable' | 'list' | 'exportSnapshot' | 'close'> & {
  put(key: string, flag: FlagDefinition, options: WriteOptions): Promise<WriteResult & { changeRequest?: string }>;
  putSegments?(segments: Record<string, SegmentDefinition>, options: WriteOptions): Promise<{ revision: number; changeRequest?: string }>;
};

/**
 * A running `vexil serve` reached through its admin API (`--server URL --admin-key K`): the way to write into a store
 * another process owns (an embedded store has one owner), and into any store without opening it yourself. Writes
 * keep their meaning: `expectedVersion` becomes `If-Match` / `If-None-Match: *`, so a conflict is a conflict here too.
 */
export class AdminApiStore implements StoreTarget {
  readonly kind = 'server';
  readonly writable = true;
  readonly #base: string;
  readonly #key: string;
  /** `/admin/v1` (default/default), or an environment's `/admin/v1/projects/P/environments/E`. */
  readonly #api: string;

  constructor(url: string, adminKey: string, apiBase = '/admin/v1') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`--server ${url} is not a URL (e.g. http://127.0.0.1:1031)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`--server ${url}: use an http:// or https:// URL`);
    if (!adminKey) throw new TypeError('--server needs --admin-key (or VEXIL_ADMIN_KEY): an admin key of that server with the editor role');
    this.#base = parsed.href.replace(/\/+$/, '');
    this.#key = adminKey;
    this.#api = apiBase;
  }

  async list(): Promise<FlagList> {
    const body = (await this.#call('GET', `${this.#api}/flags`)) as {
      revision: number;
      flags: StoredFlag[];
      segments: Record<string, SegmentDefinition>;
      problems?: FlagList['problems'];
    };
    return { revision: body.revision, flags: body.flags, segments: body.segments ?? {}, problems: body.problems ?? [] };
  }

  /** In an environment that requires approval the server answers 202: the write is a change request, not applied. */
  async put(key: string, flag: FlagDefinition, options: WriteOptions): Promise<WriteResult & { changeRequest?: string }> {
    const headers: Record<string, string> = {};
    if (options.expectedVersion === 0) headers['if-none-match'] = '*';
    else if (options.expectedVersion !== undefined) headers['if-match'] = `"${options.expectedVersion}"`;
    const body = (await this.#call('PUT', `${this.#api}/flags/${encodeURIComponent(key)}`, { flag, ...(options.reason ? { reason: options.reason } : {}) }, headers, key, options.expectedVersion)) as {
      version: number;
      revision: number;
      changeRequest?: { id: string };
    };
    if (body?.changeRequest) return { key, version: 0, revision: 0, changeRequest: body.changeRequest.id };
    return { key, version: body.version, revision: body.revision };
  }

  async putSegments(segments: Record<string, SegmentDefinition>, options: WriteOptions): Promise<{ revision: number; changeRequest?: string }> {
    const body = (await this.#call('PUT', `${this.#api}/segments`, { segments, ...(options.reason ? { reason: options.reason } : {}) })) as {
      revision: number;
      changeRequest?: { id: string };
    };
    if (body?.changeRequest) return { revision: 0, changeRequest: body.changeRequest.id };
    return { revision: body.revision };
  }

  async exportSnapshot(): Promise<FlagSnapshotDocument> {
    const { revision, flags, segments } = await this.list();
    return createSnapshot({ revision, flags, segments });
  }

  async close(): Promise<void> {}

  async #call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, key?: string, expectedVersion?: number): Promise<unknown> {
    const { response, parsed } = await sendJson(this.#base, this.#key, method, path, body, headers);
    if (response.ok) return parsed;
    const message: string = parsed?.message ?? parsed?.error ?? `${response.status} ${response.statusText}`;
    if (response.status === 409 && key !== undefined) throw new StoreConflictError(key, expectedVersion, Number(parsed?.currentVersion ?? parsed?.details?.currentVersion ?? 0));
    if (response.status === 400 && Array.isArray(parsed?.problems)) throw new StoreValidationError(parsed.problems);
    if (response.status === 401 || response.status === 403) throw new Error(`${this.#base} refused the admin key (${response.status}): ${message}`);
    throw new Error(`${method} ${this.#base}${path}: ${response.status} ${message}`);
  }
}
