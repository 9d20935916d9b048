import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { evaluate, type EvaluationContext, type EvaluationDetail, type Snapshot } from '@vexil/core';
import type { ServerContext } from '../context.js';
import type { EnvironmentScope } from '../environments/registry.js';
import { environmentOfKey } from '../environments/request.js';
import { keyFromHeaders } from '../auth/hook.js';
import { parseJsonBody } from '../http/body.js';
import type { RateWindows } from '../http/rate-windows.js';
import { rateLimitKey } from '../http/client-address.js';
import type { AuthFailureLimiter } from '../auth/failure-limiter.js';
import { recordServedEvaluation } from '../events/served.js';
import { withStickyAssignments, type StickyLog } from '../experiments/sticky-assignments.js';
import { toOfrep } from './mapping.js';

/**
 * OFREP's single-flag evaluation without Fastify's request cycle: the route SDKs call most, answered straight from the
 * Node request, skipping Fastify's request and reply objects, its eight hooks, schema validation and serialisation
 * (in `npm run bench -- server.bench`, two thirds of the CPU per request of the relay route, which goes through them,
 * and about as much as a bare Fastify route answering a constant).
 *
 * It answers only the plain case, with the same checks, headers, metrics, events and context sample as the route
 * (ofrep/routes.ts): a POST with a JSON body and an API key, a flag key of plain characters, no log line to write,
 * and an evaluation without error. Anything else goes to Fastify unchanged — decided from the headers before the body
 * is read, or, once the body is read (it is not valid JSON or not OFREP's shape, the evaluation failed), by giving
 * Fastify the body again (`replayedBody`): every error keeps the route's exact answer.
 */

const PATH = /^\/ofrep\/v1\/evaluate\/flags\/([A-Za-z0-9._~-]{1,256})$/;
const ROUTE = '/ofrep/v1/evaluate/flags/:key';
/** Bodies larger than this go through Fastify (a context of a few hundred bytes is the norm). */
const MAX_FAST_BODY = 64 * 1024;
const BODY = Symbol('vexil.fastLaneBody');

type WithBody = IncomingMessage & { [BODY]?: Buffer };

export interface FastLaneOptions {
  ctx: ServerContext;
  /** `Access-Control-Expose-Headers` as the CORS plugin sends it (the lane runs only with the default origin `*`). */
  exposedHeaders: string;
  nextRequestId: () => string;
  /** The rate limit's windows and settings; undefined: no rate limit. */
  rateLimit?: { windows: RateWindows; max: number; timeWindowMs: number };
  /** The limit on failed authentications, and whether addresses come from a trusted proxy's headers. */
  failures?: AuthFailureLimiter;
  trustProxy: boolean;
  /** The client's address as Fastify's `request.ip` reads it (http/client-address.ts). */
  clientAddress: (req: IncomingMessage) => string;
  log: StickyLog;
  /** True when a line would be logged for an evaluation (debug level): Fastify then logs it. */
  logsEvaluations: () => boolean;
  /** True once the server is closing: Fastify answers with `Connection: close` or 503. */
  closing: () => boolean;
  recordContext: (environment: string, flag: string, text: string) => void;
}

/** A successful answer's JSON text and what it was made from. */
interface AnswerText {
  key: string;
  variant: string | undefined;
  reason: string;
  cacheable: boolean | undefined;
  value: unknown;
  text: string;
}

/** Answers kept per metadata object: a flag's variants and reasons, a few in practice. */
const ANSWERS_PER_METADATA = 32;

/**
 * The JSON text of successful answers, kept per flag metadata object (the core shares one frozen object per flag and
 * per named rule) and per key, variant, reason and value: most requests get a text already made. Checked against the
 * detail each time (the value by identity), so a changed flag never gets an old text.
 */
class AnswerTexts {
  readonly #byMetadata = new WeakMap<object, AnswerText[]>();

  text(detail: EvaluationDetail): string {
    let texts = this.#byMetadata.get(detail.flagMetadata);
    if (texts === undefined) this.#byMetadata.set(detail.flagMetadata, (texts = []));
    // A scan of a few entries: cheaper than building a string key per request.
    for (const kept of texts) {
      if (kept.value === detail.value && kept.variant === detail.variant && kept.reason === detail.reason && kept.key === detail.key && kept.cacheable === detail.cacheable)
        return kept.text;
    }
    // The route's answer, byte for byte (`toOfrep` lists the fields in the order the route's serialiser writes them).
    const text = JSON.stringify(toOfrep(detail, true));
    // Flags without metadata may share one object, and object values are new each evaluation: bounded all the same.
    if (texts.length >= ANSWERS_PER_METADATA) texts.shift();
    texts.push({ key: detail.key, variant: detail.variant, reason: detail.reason, cacheable: detail.cacheable, value: detail.value, text });
    return text;
  }
}

export class OfrepFastLane {
  readonly #answers = new AnswerTexts();

  /** Evaluations answered here rather than by Fastify. */
  answered = 0;

  constructor(private readonly options: FastLaneOptions) {}

  /** Takes the request (true) or leaves it, untouched, to Fastify (false). */
  handle(req: IncomingMessage, res: ServerResponse, fallback: (req: IncomingMessage, res: ServerResponse) => void): boolean {
    if (req.method !== 'POST') return false;
    const url = req.url;
    if (url === undefined || !url.startsWith('/ofrep/v1/evaluate/flags/')) return false;
    const match = PATH.exec(url);
    if (match === null) return false;
    const headers = req.headers;
    const type = headers['content-type'];
    if (type !== 'application/json' && type?.toLowerCase().replace(/\s+/g, '') !== 'application/json;charset=utf-8') return false;
    const length = Number(headers['content-length']);
    if (!(length >= 0 && length <= MAX_FAST_BODY) || headers['transfer-encoding'] !== undefined) return false;
    const options = this.options;
    if (options.closing() || options.logsEvaluations() || this.#mayBeLimited(req)) return false;
    // The key, as the auth hook reads it; an unknown one is Fastify's to refuse (and count as a failure).
    const secret = keyFromHeaders(headers);
    if (secret === undefined) return false;
    const ctx = options.ctx;
    const principal = ctx.keys.authenticate(secret);
    if (principal === undefined) return false;
    const served = environmentOfKey(principal);
    // An environment not open yet is opened by the route.
    const environment = served === undefined ? ctx.environments.defaultScope : ctx.environments.cached(served);
    if (environment === undefined) return false;
    let rateHeaders: string[] | undefined;
    let rateKey: string | undefined;
    if (options.rateLimit) {
      const { windows, max, timeWindowMs } = options.rateLimit;
      rateKey = rateLimitKey(principal.id, options.clientAddress(req));
      const window = windows.count(rateKey, timeWindowMs);
      // Over the limit: Fastify's rate limit answers the 429 (counting once more in a window already exceeded).
      if (window.current > max) return false;
      rateHeaders = ['x-ratelimit-limit', String(max), 'x-ratelimit-remaining', String(max - window.current), 'x-ratelimit-reset', String(Math.ceil(window.ttl / 1000))];
    }
    const started = performance.now();
    const key = match[1]!;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      let answered: boolean | Promise<boolean>;
      try {
        answered = this.#answer(req, res, key, body, environment, rateHeaders, started);
      } catch {
        answered = false;
      }
      if (answered === true) return;
      const replay = (): void => {
        (req as WithBody)[BODY] = body;
        // Fastify's rate limit counts the request: not twice.
        if (rateKey !== undefined) options.rateLimit?.windows.refund(rateKey);
        fallback(req, res);
      };
      if (answered === false) replay();
      else answered.then((done) => done || replay(), replay);
    });
    req.once('error', () => res.destroy());
    return true;
  }

  /** An address that failed too often is refused by the auth hook: Fastify's to answer. */
  #mayBeLimited(req: IncomingMessage): boolean {
    const failures = this.options.failures;
    // The usual case, decided without reading the socket's address.
    if (failures === undefined || failures.idle) return false;
    // Behind a trusted proxy the address is in its headers: any address held back sends everyone through Fastify.
    if (this.options.trustProxy) return true;
    return failures.retryAfter(req.socket.remoteAddress ?? '') !== undefined;
  }

  #answer(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    body: Buffer,
    environment: EnvironmentScope,
    rateHeaders: string[] | undefined,
    started: number,
  ): boolean | Promise<boolean> {
    const text = body.toString('utf8');
    const parsed = parseJsonBody(text);
    if (parsed !== undefined && parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) return false;
    const context = (parsed as { context?: unknown } | null | undefined)?.context;
    if (context !== undefined && context !== null && (typeof context !== 'object' || Array.isArray(context))) return false;
    const evaluationContext = (context ?? {}) as EvaluationContext;
    const snapshot = environment.holder.snapshot;
    const detail = evaluate(snapshot, key, evaluationContext);
    if (detail.errorCode !== undefined) return false;
    const served = withStickyAssignments(environment.store, snapshot, [detail], evaluationContext, this.options.log);
    if (!(served instanceof Promise)) return this.#send(req, res, snapshot, served[0]!, evaluationContext, environment, text, rateHeaders, started);
    return served.then((details) => this.#send(req, res, snapshot, details[0]!, evaluationContext, environment, text, rateHeaders, started));
  }

  #send(
    req: IncomingMessage,
    res: ServerResponse,
    snapshot: Snapshot,
    detail: EvaluationDetail,
    context: EvaluationContext,
    environment: EnvironmentScope,
    text: string,
    rateHeaders: string[] | undefined,
    started: number,
  ): boolean {
    if (detail.errorCode !== undefined || res.headersSent || res.destroyed) return false;
    const { ctx } = this.options;
    ctx.metrics.recordEvaluation(detail.key, detail.variant, detail.reason);
    recordServedEvaluation(ctx, snapshot, detail, context, environment.eventsEnvironment, req.headers);
    this.options.recordContext(environment.name, detail.key, text);
    const json = this.#answers.text(detail);
    const requestId = req.headers['x-request-id'];
    const headers = [
      'access-control-allow-origin',
      '*',
      'access-control-expose-headers',
      this.options.exposedHeaders,
      'x-request-id',
      typeof requestId === 'string' && requestId !== '' ? requestId : this.options.nextRequestId(),
    ];
    if (rateHeaders) headers.push(...rateHeaders);
    headers.push('content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(json)));
    res.writeHead(200, headers);
    res.end(json);
    this.answered++;
    ctx.metrics.observeRequest('POST', ROUTE, 200, (performance.now() - started) / 1000);
    return true;
  }
}

/**
 * The route's `preParsing` hook: a request the fast lane read and then left to Fastify gets its body again from here
 * (the socket's stream has ended).
 */
export function replayedBody(request: { raw: IncomingMessage }, _reply: unknown, payload: Readable, done: (error: Error | null, payload?: Readable) => void): void {
  const body = (request.raw as WithBody)[BODY];
  if (body === undefined) return done(null, payload);
  const replay = new PassThrough();
  replay.end(body);
  done(null, replay);
}
