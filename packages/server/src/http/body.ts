import type { FastifyInstance, FastifyRequest } from 'fastify';
import { JsonBodyError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body as received (JSON requests only): used to point at lines in validation messages. */
    rawBody?: string;
  }
}

const POISON = /"(?:__proto__|constructor|prototype)"\s*:/;

/** True when JSON.parse failed at the end of the text: the body is a cut-off JSON document. */
function endsTooEarly(text: string, parserMessage: string): boolean {
  if (/unexpected end of JSON input/i.test(parserMessage)) return true;
  const at = /at position (\d+)/.exec(parserMessage);
  return at !== null && Number(at[1]) >= text.trimEnd().length;
}

/** Parses JSON text; strips `__proto__`-style keys so that no merge can ever reach a prototype. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    throw new JsonBodyError(message, endsTooEarly(text, message));
  }
  if (POISON.test(text)) value = scrub(value);
  return value;
}

function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    out[key] = scrub(member);
  }
  return out;
}

/**
 * JSON bodies (`application/json`, `application/merge-patch+json`, any `+json`): an empty body is accepted as no
 * body (OFREP clients may send none), malformed JSON is a 400 with the parser's message, and the text is kept.
 */
export function registerBodyParsing(app: FastifyInstance): void {
  app.decorateRequest('rawBody', undefined);
  app.removeContentTypeParser(['application/json']);
  const parser = (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void): void => {
    try {
      request.rawBody = body;
      done(null, parseJsonBody(body));
    } catch (error) {
      done(error as Error);
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parser);
  app.addContentTypeParser(/^application\/[a-z0-9.+-]*\+json$/i, { parseAs: 'string' }, parser);
}
