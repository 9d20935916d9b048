// The admin API client: every call the page makes goes through here, with the admin key as a bearer token.
import type { EvaluationDetail, FlagDefinition, SegmentDefinition } from '@vexil/core';
import { readKey } from './session.js';
import { currentScope, scopedPath, scopeText, type Scope } from './scope.js';
import type { Me, RoleGrant } from './rights.js';

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
  /** SDK keys: the environment they serve (absent: default/default). */
  project?: string;
  environment?: string;
  /** Admin keys: roles per project × environment (absent: `role` everywhere). */
  grants?: RoleGrant[];
}

export interface CreatedKey extends ApiKey {
  /** The secret: returned once, never again. */
  secret: string;
}

export type PlaygroundResult = EvaluationDetail & { key: string };

/** One flag's change in a change request (`baseVersion` 0: a create). */
export interface ProposedChange {
  key: string;
  action: 'put' | 'delete';
  baseVersion: number;
  before: FlagDefinition | null;
  after: FlagDefinition | null;
}

export interface ChangeRequest {
  id: string;
  project: string;
  environment: string;
  status: 'pending' | 'applied' | 'rejected' | 'conflicting' | 'withdrawn';
  /** Actor string of who proposed it: `name (id)`. */
  author: string;
  reason?: string;
  createdAt: string;
  changes: ProposedChange[];
  reviewer?: string;
  reviewedAt?: string;
  reviewComment?: string;
  appliedRevision?: number;
  conflict?: string;
  version: number;
}

/** A write to an environment that requires approval: the server kept it as a change request (202) instead. */
export interface SentForReview {
  changeRequest: ChangeRequest;
}

export function isSentForReview(value: unknown): value is SentForReview {
  return typeof value === 'object' && value !== null && 'changeRequest' in value && typeof (value as SentForReview).changeRequest?.id === 'string';
}

/** 202 `{ changeRequest }` → the request; anything else → undefined (the write applied). */
function reviewOf(answer: { status: number; data: unknown }): SentForReview | undefined {
  return answer.status === 202 && isSentForReview(answer.data) ? { changeRequest: answer.data.changeRequest } : undefined;
}

/** A signed-in session's CSRF token (from `/admin/v1/me`), sent back on writes. */
let csrfToken: string | undefined;
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

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
  /** `scope`: the project × environment of per-environment paths (default: the page's, from the address). */
  options: { body?: unknown; headers?: Record<string, string>; key?: string; quietUnauthorized?: boolean; scope?: Scope } = {},
): Promise<Answer<T>> {
  const key = options.key ?? readKey();
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (key) headers.authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (csrfToken && method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken;
  // The one place where per-environment calls are sent to the page's project × environment.
  path = scopedPath(path, options.scope ?? currentScope());
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

/** Segments per environment as of the last read (the editor compiles queries that use `@segment` with them). */
const knownSegments = new Map<string, Record<string, SegmentDefinition>>();

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

/** Whether the server offers sign-in with OpenID Connect (`/auth/config`; absent on servers without it). */
export async function signInOptions(): Promise<{ oidc: boolean; loginUrl?: string }> {
  try {
    const response = await fetch('/auth/config', { headers: { accept: 'application/json' } });
    if (!response.ok) return { oidc: false };
    const body = (await response.json()) as { oidc?: { enabled?: boolean; loginUrl?: string } };
    return body.oidc?.enabled ? { oidc: true, loginUrl: body.oidc.loginUrl ?? '/auth/login' } : { oidc: false };
  } catch {
    return { oidc: false };
  }
}

/** Ends a signed-in session (its cookie is HTTP-only: only the server can clear it). */
export async function signOutSession(): Promise<void> {
  await fetch('/auth/logout', { method: 'POST', headers: csrfToken ? { 'x-csrf-token': csrfToken } : {} }).catch(() => undefined);
  csrfToken = undefined;
}

export const api = {
  /** Who the key is; used at sign-in to check the key before keeping it. */
  async whoami(key?: string): Promise<Principal> {
    const { data } = await call<Principal>('GET', '/admin/v1/whoami', key ? { key, quietUnauthorized: true } : {});
    return data;
  },

  /** The caller and its grants (`/admin/v1/me`; a server without it: `whoami`, the role everywhere). */
  async me(options: { quiet?: boolean } = {}): Promise<Me> {
    try {
      const { data } = await call<Me>('GET', '/admin/v1/me', options.quiet ? { quietUnauthorized: true } : {});
      return { ...data, grants: data.grants ?? [] };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      const who = await api.whoami();
      return { via: 'key', id: who.id ?? '', name: who.name, role: who.role, grants: [] };
    }
  },

  async listFlags(): Promise<FlagListResponse> {
    const { data } = await call<FlagListResponse>('GET', '/admin/v1/flags');
    const segments = data.segments ?? {};
    knownSegments.set(scopeText(currentScope()), segments);
    return { flags: data.flags ?? [], segments, ...(data.revision !== undefined ? { revision: data.revision } : {}) };
  },

  async segments(): Promise<Record<string, SegmentDefinition>> {
    const scope = scopeText(currentScope());
    const known = knownSegments.get(scope);
    if (known) return known;
    const { data } = await call<{ segments?: Record<string, SegmentDefinition> }>('GET', '/admin/v1/segments');
    const segments = data.segments ?? {};
    knownSegments.set(scope, segments);
    return segments;
  },

  async getFlag(key: string): Promise<FlagRecord> {
    const { data, etag } = await call<FlagRecord>('GET', `/admin/v1/flags/${enc(key)}`);
    return { ...data, version: versionOf(etag) ?? data.version };
  },

  /** Creates (`version` undefined: `If-None-Match: *`, create only) or replaces (`If-Match` the version the edit started from). */
  async putFlag(key: string, flag: FlagDefinition, version: number | undefined, reason?: string): Promise<FlagRecord | SentForReview> {
    const headers: Record<string, string> = version === undefined ? { 'if-none-match': '*' } : { 'if-match': `"${version}"` };
    const answer = await call<Partial<FlagRecord>>('PUT', `/admin/v1/flags/${enc(key)}`, { body: writeBody(flag, reason), headers });
    const review = reviewOf(answer);
    if (review) return review;
    const { data, etag } = answer;
    return { key, flag: data?.flag ?? flag, version: versionOf(etag) ?? data?.version ?? (version ?? 0) + 1, ...(data?.revision !== undefined ? { revision: data.revision } : {}) };
  },

  async deleteFlag(key: string, version: number, reason?: string): Promise<SentForReview | undefined> {
    return reviewOf(await call('DELETE', `/admin/v1/flags/${enc(key)}`, { headers: { 'if-match': `"${version}"` }, ...(reason ? { body: { reason } } : {}) }));
  },

  /**
   * Writes back the version an audit entry recorded (`version`: the flag's version the diff was shown against, undefined
   * for a deleted flag). `changed: false`: the flag already was that version, nothing was written.
   */
  async restoreFlag(key: string, auditId: string, reason: string, version: number | undefined): Promise<RestoreResult | SentForReview> {
    const headers: Record<string, string> = version === undefined ? {} : { 'if-match': `"${version}"` };
    const answer = await call<RestoreResult>('POST', `/admin/v1/flags/${enc(key)}/restore`, { body: { auditId, reason }, headers });
    return reviewOf(answer) ?? answer.data;
  },

  /** The kill switch: turns the flag off (or back on) as one audited write; resolves with the flag as stored now. */
  async toggleFlag(key: string, on: boolean, reason?: string): Promise<FlagRecord | SentForReview> {
    const answer = await call('POST', `/admin/v1/flags/${enc(key)}/toggle`, { body: { disable: !on, ...(reason ? { reason } : {}) } });
    return reviewOf(answer) ?? api.getFlag(key);
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

  /** SDK keys serve one `project`/`environment`; admin keys have a `role` everywhere, or `grants` (then no role). */
  async createKey(input: { name: string; kind: 'sdk' | 'admin'; role: ApiKey['role']; project?: string; environment?: string; grants?: RoleGrant[] }): Promise<CreatedKey> {
    const body =
      input.kind === 'sdk'
        ? { name: input.name, kind: input.kind, ...(input.project ? { project: input.project, environment: input.environment } : {}) }
        : input.grants && input.grants.length > 0
          ? { name: input.name, kind: input.kind, grants: input.grants }
          : { name: input.name, kind: input.kind, role: input.role };
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
