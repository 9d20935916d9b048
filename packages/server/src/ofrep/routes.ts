import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { evaluate, evaluateAll, formatProblem, type EvaluationContext, type EvaluationDetail, type Snapshot } from '@vexil/core';
import type { ServerContext } from '../context.js';
import { UNKNOWN_FLAG } from '../metrics/metrics.js';
import { flagKeyParams, metadataSchema, anyValue } from '../http/schemas.js';
import { sseMessage } from '../stream/sse.js';
import type { SnapshotChange } from '../snapshot/holder.js';
import { toOfrep, type OfrepFailure, type OfrepSuccess } from './mapping.js';
import { etagMatches } from '../http/etag.js';
import { flagListOf, goffErrorDetails, goffOfrepErrorDetails, logEvaluationErrors } from '../relay/goff-errors.js';

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

const failureSchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    errorCode: { type: 'string' },
    errorDetails: { type: 'string' },
    metadata: metadataSchema,
  },
  required: ['key', 'errorCode'],
} as const;

/** GO Feature Flag's answer to `POST /ofrep/v1/evaluate/flags/` (no key): the route does not exist there. */
const noRouteSchema = {
  type: 'object',
  description: 'An empty flag key (`POST /ofrep/v1/evaluate/flags/`), answered as GO Feature Flag does.',
  properties: { message: { type: 'string' } },
  required: ['message'],
} as const;

/** Codes OFREP allows on a 400 (`evaluationFailure`); anything else is GENERAL. */
const OFREP_400 = new Set(['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL']);

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

/** The absolute URL of this server, for the stream URL advertised in bulk responses. */
export function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.host}`;
}

export function registerOfrepRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { holder, metrics, sse } = ctx;

  app.post<{ Params: { key: string }; Body: OfrepBody }>(
    '/ofrep/v1/evaluate/flags/:key',
    {
      config: { auth: 'sdk' },
      schema: {
        tags: ['OFREP'],
        summary: 'Evaluate one flag (OFREP)',
        description:
          'OpenFeature Remote Evaluation Protocol, single flag. 404 `FLAG_NOT_FOUND` for an unknown flag, 400 with `errorCode` for other errors; `errorDetails` is GO Feature Flag\'s `Error while evaluating the flag: <key>` (the reason is in the debug log and the admin playground). A disabled flag answers reason `DISABLED` with no value (the provider serves its code default). An empty key is 404 `{message: "Not Found"}`, as GO Feature Flag answers it.',
        params: flagKeyParams,
        body: requestBody,
        response: { 200: successSchema, 400: failureSchema, 404: { anyOf: [failureSchema, noRouteSchema] } },
      },
      // `POST /ofrep/v1/evaluate/flags/` is no route in GO Feature Flag (404 {message: "Not Found"}, its "Empty flag
      // key" test): answered before the key's schema would make it a 400.
      preValidation: (request, reply, done) => {
        if ((request.params as { key?: string }).key !== '') return done();
        reply.code(404).type('application/json; charset=utf-8').send(JSON.stringify({ message: 'Not Found' }));
      },
    },
    (request, reply) => {
      const key = request.params.key;
      const snapshot = holder.snapshot;
      const detail = evaluate(snapshot, key, contextOf(request.body));
      metrics.recordEvaluation(snapshot.flags.has(key) ? key : UNKNOWN_FLAG, detail.variant, detail.reason);
      if (detail.errorCode === undefined) return toOfrep(detail, true);
      // GO Feature Flag's words for every evaluation error; Vexil's reason goes to the debug log.
      const errorDetails = goffOfrepErrorDetails(key);
      const invalid = invalidFlag(snapshot, key);
      if (invalid) {
        request.log.debug({ evaluationErrors: [{ flag: key, errorCode: invalid.errorCode, reason: invalid.errorDetails }] }, 'evaluation errors');
        return reply.code(400).send({ key, errorCode: invalid.errorCode, errorDetails });
      }
      logEvaluationErrors(request.log, [detail]);
      if (detail.errorCode === 'FLAG_NOT_FOUND') return reply.code(404).send({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails });
      const errorCode = OFREP_400.has(detail.errorCode) ? detail.errorCode : 'GENERAL';
      return reply.code(400).send({ key, errorCode, errorDetails });
    },
  );

  app.post<{ Body: OfrepBody; Querystring: Record<string, string> }>(
    '/ofrep/v1/evaluate/flags',
    {
      config: { auth: 'sdk' },
      schema: {
        tags: ['OFREP'],
        summary: 'Evaluate every flag (OFREP bulk)',
        description:
          'Every flag for one context, sorted by key; `gofeatureflag.flagList` in the context (a list of keys) limits the flags evaluated, as in GO Feature Flag (keys of no flag are left out). The `ETag` depends on the flag revision and the result for this context; send it back as `If-None-Match` to get 304. `eventStreams` advertises an SSE URL that sends `refetchEvaluation` when flags change (OFREP ADR-0008).',
        body: requestBody,
        querystring: {
          type: 'object',
          properties: {
            flagConfigEtag: { type: 'string', description: 'Sent by providers on SSE-triggered re-fetches (ignored).' },
            flagConfigLastModified: { type: 'string', description: 'Sent by providers on SSE-triggered re-fetches (ignored).' },
          },
          additionalProperties: true,
        },
        headers: { type: 'object', properties: { 'if-none-match': { type: 'string' } } },
        response: {
          200: {
            type: 'object',
            properties: {
              flags: { type: 'array', items: { anyOf: [successSchema, failureSchema] } },
              eventStreams: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { type: { type: 'string' }, url: { type: 'string' }, inactivityDelaySec: { type: 'integer' } },
                },
              },
            },
          },
          304: { type: 'null', description: 'Not modified' },
        },
      },
    },
    (request, reply) => {
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
      const flags: (OfrepSuccess | OfrepFailure)[] = [];
      for (const detail of details) {
        metrics.recordEvaluation(detail.key, detail.variant, detail.reason);
        flags.push(toOfrep(detail, false, goffErrorDetails(snapshot, detail, context)));
      }
      logEvaluationErrors(request.log, details);
      let withInvalid = false;
      for (const key of invalidKeys) {
        flags.push(invalidFlag(snapshot, key)!);
        withInvalid = true;
      }
      if (withInvalid) flags.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const secret = request.presentedKey;
      const url = `${baseUrl(request, ctx.publicUrl)}/ofrep/v1/events${secret ? `?key=${encodeURIComponent(secret)}` : ''}`;
      const json = JSON.stringify({ flags, eventStreams: [{ type: 'sse', url, inactivityDelaySec: ctx.inactivityDelaySec }] });
      const etag = `"${snapshot.revision ?? 0}-${createHash('sha256').update(json).digest('base64url').slice(0, 22)}"`;
      reply.header('etag', etag);
      reply.header('cache-control', 'private, no-cache');
      if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(json);
    },
  );

  // OFREP ADR-0008: change notifications for static-context (browser) providers.
  app.get<{ Querystring: { key?: string } }>(
    '/ofrep/v1/events',
    {
      exposeHeadRoute: false,
      config: { auth: 'sdk', queryKey: true, rateLimit: false },
      schema: {
        tags: ['OFREP'],
        summary: 'Flag change notifications (OFREP SSE)',
        description:
          'Server-sent events: `event: message` with data `{"type":"refetchEvaluation","etag":"<revision>","lastModified":<unix seconds>}` whenever flags change (id: the revision); comment heartbeats in between. A `Last-Event-ID` other than the current revision gets one `refetchEvaluation` at once. The key may be given as `?key=` because browsers cannot set headers on EventSource.',
        querystring: { type: 'object', properties: { key: { type: 'string' } }, additionalProperties: true },
      },
    },
    (request: FastifyRequest, reply: FastifyReply) => {
      const client = sse.open(request, reply, 'ofrep');
      const lastEventId = request.headers['last-event-id'];
      client.lastSent = holder.revision;
      // Any other revision than the current one (older, or ahead: a server restarted on a fresh store) may have
      // missed a change: re-fetch once now (the bulk ETag makes it cheap when nothing changed).
      if (typeof lastEventId === 'string' && lastEventId.trim() !== '' && lastEventId.trim() !== String(holder.revision)) {
        client.write(refetchMessage(holder.revision));
      }
    },
  );

  holder.on('change', (change: SnapshotChange) => {
    if (sse.count('ofrep') === 0) return;
    sse.broadcast('ofrep', refetchMessage(change.revision), change.revision);
  });
}

function refetchMessage(revision: number): string {
  return sseMessage('message', revision, JSON.stringify({ type: 'refetchEvaluation', etag: String(revision), lastModified: Math.floor(Date.now() / 1000) }));
}

