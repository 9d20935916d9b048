/**
 * JSON with object keys sorted (recursively) and no whitespace, so equal content always gives the same text and the
 * same hash, whatever order a store, a file or a server kept the keys in. Follows `JSON.stringify` otherwise:
 * `undefined` members are left out, non-finite numbers become `null`, `toJSON` is honoured. The snapshot documents
 * of stores and SDKs hash this text, so both sides must use this one function.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return sortKeys(withJson.toJSON());
  if (Array.isArray(value)) return value.map(sortKeys);
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}
