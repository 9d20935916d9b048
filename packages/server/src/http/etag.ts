/**
 * Whether an `If-None-Match` (or `If-Match`) header matches an entity tag: `*`, or any tag of the comma-separated
 * list, compared weakly (a `W/` prefix is ignored), quoted or not.
 */
export function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  const wanted = bare(etag);
  for (const part of text.split(',')) {
    const candidate = part.trim();
    if (candidate === '*') return true;
    if (bare(candidate) === wanted) return true;
  }
  return false;
}

function bare(tag: string): string {
  let value = tag.trim();
  if (value.startsWith('W/')) value = value.slice(2);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value;
}

/** A flag version as an entity tag: `"3"`. */
export function versionTag(version: number): string {
  return `"${version}"`;
}

/**
 * The version an `If-Match` header asks for: a number, `'*'` (any existing version), undefined (no header), or
 * `'invalid'` (a list, or something that is not a version this server issued).
 */
export function parseIfMatch(header: string | string[] | undefined): number | '*' | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const text = (Array.isArray(header) ? header.join(',') : header).trim();
  if (text === '') return undefined;
  if (text === '*') return '*';
  if (text.includes(',')) return 'invalid';
  const value = bare(text);
  return /^[0-9]{1,15}$/.test(value) ? Number(value) : 'invalid';
}
