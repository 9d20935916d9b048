import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  canonicalJson,
  checkFlag,
  compileFlagSet,
  evaluate,
  evaluateAll,
  continueRollout,
  readFlagFile,
  validateFlagDefinition,
  type EvaluationContext,
  type FieldPath,
  type FlagDefinition,
  type JsonValue,
  type Problem,
  type SegmentDefinition,
  type Snapshot,
} from '@vexil/core';
import { keyProblems, type AuditEntry, type AuditQuery, type StoredFlag, type WriteOptions } from '@vexil/store';
import type { ServerContext } from '../context.js';
import { actorOf } from '../auth/keys.js';
import { registerKeyRoutes } from '../auth/routes.js';
import { HttpError, validationError } from '../http/errors.js';
import { etagMatches, parseIfMatch, versionTag } from '../http/etag.js';
import { errorSchema, flagDefinitionSchema, flagKeyParams, looseObject, anyValue } from '../http/schemas.js';
import { mergePatch } from './merge-patch.js';
import {
  PLAYGROUND_BODY_LIMIT,
  PLAYGROUND_MAX_ARRAY,
  PLAYGROUND_MAX_ITERATION_NESTING,
  PLAYGROUND_MAX_VALUES,
  checkPlaygroundContext,
  checkPlaygroundDefinition,
} from './playground-limits.js';
import type { HeaderDoc } from '../http/openapi.js';
import type { EnvironmentScope } from '../environments/registry.js';
import { environmentRoutes } from '../environments/request.js';

/** Where validation messages say the flag came from. */
const SOURCE = 'request body';

const storedFlagSchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    version: { type: 'integer' },
    revision: { type: 'integer' },
    updatedAt: { type: 'string' },
    updatedBy: { type: 'string' },
    flag: flagDefinitionSchema,
  },
} as const;

const writeResultSchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    version: { type: 'integer' },
    revision: { type: 'integer' },
    flag: flagDefinitionSchema,
    changed: { type: 'boolean' },
  },
} as const;

const auditEntrySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    revision: { type: 'integer' },
    key: { type: 'string' },
    action: { type: 'string' },
    actor: { type: 'string' },
    reason: { type: 'string' },
    at: { type: 'string' },
    before: { anyOf: [flagDefinitionSchema, { type: 'null' }] },
    after: { anyOf: [flagDefinitionSchema, { type: 'null' }] },
    version: { type: 'integer' },
  },
} as const;

const auditPageSchema = {
  type: 'object',
  properties: { entries: { type: 'array', items: auditEntrySchema }, next: { type: 'string' } },
} as const;

const auditQuerySchema = {
  type: 'object',
  properties: {
    key: { type: 'string', description: 'Only this flag’s entries.' },
    flag: { type: 'string', description: 'Same as `key`.' },
    since: { type: 'string', description: 'ISO 8601, inclusive' },
    until: { type: 'string', description: 'ISO 8601, inclusive' },
    limit: { type: 'integer', minimum: 1, maximum: 500 },
    cursor: { type: 'string', description: 'The `next` of the previous page' },
  },
  additionalProperties: false,
} as const;

const flagAuditQuerySchema = {
  type: 'object',
  properties: {
    since: auditQuerySchema.properties.since,
    until: auditQuerySchema.properties.until,
    limit: auditQuerySchema.properties.limit,
    cursor: auditQuerySchema.properties.cursor,
  },
  additionalProperties: false,
} as const;

const writeHeaders = {
  type: 'object',
  properties: {
    'if-match': { type: 'string', description: 'Write only if the flag is at this version (the `ETag` of a read).' },
    'x-vexil-reason': { type: 'string', description: 'Why: recorded in the audit log.' },
  },
} as const;

const explainSchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    value: anyValue,
    variant: { type: 'string' },
    reason: { type: 'string' },
    errorCode: { type: 'string' },
    errorMessage: { type: 'string' },
    flagMetadata: looseObject,
    trackEvents: { type: 'boolean' },
    version: { type: 'string' },
    cacheable: { type: 'boolean' },
    explain: { type: 'array', items: looseObject },
  },
  required: ['key', 'reason'],
} as const;

const VERSION_HEADERS: Record<string, HeaderDoc> = { ETag: { type: 'string', description: 'The flag version, `"<version>"`: send it back as If-Match.' } };
const CREATED_HEADERS: Record<string, HeaderDoc> = {
  ...VERSION_HEADERS,
  Location: { type: 'string', description: '`/admin/v1/flags/{key}`' },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { collector } = ctx;
  const perEnvironment = environmentRoutes(app);

  const writeOptions = (request: FastifyRequest, bodyReason: unknown, expectedVersion: number | undefined): WriteOptions => {
    const reason = header(request, 'x-vexil-reason') ?? (typeof bodyReason === 'string' && bodyReason !== '' ? bodyReason : undefined);
    return {
      actor: actorOf(request.principal),
      ...(reason !== undefined ? { reason: reason.slice(0, 2000) } : {}),
      ...(expectedVersion !== undefined ? { expectedVersion } : {}),
    };
  };

  const assertWritable = ({ store }: EnvironmentScope): void => {
    if (!store.writable)
      throw new HttpError(405, 'read_only_store', `the ${store.kind} store is read-only: change the flag files instead`);
  };

  /** The version `If-Match` asks for (`*`: whatever exists now), or undefined. */
  const expectedFromIfMatch = async (request: FastifyRequest, key: string): Promise<number | undefined> => {
    const ifMatch = parseIfMatch(request.headers['if-match']);
    if (ifMatch === 'invalid') throw new HttpError(400, 'bad_request', 'If-Match must be one version, as given in ETag (e.g. "3"), or *');
    if (ifMatch !== '*') return ifMatch;
    const current = await request.environment.store.get(key);
    if (!current) throw new HttpError(409, 'conflict', `flag "${key}" does not exist (If-Match: *)`, { key, currentVersion: 0 });
    return current.version;
  };

  /**
   * Validates a flag for writing. On errors, validates again with positions in the request body, so messages read
   * like `vexil lint`'s: `request body:4:7 my-flag targeting[0].query: …`.
   */
  const checkForWrite = (key: string, raw: unknown, request: FastifyRequest, bodyPath: FieldPath | undefined): FlagDefinition => {
    const segments = request.environment.holder.segments;
    const checked = checkFlag(key, raw, { source: SOURCE, segments });
    const problems: Problem[] = [...keyProblems(key, SOURCE), ...checked.problems];
    if (checked.flag && !problems.some((problem) => problem.severity === 'error')) return checked.flag;
    let located = problems;
    if (bodyPath && request.rawBody) {
      const file = readFlagFile(request.rawBody, 'json', SOURCE);
      if (file.data) {
        const locate = (path: FieldPath) => file.locate([...bodyPath, ...path.slice(1)]);
        located = [...keyProblems(key, SOURCE), ...validateFlagDefinition(key, raw, { source: SOURCE, segments, locate })];
      }
    }
    throw validationError(located, `flag "${key}" is not valid`);
  };

  /** Waits (briefly) until this server serves the write: a read right after a write sees it. */
  const settle = async ({ holder }: EnvironmentScope, revision: number): Promise<void> => {
    // A write acknowledged below what this server already serves may mean the store went back in time: check now
    // rather than at the next health check, so the response is served from the store's real state.
    if (revision < holder.appliedRevision) await holder.checkStore().catch(() => false);
    await holder.waitFor(revision, 2000);
  };

  /** Where a created flag is read: under the environment's prefix when the request came that way. */
  const flagLocation = (request: FastifyRequest, key: string): string => {
    const { ref } = request.environment;
    const base = request.routeOptions.config.environmentFrom === 'path' ? `/admin/v1/projects/${encodeURIComponent(ref.project)}/environments/${encodeURIComponent(ref.environment)}` : '/admin/v1';
    return `${base}/flags/${encodeURIComponent(key)}`;
  };

  const storedView = (stored: StoredFlag) => ({
    key: stored.key,
    version: stored.version,
    revision: stored.revision,
    updatedAt: stored.updatedAt,
    updatedBy: stored.updatedBy,
    flag: stored.flag,
  });

  // ---- flags -----------------------------------------------------------------------------------------------------

  perEnvironment.get<{ Querystring: { prefix?: string } }>(
    '/admin/v1/flags',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: 'List flags',
        description: 'Every stored flag with its version, plus segments, the store revision and problems found in stored data.',
        querystring: { type: 'object', properties: { prefix: { type: 'string' } }, additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              revision: { type: 'integer' },
              flags: { type: 'array', items: storedFlagSchema },
              segments: looseObject,
              problems: { type: 'array', items: looseObject },
            },
          },
        },
      },
    },
    async (request) => {
      const scope = request.environment;
      const list = await scope.store.list();
      const prefix = request.query.prefix;
      const flags = list.flags
        .filter((stored) => prefix === undefined || stored.key.startsWith(prefix))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map(storedView);
      return { revision: list.revision, flags, segments: list.segments, problems: list.problems };
    },
  );

  perEnvironment.post<{ Body: { key: string; flag: unknown; reason?: string } }>(
    '/admin/v1/flags',
    {
      config: { auth: 'editor', access: 'environment', responseHeaders: { 201: CREATED_HEADERS, 409: VERSION_HEADERS } },
      schema: {
        tags: ['Admin'],
        summary: 'Create a flag',
        description: 'Creates a flag that must not exist yet (409 otherwise). Body `{key, flag, reason?}`.',
        headers: writeHeaders,
        body: {
          type: 'object',
          properties: { key: { type: 'string', minLength: 1, maxLength: 256 }, flag: flagDefinitionSchema, reason: { type: 'string' } },
          required: ['key', 'flag'],
          additionalProperties: false,
        },
        response: { 201: writeResultSchema, 400: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const scope = request.environment;
      assertWritable(scope);
      const { key, flag: raw, reason } = request.body;
      const flag = checkForWrite(key, raw, request, ['flag']);
      const result = await scope.store.put(key, flag, writeOptions(request, reason, 0));
      await settle(scope, result.revision);
      reply.code(201).header('etag', versionTag(result.version)).header('location', flagLocation(request, key));
      return { key, version: result.version, revision: result.revision, flag };
    },
  );

  perEnvironment.get<{ Params: { key: string } }>(
    '/admin/v1/flags/:key',
    {
      config: { auth: 'reader', access: 'environment', responseHeaders: { 200: VERSION_HEADERS, 304: VERSION_HEADERS } },
      schema: {
        tags: ['Admin'],
        summary: 'Get a flag',
        description: 'The stored flag with its version; `ETag` is the version (`If-None-Match` → 304).',
        params: flagKeyParams,
        response: { 200: storedFlagSchema, 304: { type: 'null', description: 'Not modified' }, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const scope = request.environment;
      const stored = await scope.store.get(request.params.key);
      if (!stored) throw new HttpError(404, 'not_found', `flag "${request.params.key}" does not exist`, { key: request.params.key });
      const etag = versionTag(stored.version);
      reply.header('etag', etag);
      if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
      return storedView(stored);
    },
  );

  perEnvironment.put<{ Params: { key: string }; Body: unknown }>(
    '/admin/v1/flags/:key',
    {
      config: { auth: 'editor', access: 'environment', responseHeaders: { 200: VERSION_HEADERS, 201: CREATED_HEADERS, 409: VERSION_HEADERS } },
      schema: {
        tags: ['Admin'],
        summary: 'Create or replace a flag',
        description:
          "The body is the flag in GO Feature Flag's JSON form (or `{flag, reason}`). 201 when created, 200 when replaced; `ETag` is the new version. `If-Match: \"<version>\"` makes the write conditional (409 with `currentVersion` when the flag changed meanwhile); `If-None-Match: *` creates only. Validation errors are 400 with `vexil lint`-style messages.",
        params: flagKeyParams,
        headers: {
          ...writeHeaders,
          properties: { ...writeHeaders.properties, 'if-none-match': { type: 'string', description: '`*`: create only.' } },
        },
        body: flagDefinitionSchema,
        response: { 200: writeResultSchema, 201: writeResultSchema, 400: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const scope = request.environment;
      assertWritable(scope);
      const key = request.params.key;
      let raw: unknown = request.body;
      let bodyReason: unknown;
      let bodyPath: FieldPath = [];
      if (isObject(raw) && isObject(raw.flag) && Object.keys(raw).every((name) => name === 'flag' || name === 'reason')) {
        bodyReason = raw.reason;
        raw = raw.flag;
        bodyPath = ['flag'];
      }
      let flag = checkForWrite(key, raw, request, bodyPath);
      // The file's text of a flag whose rollout is under way (no rolloutState, the baseline as defaultRule): it goes on.
      if (flag.rollout && !flag.rolloutState) flag = continueRollout(flag, (await scope.store.get(key))?.flag);
      const ifNoneMatch = header(request, 'if-none-match');
      let expectedVersion: number | undefined;
      if (ifNoneMatch !== undefined) {
        if (ifNoneMatch !== '*') throw new HttpError(400, 'bad_request', 'on a write, If-None-Match may only be * (create only)');
        if (request.headers['if-match'] !== undefined) throw new HttpError(400, 'bad_request', 'give If-Match or If-None-Match, not both');
        expectedVersion = 0;
      } else {
        expectedVersion = await expectedFromIfMatch(request, key);
      }
      // A re-created flag counts on from its last version (versions never repeat), so "created" is not "version 1".
      const existed = expectedVersion !== 0 && (expectedVersion !== undefined || scope.holder.flags.has(key));
      const result = await scope.store.put(key, flag, writeOptions(request, bodyReason, expectedVersion));
      await settle(scope, result.revision);
      const created = result.version === 1 || !existed;
      reply.code(created ? 201 : 200).header('etag', versionTag(result.version));
      if (created) reply.header('location', flagLocation(request, key));
      return { key, version: result.version, revision: result.revision, flag };
    },
  );

  perEnvironment.patch<{ Params: { key: string }; Body: unknown }>(
    '/admin/v1/flags/:key',
    {
      config: { auth: 'editor', access: 'environment', responseHeaders: { 200: VERSION_HEADERS, 409: VERSION_HEADERS } },
      schema: {
        tags: ['Admin'],
        summary: 'Patch a flag (JSON merge patch)',
        description:
          'RFC 7396 merge patch of the stored flag (`null` removes a field). Applies to the version read unless `If-Match` names one; a concurrent write is a 409.',
        params: flagKeyParams,
        headers: writeHeaders,
        body: { type: 'object', additionalProperties: true },
        response: { 200: writeResultSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const scope = request.environment;
      assertWritable(scope);
      const key = request.params.key;
      const current = await scope.store.get(key);
      if (!current) throw new HttpError(404, 'not_found', `flag "${key}" does not exist`, { key });
      const ifMatch = parseIfMatch(request.headers['if-match']);
      if (ifMatch === 'invalid') throw new HttpError(400, 'bad_request', 'If-Match must be one version, as given in ETag (e.g. "3"), or *');
      const expectedVersion = typeof ifMatch === 'number' ? ifMatch : current.version;
      if (expectedVersion !== current.version) {
        reply.header('etag', versionTag(current.version));
        throw new HttpError(409, 'conflict', `flag "${key}" is at version ${current.version}, not ${expectedVersion}: it changed meanwhile`, {
          key,
          currentVersion: current.version,
          expectedVersion,
        });
      }
      const merged = mergePatch(current.flag, request.body);
      const flag = checkForWrite(key, merged, request, undefined);
      const result = await scope.store.put(key, flag, writeOptions(request, undefined, expectedVersion));
      await settle(scope, result.revision);
      reply.header('etag', versionTag(result.version));
      return { key, version: result.version, revision: result.revision, flag };
    },
  );

  perEnvironment.delete<{ Params: { key: string }; Body: { reason?: string } | undefined }>(
    '/admin/v1/flags/:key',
    {
      config: { auth: 'editor', access: 'environment', responseHeaders: { 409: VERSION_HEADERS } },
      schema: {
        tags: ['Admin'],
        summary: 'Delete a flag',
        description: '`If-Match` makes it conditional (409 on a version mismatch). 404 when the flag does not exist.',
        params: flagKeyParams,
        headers: writeHeaders,
        response: {
          200: { type: 'object', properties: { key: { type: 'string' }, deleted: { type: 'boolean' }, version: { type: 'integer' }, revision: { type: 'integer' } } },
          404: errorSchema,
          409: errorSchema,
        },
      },
    },
    async (request) => {
      const scope = request.environment;
      assertWritable(scope);
      const key = request.params.key;
      const expectedVersion = await expectedFromIfMatch(request, key);
      const result = await scope.store.delete(key, writeOptions(request, isObject(request.body) ? request.body.reason : undefined, expectedVersion));
      await settle(scope, result.revision);
      return { key, deleted: true, version: result.version, revision: result.revision };
    },
  );

  perEnvironment.post<{ Params: { key: string }; Body: { disable?: boolean; disabled?: boolean; enabled?: boolean; reason?: string } | undefined }>(
    '/admin/v1/flags/:key/toggle',
    {
      config: { auth: 'editor', access: 'environment', responseHeaders: { 200: VERSION_HEADERS, 409: VERSION_HEADERS } },
      schema: {
        tags: ['Admin'],
        summary: 'Kill switch: disable or enable a flag',
        description:
          'One audited call. Body `{disable: true}` disables (a disabled flag serves the caller\'s default, or its `offVariation`), `{disable: false}` enables, no body flips (`disabled`, and `enabled` for the opposite, are accepted for `disable`). Unchanged when already in that state (`changed: false`).',
        params: flagKeyParams,
        headers: writeHeaders,
        body: {
          type: ['object', 'null'],
          properties: {
            disable: { type: 'boolean' },
            disabled: { type: 'boolean', description: 'Same as `disable`.' },
            enabled: { type: 'boolean', description: 'The opposite of `disable`.' },
            reason: { type: 'string' },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              key: { type: 'string' },
              disabled: { type: 'boolean' },
              changed: { type: 'boolean' },
              version: { type: 'integer' },
              revision: { type: 'integer' },
            },
          },
          404: errorSchema,
          409: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const scope = request.environment;
      assertWritable(scope);
      const key = request.params.key;
      const current = await scope.store.get(key);
      if (!current) throw new HttpError(404, 'not_found', `flag "${key}" does not exist`, { key });
      const ifMatch = parseIfMatch(request.headers['if-match']);
      if (ifMatch === 'invalid') throw new HttpError(400, 'bad_request', 'If-Match must be one version, as given in ETag (e.g. "3"), or *');
      const expectedVersion = typeof ifMatch === 'number' ? ifMatch : current.version;
      const body = request.body ?? {};
      const asked = [body.disable, body.disabled, body.enabled === undefined ? undefined : !body.enabled].filter((value) => value !== undefined);
      if (new Set(asked).size > 1) throw new HttpError(400, 'bad_request', 'disable, disabled and enabled disagree');
      const disable = asked[0] ?? !(current.flag.disable === true);
      if ((current.flag.disable === true) === disable && expectedVersion === current.version) {
        reply.header('etag', versionTag(current.version));
        return { key, disabled: disable, changed: false, version: current.version, revision: current.revision };
      }
      const next: FlagDefinition = { ...current.flag };
      if (disable) next.disable = true;
      else delete next.disable;
      const result = await scope.store.put(key, next, writeOptions(request, request.body?.reason, expectedVersion));
      await settle(scope, result.revision);
      reply.header('etag', versionTag(result.version));
      return { key, disabled: disable, changed: true, version: result.version, revision: result.revision };
    },
  );

  perEnvironment.post<{ Params: { key: string }; Body: { auditId: string; reason?: string } }>(
    '/admin/v1/flags/:key/restore',
    {
      config: { auth: 'editor', access: 'environment', responseHeaders: { 200: VERSION_HEADERS, 201: CREATED_HEADERS, 409: VERSION_HEADERS } },
      schema: {
        tags: ['Admin'],
        summary: 'Restore a flag from its audit log',
        description:
          'Writes the flag back as it was after the audit entry `auditId` (before it, for a deletion): a new, audited version whose reason says which version it restores. When the flag is already identical to that version, nothing is written: 200 `{changed: false, message}` with the current version. `If-Match` makes it conditional (409 when the flag changed since the diff was shown); 404 when the entry is not one of this flag\'s; 400 when the old version is no longer valid (e.g. a segment it uses is gone).',
        params: flagKeyParams,
        headers: writeHeaders,
        body: {
          type: 'object',
          properties: { auditId: { type: 'string', minLength: 1 }, reason: { type: 'string' } },
          required: ['auditId'],
          additionalProperties: false,
        },
        response: {
          200: { ...writeResultSchema, properties: { ...writeResultSchema.properties, message: { type: 'string' }, restoredVersion: { type: 'integer' } } },
          201: { ...writeResultSchema, properties: { ...writeResultSchema.properties, message: { type: 'string' }, restoredVersion: { type: 'integer' } } },
          400: errorSchema,
          404: errorSchema,
          409: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const scope = request.environment;
      assertWritable(scope);
      const key = request.params.key;
      const { auditId, reason } = request.body;
      const entry = await findAuditEntry(scope, key, auditId);
      if (!entry) throw new HttpError(404, 'not_found', `flag "${key}" has no audit entry "${auditId}"`, { key, auditId });
      const target = entry.action === 'delete' ? entry.before : entry.after;
      if (!target) throw new HttpError(400, 'bad_request', `audit entry "${auditId}" holds no version of flag "${key}" to restore`, { key, auditId });
      const flag = checkForWrite(key, target, request, undefined);
      const current = await scope.store.get(key);
      const ifMatch = request.headers['if-match'] !== undefined ? await expectedFromIfMatch(request, key) : undefined;
      if (current && (canonicalJson(current.flag) === canonicalJson(flag) || canonicalJson(current.flag) === canonicalJson(target))) {
        if (ifMatch !== undefined && ifMatch !== current.version) {
          reply.header('etag', versionTag(current.version));
          throw new HttpError(409, 'conflict', `flag "${key}" is at version ${current.version}, not ${ifMatch}: it changed meanwhile`, { key, currentVersion: current.version, expectedVersion: ifMatch });
        }
        reply.header('etag', versionTag(current.version));
        return {
          key,
          version: current.version,
          revision: current.revision,
          flag: current.flag,
          changed: false,
          restoredVersion: entry.version,
          message: `flag "${key}" is already identical to version ${entry.version}: nothing to restore, no version written`,
        };
      }
      const why = `restore version ${entry.version} (audit entry ${entry.id})${typeof reason === 'string' && reason.trim() !== '' ? `: ${reason.trim()}` : ''}`;
      const expectedVersion = ifMatch ?? current?.version;
      const result = await scope.store.put(key, flag, writeOptions(request, why, expectedVersion));
      await settle(scope, result.revision);
      reply.code(current ? 200 : 201).header('etag', versionTag(result.version));
      if (!current) reply.header('location', flagLocation(request, key));
      return { key, version: result.version, revision: result.revision, flag, changed: true, restoredVersion: entry.version, message: `flag "${key}" restored to version ${entry.version} as version ${result.version}` };
    },
  );

  /** One of the flag's audit entries, by id (the log is read newest first, a bounded number of pages). */
  const findAuditEntry = async ({ store }: EnvironmentScope, key: string, id: string): Promise<AuditEntry | undefined> => {
    let cursor: string | undefined;
    for (let page = 0; page < 200; page++) {
      const { entries, next } = await store.audit({ key, limit: 500, ...(cursor ? { cursor } : {}) });
      const found = entries.find((entry) => entry.id === id);
      if (found) return found.key === key ? found : undefined;
      if (!next) return undefined;
      cursor = next;
    }
    return undefined;
  };

  // ---- audit -----------------------------------------------------------------------------------------------------

  const auditPage = async ({ store }: EnvironmentScope, query: AuditQuery) => {
    try {
      return await store.audit(query);
    } catch (error) {
      if (error instanceof TypeError) throw new HttpError(400, 'bad_request', error.message);
      throw error;
    }
  };

  perEnvironment.get<{ Querystring: AuditQuery & { flag?: string } }>(
    '/admin/v1/audit',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: 'Audit log',
        description: 'Every write (who, when, why, before, after), newest first, paged with `cursor` = the previous page\'s `next`.',
        querystring: auditQuerySchema,
        response: { 200: auditPageSchema },
      },
    },
    (request) => {
      const { flag, ...query } = request.query;
      if (flag !== undefined && query.key !== undefined && flag !== query.key) throw new HttpError(400, 'bad_request', 'key and flag name different flags');
      return auditPage(request.environment, { ...query, ...(flag !== undefined && query.key === undefined ? { key: flag } : {}) });
    },
  );

  perEnvironment.get<{ Params: { key: string }; Querystring: Omit<AuditQuery, 'key'> }>(
    '/admin/v1/flags/:key/audit',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: 'Audit log of one flag',
        params: flagKeyParams,
        querystring: flagAuditQuerySchema,
        response: { 200: auditPageSchema },
      },
    },
    (request) => auditPage(request.environment, { ...request.query, key: request.params.key }),
  );

  // ---- segments --------------------------------------------------------------------------------------------------

  perEnvironment.get(
    '/admin/v1/segments',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: 'Segments',
        description: 'Reusable audiences, referenced from queries as `@name` (Vexil extension).',
        response: { 200: { type: 'object', properties: { revision: { type: 'integer' }, segments: looseObject } } },
      },
    },
    ({ environment: { holder } }) => ({ revision: holder.appliedRevision, segments: holder.segments }),
  );

  perEnvironment.put<{ Body: { segments: Record<string, SegmentDefinition>; reason?: string } }>(
    '/admin/v1/segments',
    {
      config: { auth: 'editor', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: 'Replace the segments',
        headers: writeHeaders,
        body: {
          type: 'object',
          properties: { segments: looseObject, reason: { type: 'string' } },
          required: ['segments'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { revision: { type: 'integer' } } }, 400: errorSchema, 501: errorSchema },
      },
    },
    async (request) => {
      const scope = request.environment;
      assertWritable(scope);
      if (!scope.store.putSegments) throw new HttpError(501, 'not_implemented', `the ${scope.store.kind} store cannot keep segments`);
      // The body scrub removed a segment named `__proto__` (or `constructor`, `prototype`): refuse it, never drop it.
      const reserved = request.droppedKeys?.find((path) => /^segments\.[^.[]+$/.test(path));
      if (reserved) throw new HttpError(400, 'validation_failed', `the segment name "${reserved.slice('segments.'.length)}" is reserved: choose another name`);
      const result = await scope.store.putSegments(request.body.segments, writeOptions(request, request.body.reason, undefined));
      await settle(scope, result.revision);
      return { revision: result.revision };
    },
  );

  // ---- keys, whoami, me (auth/routes.ts) ---------------------------------------------------------------------

  registerKeyRoutes(app, ctx);

  // ---- playground and events -------------------------------------------------------------------------------------

  perEnvironment.post<{
    Body: { flag?: string; key?: string; context?: EvaluationContext; definition?: unknown; now?: string | number; defaultValue?: JsonValue } | undefined;
  }>(
    '/admin/v1/evaluate',
    {
      config: { auth: 'reader', access: 'environment' },
      bodyLimit: Math.min(PLAYGROUND_BODY_LIMIT, app.initialConfig.bodyLimit ?? PLAYGROUND_BODY_LIMIT),
      schema: {
        tags: ['Admin'],
        summary: 'Playground: evaluate with an explanation',
        description:
          'Evaluates `flag` (or every flag) for `context` with the reasoning trace (`explain`), as `vexil eval --explain` does. `definition` evaluates an unsaved flag instead of the stored one; `now` (ISO 8601 or Unix ms) sets the time. ' +
          `Limits (evaluation runs on the server's event loop): a body of at most ${PLAYGROUND_BODY_LIMIT / 1024} KiB (413), a context of at most ${PLAYGROUND_MAX_VALUES} values with lists of at most ${PLAYGROUND_MAX_ARRAY} items, and at most ${PLAYGROUND_MAX_ITERATION_NESTING} iterating JsonLogic operators nested in a definition's queries (400 \`playground_limit\`).`,
        body: {
          type: ['object', 'null'],
          properties: {
            flag: { type: 'string', minLength: 1, maxLength: 256 },
            key: { type: 'string', minLength: 1, maxLength: 256, description: 'Same as `flag`.' },
            context: looseObject,
            definition: flagDefinitionSchema,
            now: { anyOf: [{ type: 'string' }, { type: 'number' }] },
            defaultValue: anyValue,
          },
          additionalProperties: false,
        },
        response: {
          200: { anyOf: [explainSchema, { type: 'object', properties: { flags: { type: 'array', items: explainSchema } }, required: ['flags'] }] },
          400: errorSchema,
        },
      },
    },
    async (request) => {
      const scope = request.environment;
      const body = request.body ?? {};
      const context = body.context ?? {};
      checkPlaygroundContext(context);
      if (body.definition !== undefined) checkPlaygroundDefinition(body.definition);
      let now: number | undefined;
      if (body.now !== undefined) {
        now = typeof body.now === 'number' ? body.now : Date.parse(body.now);
        if (!Number.isFinite(now)) throw new HttpError(400, 'bad_request', `now is not a date: ${String(body.now)}`);
      }
      if (body.flag !== undefined && body.key !== undefined && body.flag !== body.key) throw new HttpError(400, 'bad_request', 'flag and key name different flags');
      let snapshot: Snapshot = scope.holder.snapshot;
      let key = body.flag ?? body.key;
      if (body.definition !== undefined) {
        key ??= 'playground';
        const definition = checkForWrite(key, body.definition, request, ['definition']);
        snapshot = compileFlagSet({ [key]: definition }, { segments: scope.holder.segments, source: SOURCE });
      }
      const options = { explain: true, ...(now !== undefined ? { now } : {}) };
      if (key === undefined) return { flags: evaluateAll(snapshot, context, options) };
      return evaluate(snapshot, key, context, { ...options, ...(body.defaultValue !== undefined ? { defaultValue: body.defaultValue } : {}) });
    },
  );

  app.get(
    '/admin/v1/events',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: 'Collected events',
        description: 'What SDKs reported through /v1/data/collector since this server started: counts per flag × variation, and count/sum/sum of squares per tracked metric.',
        response: { 200: looseObject },
      },
    },
    () => collector.summary(),
  );

}
