// String helpers that reproduce Go's behaviour where JavaScript's differs.
//
// GOFF lower-cases both sides of a string comparison with Go's strings.ToLower, which maps each code point on its
// own (simple case mapping). JavaScript's toLowerCase applies full case mapping, which differs in exactly two places:
// U+0130 (İ) becomes "i̇" (two code points) instead of "i", and a final capital sigma becomes "ς" instead of "σ".
// Go also orders strings by UTF-8 bytes, i.e. by code point, while JavaScript's < orders UTF-16 code units.

const SPECIAL_LOWER = /[\u0130\u03a3]/;

/** Lower-cases like Go's strings.ToLower. Returns the same string when nothing changes. */
export function goLower(s: string): string {
  if (!SPECIAL_LOWER.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    if (ch === '\u0130') out += 'i';
    else if (ch === '\u03a3') out += '\u03c3';
    else out += ch.toLowerCase();
  }
  return out;
}

/**
 * True when goLower(s) === lower, where `lower` is already lower-cased. Allocation-free for ASCII input; falls
 * back to goLower when it meets a non-ASCII character.
 */
export function eqFold(s: string, lower: string): boolean {
  const n = s.length;
  if (n !== lower.length) return hasNonAscii(s) ? goLower(s) === lower : false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    const d = lower.charCodeAt(i);
    if (c === d) continue;
    if (c >= 0x80) return goLower(s) === lower;
    if (c >= 65 && c <= 90) c += 32;
    // Every earlier character was ASCII, so position i lines up in goLower(s): an ASCII mismatch is final.
    if (c !== d) return false;
  }
  return true;
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return true;
  return false;
}

/** Compares by Unicode code point (Go's byte order for valid UTF-8). Returns -1, 0 or 1. */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (astral code points) sort after U+E000..U+FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}
