// A flag-evaluating worker for edge runtimes (Cloudflare Workers, Deno Deploy, Bun, Vercel Edge: the standard
// `fetch(request, env)` shape, Web APIs only). It fetches the flag set from `vexil serve`
// (`POST /v1/flag/configuration`), caches it in the isolate's memory, revalidates it with `If-None-Match` every
// `VEXIL_CACHE_SECONDS`, and answers every evaluation locally with `@vexil/core/json` (16 KB gzipped): no round trip
// to the server per request, and the last flags keep being served when the server is unreachable.
//
//   GET  /flags/new-checkout?targetingKey=user-42&country=fr    → the evaluation detail, as JSON
//   POST /flags/new-checkout  {"context": {"targetingKey": "user-42", "plan": "pro"}}
import { compileFlagSet, evaluate, loadEnginesFor, type EvaluationContext, type FlagDefinition, type SegmentDefinition, type Snapshot } from '@vexil/core/json';

export interface Env {
  /** The Vexil server, e.g. `https://flags.example.com`. */
  VEXIL_URL: string;
  /** An SDK key of that server. */
  VEXIL_SDK_KEY: string;
  /** How long the cached flags are used before asking the server again (default 30). */
  VEXIL_CACHE_SECONDS?: string;
}

interface CachedFlags {
  snapshot: Snapshot;
  etag: string | undefined;
  fetchedAt: number;
}

/** Per isolate: every request the isolate serves shares one flag set and at most one refresh at a time. */
let cached: CachedFlags | undefined;
let refreshing: Promise<CachedFlags> | undefined;

/** Where the answer's flags came from: the cache, a fresh fetch, or the cache after a failed refresh. */
type Source = 'cache' | 'server' | 'stale';

async function currentFlags(env: Env): Promise<{ flags: CachedFlags; source: Source }> {
  const maxAgeMs = Number(env.VEXIL_CACHE_SECONDS ?? 30) * 1000;
  if (cached && Date.now() - cached.fetchedAt < maxAgeMs) return { flags: cached, source: 'cache' };
  refreshing ??= refresh(env).finally(() => {
    refreshing = undefined;
  });
  try {
    return { flags: await refreshing, source: 'server' };
  } catch (error) {
    if (cached) return { flags: cached, source: 'stale' };
    throw error;
  }
}

async function refresh(env: Env): Promise<CachedFlags> {
  const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${env.VEXIL_SDK_KEY}` };
  if (cached?.etag) headers['if-none-match'] = cached.etag;
  const response = await fetch(`${env.VEXIL_URL.replace(/\/+$/, '')}/v1/flag/configuration`, { method: 'POST', headers, body: '{}' });
  if (response.status === 304 && cached) {
    cached = { ...cached, fetchedAt: Date.now() };
    return cached;
  }
  if (!response.ok) throw new Error(`the flag server answered HTTP ${response.status}`);
  const body = (await response.json()) as {
    flags?: Record<string, FlagDefinition>;
    vexilFlags?: Record<string, FlagDefinition>;
    segments?: Record<string, SegmentDefinition>;
    revision?: number;
  };
  // `vexilFlags`: the flags as stored (segments, offVariation); `flags` is GO Feature Flag's form, for its providers.
  const definitions = body.vexilFlags ?? body.flags ?? {};
  const segments = body.segments ?? {};
  await loadEnginesFor(definitions, segments); // the JsonLogic engine, only if a query needs it
  const snapshot = compileFlagSet(definitions, { segments, ...(body.revision !== undefined ? { revision: body.revision } : {}) });
  cached = { snapshot, etag: response.headers.get('etag') ?? undefined, fetchedAt: Date.now() };
  return cached;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

async function readContext(request: Request, url: URL): Promise<EvaluationContext | undefined> {
  if (request.method === 'GET') return Object.fromEntries(url.searchParams);
  if (request.method !== 'POST') return undefined;
  try {
    const body = (await request.json()) as { context?: unknown };
    const context = body?.context ?? {};
    return context !== null && typeof context === 'object' && !Array.isArray(context) ? (context as EvaluationContext) : undefined;
  } catch {
    return undefined;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/flags\/([^/]+)$/.exec(url.pathname);
    if (!match) return json({ error: 'not_found', message: 'use GET or POST /flags/{key}' }, 404);
    const context = await readContext(request, url);
    if (!context) return json({ error: 'bad_request', message: 'POST a JSON body {"context": {...}}, or GET with the context as query parameters' }, 400);
    let state: { flags: CachedFlags; source: Source };
    try {
      state = await currentFlags(env);
    } catch (error) {
      return json({ error: 'unavailable', message: `no flags yet: ${(error as Error).message}` }, 503);
    }
    const detail = evaluate(state.flags.snapshot, decodeURIComponent(match[1]!), context);
    return json({ ...detail, flagsFrom: state.source }, detail.errorCode === 'FLAG_NOT_FOUND' ? 404 : 200);
  },
};
