import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  canonicalJson,
  evaluate,
  evaluateAll,
  flagNotFoundMessage,
  formatProblem,
  missingContextHint,
  withRequestHint,
  wrappedContextHint,
  type EvaluationContext,
  type EvaluationDetail,
  type Snapshot,
} from '@vexil/core';
import type { ServerContext } from '../context.js';
import { UNKNOWN_FLAG } from '../metrics/metrics.js';
import { flagKeyParams, metadataSchema, anyValue } from '../http/schemas.js';
import { sseMessage } from '../stream/sse.js';
import type { SnapshotChange } from '../snapshot/holder.js';
import { toOfrep, type OfrepFailure, type OfrepSuccess } from './mapping.js';
import { etagMatches } from '../http/etag.js';
import type { HeaderDoc } from '../http/openapi.js';
import { flagListOf, logEvaluationErrors } from '../relay/goff-errors.js';
import { recordServedEvaluation } from '../events/served.js';
import { withStickyAssignments } from '../experiments/sticky-assignments.js';
import { replayedBody } from './fast-lane.js';

interface OfrepBody {
  context?: EvaluationContext | null;
}

const requestBody = {
  type: ['object', 'null'],
  description: 'The evaluation context. The body, `context` and `targetingKey` may all be omitted.',
  properties: { context: { type: ['object', 'null'], additionalProperties: true } },
  additionalProperties: true,
} as const;

const successSchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    value: anyValue,
    reason: { type: 'string' },
    variant: { type: 'string' },
    metadata: metadataSchema,
    cacheable: { type: 'boolean' },
  },
  required: ['key', 'reason'],
} as const;

/** Codes OFREP allows in an `evaluationFailure` (a 400, or an entry of a bulk answer); anything else is GENERAL. */
const OFREP_FAILURE_CODES = ['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL'] as const;

const failureSchema = {
  type: 'object',
  description: "OFREP's evaluationFailure.",
  properties: {
    key: { type: 'string' },
    errorCode: { type: 'string', enum: OFREP_FAILURE_CODES },
    errorDetails: { type: 'string' },
    metadata: metadataSchema,
  },
  required: ['key', 'errorCode'],
} as const;

const flagNotFoundSchema = {
  type: 'object',
  description: "OFREP's flagNotFound.",
  properties: {
    key: { type: 'string' },
    errorCode: { type: 'string', enum: ['FLAG_NOT_FOUND'] },
    errorDetails: { type: 'string' },
  },
  required: ['key', 'errorCode'],
} as const;

/** OFREP's eventStream (ADR-0008). */
const eventStreamSchema = {
  type: 'object',
  properties: {
    type: { type: 'string', description: 'Always `sse`.' },
    url: {
      type: 'string',
      format: 'uri',
      description:
        'The change stream of this server (from `--public-url`, a trusted proxy\'s forwarded host, or the address the request reached; never the `Host` header), with a short-lived stream token for the key of the request in `?token=` (valid 30 to 60 minutes, and no longer once the key is revoked); never the key itself.',
    },
    inactivityDelaySec: { type: 'integer', minimum: 1 },
  },
  required: ['type', 'url'],
} as const;

/** GO Feature Flag's answer to `POST /ofrep/v1/evaluate/flags/` (no key): the route does not exist there. */
const noRouteSchema = {
  type: 'object',
  description: 'An empty flag key (`POST /ofrep/v1/evaluate/flags/`), answered as GO Feature Flag does.',
  properties: { message: { type: 'string' } },
  required: ['message'],
} as const;

const OFREP_400: ReadonlySet<string> = new Set(OFREP_FAILURE_CODES);

const ETAG_DOC: HeaderDoc = { type: 'string', description: 'Entity tag of this answer: send it back as If-None-Match.' };
const BULK_HEADERS: Record<string, HeaderDoc> = {
  ETag: { type: 'string', description: '"<revision>-<hash of the context and the answer>": send it back as If-None-Match.' },
  'Cache-Control': { type: 'string', description: '`private, no-cache`' },
};

/** What `/ofrep/v1/configuration` tells polling providers: no faster than this. */
const MIN_POLLING_INTERVAL_MS = 1000;

/** How long a bulk re-fetch with a `flagConfigEtag` ahead of this server waits for it to catch up. */
const CONFIG_ETAG_WAIT_MS = 1000;

/** Flag keys longer than this are no flag (the admin API never stores one): 404 FLAG_NOT_FOUND. */
const MAX_KEY_LENGTH = 256;

/** `flagConfigEtag` (ADR-0008, from a `refetchEvaluation` event): the revision it names, if it names one. */
function revisionOfConfigEtag(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  let text = value.trim();
  if (text.startsWith('W/')) text = text.slice(2);
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1);
  return /^[0-9]{1,15}$/.test(text) ? Number(text) : undefined;
}

/** What a body without OFREP's `context` wrapper (or with it twice) is told, before the evaluation error it caused. */
function requestHint(body: unknown): string | undefined {
  return (
    missingContextHint(body, 'the body', 'OFREP wants {"context": {...}}') ??
    wrappedContextHint((body as OfrepBody | null | undefined)?.context, 'the context')
  );
}

/** `errorDetails` of a failed evaluation: the core's diagnosis (the same words as `vexil eval`), after any body problem. */
function errorDetailsOf(detail: EvaluationDetail, hint: string | undefined): string {
  return withRequestHint(detail.errorMessage ?? detail.errorCode ?? 'evaluation failed', hint);
}

function contextOf(body: unknown): EvaluationContext {
  const context = (body as OfrepBody | undefined | null)?.context;
  return context && typeof context === 'object' ? context : {};
}

/** The evaluation of a flag that is stored but invalid: OFREP's PARSE_ERROR, with the validation messages. */
function invalidFlag(snapshot: Snapshot, key: string): OfrepFailure | undefined {
  const problems = snapshot.invalid.get(key);
  if (!problems) return undefined;
  return { key, errorCode: 'PARSE_ERROR', errorDetails: `flag "${key}" is invalid: ${problems.map(formatProblem).join('; ')}` };
}

/** What the stream tokens of the OFREP event stream are for (a token for one use is no good for another). */
export const OFREP_EVENTS_TOKEN = 'ofrep-events';

/**
 * The absolute URL of this server, for the stream URL advertised in bulk responses: `publicUrl` when configured; the
 * origin a trusted proxy forwarded (`X-Forwarded-Host`, honoured by Fastify only from `trustProxy` peers); else the
 * address the request reached (the socket's local address), never the request's `Host` header, which the caller
 * chooses.
 */
export function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  if (request.headers['x-forwarded-host'] !== undefined && request.host !== request.headers.host) return `${request.protocol}://${request.host}`;
  const socket = request.raw.socket;
  let address = socket?.localAddress ?? '127.0.0.1';
  if (address.startsWith('::ffff:')) address = address.slice('::ffff:'.length);
  const host = address.includes(':') ? `[${address}]` : address;
  const protocol = (socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
  return `${protocol}://${host}${socket?.localPort ? `:${socket.localPort}` : ''}`;
}

export function registerOfrepRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { metrics, sse } = ctx;

  app.post<{ Params: { key: string }; Body: OfrepBody }>(
    '/ofrep/v1/evaluate/flags/:key',
    {
      config: { auth: 'sdk' },
      schema: {
        tags: ['OFREP'],
        summary: 'Evaluate one flag (OFREP)',
        description:
          'OpenFeature Remote Evaluation Protocol, single flag. 404 `FLAG_NOT_FOUND` for an unknown flag, 400 with `errorCode` for other errors; `errorDetails` says what is wrong and how to fix it (e.g. ``flag `x` does not exist in this environment``, or which attribute a splitting flag needs), in the words `vexil eval` uses. A disabled flag answers reason `DISABLED` with no value (the provider serves its code default). An empty key is 404 `{message: "Not Found"}`, as GO Feature Flag answers it.',
        params: flagKeyParams,
        body: requestBody,
        response: { 200: successSchema, 400: failureSchema, 404: { anyOf: [flagNotFoundSchema, noRouteSchema] } },
      },
      // A request the fast lane read and left to this route: its body again.
      preParsing: replayedBody,
      // `POST /ofrep/v1/evaluate/flags/` is no route in GO Feature Flag (404 {message: "Not Found"}, its "Empty flag
      // key" test): answered before the key's schema would make it a 400. A key too long to be a flag is no flag
      // either: 404 FLAG_NOT_FOUND rather than the schema's 400.
      preValidation: (request, reply, done) => {
        const key = (request.params as { key?: string }).key ?? '';
        if (key !== '' && key.length <= MAX_KEY_LENGTH) return done();
        const body = key === '' ? { message: 'Not Found' } : { key, errorCode: 'FLAG_NOT_FOUND', errorDetails: flagNotFoundMessage(key) };
        reply.code(404).type('application/json; charset=utf-8').send(JSON.stringify(body));
      },
    },
    (request, reply) => {
      const key = request.params.key;
      const environment = request.environment;
      const snapshot = environment.holder.snapshot;
      const context = contextOf(request.body);
      const evaluated = [evaluate(snapshot, key, context)];
      const served = withStickyAssignments(environment.store, snapshot, evaluated, context, request.log);
      return served instanceof Promise ? served.then((details) => answer(details[0]!)) : answer(served[0]!);

      function answer(detail: EvaluationDetail) {
        metrics.recordEvaluation(snapshot.flags.has(key) ? key : UNKNOWN_FLAG, detail.variant, detail.reason);
        recordServedEvaluation(ctx, snapshot, detail, context, environment.eventsEnvironment, request.headers);
        if (detail.errorCode === undefined) return toOfrep(detail, true);
        // What is wrong and how to fix it (GO Feature Flag says `Error while evaluating the flag: <key>` for everything).
        const invalid = invalidFlag(snapshot, key);
        if (invalid) {
          request.log.debug({ evaluationErrors: [{ flag: key, errorCode: invalid.errorCode, reason: invalid.errorDetails }] }, 'evaluation errors');
          return reply.code(400).send(invalid);
        }
        logEvaluationErrors(request.log, [detail]);
        const errorDetails = errorDetailsOf(detail, detail.errorCode === 'FLAG_NOT_FOUND' ? undefined : requestHint(request.body));
        if (detail.errorCode === 'FLAG_NOT_FOUND') return reply.code(404).send({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails });
        const errorCode = OFREP_400.has(detail.errorCode) ? detail.errorCode : 'GENERAL';
        return reply.code(400).send({ key, errorCode, errorDetails });
      }
    },
  );

  app.post<{ Body: OfrepBody; Querystring: { flagConfigEtag?: string; flagConfigLastModified?: string } }>(
    '/ofrep/v1/evaluate/flags',
    {
      config: { auth: 'sdk', responseHeaders: { 200: BULK_HEADERS, 304: BULK_HEADERS } },
      schema: {
        tags: ['OFREP'],
        summary: 'Evaluate every flag (OFREP bulk)',
        description:
          'Every flag for one context, sorted by key; `gofeatureflag.flagList` in the context (a list of keys) limits the flags evaluated, as in GO Feature Flag (keys of no flag are left out). The `ETag` depends on the flag revision, the context and the result; send it back as `If-None-Match` to get 304. `eventStreams` advertises an SSE URL that sends `refetchEvaluation` when flags change (OFREP ADR-0008). A re-fetch with `flagConfigEtag` (the `etag` of that event: a revision) waits up to a second for this server to reach that revision, and is never answered 304 when this server is at another revision.',
        body: requestBody,
        querystring: {
          type: 'object',
          properties: {
            flagConfigEtag: {
              type: 'string',
              description:
                'The `etag` of the `refetchEvaluation` event that triggered this re-fetch (ADR-0008): the revision the flags changed to. Not a cache validator: this server waits (up to 1 s) until it serves that revision, and answers 200, never 304, when it serves another.',
            },
            flagConfigLastModified: { type: 'string', description: 'The `lastModified` of that event (accepted, not used).' },
          },
          additionalProperties: true,
        },
        headers: { type: 'object', properties: { 'if-none-match': { type: 'string' } } },
        response: {
          200: {
            type: 'object',
            description: "OFREP's bulkEvaluationSuccess.",
            properties: {
              flags: { type: 'array', items: { anyOf: [successSchema, failureSchema] } },
              eventStreams: { type: 'array', items: eventStreamSchema },
            },
            required: ['flags'],
          },
          304: { type: 'null', description: 'Not modified' },
          400: {
            type: 'object',
            description: "OFREP's bulkEvaluationFailure.",
            properties: { errorCode: { type: 'string' }, errorDetails: { type: 'string' } },
            required: ['errorCode'],
          },
        },
      },
    },
    async (request, reply) => {
      // ADR-0008: a re-fetch triggered by a change event of a server further ahead (another server on the same store)
      // waits until this one serves that revision, rather than answering 304 or stale flags.
      const environment = request.environment;
      const holder = environment.holder;
      const wanted = revisionOfConfigEtag(request.query.flagConfigEtag);
      if (wanted !== undefined && wanted > holder.revision) await holder.waitFor(wanted, CONFIG_ETAG_WAIT_MS);
      const snapshot = holder.snapshot;
      const context = contextOf(request.body);
      // Like GO Feature Flag, `gofeatureflag.flagList` evaluates only the listed flags that exist.
      const only = flagListOf(context);
      let details: EvaluationDetail[];
      let invalidKeys: Iterable<string>;
      if (only) {
        details = only.filter((key) => snapshot.flags.has(key)).sort().map((key) => evaluate(snapshot, key, context));
        invalidKeys = only.filter((key) => snapshot.invalid.has(key));
      } else {
        details = evaluateAll(snapshot, context);
        invalidKeys = snapshot.invalid.keys();
      }
      details = await withStickyAssignments(environment.store, snapshot, details, context, request.log);
      const flags: (OfrepSuccess | OfrepFailure)[] = [];
      const hint = requestHint(request.body);
      for (const detail of details) {
        metrics.recordEvaluation(detail.key, detail.variant, detail.reason);
        recordServedEvaluation(ctx, snapshot, detail, context, environment.eventsEnvironment, request.headers);
        const entry = toOfrep(detail, false, detail.errorCode === undefined ? undefined : errorDetailsOf(detail, hint));
        // OFREP's evaluationFailure allows four codes only.
        if ('errorCode' in entry && !OFREP_400.has(entry.errorCode)) entry.errorCode = 'GENERAL';
        flags.push(entry);
      }
      logEvaluationErrors(request.log, details);
      let withInvalid = false;
      for (const key of invalidKeys) {
        flags.push(invalidFlag(snapshot, key)!);
        withInvalid = true;
      }
      if (withInvalid) flags.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      // No secret in a URL: a short-lived token bound to the key (it stops working when the key is revoked).
      const token = request.principal ? ctx.keys.issueStreamToken(request.principal, OFREP_EVENTS_TOKEN) : undefined;
      const url = `${baseUrl(request, ctx.publicUrl)}/ofrep/v1/events${token ? `?token=${encodeURIComponent(token)}` : ''}`;
      const json = JSON.stringify({ flags, eventStreams: [{ type: 'sse', url, inactivityDelaySec: ctx.inactivityDelaySec }] });
      // The revision, the context (so that another context never gets a 304, even with the same result) and the answer.
      const digest = createHash('sha256').update(canonicalJson(context)).update('\u0000').update(json).digest('base64url');
      const revision = snapshot.revision ?? 0;
      const etag = `"${revision}-${digest.slice(0, 22)}"`;
      reply.header('etag', etag);
      reply.header('cache-control', 'private, no-cache');
      const stale = wanted !== undefined && wanted !== revision;
      if (!stale && etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(json);
    },
  );

  // OFREP's optional configuration endpoint (OFREP extensions): what providers may rely on.
  const configuration = JSON.stringify({
    name: 'vexil',
    capabilities: {
      cacheInvalidation: { polling: { enabled: true, minPollingIntervalMs: MIN_POLLING_INTERVAL_MS } },
      flagEvaluation: { supportedTypes: ['boolean', 'string', 'int', 'float', 'object'] },
    },
  });
  const configurationEtag = `"${createHash('sha256').update(`${ctx.version}\u0000${configuration}`).digest('base64url').slice(0, 22)}"`;
  app.get(
    '/ofrep/v1/configuration',
    {
      config: { auth: 'sdk', responseHeaders: { 200: { ETag: ETAG_DOC }, 304: { ETag: ETAG_DOC } } },
      schema: {
        tags: ['OFREP'],
        summary: 'OFREP provider configuration',
        description:
          'OFREP extension: the name of the flag management system and its capabilities (polling allowed every second or more; every flag type). `ETag`; 304 when `If-None-Match` matches.',
        headers: { type: 'object', properties: { 'if-none-match': { type: 'string' } } },
        response: {
          200: {
            type: 'object',
            description: "OFREP's configurationResponse.",
            properties: {
              name: { type: 'string' },
              capabilities: {
                type: 'object',
                properties: {
                  cacheInvalidation: {
                    type: 'object',
                    properties: {
                      polling: { type: 'object', properties: { enabled: { type: 'boolean' }, minPollingIntervalMs: { type: 'number' } } },
                    },
                  },
                  flagEvaluation: { type: 'object', properties: { supportedTypes: { type: 'array', items: { type: 'string' } } } },
                },
              },
            },
          },
          304: { type: 'null', description: 'Not modified' },
        },
      },
    },
    (request, reply) => {
      reply.header('etag', configurationEtag);
      if (etagMatches(request.headers['if-none-match'], configurationEtag)) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(configuration);
    },
  );

  // OFREP ADR-0008: change notifications for static-context (browser) providers.
  app.get<{ Querystring: { key?: string } }>(
    '/ofrep/v1/events',
    {
      exposeHeadRoute: false,
      config: { auth: 'sdk', queryKey: true, streamToken: OFREP_EVENTS_TOKEN, rateLimit: false, produces: 'text/event-stream' },
      schema: {
        tags: ['OFREP'],
        summary: 'Flag change notifications (OFREP SSE)',
        description:
          'Server-sent events: `event: message` with data `{"type":"refetchEvaluation","etag":"<revision>","lastModified":<unix seconds>}` whenever flags change (id: the revision); comment heartbeats in between. A `Last-Event-ID` other than the current revision gets one `refetchEvaluation` at once. The URL advertised in bulk answers carries a stream token (`?token=`); a key may also be given as `?key=` because browsers cannot set headers on EventSource.',
        querystring: { type: 'object', properties: { key: { type: 'string' }, token: { type: 'string' } }, additionalProperties: true },
      },
    },
    (request: FastifyRequest, reply: FastifyReply) => {
      const { holder, name } = request.environment;
      const client = sse.open(request, reply, 'ofrep', undefined, name);
      const lastEventId = request.headers['last-event-id'];
      client.lastSent = holder.revision;
      // Any other revision than the current one (older, or ahead: a server restarted on a fresh store) may have
      // missed a change: re-fetch once now (the bulk ETag makes it cheap when nothing changed).
      if (typeof lastEventId === 'string' && lastEventId.trim() !== '' && lastEventId.trim() !== String(holder.revision)) {
        client.write(refetchMessage(holder.revision));
      }
    },
  );

  // Each environment's changes reach only the streams of keys serving that environment.
  ctx.environments.each(({ holder, name }) => {
    const onChange = (change: SnapshotChange) => {
      if (sse.count('ofrep', name) === 0) return;
      // A store that went back in time (reset, restored): its revisions start lower, and every client must refetch.
      if (change.resync && change.revision < change.previousRevision) for (const client of sse.clients('ofrep', name)) client.lastSent = 0;
      sse.broadcast('ofrep', refetchMessage(change.revision), change.revision, name);
    };
    holder.on('change', onChange);
    return () => {
      holder.off('change', onChange);
      for (const client of [...sse.clients('ofrep', name)]) client.close(true);
    };
  });
}

function refetchMessage(revision: number): string {
  return sseMessage('message', revision, JSON.stringify({ type: 'refetchEvaluation', etag: String(revision), lastModified: Math.floor(Date.now() / 1000) }));
}

