import type { FastifyInstance } from 'fastify';
import { DEFAULT_ENVIRONMENT, DEFAULT_PROJECT, SCOPE_KEY_PATTERN, type EnvironmentRef, type RoleGrant } from '@vexil/store';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { errorSchema } from '../http/schemas.js';
import { actorOf, highestGrant, type KeyRole } from './keys.js';
import { checkGrants } from './access.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The CSRF token of a signed-in session (set by the session branch of the auth hook, OpenID Connect): `/admin/v1/me`
     * hands it to the page, which sends it back as `X-CSRF-Token` on writes. Undefined for key requests.
     */
    csrfToken?: string;
  }
}

const grantSchema = {
  type: 'object',
  properties: { project: { type: 'string' }, environment: { type: 'string' }, role: { type: 'string', enum: ['reader', 'editor', 'admin'] } },
  required: ['project', 'environment', 'role'],
} as const;

const keyInfoSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string', enum: ['sdk', 'admin'] },
    role: { type: 'string', enum: ['reader', 'editor', 'admin'] },
    project: { type: 'string', description: 'SDK keys: the project of the environment they serve.' },
    environment: { type: 'string', description: 'SDK keys: the environment they serve.' },
    grants: { type: 'array', items: grantSchema, description: 'Admin keys: roles per project × environment (absent: `role` everywhere).' },
    prefix: { type: 'string' },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
    revokedAt: { type: 'string' },
    source: { type: 'string', enum: ['config', 'store'] },
    secret: { type: 'string' },
  },
} as const;

/** Throws 404 `unknown_project` / `unknown_environment` (naming it) unless the catalog has the project (and environment). */
async function checkScopeExists(ctx: ServerContext, project: string, environment: string | undefined): Promise<void> {
  const catalog = ctx.store.catalog;
  if (!catalog) {
    // A store without a catalog has one environment: default/default.
    if (project !== DEFAULT_PROJECT) throw new HttpError(404, 'unknown_project', `no project "${project}"`);
    if (environment !== undefined && environment !== DEFAULT_ENVIRONMENT)
      throw new HttpError(404, 'unknown_environment', `no environment "${environment}" in project "${project}"`);
    return;
  }
  if (!(await catalog.getProject(project))) throw new HttpError(404, 'unknown_project', `no project "${project}"`);
  if (environment !== undefined && !(await catalog.getEnvironment({ project, environment })))
    throw new HttpError(404, 'unknown_environment', `no environment "${environment}" in project "${project}"`);
}

function checkScopeKey(name: 'project' | 'environment', value: string): void {
  if (!SCOPE_KEY_PATTERN.test(value))
    throw new HttpError(400, 'bad_request', `${name} "${value}" is not a valid key: lower-case letters, digits and -, starting with a letter or digit, at most 48`);
}

interface CreateKeyBody {
  name?: string;
  kind?: 'sdk' | 'admin';
  role?: KeyRole;
  project?: string;
  environment?: string;
  grants?: unknown;
}

/** API keys (`/admin/v1/keys`), `/admin/v1/whoami` and `/admin/v1/me`. */
export function registerKeyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { keys } = ctx;

  app.get(
    '/admin/v1/keys',
    {
      config: { auth: 'admin', access: 'global' },
      schema: {
        tags: ['Admin keys'],
        summary: 'List API keys',
        description: `Configured and stored keys, without secrets (stored as SHA-256 hashes), with the environment of SDK keys and the grants of admin keys. Stored in: ${keys.backingLabel}.`,
        response: { 200: { type: 'object', properties: { keys: { type: 'array', items: keyInfoSchema } } } },
      },
    },
    () => ({ keys: keys.list() }),
  );

  app.post<{ Body: CreateKeyBody }>(
    '/admin/v1/keys',
    {
      config: { auth: 'admin', access: 'global', responseHeaders: { 201: { 'Cache-Control': { type: 'string', description: '`no-store`: the secret is shown once' } } } },
      schema: {
        tags: ['Admin keys'],
        summary: 'Create an API key',
        description:
          'SDK keys evaluate, in one environment (`project`/`environment`, default default/default; 404 when it does not exist). Admin keys manage with a role: reader (read-only), editor (flag writes), admin (keys too); `grants` `[{project, environment, role}]` (`*` matches any) limit it to those projects × environments, and the key\'s `role` is then the highest granted. `kind` may be left out when `role` or `grants` is given (an admin key); `name` (the actor in the audit log) defaults to the kind and role. The secret is in this response only.',
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            kind: { type: 'string', enum: ['sdk', 'admin'] },
            role: { type: 'string', enum: ['reader', 'editor', 'admin'] },
            project: { type: 'string', minLength: 1, maxLength: 48 },
            environment: { type: 'string', minLength: 1, maxLength: 48 },
            grants: { type: 'array', items: grantSchema, maxItems: 200 },
          },
          anyOf: [{ required: ['kind'] }, { required: ['role'] }, { required: ['grants'] }],
          additionalProperties: false,
        },
        response: { 201: keyInfoSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const kind = body.kind ?? 'admin';
      let role = body.role;
      let project: string | undefined;
      let environment: string | undefined;
      let grants: RoleGrant[] | undefined;
      if (kind === 'sdk') {
        if (role !== undefined && role !== 'reader') throw new HttpError(400, 'bad_request', 'SDK keys have no role: they only evaluate');
        if (body.grants !== undefined) throw new HttpError(400, 'bad_request', 'SDK keys have no grants: they serve one environment (project, environment)');
        project = body.project ?? DEFAULT_PROJECT;
        environment = body.environment ?? DEFAULT_ENVIRONMENT;
        checkScopeKey('project', project);
        checkScopeKey('environment', environment);
        await checkScopeExists(ctx, project, environment);
      } else {
        if (body.project !== undefined || body.environment !== undefined)
          throw new HttpError(400, 'bad_request', 'admin keys are scoped with grants: [{ project, environment, role }], not project/environment');
        if (body.grants !== undefined) {
          grants = checkGrants(body.grants);
          if (grants.length === 0) throw new HttpError(400, 'bad_request', 'grants is empty: leave it out for a key with its role everywhere');
          for (const grant of grants) {
            if (grant.project === '*') continue;
            await checkScopeExists(ctx, grant.project, grant.environment === '*' ? undefined : grant.environment);
          }
          const highest = highestGrant(grants)!;
          if (role !== undefined && role !== highest)
            throw new HttpError(400, 'bad_request', `role "${role}" disagrees with the grants: a key with grants has the highest granted role ("${highest}"); leave role out`);
          role = highest;
        }
      }
      const name = body.name ?? (kind === 'sdk' ? 'sdk key' : `${role ?? 'reader'} key`);
      const created = await keys.create({
        name,
        kind,
        role: role ?? 'reader',
        createdBy: actorOf(request.principal),
        ...(project !== undefined ? { project } : {}),
        ...(environment !== undefined ? { environment } : {}),
        ...(grants ? { grants } : {}),
      });
      request.log.info({ keyId: created.key.id, kind, role: created.key.role, project, environment, grants }, 'API key created');
      reply.code(201).header('cache-control', 'no-store');
      return { ...created.key, secret: created.secret };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/v1/keys/:id',
    {
      config: { auth: 'admin', access: 'global' },
      schema: {
        tags: ['Admin keys'],
        summary: 'Revoke an API key',
        params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] },
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, revoked: { type: 'boolean' } } }, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const outcome = await keys.revoke(request.params.id, actorOf(request.principal));
      if (outcome === 'missing') throw new HttpError(404, 'not_found', `no API key with id "${request.params.id}"`);
      if (outcome === 'config')
        throw new HttpError(409, 'configured_key', 'this key comes from the configuration (--admin-key, --sdk-key, VEXIL_*_KEYS): remove it there');
      request.log.info({ keyId: request.params.id }, 'API key revoked');
      return { id: request.params.id, revoked: true };
    },
  );

  app.get(
    '/admin/v1/whoami',
    {
      config: { auth: 'reader', access: 'caller' },
      schema: {
        tags: ['Admin keys'],
        summary: 'The key making this request',
        description: 'Kept for older clients: `/admin/v1/me` also says where the role applies.',
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string' }, role: { type: 'string' } } } },
      },
    },
    (request) => request.principal!,
  );

  app.get(
    '/admin/v1/me',
    {
      config: { auth: 'reader', access: 'caller' },
      schema: {
        tags: ['Admin keys'],
        summary: 'The caller: key or signed-in user, role and grants',
        description:
          'Who is calling (`via`: `key` or `session`), the role and the grants (`[]`: the role on every project and environment). A signed-in session also gets its `csrfToken`, to send as `X-CSRF-Token` on writes.',
        response: {
          200: {
            type: 'object',
            properties: {
              via: { type: 'string', enum: ['key', 'session'] },
              id: { type: 'string' },
              name: { type: 'string' },
              role: { type: 'string', enum: ['reader', 'editor', 'admin'] },
              grants: { type: 'array', items: grantSchema },
              csrfToken: { type: 'string' },
            },
            required: ['via', 'id', 'name', 'role', 'grants'],
          },
        },
      },
    },
    (request) => {
      const principal = request.principal!;
      return {
        via: principal.via,
        id: principal.id,
        name: principal.name,
        role: principal.role,
        grants: principal.grants,
        ...(request.csrfToken !== undefined ? { csrfToken: request.csrfToken } : {}),
      };
    },
  );
}

/** The environment an SDK principal serves (keys made before environments: default/default). */
export function sdkEnvironmentOf(principal: { project?: string; environment?: string }): EnvironmentRef {
  return { project: principal.project ?? DEFAULT_PROJECT, environment: principal.environment ?? DEFAULT_ENVIRONMENT };
}
