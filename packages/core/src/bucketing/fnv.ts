/**
 * 32-bit FNV-1a over UTF-8 bytes, as GO Feature Flag hashes `flagKey + bucketingKey` (Go's hash/fnv New32a).
 * The text is encoded on the fly (no TextEncoder, no allocation) so the hot path stays allocation-free and the
 * code runs in browsers and at the edge.
 */
export const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Continues an FNV-1a hash `hash` over the UTF-8 encoding of `text`. */
export function fnv1a32Continue(hash: number, text: string): number {
  // Fast path: keys are almost always ASCII (ids, UUIDs, emails); leave it on the first other character.
  let h = hash;
  const length = text.length;
  let i = 0;
  for (; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) break;
    h = Math.imul(h ^ code, FNV_PRIME);
  }
  return i === length ? h >>> 0 : fnv1a32Utf8(h, text, i);
}

function fnv1a32Utf8(hash: number, text: string, from: number): number {
  let h = hash;
  for (let i = from; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      h = Math.imul(h ^ code, FNV_PRIME);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      } else {
        code = 0xfffd; // lone surrogate: Go encodes invalid UTF-16 as U+FFFD, and so does every UTF-8 encoder
      }
    } else if (code >= 0xd800 && code <= 0xdfff) {
      code = 0xfffd;
    }
    if (code < 0x800) {
      h = Math.imul(h ^ (0xc0 | (code >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (code & 0x3f)), FNV_PRIME);
    } else if (code < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (code >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((code >> 6) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (code & 0x3f)), FNV_PRIME);
    } else {
      h = Math.imul(h ^ (0xf0 | (code >> 18)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((code >> 12) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((code >> 6) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (code & 0x3f)), FNV_PRIME);
    }
  }
  return h >>> 0;
}

export function fnv1a32(text: string): number {
  return fnv1a32Continue(FNV_OFFSET_BASIS, text);
}

/** Compares two strings by their UTF-8 bytes (= by code points), as Go's string ordering does. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    if (ca > 0xffff) i++;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
