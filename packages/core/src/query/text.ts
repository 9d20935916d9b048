// String helpers that reproduce Go's behaviour where JavaScript's differs.
//
// GOFF lower-cases both sides of a string comparison with Go's strings.ToLower, which maps each code point on its
// own (simple case mapping). JavaScript's toLowerCase applies full case mapping, which differs in exactly two places:
// U+0130 (İ) becomes "i̇" (two code points) instead of "i", and a final capital sigma becomes "ς" instead of "σ".
// Go also orders strings by UTF-8 bytes, i.e. by code point, while JavaScript's < orders UTF-16 code units.

const SPECIAL_LOWER = /[\u0130\u03a3]/;

/** Lower-cases like Go's strings.ToLower (per code point). */
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

// goLower never changes the UTF-16 length: Go maps code point to code point, case pairs stay in their plane, and
// the two full mappings JavaScript adds are handled above. So position i of s lines up with position i of goLower(s),
// which lets the helpers below compare in place, folding ASCII without allocating, and lower-case a single
// non-ASCII unit only when they meet one.

function regionEquals(s: string, offset: number, lower: string): boolean {
  for (let j = 0; j < lower.length; j++) {
    const c = s.charCodeAt(offset + j);
    const d = lower.charCodeAt(j);
    if (c === d) continue; // lower-casing is idempotent: an equal unit is already in lower-case form
    if (c >= 0x80) return goLower(s).startsWith(lower, offset);
    if (c < 65 || c > 90 || c + 32 !== d) return false;
  }
  return true;
}

/** goLower(s) === lower, where `lower` is already lower-cased. */
export function eqFold(s: string, lower: string): boolean {
  return s.length === lower.length && regionEquals(s, 0, lower);
}

/** goLower(s).startsWith(lower). */
export function startsWithFold(s: string, lower: string): boolean {
  return s.length >= lower.length && regionEquals(s, 0, lower);
}

/** goLower(s).endsWith(lower). */
export function endsWithFold(s: string, lower: string): boolean {
  return s.length >= lower.length && regionEquals(s, s.length - lower.length, lower);
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
