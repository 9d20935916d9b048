import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  FlagNotFoundError,
  ReadOnlyStoreError,
  StoreConflictError,
  StoreUnavailableError,
  StoreValidationError,
  UnknownEnvironmentError,
  UnknownProjectError,
} from '@vexil/store';
import { formatProblem, type Problem } from '@vexil/core';

/** An error with an HTTP status, a stable machine-readable code and a message for people. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  constructor(statusCode: number, code: string, message: string, extra?: Record<string, unknown>, headers?: Record<string, string>) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }
}

/**
 * Not an error: an answer that ends the handler early with its own status and body (a flag write that became a change
 * request: 202 `{ changeRequest }`). Thrown from deep inside a handler (a store call), sent as it is.
 */
export class EarlyAnswer extends Error {
  readonly statusCode: number;
  readonly body: unknown;
  constructor(statusCode: number, body: unknown, message = 'early answer') {
    super(message);
    this.name = 'EarlyAnswer';
    this.statusCode = statusCode;
    this.body = body;
  }
}

/** A request body that is not valid JSON (400 `invalid_json`). */
export class JsonBodyError extends HttpError {
  /** The body ends before its JSON does (what Go's decoder, so GO Feature Flag, reports as "unexpected EOF"). */
  readonly truncated: boolean;
  constructor(parserMessage: string, truncated: boolean) {
    super(400, 'invalid_json', `the request body is not valid JSON: ${parserMessage}`);
    this.name = 'JsonBodyError';
    this.truncated = truncated;
  }
}

/** A rejected flag: 400 with every problem, each also formatted as `vexil lint` prints it. */
export function validationError(problems: Problem[], message = 'the flag is not valid'): HttpError {
  const errors = problems.filter((problem) => problem.severity === 'error');
  return new HttpError(400, 'validation_failed', `${message}:\n${errors.map(formatProblem).join('\n')}`, {
    problems: problems.map((problem) => ({ ...problem, text: formatProblem(problem) })),
  });
}

/** A 400 on a GO Feature Flag route, for a route that words it its own way (`config.goffBadRequest`). */
export interface GoffBadRequest {
  /** The message Vexil would send. */
  message: string;
  /**
   * When the body could not be read (malformed JSON, or a shape the route's schema rejects): the text GO Feature
   * Flag's handlers embed (`err.Error()` of Echo's binder error) — for a cut-off JSON body exactly GO Feature Flag's
   * `code=400, message=unexpected EOF, internal=unexpected EOF`, otherwise Vexil's parser or schema message.
   */
  bindError?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** GO Feature Flag routes whose 400 answers have their own wording or shape (GO Feature Flag's). */
    goffBadRequest?: (bad: GoffBadRequest) => Record<string, unknown>;
  }
}

/** Go's `io.ErrUnexpectedEOF`, what GO Feature Flag's JSON binding reports for a body that ends too early. */
const UNEXPECTED_EOF = 'unexpected EOF';
const ECHO_UNEXPECTED_EOF = `code=400, message=${UNEXPECTED_EOF}, internal=${UNEXPECTED_EOF}`;

/** Which response shape a path uses for errors. */
type Family = 'ofrep-single' | 'ofrep-bulk' | 'goff' | 'vexil';

export function familyOf(url: string): Family {
  if (url.startsWith('/ofrep/v1/evaluate/flags/')) return 'ofrep-single';
  if (url.startsWith('/ofrep/')) return 'ofrep-bulk';
  if (url.startsWith('/v1/') && !url.startsWith('/v1/stream')) return 'goff';
  return 'vexil';
}

interface Normalised {
  status: number;
  code: string;
  message: string;
  extra?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** The request body could not be read: malformed JSON, or rejected by the route's body schema. */
  unreadableBody?: boolean;
}

function normalise(error: unknown): Normalised {
  if (error instanceof JsonBodyError) return { status: 400, code: error.code, message: error.message, unreadableBody: true };
  if (error instanceof HttpError)
    return { status: error.statusCode, code: error.code, message: error.message, extra: error.extra, headers: error.headers };
  if (error instanceof StoreValidationError) {
    const http = validationError(error.problems);
    return { status: 400, code: http.code, message: http.message, extra: http.extra };
  }
  if (error instanceof StoreConflictError)
    return {
      status: 409,
      code: 'conflict',
      message: error.message,
      extra: { key: error.key, currentVersion: error.currentVersion, expectedVersion: error.expectedVersion },
      ...(error.currentVersion > 0 ? { headers: { etag: `"${error.currentVersion}"` } } : {}),
    };
  if (error instanceof UnknownProjectError) return { status: 404, code: 'unknown_project', message: error.message, extra: { project: error.project } };
  if (error instanceof UnknownEnvironmentError)
    return { status: 404, code: 'unknown_environment', message: error.message, extra: { project: error.project, environment: error.environment } };
  if (error instanceof FlagNotFoundError) return { status: 404, code: 'not_found', message: error.message, extra: { key: error.key } };
  if (error instanceof ReadOnlyStoreError) return { status: 405, code: 'read_only_store', message: error.message };
  if (error instanceof StoreUnavailableError) return { status: 503, code: 'store_unavailable', message: error.message, headers: { 'retry-after': '1' } };
  const fastifyError = error as FastifyError & { validationContext?: string };
  if (fastifyError?.validation) {
    return {
      status: 400,
      code: 'bad_request',
      message: `invalid ${fastifyError.validationContext ?? 'request'}: ${fastifyError.message}`,
      ...(fastifyError.validationContext === 'body' ? { unreadableBody: true } : {}),
    };
  }
  const status = typeof fastifyError?.statusCode === 'number' ? fastifyError.statusCode : 500;
  switch (fastifyError?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'payload_too_large', message: 'the request body is larger than the limit (VEXIL_BODY_LIMIT, 1 MiB by default; 64 KiB for the admin playground)' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_media_type', message: fastifyError.message };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'bad_request', message: fastifyError.message };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { status: 414, code: 'uri_too_long', message: 'a path parameter is too long' };
    default:
      break;
  }
  if (status === 429) return { status, code: 'rate_limited', message: fastifyError.message || 'too many requests' };
  if (status >= 400 && status < 500) return { status, code: fastifyError.code ?? 'bad_request', message: fastifyError.message };
  return { status: 500, code: 'internal_error', message: 'internal error' };
}

const OFREP_CODE: Record<number, string> = { 400: 'INVALID_CONTEXT' };

/**
 * Answers an error in the shape of the route's family. The error handler of every route, and Fastify's `frameworkErrors`
 * (a URL that cannot be decoded, a path parameter over the router's limit), which would otherwise answer Fastify's own
 * shape.
 */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof EarlyAnswer) return reply.code(error.statusCode).send(error.body);
  const n = normalise(error);
  if (n.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.debug({ err: error }, 'request rejected');
  if (n.headers) for (const [name, value] of Object.entries(n.headers)) reply.header(name, value);
  reply.code(n.status);
  const family = familyOf(request.url);
  // GO Feature Flag's words for a cut-off JSON body (its testdata pins them); other unreadable bodies keep Vexil's
  // message (GO Feature Flag's would be Go's decoder message, which Vexil cannot reproduce). Vexil's own message is
  // in the debug log above.
  const truncated = error instanceof JsonBodyError && error.truncated;
  switch (family) {
    case 'ofrep-single': {
      const key = (request.params as { key?: string } | undefined)?.key ?? '';
      const errorCode = OFREP_CODE[n.status] ?? 'GENERAL';
      return reply.send({ key, errorCode, errorDetails: truncated ? ECHO_UNEXPECTED_EOF : n.message });
    }
    case 'ofrep-bulk': {
      const errorCode = OFREP_CODE[n.status] ?? 'GENERAL';
      return reply.send({ errorCode, errorDetails: truncated ? ECHO_UNEXPECTED_EOF : n.message });
    }
    case 'goff': {
      const custom = request.routeOptions?.config?.goffBadRequest;
      if (n.status === 400 && custom) {
        return reply.send(custom({ message: n.message, ...(n.unreadableBody ? { bindError: truncated ? ECHO_UNEXPECTED_EOF : n.message } : {}) }));
      }
      const message = truncated ? UNEXPECTED_EOF : n.message;
      return reply.send({ message, ...(n.status === 429 || n.status === 401 || n.status === 403 ? { error: n.code } : {}) });
    }
    default:
      return reply.send({ error: n.code, message: n.message, ...(n.extra ?? {}) });
  }
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(sendError);

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
}
