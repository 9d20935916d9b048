import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { DEFAULT_ENVIRONMENT, DEFAULT_PROJECT, type EnvironmentRef } from '@vexil/store';
import type { EnvironmentRegistry, EnvironmentScope } from './registry.js';
import { HttpError } from '../http/errors.js';
import type { Principal } from '../auth/keys.js';

/**
 * Where a route's environment comes from (`config.environmentFrom`; set from the route's URL when not given):
 * - `path`: the `:project`/`:environment` parameters (`/admin/v1/projects/:project/environments/:environment/…`);
 * - `default`: default/default (today's admin paths);
 * - `key`: the environment of the SDK key that authenticated the request (OFREP, relay, stream, event collection);
 * - `none`: no environment (health, metrics, keys, projects).
 */
export type EnvironmentSource = 'path' | 'default' | 'key' | 'none';

declare module 'fastify' {
  interface FastifyContextConfig {
    environmentFrom?: EnvironmentSource;
  }
  interface FastifyRequest {
    /** The environment the request is about; set on every route whose `environmentFrom` is not `none`. */
    environment: EnvironmentScope;
  }
}

/** The prefix of the per-environment admin routes. */
export const ENVIRONMENT_PREFIX = '/admin/v1/projects/:project/environments/:environment';

/** A per-environment admin path under the environment prefix: `/admin/v1/flags/:key` → `…/environments/:environment/flags/:key`. */
export function environmentPath(path: string): string {
  if (!path.startsWith('/admin/v1/')) throw new Error(`not an admin path: ${path}`);
  return `${ENVIRONMENT_PREFIX}/${path.slice('/admin/v1/'.length)}`;
}

function sourceOf(route: RouteOptions): EnvironmentSource {
  const url = route.url;
  if (url.startsWith(`${ENVIRONMENT_PREFIX}/`) || url === ENVIRONMENT_PREFIX) return 'path';
  if (url.startsWith('/admin/v1/projects')) return 'none';
  if (url.startsWith('/admin/')) return 'default';
  if (url.startsWith('/ofrep/') || url.startsWith('/v1/')) return 'key';
  return 'none';
}

/** The environment an SDK key serves; undefined for default/default (keys made before environments, admin keys). */
export function environmentOfKey(principal: Pick<Principal, 'project' | 'environment'> | undefined): EnvironmentRef | undefined {
  if (!principal || (principal.project === undefined && principal.environment === undefined)) return undefined;
  return { project: principal.project ?? DEFAULT_PROJECT, environment: principal.environment ?? DEFAULT_ENVIRONMENT };
}

/**
 * One `onRequest` hook (registered after authentication) that sets `request.environment`. The common case, an
 * environment already served, stays synchronous: OFREP's hot path does no lookup beyond a map read.
 */
export function registerEnvironmentRouting(app: FastifyInstance, registry: EnvironmentRegistry): void {
  app.decorateRequest('environment', undefined as unknown as EnvironmentScope);
  app.addHook('onRoute', (route) => {
    const source = route.config?.environmentFrom ?? sourceOf(route);
    route.config = { ...(route.config ?? {}), environmentFrom: source };
  });
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const source = request.routeOptions.config?.environmentFrom;
    if (source === undefined || source === 'none') return done();
    if (source === 'default') {
      request.environment = registry.defaultScope;
      return done();
    }
    let ref: EnvironmentRef;
    if (source === 'key') {
      const served = environmentOfKey(request.principal);
      if (served === undefined) {
        request.environment = registry.defaultScope;
        return done();
      }
      ref = served;
    } else {
      const params = request.params as { project?: string; environment?: string };
      ref = { project: params.project ?? DEFAULT_PROJECT, environment: params.environment ?? DEFAULT_ENVIRONMENT };
    }
    const cached = registry.cached(ref);
    if (cached) {
      request.environment = cached;
      return done();
    }
    registry.get(ref).then(
      (scope) => {
        request.environment = scope;
        done();
      },
      (error: unknown) => {
        // An SDK key whose environment was deleted (forced) no longer works, as if revoked: 401 naming it.
        if (source === 'key' && error instanceof HttpError && error.statusCode === 404)
          return done(new HttpError(401, 'unknown_environment', `this SDK key serves ${ref.project}/${ref.environment}, which no longer exists: use a key of an existing environment`, { ...ref }));
        done(error as Error);
      },
    );
  });
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type EnvironmentRoutes = Pick<FastifyInstance, Method>;

const SCOPE_PARAMS = {
  project: { type: 'string', description: 'The project key.' },
  environment: { type: 'string', description: 'The environment key.' },
} as const;

/** The route's options for its copy under the environment prefix: the path parameters documented. */
function withScopeParams(options: Record<string, unknown>): Record<string, unknown> {
  const schema = options.schema as Record<string, unknown> | undefined;
  if (!schema) return options;
  const params: { properties?: Record<string, unknown>; required?: string[] } = (schema.params as { properties?: Record<string, unknown>; required?: string[] } | undefined) ?? {};
  return {
    ...options,
    schema: {
      ...schema,
      params: {
        ...params,
        type: 'object',
        properties: { ...SCOPE_PARAMS, ...(params.properties ?? {}) },
        required: ['project', 'environment', ...(params.required ?? [])],
      },
    },
  };
}

/**
 * Registers each per-environment admin route twice: at today's path (default/default) and under
 * `/admin/v1/projects/:project/environments/:environment/`. Handlers read `request.environment`.
 */
export function environmentRoutes(app: FastifyInstance): EnvironmentRoutes {
  const twice = (method: Method) =>
    ((path: string, options: Record<string, unknown>, handler: unknown) => {
      const register = app[method] as unknown as (path: string, options: unknown, handler: unknown) => FastifyInstance;
      register.call(app, path, options, handler);
      register.call(app, environmentPath(path), withScopeParams(options), handler);
      return app;
    }) as unknown as FastifyInstance[Method];
  return { get: twice('get'), post: twice('post'), put: twice('put'), patch: twice('patch'), delete: twice('delete') } as EnvironmentRoutes;
}
