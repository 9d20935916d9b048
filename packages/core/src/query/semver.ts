// Strict semantic versions, with the parsing rules and precedence GOFF gets from github.com/blang/semver/v4:
// MAJOR.MINOR.PATCH with no leading zeros, each fitting in an unsigned 64-bit integer; an optional "-prerelease"
// (dot-separated identifiers; numeric ones without leading zeros) and "+build" (ignored for precedence).
// Numbers are kept as digit strings and compared by length then lexically, which is exact at any size.

export interface PrereleaseId {
  readonly numeric: boolean;
  readonly text: string;
}

export interface Semver {
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  readonly pre: readonly PrereleaseId[];
}

const MAX_UINT64 = '18446744073709551615';

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function isAlphanumeric(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
    if (!ok) return false;
  }
  return true;
}

/** A number part: digits only, no leading zero, fits in uint64 (Go's strconv.ParseUint(s, 10, 64)). */
function validNumber(s: string): boolean {
  if (s.length === 0 || !isDigits(s)) return false;
  if (s.length > 1 && s.charCodeAt(0) === 48) return false;
  return s.length < 20 || (s.length === 20 && s <= MAX_UINT64);
}

/** Parses like blang/semver's Parse (a.k.a. Make); null when invalid. */
export function parseSemver(s: string): Semver | null {
  if (s.length === 0) return null;
  const d1 = s.indexOf('.');
  if (d1 < 0) return null;
  const d2 = s.indexOf('.', d1 + 1);
  if (d2 < 0) return null;
  const major = s.slice(0, d1);
  const minor = s.slice(d1 + 1, d2);
  if (!validNumber(major) || !validNumber(minor)) return null;
  let rest = s.slice(d2 + 1);
  let build: string[] = [];
  const plus = rest.indexOf('+');
  if (plus >= 0) {
    build = rest.slice(plus + 1).split('.');
    rest = rest.slice(0, plus);
  }
  let preParts: string[] = [];
  const dash = rest.indexOf('-');
  if (dash >= 0) {
    preParts = rest.slice(dash + 1).split('.');
    rest = rest.slice(0, dash);
  }
  if (!validNumber(rest)) return null;
  const pre: PrereleaseId[] = [];
  for (const p of preParts) {
    if (p.length === 0) return null;
    if (isDigits(p)) {
      if (!validNumber(p)) return null;
      pre.push({ numeric: true, text: p });
    } else if (isAlphanumeric(p)) {
      pre.push({ numeric: false, text: p });
    } else {
      return null;
    }
  }
  for (const b of build) if (b.length === 0 || !isAlphanumeric(b)) return null;
  return { major, minor, patch: rest, pre };
}

function compareNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Semver precedence: -1, 0 or 1. Build metadata is ignored. */
export function compareSemver(a: Semver, b: Semver): number {
  let c = compareNumbers(a.major, b.major);
  if (c !== 0) return c;
  c = compareNumbers(a.minor, b.minor);
  if (c !== 0) return c;
  c = compareNumbers(a.patch, b.patch);
  if (c !== 0) return c;
  const ap = a.pre;
  const bp = b.pre;
  if (ap.length === 0 || bp.length === 0) {
    if (ap.length === bp.length) return 0;
    return ap.length === 0 ? 1 : -1; // a release ranks above its prereleases
  }
  const n = ap.length < bp.length ? ap.length : bp.length;
  for (let i = 0; i < n; i++) {
    const x = ap[i]!;
    const y = bp[i]!;
    if (x.numeric !== y.numeric) return x.numeric ? -1 : 1;
    c = x.numeric ? compareNumbers(x.text, y.text) : x.text < y.text ? -1 : x.text > y.text ? 1 : 0;
    if (c !== 0) return c;
  }
  return ap.length === bp.length ? 0 : ap.length < bp.length ? -1 : 1;
}

// Context values repeat (an app version string is shared by many users), so parsed versions are cached.
const cache = new Map<string, Semver | null>();
const CACHE_LIMIT = 1024;

export function parseSemverCached(s: string): Semver | null {
  const hit = cache.get(s);
  if (hit !== undefined) return hit;
  const parsed = parseSemver(s);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(s, parsed);
  return parsed;
}
