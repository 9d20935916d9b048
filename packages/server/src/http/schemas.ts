/** JSON schemas shared by routes (request validation, response serialisation, and the OpenAPI document). */

export const anyValue = {} as const;

export const looseObject = { type: 'object', additionalProperties: true } as const;

export const metadataSchema = {
  type: 'object',
  description: 'Flag metadata (primitives only in OFREP responses).',
  additionalProperties: true,
} as const;

export const errorSchema = {
  type: 'object',
  description: 'An error: a stable code, a message for people, and details depending on the error.',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['error', 'message'],
  additionalProperties: true,
} as const;

export const goffErrorSchema = {
  type: 'object',
  description: 'An error, in the shape GO Feature Flag relay proxy uses.',
  properties: { message: { type: 'string' } },
  additionalProperties: true,
} as const;

export const flagKeyParams = {
  type: 'object',
  properties: { key: { type: 'string', minLength: 1, maxLength: 256 } },
  required: ['key'],
} as const;

/** A flag definition in GO Feature Flag's JSON form (validated by the core, not by the schema). */
export const flagDefinitionSchema = {
  type: 'object',
  description: "A flag in GO Feature Flag's format: variations, targeting, defaultRule, … (validated like `vexil lint`).",
  additionalProperties: true,
} as const;

/** A flag definition, or null where there is none (a create's `before`, a delete's `after`). */
export const flagOrNullSchema = { anyOf: [flagDefinitionSchema, { type: 'null' }] } as const;

export const eventStreamHeaders = {
  description: 'A server-sent event stream (text/event-stream).',
  content: { 'text/event-stream': { schema: { type: 'string' } } },
} as const;
