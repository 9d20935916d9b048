// `GET /admin/v1/flags/{key}/experiment`: the results of the flag's experiment, from the events store.
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { errorSchema, flagKeyParams, looseObject } from '../http/schemas.js';
import { experimentResults } from './results.js';
import { environmentRoutes } from '../environments/request.js';

export function registerExperimentRoutes(app: FastifyInstance, ctx: ServerContext, clock: () => number = Date.now): void {
  environmentRoutes(app).get<{ Params: { key: string }; Querystring: { environment?: string } }>(
    '/admin/v1/flags/:key/experiment',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Events'],
        summary: "Results of a flag's experiment",
        description:
          "Per metric of the flag's `experiment` block and per variation: units, conversions or mean, relative uplift against the control with its interval, p-value (frequentist, with the Holm or Benjamini-Hochberg correction across goal metrics) or chance to win and risk (Bayesian); exposures per variation; warnings: srm, multiple_exposures, too_little_data, peeking, unknown_variations.",
        params: flagKeyParams,
        querystring: { type: 'object', properties: { environment: { type: 'string', description: "The events store's environment (default: the request's environment, `default` on today's paths)." } } },
        response: { 200: looseObject, 404: errorSchema, 409: errorSchema, 503: errorSchema },
      },
    },
    async (request) => {
      const key = request.params.key;
      const stored = await request.environment.store.get(key);
      if (!stored) throw new HttpError(404, 'not_found', `flag "${key}" does not exist`, { key });
      if (!stored.flag.experiment) throw new HttpError(404, 'no_experiment', `flag "${key}" has no experiment block`, { key });
      const events = ctx.events?.store;
      if (!events) throw new HttpError(409, 'events_off', 'this server keeps no events: start it with --events (or VEXIL_EVENTS)');
      try {
        return await experimentResults(events, key, stored.flag, { now: clock(), environment: request.query.environment || request.environment.eventsEnvironment });
      } catch (error) {
        throw new HttpError(503, 'events_unavailable', `the events store did not answer: ${(error as Error).message}`, undefined, { 'retry-after': '5' });
      }
    },
  );
}
