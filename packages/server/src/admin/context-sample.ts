import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EvaluationContext } from '@vexil/core';
import type { ServerContext } from '../context.js';
import { relayContext } from '../relay/routes.js';
import { flagKeyParams, looseObject } from '../http/schemas.js';

/**
 * A sample of recently evaluated contexts, so the admin page can show, before a change is saved, how many of them
 * would get another variation (it evaluates the old and the new flag on them in the browser).
 *
 * The evaluation routes only drop a reference to the request body into a fixed ring (no copy, no serialisation on
 * the hot path); contexts are extracted, filtered by flag and de-duplicated when the admin API reads them.
 * The sample lives in this process's memory only and is readable with an admin key (reader role and up).
 */

type Source = 'ofrep' | 'relay';

interface Entry {
  source: Source;
  /** The flag evaluated, or undefined for a bulk evaluation (every flag). */
  flag: string | undefined;
  body: unknown;
}

/** The routes whose bodies carry an evaluation context, and how to read it. */
const ROUTES: Record<string, { source: Source; single: boolean }> = {
  '/ofrep/v1/evaluate/flags/:key': { source: 'ofrep', single: true },
  '/ofrep/v1/evaluate/flags': { source: 'ofrep', single: false },
  '/v1/feature/:key/eval': { source: 'relay', single: true },
  '/v1/allflags': { source: 'relay', single: false },
};

/** Contexts larger than this (as JSON) are left out of the sample. */
const MAX_CONTEXT_CHARS = 8 * 1024;

export class ContextSample {
  readonly #ring: Array<Entry | undefined>;
  #next = 0;
  #recorded = 0;

  constructor(readonly size = 1000) {
    this.#ring = new Array<Entry | undefined>(size);
  }

  /** Evaluations recorded since start (the sample holds the last `size` of them). */
  get recorded(): number {
    return this.#recorded;
  }

  record(source: Source, flag: string | undefined, body: unknown): void {
    if (this.size === 0) return;
    this.#ring[this.#next] = { source, flag, body };
    this.#next = (this.#next + 1) % this.size;
    this.#recorded += 1;
  }

  /** Distinct contexts that evaluated `flag` (alone or in a bulk evaluation), newest first. */
  contexts(flag: string, limit = this.size): EvaluationContext[] {
    const out: EvaluationContext[] = [];
    const seen = new Set<string>();
    for (let i = 1; i <= this.size && out.length < limit; i++) {
      const entry = this.#ring[(this.#next - i + this.size) % this.size];
      if (!entry) break;
      if (entry.flag !== undefined && entry.flag !== flag) continue;
      const context = extract(entry);
      if (!context) continue;
      const text = JSON.stringify(context);
      if (text.length > MAX_CONTEXT_CHARS || seen.has(text)) continue;
      seen.add(text);
      out.push(context);
    }
    return out;
  }
}

function extract(entry: Entry): EvaluationContext | undefined {
  try {
    if (entry.source === 'relay') return relayContext(entry.body as Parameters<typeof relayContext>[0]);
    const context = (entry.body as { context?: unknown } | null | undefined)?.context;
    return context !== null && typeof context === 'object' && !Array.isArray(context) ? (context as EvaluationContext) : {};
  } catch {
    return undefined;
  }
}

/**
 * Records the contexts of evaluation requests and serves `GET /admin/v1/flags/:key/contexts`. Call it from
 * `buildServer` next to the other route modules (`registerContextSample(app, ctx)`); `size` 0 turns it off.
 */
export function registerContextSample(app: FastifyInstance, _ctx: ServerContext, options: { size?: number } = {}): ContextSample {
  const sample = new ContextSample(options.size ?? 1000);

  app.addHook('preHandler', (request: FastifyRequest, _reply, done: () => void) => {
    const route = ROUTES[request.routeOptions.url ?? ''];
    if (route) sample.record(route.source, route.single ? (request.params as { key?: string }).key : undefined, request.body);
    done();
  });

  app.get<{ Params: { key: string }; Querystring: { limit?: number } }>(
    '/admin/v1/flags/:key/contexts',
    {
      config: { auth: 'reader' },
      schema: {
        tags: ['Admin'],
        summary: 'Recently evaluated contexts of a flag',
        description:
          'Distinct evaluation contexts this server saw last for the flag (alone or in bulk evaluations), newest first, from a sample of the last 1,000 evaluations. The admin page replays them to show how many would change variation before a change is saved.',
        params: flagKeyParams,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              key: { type: 'string' },
              contexts: { type: 'array', items: looseObject },
              recorded: { type: 'integer', description: 'Evaluations recorded by this server since it started.' },
              sampleSize: { type: 'integer' },
            },
          },
        },
      },
    },
    (request) => ({
      key: request.params.key,
      contexts: sample.contexts(request.params.key, request.query.limit ?? sample.size),
      recorded: sample.recorded,
      sampleSize: sample.size,
    }),
  );
  return sample;
}
