import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EvaluationContext } from '@vexil/core';
import { environmentRoutes } from '../environments/request.js';
import type { ServerContext } from '../context.js';
import { relayContext } from '../relay/routes.js';
import { flagKeyParams, looseObject } from '../http/schemas.js';
import { parseJsonBody } from '../http/body.js';

/**
 * A sample of recently evaluated contexts, so the admin page can show, before a change is saved, how many of them
 * would get another variation (it evaluates the old and the new flag on them in the browser).
 *
 * Memory is bounded whatever the requests: the evaluation routes keep the request's JSON text only when it is small
 * (at most `maxEntryChars`; the text, not the parsed body, which takes several times more), the ring holds at most
 * `size` entries and `maxTotalChars` characters in all (oldest entries go first). Contexts are parsed, filtered by
 * flag and de-duplicated when the admin API reads them. The sample lives in this process's memory only and is
 * readable with an admin key (reader role and up).
 */

type Source = 'ofrep' | 'relay';

interface Entry {
  source: Source;
  /** The flag evaluated, or undefined for a bulk evaluation (every flag). */
  flag: string | undefined;
  /** The request body as JSON text ('' for none). */
  text: string;
}

/** The routes whose bodies carry an evaluation context, and how to read it. */
const ROUTES: Record<string, { source: Source; single: boolean }> = {
  '/ofrep/v1/evaluate/flags/:key': { source: 'ofrep', single: true },
  '/ofrep/v1/evaluate/flags': { source: 'ofrep', single: false },
  '/v1/feature/:key/eval': { source: 'relay', single: true },
  '/v1/allflags': { source: 'relay', single: false },
};

export const DEFAULT_CONTEXT_SAMPLE_SIZE = 1000;
/** Requests larger than this (JSON characters) are not sampled. */
export const DEFAULT_CONTEXT_SAMPLE_ENTRY_CHARS = 8 * 1024;
/** The whole sample holds at most this many characters of JSON (about 2 bytes each in memory). */
export const DEFAULT_CONTEXT_SAMPLE_TOTAL_CHARS = 2 * 1024 * 1024;

export interface ContextSampleOptions {
  /** Entries kept. Default 1000; 0 turns the sample off. */
  size?: number;
  /** Largest request sampled, in characters of JSON. Default 8 KiB. */
  maxEntryChars?: number;
  /** Characters kept in all. Default 2 Mi. */
  maxTotalChars?: number;
}

export class ContextSample {
  readonly size: number;
  readonly maxEntryChars: number;
  readonly maxTotalChars: number;
  readonly #ring: Array<Entry | undefined>;
  /** Where the next entry goes. */
  #next = 0;
  /** Entries held, counted back from `#next`. */
  #held = 0;
  #chars = 0;
  #recorded = 0;
  #skipped = 0;

  constructor(options: ContextSampleOptions | number = {}) {
    const resolved = typeof options === 'number' ? { size: options } : options;
    this.size = resolved.size ?? DEFAULT_CONTEXT_SAMPLE_SIZE;
    this.maxEntryChars = resolved.maxEntryChars ?? DEFAULT_CONTEXT_SAMPLE_ENTRY_CHARS;
    this.maxTotalChars = resolved.maxTotalChars ?? DEFAULT_CONTEXT_SAMPLE_TOTAL_CHARS;
    this.#ring = new Array<Entry | undefined>(this.size);
  }

  /** Evaluations recorded since start (the sample holds the last `size` of them). */
  get recorded(): number {
    return this.#recorded;
  }

  /** Evaluations left out because their request was larger than `maxEntryChars`. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Characters of JSON held now (at most `maxTotalChars`). */
  get chars(): number {
    return this.#chars;
  }

  /** Records one evaluation request from its JSON text (`''` or undefined: no body). */
  record(source: Source, flag: string | undefined, text: string | undefined): void {
    if (this.size === 0) return;
    const body = text ?? '';
    if (body.length > this.maxEntryChars || body.length > this.maxTotalChars) {
      this.#skipped += 1;
      return;
    }
    const replaced = this.#ring[this.#next];
    if (replaced && this.#held === this.size) {
      this.#chars -= replaced.text.length;
      this.#held -= 1;
    }
    this.#ring[this.#next] = { source, flag, text: body };
    this.#next = (this.#next + 1) % this.size;
    this.#held += 1;
    this.#chars += body.length;
    this.#recorded += 1;
    // Over the total: drop the oldest entries.
    while (this.#chars > this.maxTotalChars && this.#held > 1) {
      const oldest = (this.#next - this.#held + this.size) % this.size;
      this.#chars -= this.#ring[oldest]!.text.length;
      this.#ring[oldest] = undefined;
      this.#held -= 1;
    }
  }

  /** Distinct contexts that evaluated `flag` (alone or in a bulk evaluation), newest first. */
  contexts(flag: string, limit = this.size): EvaluationContext[] {
    const out: EvaluationContext[] = [];
    const seen = new Set<string>();
    for (let i = 1; i <= this.#held && out.length < limit; i++) {
      const entry = this.#ring[(this.#next - i + this.size) % this.size];
      if (!entry) break;
      if (entry.flag !== undefined && entry.flag !== flag) continue;
      const context = extract(entry);
      if (!context) continue;
      const text = JSON.stringify(context);
      if (seen.has(text)) continue;
      seen.add(text);
      out.push(context);
    }
    return out;
  }
}

function extract(entry: Entry): EvaluationContext | undefined {
  try {
    // The same parser as the routes (depth limit, prototype keys removed).
    const body = parseJsonBody(entry.text);
    if (entry.source === 'relay') return relayContext(body as Parameters<typeof relayContext>[0]);
    const context = (body as { context?: unknown } | null | undefined)?.context;
    return context !== null && typeof context === 'object' && !Array.isArray(context) ? (context as EvaluationContext) : {};
  } catch {
    return undefined;
  }
}

/**
 * Records the contexts of evaluation requests and serves `GET /admin/v1/flags/:key/contexts`. Call it from
 * `buildServer` next to the other route modules (`registerContextSample(app, ctx)`); `size` 0 turns it off.
 */
/** Records one evaluation request's JSON text in its environment's sample (for evaluations answered outside Fastify). */
export type RecordContext = (environment: string, source: Source, flag: string | undefined, text: string) => void;

export function registerContextSample(app: FastifyInstance, ctx: ServerContext, options: ContextSampleOptions = {}): RecordContext {
  // One sample per environment (created at its first evaluation): a flag's impact preview replays that environment's users.
  const samples = new Map<string, ContextSample>();
  const sampleOf = (environment: string): ContextSample => {
    let sample = samples.get(environment);
    if (!sample) samples.set(environment, (sample = new ContextSample(options)));
    return sample;
  };
  const defaultSample = sampleOf(ctx.environments.defaultScope.name);
  ctx.environments.each((scope) => () => void samples.delete(scope.name));

  app.addHook('preHandler', (request: FastifyRequest, _reply, done: () => void) => {
    const route = ROUTES[request.routeOptions.url ?? ''];
    // The text as received, not the parsed body: a reference to the parsed body would keep all of it alive.
    if (route && defaultSample.size > 0)
      sampleOf(request.environment?.name ?? ctx.environments.defaultScope.name).record(route.source, route.single ? (request.params as { key?: string }).key : undefined, request.rawBody);
    done();
  });

  environmentRoutes(app).get<{ Params: { key: string }; Querystring: { limit?: number } }>(
    '/admin/v1/flags/:key/contexts',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: 'Recently evaluated contexts of a flag',
        description:
          'Distinct evaluation contexts this server saw last for the flag in this environment (alone or in bulk evaluations), newest first, from a sample of the last evaluations (by default 1,000, and requests of at most 8 KiB). The admin page replays them to show how many would change variation before a change is saved.',
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
    (request) => {
      // An environment with no evaluation yet has no sample of its own: nothing recorded.
      const mine = samples.get(request.environment.name);
      return {
        key: request.params.key,
        contexts: mine ? mine.contexts(request.params.key, request.query.limit ?? mine.size) : [],
        recorded: mine?.recorded ?? 0,
        sampleSize: defaultSample.size,
      };
    },
  );
  return (environment, source, flag, text) => {
    if (defaultSample.size > 0) sampleOf(environment).record(source, flag, text);
  };
}
