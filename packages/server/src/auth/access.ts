import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { DEFAULT_ENVIRONMENT, DEFAULT_PROJECT, SCOPE_KEY_PATTERN, type EnvironmentRef, type RoleGrant } from '@vexil/store';
import { HttpError } from '../http/errors.js';
import { globalRole, roleAtLeast, roleInProject, roleOn, type KeyRole, type Principal } from './keys.js';

/**
 * Where a route's role is checked, set as `config.access` on every admin route (the server refuses to start when one
 * declares none, so that no route is forgotten):
 * - `global`: the role on every project and environment (keys, creating projects);
 * - `project`: the role on some environment of the `:project` parameter;
 * - `environment`: the role on the request's environment (`request.environment.ref`; today's paths: default/default);
 * - `caller`: any authenticated admin caller (`/admin/v1/me`);
 * - `handler`: the handler checks (change requests: the request's environment, known only once it is read).
 */
export type AccessScope = 'global' | 'project' | 'environment' | 'caller' | 'handler';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: AccessScope;
  }
}

export const ROLES: readonly KeyRole[] = ['reader', 'editor', 'admin'];

const refText = (ref: EnvironmentRef): string => `${ref.project}/${ref.environment}`;

/** Who the caller is, in messages: `key "ci"`, `user "ada@example.com"`. */
export function callerText(principal: Principal): string {
  return `${principal.via === 'session' ? 'user' : 'key'} "${principal.name}"`;
}

/** 403 `forbidden`: `key "ci" is reader on default/production; this needs editor`. */
export function forbidden(principal: Principal, where: string, has: KeyRole | undefined, needed: KeyRole): HttpError {
  const role = has === undefined ? `has no role on ${where}` : `is ${has} on ${where}`;
  return new HttpError(403, 'forbidden', `${callerText(principal)} ${role}; this needs ${needed}`);
}

/** Throws 403 unless the principal has at least `needed` on `ref`. */
export function requireRoleOn(principal: Principal | undefined, ref: EnvironmentRef, needed: KeyRole): void {
  if (!principal) throw new HttpError(401, 'unauthorized', 'an API key is required: send it as X-API-Key or Authorization: Bearer <key>');
  const has = roleOn(principal, ref);
  if (has === undefined || !roleAtLeast(has, needed)) throw forbidden(principal, refText(ref), has, needed);
}

/** Whether the principal has at least `needed` on `ref` (for filtering lists). */
export function hasRoleOn(principal: Principal | undefined, ref: EnvironmentRef, needed: KeyRole): boolean {
  if (!principal) return false;
  const has = roleOn(principal, ref);
  return has !== undefined && roleAtLeast(has, needed);
}

/** The environment a request is about: the one the environment routing resolved, else the path's, else default/default. */
export function requestRef(request: FastifyRequest): EnvironmentRef {
  const resolved = (request as { environment?: { ref?: EnvironmentRef } }).environment?.ref;
  if (resolved) return resolved;
  const params = (request.params ?? {}) as { project?: string; environment?: string };
  return { project: params.project ?? DEFAULT_PROJECT, environment: params.environment ?? DEFAULT_ENVIRONMENT };
}

/** The check of one scope; throws 403 when the caller's role is too low there. */
export function checkAccess(request: FastifyRequest, scope: AccessScope, needed: KeyRole): void {
  const principal = request.principal;
  if (scope === 'handler') return;
  if (!principal) throw new HttpError(401, 'unauthorized', 'an API key is required: send it as X-API-Key or Authorization: Bearer <key>');
  if (principal.kind !== 'admin') throw new HttpError(403, 'forbidden', 'an SDK key can only evaluate flags: this endpoint needs an admin key');
  switch (scope) {
    case 'caller':
      return;
    case 'global': {
      const has = globalRole(principal);
      if (has === undefined || !roleAtLeast(has, needed)) throw forbidden(principal, 'every project and environment', has, needed);
      return;
    }
    case 'project': {
      const project = ((request.params ?? {}) as { project?: string }).project ?? DEFAULT_PROJECT;
      const has = roleInProject(principal, project);
      if (has === undefined || !roleAtLeast(has, needed)) throw forbidden(principal, `project "${project}"`, has, needed);
      return;
    }
    case 'environment':
      requireRoleOn(principal, requestRef(request), needed);
      return;
  }
}

/** Admin routes are those under `/admin/` that need a key (the admin page and its assets are under `/`). */
function isAdminRoute(route: RouteOptions): boolean {
  const auth = route.config?.auth;
  return route.url.startsWith('/admin/') && auth !== undefined && auth !== 'none' && auth !== 'sdk';
}

/**
 * Enforces `config.access` on every admin route, and refuses to register an admin route that declares none. Register
 * after authentication and environment routing (both `onRequest`), before any route: the check is an `onRequest` hook
 * too, so an out-of-scope caller gets 403 before its body is even read or validated.
 */
export function registerAccess(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!isAdminRoute(route)) return;
    const access = route.config?.access;
    if (access === undefined)
      throw new Error(`admin route ${String(route.method)} ${route.url} declares no config.access (global, project, environment, caller or handler)`);
  });
  // Callback style: evaluation routes (no `access`) pass through without a promise per request.
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const config = request.routeOptions.config;
    const access = config?.access;
    const needed = config?.auth;
    if (access === undefined || needed === undefined || needed === 'none' || needed === 'sdk') return done();
    try {
      checkAccess(request, access, needed);
    } catch (error) {
      return done(error as Error);
    }
    done();
  });
}

/** Validates `grants` from a request body: each `{ project, environment, role }`, keys or `*`, a known role. */
export function checkGrants(value: unknown, field = 'grants'): RoleGrant[] {
  if (!Array.isArray(value)) throw new HttpError(400, 'bad_request', `${field} must be a list of { project, environment, role }`);
  if (value.length > 200) throw new HttpError(400, 'bad_request', `${field}: at most 200 grants`);
  return value.map((grant: unknown, index) => {
    const where = `${field}[${index}]`;
    if (grant === null || typeof grant !== 'object' || Array.isArray(grant)) throw new HttpError(400, 'bad_request', `${where} must be { project, environment, role }`);
    const { project, environment, role, ...rest } = grant as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new HttpError(400, 'bad_request', `${where} has an unknown field "${extra[0]}"`);
    for (const [name, key] of [['project', project], ['environment', environment]] as const) {
      if (typeof key !== 'string' || (key !== '*' && !SCOPE_KEY_PATTERN.test(key)))
        throw new HttpError(400, 'bad_request', `${where}.${name} must be a ${name} key (lower-case letters, digits and -) or *; got ${JSON.stringify(key ?? null)}`);
    }
    if (typeof role !== 'string' || !ROLES.includes(role as KeyRole))
      throw new HttpError(400, 'bad_request', `${where}.role must be reader, editor or admin; got ${JSON.stringify(role ?? null)}`);
    return { project: project as string, environment: environment as string, role: role as KeyRole };
  });
}
