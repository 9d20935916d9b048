import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  DEFAULT_ENVIRONMENT,
  DEFAULT_PROJECT,
  ReadOnlyStoreError,
  StoreConflictError,
  UnknownEnvironmentError,
  UnknownProjectError,
  type EnvironmentCatalog,
  type EnvironmentRecord,
  type EnvironmentRef,
  type ProjectRecord,
} from '@vexil/store';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { errorSchema } from '../http/schemas.js';
import { actorOf } from '../auth/keys.js';
import { hasRoleOn } from '../auth/access.js';
import { roleInProject } from '../auth/keys.js';
import { ENVIRONMENT_PREFIX } from './request.js';
import { unknownEnvironment, unknownProject } from './registry.js';

const projectSchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
    version: { type: 'integer' },
  },
  additionalProperties: true,
} as const;

const environmentSchema = {
  type: 'object',
  properties: {
    project: { type: 'string' },
    key: { type: 'string' },
    name: { type: 'string' },
    requireApproval: { type: 'boolean', description: 'Writes become change requests that another person approves.' },
    id: { type: 'string', description: "The stable id of the environment's data (never reused)." },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
    version: { type: 'integer' },
    revision: { type: 'integer', description: "The environment's revision on this server (when served)." },
    flags: { type: 'integer', description: 'How many flags it holds (when served).' },
  },
  additionalProperties: true,
} as const;

const projectWithEnvironments = {
  ...projectSchema,
  properties: { ...projectSchema.properties, environments: { type: 'array', items: environmentSchema } },
} as const;

const newEnvironmentSchema = {
  type: 'object',
  properties: {
    key: { type: 'string', minLength: 1, maxLength: 48 },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    requireApproval: { type: 'boolean' },
  },
  required: ['key'],
  additionalProperties: false,
} as const;

const projectParams = { type: 'object', properties: { project: { type: 'string', description: 'The project key.' } }, required: ['project'] } as const;
const environmentParams = {
  type: 'object',
  properties: { project: { type: 'string', description: 'The project key.' }, environment: { type: 'string', description: 'The environment key.' } },
  required: ['project', 'environment'],
} as const;

/** Catalog errors in HTTP terms: bad input 400, unknown 404, conflicts 409, a read-only (files) catalog 405. */
async function catalogCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UnknownProjectError) throw unknownProject(error.project);
    if (error instanceof UnknownEnvironmentError) throw unknownEnvironment({ project: error.project, environment: error.environment });
    if (error instanceof ReadOnlyStoreError)
      throw new HttpError(405, 'read_only_store', 'the projects and environments of a file store come from its --flags arguments: change them there');
    if (error instanceof StoreConflictError) throw new HttpError(409, 'conflict', error.message, { key: error.key, currentVersion: error.currentVersion });
    if (error instanceof TypeError) throw new HttpError(400, 'bad_request', error.message);
    throw error;
  }
}

/**
 * Projects and environments: `/admin/v1/projects[/{p}[/environments[/{e}]]]`. Creating or deleting a project needs
 * admin everywhere; an environment, admin in its project (on it, for changes and deletion). Lists show only what the
 * caller has a role on.
 */
export function registerEnvironmentRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const registry = ctx.environments;

  const catalogOf = (): EnvironmentCatalog => {
    const catalog = ctx.store.catalog;
    if (!catalog) throw new HttpError(501, 'not_implemented', `the ${ctx.store.kind} store has no projects or environments other than default/default`);
    return catalog;
  };

  /** The record with what this server serves of it (revision, flag count) when it serves it. */
  const described = (record: EnvironmentRecord) => {
    const served = registry.cached({ project: record.project, environment: record.key });
    return served ? { ...record, revision: served.holder.revision, flags: served.holder.snapshot.flags.size } : record;
  };

  const visibleEnvironments = (request: FastifyRequest, environments: EnvironmentRecord[]) =>
    environments.filter((record) => hasRoleOn(request.principal, { project: record.project, environment: record.key }, 'reader')).map(described);

  /** Active SDK keys serving the environment: deleting it would leave them serving nothing. */
  const keysServing = (ref: EnvironmentRef) =>
    ctx.keys
      .list()
      .filter((key) => key.kind === 'sdk' && !key.revokedAt && (key.project ?? DEFAULT_PROJECT) === ref.project && (key.environment ?? DEFAULT_ENVIRONMENT) === ref.environment)
      .map((key) => ({ id: key.id, name: key.name }));

  app.get(
    '/admin/v1/projects',
    {
      config: { auth: 'reader', access: 'caller' },
      schema: {
        tags: ['Projects and environments'],
        summary: 'List projects with their environments',
        description: 'The projects and environments the caller has a role on.',
        response: { 200: { type: 'object', properties: { projects: { type: 'array', items: projectWithEnvironments } } } },
      },
    },
    async (request) => {
      const catalog = ctx.store.catalog;
      if (!catalog) {
        const record = registry.defaultScope.record;
        return { projects: [{ key: DEFAULT_PROJECT, name: 'Default', createdAt: record.createdAt, createdBy: record.createdBy, version: 0, environments: [described(record)] }] };
      }
      const projects: Array<ProjectRecord & { environments: unknown[] }> = [];
      for (const project of await catalogCall(() => catalog.listProjects())) {
        if (roleInProject(request.principal!, project.key) === undefined) continue;
        const environments = await catalogCall(() => catalog.listEnvironments(project.key)).catch((error: unknown) => {
          if (error instanceof HttpError && error.statusCode === 404) return [] as EnvironmentRecord[]; // deleted meanwhile
          throw error;
        });
        projects.push({ ...project, environments: visibleEnvironments(request, environments) });
      }
      return { projects };
    },
  );

  app.post<{ Body: { key: string; name?: string; description?: string; environments?: Array<{ key: string; name?: string; requireApproval?: boolean }> } }>(
    '/admin/v1/projects',
    {
      config: { auth: 'admin', access: 'global' },
      schema: {
        tags: ['Projects and environments'],
        summary: 'Create a project',
        description: 'With the given environments (default: one, `default`). 409 when it exists.',
        body: {
          type: 'object',
          properties: {
            key: { type: 'string', minLength: 1, maxLength: 48 },
            name: { type: 'string', minLength: 1, maxLength: 200 },
            description: { type: 'string', maxLength: 2000 },
            environments: { type: 'array', items: newEnvironmentSchema, maxItems: 200 },
          },
          required: ['key'],
          additionalProperties: false,
        },
        response: { 201: projectWithEnvironments, 400: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const catalog = catalogOf();
      const { environments, ...project } = request.body;
      const created = await catalogCall(() => catalog.createProject(project, environments, { actor: actorOf(request.principal) }));
      await registry.refresh().catch(() => undefined);
      const records = await catalogCall(() => catalog.listEnvironments(created.key));
      reply.code(201).header('location', `/admin/v1/projects/${encodeURIComponent(created.key)}`);
      return { ...created, environments: records.map(described) };
    },
  );

  app.get<{ Params: { project: string } }>(
    '/admin/v1/projects/:project',
    {
      config: { auth: 'reader', access: 'project' },
      schema: {
        tags: ['Projects and environments'],
        summary: 'One project with its environments',
        params: projectParams,
        response: { 200: projectWithEnvironments, 404: errorSchema },
      },
    },
    async (request) => {
      const { project: key } = request.params;
      const catalog = ctx.store.catalog;
      if (!catalog) {
        if (key !== DEFAULT_PROJECT) throw unknownProject(key);
        return { key, name: 'Default', environments: [described(registry.defaultScope.record)] };
      }
      const project = await catalogCall(() => catalog.getProject(key));
      if (!project) throw unknownProject(key);
      return { ...project, environments: visibleEnvironments(request, await catalogCall(() => catalog.listEnvironments(key))) };
    },
  );

  app.delete<{ Params: { project: string } }>(
    '/admin/v1/projects/:project',
    {
      config: { auth: 'admin', access: 'global' },
      schema: {
        tags: ['Projects and environments'],
        summary: 'Delete a project',
        description: 'Refused (409) while it has environments, and for `default`.',
        params: projectParams,
        response: { 200: { type: 'object', properties: { project: { type: 'string' }, deleted: { type: 'boolean' } } }, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const { project } = request.params;
      if (project === DEFAULT_PROJECT) throw new HttpError(409, 'conflict', `project "${DEFAULT_PROJECT}" cannot be deleted: every store has it`);
      const catalog = catalogOf();
      await catalogCall(() => catalog.deleteProject(project, { actor: actorOf(request.principal) }));
      await registry.refresh().catch(() => undefined);
      return { project, deleted: true };
    },
  );

  app.get<{ Params: { project: string } }>(
    '/admin/v1/projects/:project/environments',
    {
      config: { auth: 'reader', access: 'project' },
      schema: {
        tags: ['Projects and environments'],
        summary: "A project's environments",
        params: projectParams,
        response: { 200: { type: 'object', properties: { environments: { type: 'array', items: environmentSchema } } }, 404: errorSchema },
      },
    },
    async (request) => {
      const { project } = request.params;
      const catalog = ctx.store.catalog;
      if (!catalog) {
        if (project !== DEFAULT_PROJECT) throw unknownProject(project);
        return { environments: [described(registry.defaultScope.record)] };
      }
      return { environments: visibleEnvironments(request, await catalogCall(() => catalog.listEnvironments(project))) };
    },
  );

  app.post<{ Params: { project: string }; Body: { key: string; name?: string; requireApproval?: boolean; copyFrom?: string } }>(
    '/admin/v1/projects/:project/environments',
    {
      config: { auth: 'admin', access: 'project' },
      schema: {
        tags: ['Projects and environments'],
        summary: 'Create an environment',
        description:
          'Empty, or with the flags and segments of `copyFrom` (an environment of the same project), copied as one audited import. `requireApproval`: writes become change requests. 409 when it exists.',
        params: projectParams,
        body: {
          ...newEnvironmentSchema,
          properties: { ...newEnvironmentSchema.properties, copyFrom: { type: 'string', minLength: 1, maxLength: 48 } },
        },
        response: { 201: environmentSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const { project } = request.params;
      const { copyFrom, ...input } = request.body;
      const catalog = catalogOf();
      const actor = actorOf(request.principal);
      // The source is read first: a missing one creates nothing.
      const source = copyFrom === undefined ? undefined : await registry.get({ project, environment: copyFrom });
      if (source && !hasRoleOn(request.principal, source.ref, 'reader'))
        throw new HttpError(403, 'forbidden', `copyFrom: no role on ${project}/${copyFrom}`);
      const created = await catalogCall(() => catalog.createEnvironment(project, input, { actor }));
      const scope = await registry.get({ project, environment: created.key });
      if (source) {
        const snapshot = await source.store.exportSnapshot();
        const { revision } = await scope.store.importSnapshot(snapshot, { actor, reason: `copied from ${project}/${copyFrom}` });
        await scope.holder.waitFor(revision, 2000);
      }
      reply.code(201).header('location', `${ENVIRONMENT_PREFIX.replace(':project', encodeURIComponent(project)).replace(':environment', encodeURIComponent(created.key))}`);
      return described(created);
    },
  );

  app.get<{ Params: { project: string; environment: string } }>(
    ENVIRONMENT_PREFIX,
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Projects and environments'],
        summary: 'One environment',
        description: 'Its record, revision and flag count. 404 `unknown_project` or `unknown_environment` with the name.',
        params: environmentParams,
        response: { 200: environmentSchema, 404: errorSchema },
      },
    },
    (request) => described(request.environment.record),
  );

  app.patch<{ Params: { project: string; environment: string }; Body: { name?: string; requireApproval?: boolean } }>(
    ENVIRONMENT_PREFIX,
    {
      config: { auth: 'admin', access: 'environment' },
      schema: {
        tags: ['Projects and environments'],
        summary: 'Rename an environment, or require approval of its writes',
        params: environmentParams,
        body: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, requireApproval: { type: 'boolean' } },
          additionalProperties: false,
        },
        response: { 200: environmentSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request) => {
      const scope = request.environment;
      const catalog = catalogOf();
      const updated = await catalogCall(() => catalog.updateEnvironment(scope.ref, request.body, { actor: actorOf(request.principal) }));
      scope.record = updated;
      await registry.refresh().catch(() => undefined);
      return described(updated);
    },
  );

  app.delete<{ Params: { project: string; environment: string }; Querystring: { force?: boolean } }>(
    ENVIRONMENT_PREFIX,
    {
      config: { auth: 'admin', access: 'environment' },
      schema: {
        tags: ['Projects and environments'],
        summary: 'Delete an environment with its flags, audit log and change feed',
        description:
          'Refused with 409 `environment_in_use` while active SDK keys serve it (`keys: [{id, name}]`: revoke them), unless `?force=true`. default/default cannot be deleted.',
        params: environmentParams,
        querystring: { type: 'object', properties: { force: { type: 'boolean' } } },
        response: {
          200: { type: 'object', properties: { project: { type: 'string' }, environment: { type: 'string' }, deleted: { type: 'boolean' } } },
          404: errorSchema,
          409: errorSchema,
        },
      },
    },
    async (request) => {
      const scope = request.environment;
      const { ref } = scope;
      if (scope.isDefault) throw new HttpError(409, 'conflict', "environment default of project default cannot be deleted: it is the store's own flags");
      const catalog = catalogOf();
      const inUse = keysServing(ref);
      if (inUse.length > 0 && request.query.force !== true)
        throw new HttpError(
          409,
          'environment_in_use',
          `environment "${ref.environment}" of project "${ref.project}" is served by ${inUse.length} SDK key${inUse.length === 1 ? '' : 's'} (${inUse.map((key) => `${key.name} (${key.id})`).join(', ')}): revoke ${inUse.length === 1 ? 'it' : 'them'}, or delete with ?force=true`,
          { keys: inUse },
        );
      // Stop serving it first: its streams end, its snapshot stops following data about to be dropped.
      await registry.release(ref);
      await catalogCall(() => catalog.deleteEnvironment(ref, { actor: actorOf(request.principal) }));
      await registry.refresh().catch(() => undefined);
      return { project: ref.project, environment: ref.environment, deleted: true };
    },
  );
}
