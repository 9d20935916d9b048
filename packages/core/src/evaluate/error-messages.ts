// The words of evaluation errors, in one place: OFREP (single and bulk), `vexil eval`, the OpenFeature provider and
// the admin playground all show these, so a user reads the same diagnosis wherever the error surfaces. Each message
// says what is wrong and how to fix it.

/** A flag key the snapshot does not hold. */
export function flagNotFoundMessage(key: string): string {
  return `flag \`${key}\` does not exist in this environment: check the key (keys are case-sensitive)`;
}

/** What the context holds where the bucketing value should be, in words ("none", "number", …). */
function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** `{"company": {"id": "..."}}` for the path `company.id`: what a context with that attribute looks like. */
function examplePath(path: readonly string[]): string {
  let json = '"..."';
  for (let i = path.length - 1; i >= 0; i--) json = `{${JSON.stringify(path[i])}: ${json}}`;
  return json;
}

/**
 * A flag that splits users could not bucket this context. `bucketingKey` is the flag's `bucketingKey` attribute path
 * (undefined: the targeting key); `found` is what the context holds there (undefined when absent).
 */
export function bucketingKeyMessage(key: string, bucketingKey: readonly string[] | undefined, found: unknown): string {
  const attribute = bucketingKey ? bucketingKey.join('.') : 'targetingKey';
  const splits = bucketingKey ? `flag \`${key}\` splits users by ${attribute} (its bucketingKey)` : `flag \`${key}\` splits users by targetingKey`;
  const send = `send {"context": ${examplePath(bucketingKey ?? ['targetingKey'])}}`;
  if (found === undefined || found === null) return `${splits} and the context has none: ${send}`;
  if (typeof found !== 'string') return `${splits}, and ${attribute} must be a string, got ${typeName(found)}: ${send}`;
  return `${splits} and the context's ${attribute} is empty: ${send} with a non-empty string`;
}

/**
 * When a request body (OFREP) or a request line (`vexil eval --requests`) carries no `context` object, the likely
 * cause of a missing targeting key: the context was sent bare. Undefined when the body is fine (or empty: evaluating
 * without a context is allowed).
 *
 * `where`: "the body" or "line 3"; `wants`: the expected shape, e.g. `OFREP wants {"context": {...}}`.
 */
export function missingContextHint(body: unknown, where: string, wants: string): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  const context = record.context;
  if (context !== undefined && context !== null && typeof context === 'object' && !Array.isArray(context)) return undefined;
  const others = Object.keys(record).filter((name) => name !== 'context' && name !== 'flag');
  if (context === undefined && others.length === 0) return undefined;
  const problem = context === undefined || context === null ? `${where} has no \`context\` object` : `${where}'s \`context\` is ${typeName(context)}, not an object`;
  const atTop = others.includes('targetingKey') ? ' (targetingKey is at the top level)' : '';
  return `${problem}${atTop}: ${wants}`;
}

/**
 * A context that holds its attributes one level too deep, `{"context": {"targetingKey": …}}` where the context itself
 * was expected (OFREP's wrapper sent twice, or given to `vexil eval --context`). Undefined otherwise.
 */
export function wrappedContextHint(context: unknown, where: string): string | undefined {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) return undefined;
  const record = context as Record<string, unknown>;
  const inner = record.context;
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner) || 'targetingKey' in record) return undefined;
  return `${where} holds another \`context\` object: put the attributes in ${where} itself, e.g. {"targetingKey": "...", ...}`;
}

/** An error message with the request's shape problem (if any) first: the root cause before its consequence. */
export function withRequestHint(message: string, hint: string | undefined): string {
  return hint ? `${hint}; ${message}` : message;
}
