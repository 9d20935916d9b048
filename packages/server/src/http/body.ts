import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasLoneSurrogate } from '@vexil/core';
import { HttpError, JsonBodyError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body as received (JSON requests only): used to point at lines in validation messages. */
    rawBody?: string;
    /** Paths of the keys the body scrub removed (`__proto__`, `constructor`, `prototype`), e.g. `segments.__proto__`. */
    droppedKeys?: string[];
  }
}

/**
 * The deepest nesting a JSON request body may have (`{"context": {"a": {}}}` is 3). Deeper bodies get 400: recursive
 * code (serialisation, ETags, the context sample) would otherwise overflow the stack on them. Flags have their own,
 * lower limit (core's MAX_FLAG_DEPTH).
 */
export const MAX_BODY_DEPTH = 64;

/** Keys the body scrub removes, so that no merge can ever reach a prototype. */
const SCRUBBED = new Set(['__proto__', 'constructor', 'prototype']);
/** Texts that may hold such a key: the key itself, or any `\u` escape (`"\u005f_proto__"` is `"__proto__"`). */
const MAY_HOLD_KEY = /__proto__|constructor|prototype|\\u/;

/** True when JSON.parse failed at the end of the text: the body is a cut-off JSON document. */
function endsTooEarly(text: string, parserMessage: string): boolean {
  if (/unexpected end of JSON input/i.test(parserMessage)) return true;
  const at = /at position (\d+)/.exec(parserMessage);
  return at !== null && Number(at[1]) >= text.trimEnd().length;
}

/** The nesting depth of JSON text, or `limit + 1` as soon as it goes past `limit` (strings are skipped). */
export function jsonTextDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return deepest;
}

/**
 * Parses JSON text. Refuses bodies nested deeper than MAX_BODY_DEPTH and text with a lone UTF-16 surrogate (`"\ud800"`:
 * not Unicode, and no store can keep it), and strips `__proto__`, `constructor` and
 * `prototype` keys, escaped or not (the scrub looks at the parsed keys), so that no merge can reach a prototype. The
 * paths of stripped keys go to `dropped` (routes where such a key is a name, e.g. a segment's, refuse it).
 */
export function parseJsonBody(text: string, dropped: string[] = []): unknown {
  if (text.trim() === '') return undefined;
  // JSON nested deeper than the limit has more than the limit's opening and closing brackets: shorter text (most
  // evaluation requests) needs no scan, and text that is not JSON is refused by the parser below.
  if (text.length > 2 * MAX_BODY_DEPTH && jsonTextDepth(text, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new HttpError(400, 'too_deep', `the request body nests deeper than ${MAX_BODY_DEPTH} levels (the limit on the depth of bodies and evaluation contexts)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    throw new JsonBodyError(message, endsTooEarly(text, message));
  }
  if (MAY_HOLD_KEY.test(text)) value = scrub(value, '', dropped);
  return value;
}

/** Recursive, but bounded: the body is at most MAX_BODY_DEPTH deep. */
function scrub(value: unknown, path: string, dropped: string[]): unknown {
  if (Array.isArray(value)) return value.map((item, index) => scrub(item, `${path}[${index}]`, dropped));
  if (typeof value === 'string' && hasLoneSurrogate(value)) throw loneSurrogate(path);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (hasLoneSurrogate(key)) throw loneSurrogate(path === '' ? '(a key)' : `${path} (a key)`);
    if (SCRUBBED.has(key)) {
      dropped.push(at);
      continue;
    }
    out[key] = scrub(member, at, dropped);
  }
  return out;
}

function loneSurrogate(path: string): HttpError {
  return new HttpError(400, 'invalid_text', `the request body has text with a lone UTF-16 surrogate${path === '' ? '' : ` at ${path}`}: it is not valid Unicode`);
}

/**
 * JSON bodies (`application/json`, `application/merge-patch+json`, any `+json`): an empty body is accepted as no
 * body (OFREP clients may send none), malformed JSON is a 400 with the parser's message, and the text is kept.
 */
export function registerBodyParsing(app: FastifyInstance): void {
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('droppedKeys', undefined);
  app.removeContentTypeParser(['application/json']);
  const parser = (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void): void => {
    try {
      request.rawBody = body;
      const dropped: string[] = [];
      const value = parseJsonBody(body, dropped);
      if (dropped.length > 0) request.droppedKeys = dropped;
      done(null, value);
    } catch (error) {
      done(error as Error);
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parser);
  app.addContentTypeParser(/^application\/[a-z0-9.+-]*\+json$/i, { parseAs: 'string' }, parser);
}
