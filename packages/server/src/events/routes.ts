import type { FastifyInstance } from 'fastify';
import { parseTimeArg, type EventsStore } from '@vexil/store';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { flagKeyParams, looseObject } from '../http/schemas.js';
import { environmentRoutes } from '../environments/request.js';

interface RangeQuery {
  since?: string;
  until?: string;
  environment?: string;
}

const rangeQuery = {
  since: { type: 'string', description: 'A duration back from now (30s, 15m, 1h, 7d) or an ISO 8601 date. Default 1h.' },
  until: { type: 'string', description: 'Same forms. Default now.' },
  environment: { type: 'string', description: "The events store's environment (default: the request's environment, `default` on today's paths)." },
} as const;

function range(query: RangeQuery, environment: string): { since: number; until: number; environment: string } {
  const now = Date.now();
  try {
    const since = parseTimeArg(query.since ?? '1h', 'since', now);
    const until = query.until === undefined ? now : parseTimeArg(query.until, 'until', now);
    if (since >= until) throw new TypeError('since must be before until');
    return { since, until, environment: query.environment || environment };
  } catch (error) {
    throw new HttpError(400, 'bad_request', (error as Error).message);
  }
}

/** Runs a query on the events store: 409 when this server keeps no events, 503 when the store does not answer. */
async function query<T>(ctx: ServerContext, run: (store: EventsStore) => Promise<T>): Promise<T> {
  const store = ctx.events?.store;
  if (!store) throw new HttpError(409, 'events_off', 'this server keeps no events: start it with --events (or VEXIL_EVENTS)');
  try {
    return await run(store);
  } catch (error) {
    if (error instanceof TypeError) throw new HttpError(400, 'bad_request', error.message);
    throw new HttpError(503, 'events_unavailable', `the events store did not answer: ${(error as Error).message}`, undefined, { 'retry-after': '5' });
  }
}

/** Admin API over the events store: per flag series, per metric summaries, per unit first exposures. */
export function registerEventsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const perEnvironment = environmentRoutes(app);
  perEnvironment.get<{ Params: { key: string }; Querystring: RangeQuery & { step?: number } }>(
    '/admin/v1/flags/:key/events',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Events'],
        summary: 'Evaluations and distinct units of a flag, per variation, over time',
        description:
          'From the events store: per variation, evaluations, distinct units (exact up to 256 a minute, then HyperLogLog, about 1.6 % error) and errors by code over the range, and the same per step (`stepMinutes`, chosen for about 60 to 120 points unless `step` is given).',
        params: flagKeyParams,
        querystring: { type: 'object', properties: { ...rangeQuery, step: { type: 'integer', minimum: 1, maximum: 10_080 } } },
        response: { 200: looseObject },
      },
    },
    (request) => {
      const r = range(request.query, request.environment.eventsEnvironment);
      return query(ctx, (store) => store.flagSummary(request.params.key, { ...r, ...(request.query.step ? { stepMinutes: request.query.step } : {}) }));
    },
  );

  perEnvironment.get<{ Params: { key: string }; Querystring: { since?: string; after?: string; limit?: number; environment?: string } }>(
    '/admin/v1/flags/:key/exposures',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Events'],
        summary: 'Per unit first exposure of a flag (experiments)',
        description: 'One row per unit exposed: its first variation, every variation it saw, first and last exposure; ordered by unit, paged with `after`.',
        params: flagKeyParams,
        querystring: {
          type: 'object',
          properties: {
            since: { type: 'string', description: 'Only units first exposed since (duration or ISO 8601).' },
            after: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
            environment: rangeQuery.environment,
          },
        },
        response: { 200: looseObject },
      },
    },
    async (request) => {
      let since: number | undefined;
      try {
        since = request.query.since === undefined ? undefined : parseTimeArg(request.query.since, 'since');
      } catch (error) {
        throw new HttpError(400, 'bad_request', (error as Error).message);
      }
      const units = await query(ctx, (store) =>
        store.firstExposures({
          flag: request.params.key,
          ...(since !== undefined ? { since } : {}),
          ...(request.query.after ? { after: request.query.after } : {}),
          ...(request.query.limit ? { limit: request.query.limit } : {}),
          environment: request.query.environment || request.environment.eventsEnvironment,
        }),
      );
      return { units, ...(units.length > 0 && units.length === (request.query.limit ?? 1000) ? { next: units[units.length - 1]!.unit } : {}) };
    },
  );

  perEnvironment.get<{ Params: { event: string }; Querystring: RangeQuery & { flag?: string; by?: 'variation' | 'none' } }>(
    '/admin/v1/metrics/:event',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Events'],
        summary: 'A tracked metric: count, error rate, mean and percentiles, per variation',
        description:
          'From the events store. With `flag`, only events of units exposed to the flag (before the event), attributed to the variation each unit saw first; `by=variation` gives one row per variation. `errorRate` = errors ÷ events; `errorsPerExposedUnit` = errors ÷ distinct units exposed to the variation in the interval. Percentiles (p50, p95, p99) come from merged DDSketches (1 % relative accuracy).',
        params: { type: 'object', properties: { event: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['event'] },
        querystring: {
          type: 'object',
          properties: { ...rangeQuery, flag: { type: 'string', maxLength: 256 }, by: { type: 'string', enum: ['variation', 'none'] } },
        },
        response: { 200: looseObject },
      },
    },
    (request) => {
      const r = range(request.query, request.environment.eventsEnvironment);
      const by = request.query.by ?? (request.query.flag ? 'variation' : 'none');
      if (by === 'variation' && !request.query.flag) throw new HttpError(400, 'bad_request', 'by=variation needs flag=<key>');
      return query(ctx, (store) =>
        store.metricSummary({ metric: request.params.event, ...r, by, ...(request.query.flag ? { flag: request.query.flag } : {}) }),
      );
    },
  );
}
