import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ChangeRequestStatus, EnvironmentRecord, EnvironmentRef, FlagStore } from '@vexil/store';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { errorSchema, flagOrNullSchema } from '../http/schemas.js';
import { hasRoleOn, requireRoleOn } from '../auth/access.js';
import { ChangeRequestCreated, ChangeRequestService } from './service.js';
import { proposingStore } from './proposing-store.js';
import { scopeOf } from './scopes.js';

const STATUSES: readonly ChangeRequestStatus[] = ['pending', 'applied', 'rejected', 'conflicting', 'withdrawn'];


export const changeRequestSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    project: { type: 'string' },
    environment: { type: 'string' },
    status: { type: 'string', enum: STATUSES },
    author: { type: 'string' },
    reason: { type: 'string' },
    createdAt: { type: 'string' },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          key: { type: 'string', description: '`$segments`: the environment\'s segments (before/after hold the whole set).' },
          action: { type: 'string', enum: ['put', 'delete'] },
          baseVersion: { type: 'integer', description: 'The flag version it was proposed against (0: a create).' },
          before: flagOrNullSchema,
          after: flagOrNullSchema,
        },
      },
    },
    reviewer: { type: 'string' },
    reviewedAt: { type: 'string' },
    reviewComment: { type: 'string' },
    appliedRevision: { type: 'integer' },
    conflict: { type: 'string' },
    version: { type: 'integer' },
  },
} as const;

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const;
const commentBody = {
  type: ['object', 'null'],
  properties: { comment: { type: 'string', maxLength: 2000 } },
  additionalProperties: false,
} as const;

/** Flag write routes (by the end of their path) that become change requests in an environment that requires approval. */
const WRITE_ROUTES: Array<{ methods: string[]; suffix: string }> = [
  { methods: ['POST'], suffix: '/flags' },
  { methods: ['PUT', 'PATCH', 'DELETE'], suffix: '/flags/:key' },
  { methods: ['POST'], suffix: '/flags/:key/toggle' },
  { methods: ['POST'], suffix: '/flags/:key/restore' },
  { methods: ['PUT'], suffix: '/segments' },
];

export function isFlagWriteRoute(method: string, url: string): boolean {
  if (!url.startsWith('/admin/')) return false;
  return WRITE_ROUTES.some((route) => route.methods.includes(method) && url.endsWith(route.suffix));
}

/**
 * Adds `hook` as a `preHandler` of the flag write routes registered from now on (register it before them), so that
 * every other request, evaluations first, runs no hook of it at all.
 */
export function addFlagWriteHook(app: FastifyInstance, hook: (request: FastifyRequest) => Promise<void>): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((method) => isFlagWriteRoute(method, route.url))) return;
    const existing = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    route.preHandler = [...existing, hook as never];
  });
}

/** The request's environment as the environment routing resolved it (environments/). */
interface RequestScope {
  ref: EnvironmentRef;
  record: EnvironmentRecord;
  store: FlagStore;
}

/**
 * Change requests: the routes under `/admin/v1/changes`, and the hook that turns a flag write in an environment with
 * `requireApproval` into a change request (202 `{ changeRequest }`). Returns the service (promotions propose through
 * it too), or undefined when the store keeps no change requests (read-only catalogs).
 */
export function registerChangeRoutes(app: FastifyInstance, ctx: ServerContext): ChangeRequestService | undefined {
  const requests = ctx.store.catalog?.changeRequests;
  const service = requests
    ? new ChangeRequestService({
        requests,
        environmentStore: async (ref) => (await scopeOf(ctx, ref)).store,
        afterApply: async (ref, revision) => (await scopeOf(ctx, ref)).settle(revision).catch(() => undefined),
      })
    : undefined;

  const need = (): ChangeRequestService => {
    if (!service) throw new HttpError(501, 'not_implemented', `the ${ctx.store.kind} store keeps no change requests`);
    return service;
  };

  // The routes write through `request.environment.store`: in an environment that requires approval, that store
  // proposes instead of writing. Route validation (flag checks, If-Match, merge patches) runs unchanged first.
  addFlagWriteHook(app, async (request: FastifyRequest) => {
    const holder = request as unknown as { environment?: RequestScope };
    const scope = holder.environment;
    if (!scope?.record?.requireApproval) return;
    const changes = need();
    holder.environment = {
      ...scope,
      store: proposingStore(scope.store, async (change, options) => {
        const created = await changes.propose(scope.ref, request.principal, [change], options.reason);
        request.log.info({ changeRequest: created.id, key: change.key, project: scope.ref.project, environment: scope.ref.environment }, 'change request proposed');
        throw new ChangeRequestCreated(created);
      }),
    };
  });

  app.get<{ Querystring: { project?: string; environment?: string; status?: ChangeRequestStatus } }>(
    '/admin/v1/changes',
    {
      config: { auth: 'reader', access: 'handler' },
      schema: {
        tags: ['Change requests'],
        summary: 'List change requests',
        description: 'Change requests of the environments the caller can read, newest first; filtered by project, environment and status.',
        querystring: {
          type: 'object',
          properties: { project: { type: 'string' }, environment: { type: 'string' }, status: { type: 'string', enum: STATUSES } },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { changes: { type: 'array', items: changeRequestSchema } } } },
      },
    },
    async (request) => {
      const { project, environment, status } = request.query;
      const listed = await need().requests.list({
        ...(project !== undefined ? { project } : {}),
        ...(environment !== undefined ? { environment } : {}),
        ...(status !== undefined ? { status } : {}),
      });
      const visible = listed.filter((change) => hasRoleOn(request.principal, { project: change.project, environment: change.environment }, 'reader'));
      visible.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
      return { changes: visible };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/v1/changes/:id',
    {
      config: { auth: 'reader', access: 'handler' },
      schema: {
        tags: ['Change requests'],
        summary: 'Get a change request',
        params: idParams,
        response: { 200: changeRequestSchema, 403: errorSchema, 404: errorSchema },
      },
    },
    async (request) => {
      const found = await need().get(request.params.id);
      requireRoleOn(request.principal, { project: found.project, environment: found.environment }, 'reader');
      return found;
    },
  );

  const review = (action: 'approve' | 'reject' | 'withdraw', summary: string, description: string) =>
    app.post<{ Params: { id: string }; Body: { comment?: string } | null }>(
      `/admin/v1/changes/:id/${action}`,
      {
        config: { auth: 'reader', access: 'handler' },
        schema: {
          tags: ['Change requests'],
          summary,
          description,
          params: idParams,
          body: commentBody,
          response: { 200: changeRequestSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema },
        },
      },
      async (request) => {
        const comment = request.body?.comment;
        const changes = need();
        if (action === 'approve') return changes.approve(request.params.id, request.principal, comment);
        if (action === 'reject') return changes.reject(request.params.id, request.principal, comment);
        return changes.withdraw(request.params.id, request.principal, comment);
      },
    );

  review(
    'approve',
    'Approve and apply a change request',
    'Editor or more on its environment, and not its author (403 `self_approval`). Applies every change as one batch, audited with the author as actor and a reason naming the request, its author and the reviewer. When a flag moved since it was proposed: 409 `conflicting` naming the flag and versions, the request becomes `conflicting`, nothing is applied.',
  );
  review('reject', 'Reject a change request', 'Editor or more on its environment. Nothing is applied.');
  review('withdraw', 'Withdraw a change request', 'Its author only (403 `not_author`). Nothing is applied.');

  return service;
}
