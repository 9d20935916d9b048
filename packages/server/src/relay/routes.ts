import type { FastifyInstance } from 'fastify';
import {
  evaluate,
  fnv1a32,
  toGoFeatureFlagForm,
  type EvaluationContext,
  type EvaluationDetail,
  type FlagDefinition,
  type JsonValue,
  type Snapshot,
} from '@vexil/core';
import { canonicalJson } from '@vexil/store';
import type { ServerContext } from '../context.js';
import { UNKNOWN_FLAG } from '../metrics/metrics.js';
import { anyValue, flagKeyParams, goffErrorSchema, looseObject, metadataSchema } from '../http/schemas.js';
import { HttpError } from '../http/errors.js';
import { etagMatches } from '../http/etag.js';
import type { HeaderDoc } from '../http/openapi.js';
import { flagListOf, goffErrorDetails, logEvaluationErrors } from './goff-errors.js';
import { withStickyAssignments } from '../experiments/sticky-assignments.js';
import { recordServedEvaluation } from '../events/served.js';
import { normaliseCollectorEvents, MAX_LABEL } from '../events/normalise.js';

/**
 * GO Feature Flag relay-proxy compatibility: the same paths and the same request and response shapes, so GO Feature
 * Flag's own OpenFeature providers work against Vexil unchanged.
 */

interface RelayUser {
  key?: string;
  anonymous?: boolean;
  custom?: Record<string, unknown>;
}

interface RelayRequest {
  evaluationContext?: { key?: string; custom?: Record<string, unknown> };
  /** Legacy shape. */
  user?: RelayUser;
  defaultValue?: JsonValue;
}

const contextSchema = {
  type: 'object',
  properties: { key: { type: 'string' }, custom: looseObject },
  additionalProperties: true,
} as const;

const relayRequestSchema = {
  type: 'object',
  description: '`{evaluationContext: {key, custom}}` (or the legacy `{user: {key, anonymous, custom}}`).',
  properties: {
    evaluationContext: contextSchema,
    user: {
      type: 'object',
      properties: { key: { type: 'string' }, anonymous: { type: 'boolean' }, custom: looseObject },
      additionalProperties: true,
    },
    defaultValue: anyValue,
  },
  additionalProperties: true,
} as const;

const variationResultSchema = {
  type: 'object',
  properties: {
    trackEvents: { type: 'boolean' },
    variationType: { type: 'string' },
    failed: { type: 'boolean' },
    version: { type: 'string' },
    reason: { type: 'string' },
    errorCode: { type: 'string' },
    errorDetails: { type: 'string' },
    value: anyValue,
    cacheable: { type: 'boolean' },
    metadata: metadataSchema,
  },
} as const;

const flagStateSchema = {
  type: 'object',
  properties: {
    value: anyValue,
    timestamp: { type: 'integer' },
    variationType: { type: 'string' },
    trackEvents: { type: 'boolean' },
    errorCode: { type: 'string' },
    errorDetails: { type: 'string' },
    reason: { type: 'string' },
    metadata: metadataSchema,
  },
} as const;

/** The evaluation context a relay request describes, or a 400 like GO Feature Flag's. */
export function relayContext(body: RelayRequest | undefined): EvaluationContext {
  if (body?.evaluationContext && typeof body.evaluationContext === 'object') {
    const { key, custom } = body.evaluationContext;
    return { ...(isObject(custom) ? custom : {}), targetingKey: typeof key === 'string' ? key : '' };
  }
  if (body?.user && typeof body.user === 'object') {
    const { key, anonymous, custom } = body.user;
    return { ...(isObject(custom) ? custom : {}), anonymous: anonymous === true, targetingKey: typeof key === 'string' ? key : '' };
  }
  throw new HttpError(400, 'bad_request', 'assertRequest: impossible to find user in request');
}

function metadataOf(detail: EvaluationDetail): Record<string, JsonValue> | undefined {
  for (const _ in detail.flagMetadata) return detail.flagMetadata as Record<string, JsonValue>;
  return undefined;
}

/**
 * GO Feature Flag's `VariationResult`, in its key order. `errorDetails` is the text to answer for an error (GO
 * Feature Flag's: `goffErrorDetails`); none is sent when it is undefined (as for an unknown flag).
 */
export function toVariationResult(detail: EvaluationDetail, defaultValue: JsonValue | undefined, errorDetails: string | undefined): Record<string, unknown> {
  const served = detail.variant !== undefined;
  const metadata = metadataOf(detail);
  return {
    trackEvents: detail.trackEvents,
    variationType: detail.variant ?? 'SdkDefault',
    failed: detail.errorCode !== undefined,
    version: detail.version ?? '',
    reason: detail.reason,
    errorCode: detail.errorCode ?? '',
    ...(errorDetails ? { errorDetails } : {}),
    value: served ? detail.value : (defaultValue ?? null),
    cacheable: detail.cacheable,
    ...(metadata ? { metadata } : {}),
  };
}

/** GO Feature Flag's `FlagState` (an entry of `/v1/allflags`). */
function toFlagState(detail: EvaluationDetail, timestamp: number, errorDetails: string | undefined): Record<string, unknown> {
  const served = detail.variant !== undefined;
  const metadata = metadataOf(detail);
  return {
    value: served ? detail.value : null,
    timestamp,
    variationType: detail.variant ?? '',
    trackEvents: detail.trackEvents,
    errorCode: detail.errorCode ?? '',
    ...(errorDetails ? { errorDetails } : {}),
    reason: detail.reason,
    ...(metadata ? { metadata } : {}),
  };
}

/** `{hash, flags}` of `/v1/flag/change`: FNV-1a (32 bits) of the canonical JSON of all flags, and of each. */
interface ChangeHashes {
  revision: number;
  body: { hash: number; flags: Record<string, number> };
  etag: string;
}

/**
 * Every valid flag of a snapshot in GO Feature Flag's own form (`toGoFeatureFlagForm`: segment references inlined,
 * `offVariation` dropped), for GO Feature Flag's in-process providers, which know neither.
 */
const goffForms = new WeakMap<Snapshot, Record<string, FlagDefinition>>();
export function goFeatureFlagForms(snapshot: Snapshot): Record<string, FlagDefinition> {
  let forms = goffForms.get(snapshot);
  if (!forms) {
    forms = {};
    for (const [key, definition] of Object.entries(snapshot.definitions)) forms[key] = toGoFeatureFlagForm(definition, snapshot.segments);
    goffForms.set(snapshot, forms);
  }
  return forms;
}

export function registerRelayRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { metrics, collector } = ctx;
  // One per live snapshot (each environment has its own): computed once per revision, dropped with the snapshot.
  const hashesOf = new WeakMap<Snapshot, ChangeHashes>();
  const changeHashes = (snapshot: Snapshot): ChangeHashes => {
    const revision = snapshot.revision ?? 0;
    const known = hashesOf.get(snapshot);
    if (known) return known;
    // Each flag's hash is of the form GO Feature Flag's providers get, so a segment change shows on the flags using it.
    const forms = goFeatureFlagForms(snapshot);
    const flags: Record<string, number> = {};
    for (const key of Object.keys(forms).sort()) flags[key] = fnv1a32(canonicalJson(forms[key]));
    const hash = fnv1a32(canonicalJson({ flags: snapshot.definitions, segments: snapshot.segments }));
    const hashes = { revision, body: { hash, flags }, etag: `"${hash.toString(16)}"` };
    hashesOf.set(snapshot, hashes);
    return hashes;
  };

  app.post<{ Body: RelayRequest }>(
    '/v1/allflags',
    {
      config: { auth: 'sdk' },
      schema: {
        tags: ['GO Feature Flag relay'],
        summary: 'All flags for a user',
        description:
          'GO Feature Flag relay API. `custom.gofeatureflag.flagList` limits the flags evaluated (keys of no flag are left out, as GO Feature Flag does).',
        body: relayRequestSchema,
        response: {
          200: {
            type: 'object',
            properties: { flags: { type: 'object', additionalProperties: flagStateSchema }, valid: { type: 'boolean' } },
          },
          400: goffErrorSchema,
        },
      },
    },
    (request) => {
      const context = relayContext(request.body);
      const environment = request.environment;
      const snapshot = environment.holder.snapshot;
      // Like GO Feature Flag (GetFlagStates), a flagList evaluates only the listed flags that exist.
      const only = flagListOf(context);
      const keys = (only ? only.filter((key) => snapshot.flags.has(key)) : [...snapshot.flags.keys()]).sort();
      const timestamp = Math.floor(Date.now() / 1000);
      const flags: Record<string, unknown> = {};
      const failed: EvaluationDetail[] = [];
      const evaluated = keys.map((key) => evaluate(snapshot, key, context));
      const served = withStickyAssignments(environment.store, snapshot, evaluated, context, request.log);
      return served instanceof Promise ? served.then(answer) : answer(served);

      function answer(details: EvaluationDetail[]) {
        for (const detail of details) {
          const key = detail.key;
          metrics.recordEvaluation(key, detail.variant, detail.reason);
          recordServedEvaluation(ctx, snapshot, detail, context, environment.eventsEnvironment, request.headers);
          if (detail.errorCode !== undefined) failed.push(detail);
          flags[key] = toFlagState(detail, timestamp, goffErrorDetails(snapshot, detail, context));
        }
        logEvaluationErrors(request.log, failed);
        return { flags, valid: failed.length === 0 };
      }
    },
  );

  app.post<{ Params: { key: string }; Body: RelayRequest }>(
    '/v1/feature/:key/eval',
    {
      config: { auth: 'sdk' },
      schema: {
        tags: ['GO Feature Flag relay'],
        summary: 'Evaluate one flag for a user',
        description:
          'GO Feature Flag relay API. Always 200 with a `VariationResult`: `failed` and `errorCode` tell errors (e.g. `FLAG_NOT_FOUND`), and `value` is then `defaultValue`.',
        params: flagKeyParams,
        body: relayRequestSchema,
        response: { 200: variationResultSchema, 400: goffErrorSchema },
      },
    },
    (request) => {
      const key = request.params.key;
      const body = request.body;
      const context = relayContext(body);
      const environment = request.environment;
      const snapshot = environment.holder.snapshot;
      const defaultValue = body?.defaultValue;
      const evaluated = [evaluate(snapshot, key, context, defaultValue === undefined ? {} : { defaultValue })];
      const served = withStickyAssignments(environment.store, snapshot, evaluated, context, request.log);
      return served instanceof Promise ? served.then((details) => answer(details[0]!)) : answer(served[0]!);

      function answer(detail: EvaluationDetail) {
        metrics.recordEvaluation(snapshot.flags.has(key) ? key : UNKNOWN_FLAG, detail.variant, detail.reason);
        recordServedEvaluation(ctx, snapshot, detail, context, environment.eventsEnvironment, request.headers);
        if (detail.errorCode !== undefined) logEvaluationErrors(request.log, [detail]);
        return toVariationResult(detail, defaultValue, goffErrorDetails(snapshot, detail, context));
      }
    },
  );

  app.post<{ Body: { meta?: Record<string, unknown>; events?: unknown[] } }>(
    '/v1/data/collector',
    {
      config: {
        auth: 'sdk',
        // GO Feature Flag: `collectEvalData: invalid input data <the binder's error>` for a body it cannot read.
        goffBadRequest: ({ message, bindError }) => ({ message: bindError === undefined ? message : `${COLLECTOR_INVALID} ${bindError}` }),
      },
      // Before the schema, whose type coercion would turn `events: null` into `[null]` (and `"x"` into `["x"]`).
      preValidation: (request, _reply, done) => {
        const body = request.body as { events?: unknown } | null | undefined;
        done(body !== null && typeof body === 'object' && Array.isArray(body.events) ? undefined : new HttpError(400, 'bad_request', COLLECTOR_INVALID));
      },
      schema: {
        tags: ['GO Feature Flag relay'],
        summary: 'Collect evaluation and tracking events',
        description:
          'GO Feature Flag relay API. Events with `kind: "tracking"` are tracking events, all others feature (evaluation) events; `meta` replaces each feature event\'s metadata. A feature event may carry `count` (a positive integer: that many identical evaluations, as the Vexil provider folds them; another value makes the event invalid). Folded into in-memory counters (see `/admin/v1/events`) and, with `--events-file`, appended as JSON lines. `ingestedContentCount` counts the events received, invalid ones included.',
        body: {
          type: 'object',
          properties: { meta: looseObject, events: { type: 'array', items: anyValue } },
          additionalProperties: true,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              ingestedContentCount: { type: 'integer' },
              accepted: { type: 'integer', description: 'Events kept for the events store (with `--events`).' },
              refused: {
                type: 'array',
                description: 'Events refused one by one (with `--events`): their index in `events` and why. The others are kept.',
                items: { type: 'object', properties: { index: { type: 'integer' }, reason: { type: 'string' } } },
              },
              duplicateOf: { type: 'string' },
            },
          },
          400: goffErrorSchema,
          503: { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
    (request, reply) => {
      const events = request.body?.events;
      if (!Array.isArray(events)) throw new HttpError(400, 'bad_request', COLLECTOR_INVALID);
      const meta = request.body?.meta;
      const ingestedContentCount = collector.ingest(events, isObject(meta) ? meta : undefined, request.principal?.id ?? request.ip);
      const pipeline = ctx.events;
      if (!pipeline) return { ingestedContentCount };
      // Vexil extension: `batchId` (a string of at most 256 characters) makes a retried batch count once.
      const rawId = (request.body as { batchId?: unknown }).batchId;
      const batchId = typeof rawId === 'string' && rawId !== '' && rawId.length <= MAX_LABEL && !rawId.includes('\u0000') ? rawId : undefined;
      const normalised = normaliseCollectorEvents(events, ctx.eventsLimits ?? {});
      for (const refusal of normalised.refused) ctx.eventsMetrics?.refused.inc({ reason: refusal.reason });
      const accepted = normalised.exposures.length + normalised.tracks.length;
      const queued = pipeline.enqueue({ ...(batchId ? { id: batchId } : {}), environment: request.environment.eventsEnvironment, exposures: normalised.exposures, tracks: normalised.tracks }, normalised.bytes);
      if (!queued) {
        reply.header('retry-after', '5');
        return reply.code(503).send({ error: 'events_buffer_full', message: 'the events store is unavailable and the buffer is full: retry later (with the same batchId)' });
      }
      return { ingestedContentCount, accepted, refused: normalised.refused };
    },
  );

  app.get(
    '/v1/flag/change',
    {
      config: { auth: 'sdk', responseHeaders: { 200: { ETag: ETAG_DOC }, 304: { ETag: ETAG_DOC } } },
      schema: {
        tags: ['GO Feature Flag relay'],
        summary: 'Poll for flag changes',
        description: 'GO Feature Flag relay API: `{hash, flags: {key: hash}}`, with an `ETag`; 304 when `If-None-Match` matches.',
        headers: { type: 'object', properties: { 'if-none-match': { type: 'string' } } },
        response: {
          200: {
            type: 'object',
            properties: { hash: { type: 'integer' }, flags: { type: 'object', additionalProperties: { type: 'integer' } } },
          },
          304: { type: 'null', description: 'Not modified' },
        },
      },
    },
    (request, reply) => {
      const current = changeHashes(request.environment.holder.snapshot);
      reply.header('etag', current.etag);
      if (etagMatches(request.headers['if-none-match'], current.etag)) return reply.code(304).send();
      return current.body;
    },
  );

  app.post<{ Body: { flags?: string[] | null } | null | undefined }>(
    '/v1/flag/configuration',
    {
      config: {
        auth: 'sdk',
        responseHeaders: { 200: CONFIGURATION_HEADERS, 304: CONFIGURATION_HEADERS },
        // GO Feature Flag answers a body it cannot read with 400 {errorCode: INVALID_REQUEST, errorDetails}.
        goffBadRequest: ({ message, bindError }) => ({ errorCode: 'INVALID_REQUEST', errorDetails: `impossible to read request body: ${bindError ?? message}` }),
      },
      // Before the schema, whose type coercion would turn `flags: "a"` into `["a"]` and `[1]` into `["1"]`.
      preValidation: (request, _reply, done) => {
        const flags = (request.body as { flags?: unknown } | null | undefined)?.flags;
        const readable = flags === undefined || flags === null || (Array.isArray(flags) && flags.every((key) => typeof key === 'string'));
        done(readable ? undefined : new HttpError(400, 'bad_request', '"flags" must be a list of flag keys'));
      },
      schema: {
        tags: ['GO Feature Flag relay'],
        summary: 'Flag configuration for in-process evaluation',
        description: [
          "GO Feature Flag relay API, for in-process providers: `flags` holds each flag in GO Feature Flag's own form (segment references inlined into the queries, `offVariation` dropped), as GO Feature Flag's providers expect.",
          'Vexil additions: `vexilFlags` (the flags as stored, with Vexil extensions), `segments`, `versions` (per flag) and `revision`, for the Vexil provider.',
          'The body `{flags: [keys]}` limits the flags answered (segments are always complete).',
          'With `ETag`, `Last-Modified` and `X-Vexil-Revision`; 304 when `If-None-Match` matches.',
        ].join(' '),
        body: {
          type: ['object', 'null'],
          properties: { flags: { type: ['array', 'null'], items: { type: 'string' } } },
          additionalProperties: true,
        },
        headers: { type: 'object', properties: { 'if-none-match': { type: 'string' } } },
        response: {
          200: {
            type: 'object',
            properties: {
              flags: {
                type: 'object',
                description: "Flag key → definition in GO Feature Flag's form (no segment references, no `offVariation`).",
                additionalProperties: looseObject,
              },
              evaluationContextEnrichment: looseObject,
              errorCode: { type: 'string' },
              errorDetails: { type: 'string' },
              vexilFlags: {
                type: 'object',
                description: 'Vexil: flag key → definition as stored (may use `@segment` references and `offVariation`).',
                additionalProperties: looseObject,
              },
              segments: { type: 'object', description: 'Vexil: segment name → `{query}`.', additionalProperties: looseObject },
              versions: { type: 'object', description: "Vexil: flag key → the flag's version.", additionalProperties: { type: 'integer' } },
              revision: { type: 'integer', description: 'Vexil: the store revision these flags are at.' },
            },
          },
          304: { type: 'null', description: 'Not modified' },
          400: {
            type: 'object',
            description: 'A body that cannot be read, as GO Feature Flag answers it.',
            properties: { errorCode: { type: 'string', enum: ['INVALID_REQUEST'] }, errorDetails: { type: 'string' } },
          },
        },
      },
    },
    (request, reply) => {
      const holder = request.environment.holder;
      const snapshot = holder.snapshot;
      const revision = snapshot.revision ?? 0;
      const wanted = request.body?.flags;
      const definitions = snapshot.definitions;
      const forms = goFeatureFlagForms(snapshot);
      const allVersions = holder.snapshotVersions;
      let keys = Object.keys(definitions);
      if (Array.isArray(wanted) && wanted.length > 0) keys = [...new Set(wanted)].filter((key) => Object.hasOwn(definitions, key));
      const flags: Record<string, FlagDefinition> = {};
      const vexilFlags: Record<string, FlagDefinition> = {};
      const versions: Record<string, number> = {};
      for (const key of keys) {
        flags[key] = forms[key]!;
        vexilFlags[key] = definitions[key]!;
        const version = allVersions[key];
        if (version !== undefined) versions[key] = version;
      }
      const etag = `"${revision}-${fnv1a32(`${changeHashes(snapshot).body.hash}:${canonicalJson(wanted ?? [])}`).toString(16)}"`;
      reply.header('etag', etag);
      reply.header('last-modified', holder.loadedAt.toUTCString());
      reply.header('x-vexil-revision', String(revision));
      if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
      return { flags, evaluationContextEnrichment: {}, vexilFlags, segments: snapshot.segments, versions, revision };
    },
  );

  app.get(
    '/info',
    {
      config: { auth: 'none', rateLimit: false },
      schema: {
        tags: ['Monitoring'],
        summary: 'Info',
        description: '`cacheRefresh` (as GO Feature Flag answers: when the flags were last reloaded) plus Vexil details.',
        response: {
          200: {
            type: 'object',
            properties: {
              cacheRefresh: { type: 'string' },
              name: { type: 'string' },
              version: { type: 'string' },
              store: { type: 'string' },
              revision: { type: 'integer' },
              startedAt: { type: 'string' },
            },
          },
        },
      },
    },
    () => ({
      cacheRefresh: ctx.holder.loadedAt.toISOString(),
      name: 'vexil',
      version: ctx.version,
      store: ctx.store.kind,
      revision: ctx.holder.revision,
      startedAt: ctx.startedAt.toISOString(),
    }),
  );
}

const ETAG_DOC: HeaderDoc = { type: 'string', description: 'Entity tag of this answer: send it back as If-None-Match.' };
const CONFIGURATION_HEADERS: Record<string, HeaderDoc> = {
  ETag: ETAG_DOC,
  'Last-Modified': { type: 'string', description: 'When the flags were last reloaded.' },
  'X-Vexil-Revision': { type: 'integer', description: 'The store revision of these flags.' },
};

/** GO Feature Flag's message for a collector request without a list of events. */
const COLLECTOR_INVALID = 'collectEvalData: invalid input data';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
