import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { roleAtLeast, type KeyRing, type KeyRole, type Principal } from './keys.js';
import { HttpError } from '../http/errors.js';

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
  }
  interface FastifyRequest {
    principal?: Principal;
    /** The secret the request presented (to build stream URLs for the same key). */
    presentedKey?: string;
  }
}

/** The key from `X-API-Key`, else `Authorization: Bearer …` (prefix optional, any case), else the query when allowed. */
export function presentedKey(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const headers = request.headers;
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey.trim();
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.length > 0) {
    const match = /^\s*bearer\s+(.+)$/i.exec(authorization);
    return (match ? match[1]! : authorization).trim();
  }
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
    if (secret === undefined) {
      if (needed === 'sdk' && options.openEvaluation) return done();
      return done(new HttpError(401, 'unauthorized', 'an API key is required: send it as X-API-Key or Authorization: Bearer <key>'));
    }
    const principal = keys.authenticate(secret);
    if (principal) return done(authorize(request, secret, principal, needed));
    keys.authenticateFresh(secret).then(
      (fresh) => done(fresh ? authorize(request, secret, fresh, needed) : new HttpError(401, 'unauthorized', 'this API key is not valid (unknown or revoked)')),
      (error: unknown) => done(error as Error),
    );
  });
}

function authorize(request: FastifyRequest, secret: string, principal: Principal, needed: AuthRequirement): HttpError | undefined {
  request.principal = principal;
  request.presentedKey = secret;
  if (needed === 'sdk') return undefined;
  if (principal.kind !== 'admin')
    return new HttpError(403, 'forbidden', 'an SDK key can only evaluate flags: this endpoint needs an admin key');
  if (needed !== 'none' && !roleAtLeast(principal.role, needed))
    return new HttpError(403, 'forbidden', `this endpoint needs an admin key with the ${needed} role; "${principal.name}" has the ${principal.role} role`);
  return undefined;
}
