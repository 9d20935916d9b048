// The admin API client: every call the page makes goes through here, with the admin key as a bearer token.
import type { EvaluationDetail, FlagDefinition, SegmentDefinition } from '@vexil/core';
import { readKey } from './session.js';

export interface ApiProblem {
  severity?: 'error' | 'warning';
  /** Field path inside the flag, e.g. `targeting[0].query`. */
  path?: string;
  message: string;
  line?: number;
  column?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: ApiProblem[] = [],
    readonly body: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface FlagRecord {
  key: string;
  flag: FlagDefinition;
  version: number;
  revision?: number;
  updatedAt?: string;
  updatedBy?: string;
}

export interface FlagListResponse {
  flags: FlagRecord[];
  segments: Record<string, SegmentDefinition>;
  revision?: number;
}

export interface AuditEntry {
  id: string;
  revision: number;
  key: string;
  action: 'create' | 'update' | 'delete';
  actor: string;
  reason?: string;
  at: string;
  before: FlagDefinition | null;
  after: FlagDefinition | null;
  version: number;
}

export interface RestoreResult {
  key: string;
  version: number;
  changed: boolean;
  restoredVersion?: number;
  message?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  next?: string;
}

export interface ApiKey {
  id: string;
  name: string;
  kind: 'sdk' | 'admin';
  role: 'reader' | 'editor' | 'admin';
  prefix?: string;
  /** `config`: given on the command line or in the environment (cannot be revoked here). */
  source?: 'config' | 'store';
  createdAt?: string;
  createdBy?: string;
  revokedAt?: string;
}

export interface CreatedKey extends ApiKey {
  /** The secret: returned once, never again. */
  secret: string;
}

export type PlaygroundResult = EvaluationDetail & { key: string };

/** Called when the server answers 401: the page signs out. */
let onUnauthorized: (() => void) | undefined;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

interface Answer<T> {
  status: number;
  data: T;
  etag: string | undefined;
}

export async function call<T>(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; key?: string; quietUnauthorized?: boolean } = {},
): Promise<Answer<T>> {
  const key = options.key ?? readKey();
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (key) headers.authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch (error) {
    throw new ApiError(0, `cannot reach the server: ${error instanceof Error ? error.message : String(error)}`);
  }
  const text = await response.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  if (!response.ok) {
    if (response.status === 401 && !options.quietUnauthorized) onUnauthorized?.();
    throw toError(response.status, data);
  }
  return { status: response.status, data: data as T, etag: response.headers.get('etag') ?? undefined };
}

function toError(status: number, data: unknown): ApiError {
  const body = (data ?? {}) as { message?: unknown; error?: unknown; errorDetails?: unknown; problems?: unknown };
  const problems = Array.isArray(body.problems) ? (body.problems as ApiProblem[]).filter((p) => p && typeof p.message === 'string') : [];
  const message =
    typeof body.message === 'string'
      ? body.message
      : typeof body.errorDetails === 'string'
        ? body.errorDetails
        : typeof body.error === 'string'
          ? body.error
          : typeof data === 'string' && data
            ? data
            : `the server answered ${status}`;
  return new ApiError(status, message, problems, data);
}

/** ETag `"7"` (or `W/"7"`) → 7. */
export function versionOf(etag: string | undefined): number | undefined {
  const match = /(\d+)"?$/.exec(etag ?? '');
  return match ? Number(match[1]) : undefined;
}

const enc = encodeURIComponent;

/** Segments as of the last read (the editor compiles queries that use `@segment` with them). */
let knownSegments: Record<string, SegmentDefinition> | undefined;

/** A write body: the flag alone, or `{flag, reason}` (the reason goes to the audit log). */
function writeBody(flag: FlagDefinition, reason: string | undefined): unknown {
  return reason ? { flag, reason } : flag;
}

export interface Principal {
  id?: string;
  name: string;
  kind: 'sdk' | 'admin';
  role: ApiKey['role'];
}

export const api = {
  /** Who the key is; used at sign-in to check the key before keeping it. */
  async whoami(key?: string): Promise<Principal> {
    const { data } = await call<Principal>('GET', '/admin/v1/whoami', key ? { key, quietUnauthorized: true } : {});
    return data;
  },

  async listFlags(): Promise<FlagListResponse> {
    const { data } = await call<FlagListResponse>('GET', '/admin/v1/flags');
    knownSegments = data.segments ?? {};
    return { flags: data.flags ?? [], segments: knownSegments, ...(data.revision !== undefined ? { revision: data.revision } : {}) };
  },

  async segments(): Promise<Record<string, SegmentDefinition>> {
    if (knownSegments) return knownSegments;
    const { data } = await call<{ segments?: Record<string, SegmentDefinition> }>('GET', '/admin/v1/segments');
    knownSegments = data.segments ?? {};
    return knownSegments;
  },

  async getFlag(key: string): Promise<FlagRecord> {
    const { data, etag } = await call<FlagRecord>('GET', `/admin/v1/flags/${enc(key)}`);
    return { ...data, version: versionOf(etag) ?? data.version };
  },

  /** Creates (`version` undefined: `If-None-Match: *`, create only) or replaces (`If-Match` the version the edit started from). */
  async putFlag(key: string, flag: FlagDefinition, version: number | undefined, reason?: string): Promise<FlagRecord> {
    const headers: Record<string, string> = version === undefined ? { 'if-none-match': '*' } : { 'if-match': `"${version}"` };
    const { data, etag } = await call<Partial<FlagRecord>>('PUT', `/admin/v1/flags/${enc(key)}`, { body: writeBody(flag, reason), headers });
    return { key, flag: data?.flag ?? flag, version: versionOf(etag) ?? data?.version ?? (version ?? 0) + 1, ...(data?.revision !== undefined ? { revision: data.revision } : {}) };
  },

  async deleteFlag(key: string, version: number, reason?: string): Promise<void> {
    await call('DELETE', `/admin/v1/flags/${enc(key)}`, { headers: { 'if-match': `"${version}"` }, ...(reason ? { body: { reason } } : {}) });
  },

  /**
   * Writes back the version an audit entry recorded (`version`: the flag's version the diff was shown against, undefined
   * for a deleted flag). `changed: false`: the flag already was that version, nothing was written.
   */
  async restoreFlag(key: string, auditId: string, reason: string, version: number | undefined): Promise<RestoreResult> {
    const headers: Record<string, string> = version === undefined ? {} : { 'if-match': `"${version}"` };
    const { data } = await call<RestoreResult>('POST', `/admin/v1/flags/${enc(key)}/restore`, { body: { auditId, reason }, headers });
    return data;
  },

  /** The kill switch: turns the flag off (or back on) as one audited write; resolves with the flag as stored now. */
  async toggleFlag(key: string, on: boolean, reason?: string): Promise<FlagRecord> {
    await call('POST', `/admin/v1/flags/${enc(key)}/toggle`, { body: { disable: !on, ...(reason ? { reason } : {}) } });
    return api.getFlag(key);
  },

  async audit(query: { key?: string; cursor?: string; limit?: number }): Promise<AuditPage> {
    const params = new URLSearchParams();
    if (query.key) params.set('key', query.key);
    if (query.cursor) params.set('cursor', query.cursor);
    params.set('limit', String(query.limit ?? 50));
    const { data } = await call<AuditPage>('GET', `/admin/v1/audit?${params}`);
    return { entries: data.entries ?? [], ...(data.next ? { next: data.next } : {}) };
  },

  async listKeys(): Promise<ApiKey[]> {
    const { data } = await call<{ keys: ApiKey[] }>('GET', '/admin/v1/keys');
    return data.keys ?? [];
  },

  async createKey(input: { name: string; kind: 'sdk' | 'admin'; role: ApiKey['role'] }): Promise<CreatedKey> {
    const body = input.kind === 'sdk' ? { name: input.name, kind: input.kind } : input;
    const { data } = await call<CreatedKey>('POST', '/admin/v1/keys', { body });
    return data;
  },

  async revokeKey(id: string): Promise<void> {
    await call('DELETE', `/admin/v1/keys/${enc(id)}`);
  },

  /** The playground: one flag, or every flag, for a context, with the reasoning (`explain`). */
  async evaluate(context: Record<string, unknown>, flag?: string): Promise<PlaygroundResult[]> {
    const { data } = await call<PlaygroundResult | { flags: PlaygroundResult[] }>('POST', '/admin/v1/evaluate', {
      body: { context, ...(flag ? { flag } : {}) },
    });
    if ('flags' in data && Array.isArray(data.flags)) return data.flags;
    if (typeof (data as PlaygroundResult).key === 'string') return [data as PlaygroundResult];
    if (flag) throw new ApiError(0, 'the server answered without a result');
    // A server that does not return the list: evaluate flag by flag (a few at a time).
    const { flags } = await api.listFlags();
    const out: PlaygroundResult[] = new Array(flags.length);
    let next = 0;
    const worker = async () => {
      while (next < flags.length) {
        const index = next++;
        out[index] = (await api.evaluate(context, flags[index]!.key))[0]!;
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, flags.length) }, worker));
    return out;
  },

  /**
   * The contexts the server evaluated last for this flag (up to 1,000), to preview how many would change variation.
   * Resolves undefined when the server keeps no sample.
   */
  async contextSample(flagKey: string): Promise<Array<Record<string, unknown>> | undefined> {
    try {
      const { data } = await call<{ contexts: Array<Record<string, unknown>> }>('GET', `/admin/v1/flags/${enc(flagKey)}/contexts?limit=1000`);
      return data.contexts ?? [];
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return undefined;
      throw error;
    }
  },
};
