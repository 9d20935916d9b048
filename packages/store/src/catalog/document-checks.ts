/** Argument checks every `DocumentStore` makes the same way (SQL, Redis, DynamoDB). */

export function checkDocumentName(what: 'collection' | 'id', value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`a document ${what} must be a non-empty string`);
  return value;
}

export function checkExpectedVersion(expectedVersion: number | undefined): void {
  if (expectedVersion !== undefined && (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0))
    throw new TypeError(`expectedVersion must be a non-negative integer, not ${String(expectedVersion)}`);
}

/** The checks of a `put` (the id, the expected version) and the document's JSON text, which it must have. */
export function documentText(collection: string, id: string, doc: unknown, expectedVersion: number | undefined): string {
  checkDocumentName('id', id);
  checkExpectedVersion(expectedVersion);
  const text = JSON.stringify(doc);
  if (text === undefined) throw new TypeError(`document ${collection}/${id} is not JSON`);
  return text;
}
