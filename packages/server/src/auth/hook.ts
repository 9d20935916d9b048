import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { roleAtLeast, type KeyRing, type KeyRole, type Principal } from './keys.js';
import { HttpError } from '../http/errors.js';
import type { AuthFailureLimiter } from './failure-limiter.js';

/**
 * What a route needs, set as `config.auth` on every route:
 * - `none`: open (health, metrics, the OpenAPI document);
 * - `sdk`: any valid key (SDK or admin) — evaluation, streams, event collection;
 * - `reader` / `editor` / `admin`: an admin key with at least that role.
 */
export type AuthRequirement = 'none' | 'sdk' | KeyRole;

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthRequirement;
    /** Accept the key as a `?key=` / `?apiKey=` query parameter (SSE: browsers cannot set headers on EventSource). */
    queryKey?: boolean;
    /** Accept a stream token (`?token=`, see stream-token.ts) made for this purpose instead of a key. */
    streamToken?: string;
  }
  interface FastifyRequest {
    principal?: Principal;
    /** The secret the request presented (to build stream URLs for the same key). */
    presentedKey?: string;
  }
}

/** The key from `X-API-Key`, else `Authorization: Bearer …` (prefix optional, any case). */
export function keyFromHeaders(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey.trim();
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.length > 0) {
    const match = /^\s*bearer\s+(.+)$/i.exec(authorization);
    return (match ? match[1]! : authorization).trim();
  }
  return undefined;
}

/** The key from the headers (`keyFromHeaders`), else from the query when allowed. */
export function presentedKey(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const fromHeaders = keyFromHeaders(request.headers);
  if (fromHeaders !== undefined) return fromHeaders;
  if (allowQuery) {
    const query = request.query as Record<string, unknown> | undefined;
    const fromQuery = query?.key ?? query?.apiKey;
    if (typeof fromQuery === 'string' && fromQuery.length > 0) return fromQuery;
  }
  return undefined;
}

export interface AuthHookOptions {
  keys: KeyRing;
  /** Evaluation routes (`sdk`) accept requests without a key. Default false. */
  openEvaluation?: boolean;
  /** Failed authentications per address; none: unlimited. */
  failures?: AuthFailureLimiter;
  /** Called for each failed authentication (`rejected`) and each request refused for too many (`limited`). */
  onFailure?: (outcome: 'rejected' | 'limited') => void;
  /** A signed-in session (OpenID Connect) of a request that presents no key; absent: keys only. */
  session?: (request: FastifyRequest) => { principal: Principal; csrf: string } | undefined;
  /** Refuses a session request (a write without its CSRF token). */
  checkSession?: (request: FastifyRequest, session: { principal: Principal; csrf: string }) => HttpError | undefined;
}

/** One global `onRequest` hook that enforces each route's `config.auth`. */
export function registerAuth(app: FastifyInstance, options: AuthHookOptions): void {
  const { keys } = options;
  app.decorateRequest('principal', undefined);
  app.decorateRequest('presentedKey', undefined);
  // Callback style: the common case (a known key) stays synchronous on the hot path.
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const config = request.routeOptions.config;
    const needed = config?.auth ?? 'none';
    if (needed === 'none') return done();
    const secret = presentedKey(request, config?.queryKey === true);
    const token = secret === undefined && config?.streamToken ? (request.query as Record<string, unknown> | undefined)?.token : undefined;
    if (secret === undefined && typeof token !== 'string') {
      // A key always wins over a session cookie; without one, a signed-in user.
      const session = options.session?.(request);
      if (session) return done(options.checkSession?.(request, session) ?? authorize(request, undefined, session.principal, needed));
      if (needed === 'sdk' && options.openEvaluation) return done();
      return done(new HttpError(401, 'unauthorized', 'an API key is required: send it as X-API-Key or Authorization: Bearer <key>'));
    }
    // An address that failed too often is refused before its key is looked at (key guessing).
    const retryAfter = options.failures?.retryAfter(request.ip);
    if (retryAfter !== undefined) {
      options.onFailure?.('limited');
      return done(
        new HttpError(429, 'too_many_auth_failures', `too many requests with an invalid API key from this address: retry in ${retryAfter} s`, undefined, {
          'retry-after': String(retryAfter),
        }),
      );
    }
    const failed = (message: string): HttpError => {
      options.failures?.fail(request.ip);
      options.onFailure?.('rejected');
      return new HttpError(401, 'unauthorized', message);
    };
    if (secret === undefined) {
      const principal = keys.verifyStreamToken(token as string, config!.streamToken!);
      return done(principal ? authorize(request, undefined, principal, needed) : failed('this stream token is not valid (expired, or its key was revoked): fetch a new stream URL'));
    }
    const principal = keys.authenticate(secret);
    if (principal) return done(authorize(request, secret, principal, needed));
    keys.authenticateFresh(secret).then(
      (fresh) => done(fresh ? authorize(request, secret, fresh, needed) : failed('this API key is not valid (unknown or revoked)')),
      (error: unknown) => done(error as Error),
    );
  });
}

function authorize(request: FastifyRequest, secret: string | undefined, principal: Principal, needed: AuthRequirement): HttpError | undefined {
  request.principal = principal;
  if (secret !== undefined) request.presentedKey = secret;
  if (needed === 'sdk') return undefined;
  if (principal.kind !== 'admin')
    return new HttpError(403, 'forbidden', 'an SDK key can only evaluate flags: this endpoint needs an admin key');
  // Routes that declare where their role applies (access.ts) check it there, per project × environment.
  if (request.routeOptions.config?.access !== undefined) return undefined;
  if (needed !== 'none' && !roleAtLeast(principal.role, needed))
    return new HttpError(403, 'forbidden', `this endpoint needs an admin key with the ${needed} role; "${principal.name}" has the ${principal.role} role`);
  return undefined;
}
