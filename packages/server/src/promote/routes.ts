import type { FastifyInstance } from 'fastify';
import type { FlagDefinition } from '@vexil/core';
import { SCOPE_KEY_PATTERN, type EnvironmentRef } from '@vexil/store';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { anyValue, errorSchema, flagOrNullSchema, looseObject } from '../http/schemas.js';
import { hasRoleOn, requireRoleOn } from '../auth/access.js';
import { actorOf } from '../auth/keys.js';
import { ChangeRequestCreated, applyChanges, findMoved, type ChangeRequestService } from '../changes/service.js';
import { changeRequestSchema } from '../changes/routes.js';
import { environmentKeysOf, scopeOf } from '../changes/scopes.js';
import { differences } from './diff.js';
import { planPromotion, proposedChanges } from './plan.js';


const pathDiffSchema = { type: 'object', properties: { path: { type: 'string' }, before: anyValue, after: anyValue } } as const;

const promoteResultSchema = {
  type: 'object',
  properties: {
    from: { type: 'string' },
    to: { type: 'string' },
    dryRun: { type: 'boolean' },
    applied: { type: 'boolean' },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          key: { type: 'string' },
          action: { type: 'string', enum: ['create', 'update', 'delete', 'unchanged'] },
          before: flagOrNullSchema,
          after: flagOrNullSchema,
          diff: { type: 'array', items: pathDiffSchema },
        },
      },
    },
    revision: { type: 'integer' },
  },
} as const;

const scopeKey = { type: 'string', minLength: 1, maxLength: 48 } as const;

function checkKey(name: 'project' | 'environment', value: string): void {
  if (!SCOPE_KEY_PATTERN.test(value)) throw new HttpError(400, 'bad_request', `${name} "${value}" is not a valid key`);
}

/** Promotion between environments of a project, and the per-flag comparison across them. */
export function registerPromoteRoutes(app: FastifyInstance, ctx: ServerContext, changes: ChangeRequestService | undefined): void {
  app.post<{ Params: { project: string; environment: string }; Body: { from: string; flags?: string[]; dryRun?: boolean; reason?: string } }>(
    '/admin/v1/projects/:project/environments/:environment/promote',
    {
      // Reader on the target before the body is read (a dry run needs no more); the handler checks the rest.
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Environments'],
        summary: 'Promote flags from another environment',
        description:
          'Copies the configuration of `flags` (default: every flag of either environment) from environment `from` to this one: flags missing here are created, different ones updated, and ones the source lacks deleted. `dryRun` only shows the diff (reader on both). Otherwise (editor here, reader on `from`) every changed flag is written in one batch, audited with reason `promote from <from>`; in an environment that requires approval the changes become one change request (202 `{ changeRequest }`). 409 when a flag here changed while promoting.',
        params: { type: 'object', properties: { project: scopeKey, environment: scopeKey }, required: ['project', 'environment'] },
        body: {
          type: 'object',
          properties: {
            from: scopeKey,
            flags: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 10_000 },
            dryRun: { type: 'boolean' },
            reason: { type: 'string', maxLength: 2000 },
          },
          required: ['from'],
          additionalProperties: false,
        },
        response: { 200: promoteResultSchema, 202: { type: 'object', properties: { changeRequest: changeRequestSchema } }, 400: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const { project, environment } = request.params;
      const { from, flags, dryRun = false, reason } = request.body;
      checkKey('project', project);
      checkKey('environment', environment);
      checkKey('environment', from);
      const targetRef: EnvironmentRef = { project, environment };
      const sourceRef: EnvironmentRef = { project, environment: from };
      requireRoleOn(request.principal, sourceRef, 'reader');
      requireRoleOn(request.principal, targetRef, dryRun ? 'reader' : 'editor');
      if (from === environment) throw new HttpError(400, 'bad_request', `from and to are the same environment ("${from}")`);
      const [source, target] = await Promise.all([scopeOf(ctx, sourceRef), scopeOf(ctx, targetRef)]);
      const [sourceList, targetList] = await Promise.all([source.store.list(), target.store.list()]);
      const planned = planPromotion(
        new Map(sourceList.flags.map((stored) => [stored.key, stored.flag])),
        new Map(targetList.flags.map((stored) => [stored.key, { flag: stored.flag, version: stored.version }])),
        flags,
        { from: `${project}/${from}`, to: `${project}/${environment}` },
      );
      const view = planned.map(({ key, action, before, after, diff }) => ({ key, action, before, after, diff }));
      const result = { from, to: environment, dryRun, applied: false, changes: view };
      const writes = proposedChanges(planned);
      if (dryRun || writes.length === 0) return result;
      if (!target.store.writable) throw new HttpError(405, 'read_only_store', `the ${target.store.kind} store is read-only: change the flag files instead`);
      const why = `promote from ${from}${reason ? `: ${reason}` : ''}`;
      if (target.record?.requireApproval) {
        if (!changes) throw new HttpError(501, 'not_implemented', `the ${ctx.store.kind} store keeps no change requests`);
        throw new ChangeRequestCreated(await changes.propose(targetRef, request.principal, writes, why));
      }
      const moved = await findMoved(target.store, writes);
      if (moved)
        throw new HttpError(409, 'conflict', `flag "${moved.key}" changed in ${project}/${environment} while promoting (version ${moved.baseVersion} → ${moved.currentVersion}): look at the diff again`, {
          key: moved.key,
          expectedVersion: moved.baseVersion,
          currentVersion: moved.currentVersion,
        });
      const revision = await applyChanges(target.store, writes, { actor: actorOf(request.principal), reason: why });
      await target.settle(revision).catch(() => undefined);
      request.log.info({ project, from, to: environment, flags: writes.length, revision }, 'promoted');
      return { ...result, applied: true, revision };
    },
  );

  app.get<{ Params: { project: string; key: string }; Querystring: { environments?: string } }>(
    '/admin/v1/projects/:project/flags/:key/compare',
    {
      config: { auth: 'reader', access: 'project' },
      schema: {
        tags: ['Environments'],
        summary: 'Compare a flag across environments',
        description:
          'The flag in each environment (`environments=a,b,c`, default: every environment of the project the caller can read) and the places where they differ, with each environment\'s value.',
        params: { type: 'object', properties: { project: scopeKey, key: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['project', 'key'] },
        querystring: { type: 'object', properties: { environments: { type: 'string', maxLength: 5000 } }, additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              key: { type: 'string' },
              environments: {
                type: 'array',
                items: { type: 'object', properties: { environment: { type: 'string' }, flag: flagOrNullSchema, version: { type: 'integer' } } },
              },
              differences: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, values: looseObject } } },
            },
          },
          403: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request) => {
      const { project, key } = request.params;
      checkKey('project', project);
      const all = await environmentKeysOf(ctx, project);
      let names: string[];
      if (request.query.environments !== undefined && request.query.environments.trim() !== '') {
        names = [...new Set(request.query.environments.split(',').map((name) => name.trim()).filter((name) => name !== ''))];
        for (const name of names) {
          checkKey('environment', name);
          requireRoleOn(request.principal, { project, environment: name }, 'reader');
        }
      } else {
        names = all.filter((name) => hasRoleOn(request.principal, { project, environment: name }, 'reader'));
      }
      const found = await Promise.all(
        names.map(async (environment) => {
          const scope = await scopeOf(ctx, { project, environment });
          const stored = await scope.store.get(key);
          return { environment, flag: (stored?.flag ?? null) as FlagDefinition | null, version: stored?.version ?? 0 };
        }),
      );
      if (found.length > 0 && found.every((entry) => entry.flag === null))
        throw new HttpError(404, 'not_found', `flag "${key}" exists in none of ${names.map((name) => `${project}/${name}`).join(', ')}`, { key });
      const sides: Record<string, unknown> = {};
      for (const entry of found) sides[entry.environment] = entry.flag ?? undefined;
      return { key, environments: found, differences: differences(sides) };
    },
  );
}
