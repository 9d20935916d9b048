// The 10,000 evaluation contexts every library sees (in its own context shape), generated from a fixed seed so
// every run and every library evaluates exactly the same users.

export interface BenchUser {
  /** The targeting key / user id: a UUID-like string, as real apps use. */
  key: string;
  email: string;
  country: string;
  plan: string;
}

export const CONTEXT_COUNT = 10_000;

/** Domains: only `example.com` matches `email ew "@example.com"`; `corp.example.com` and `example.org` are near misses. */
const DOMAINS = ['example.com', 'example.com', 'example.com', 'gmail.com', 'corp.example.com', 'example.org', 'outlook.fr', 'acme.io', 'yahoo.de', 'proton.me'];
/** Half the countries match `country in ["fr","de","it"]`; together with the plan, about a quarter match S3's rule. */
const COUNTRIES = ['fr', 'de', 'it', 'us', 'gb', 'es'];
const PLANS = ['pro', 'free'];

/** Mulberry32: a small, seeded PRNG, so the contexts are the same on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(random: () => number, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}

export function generateUsers(count = CONTEXT_COUNT, seed = 0x5eed): BenchUser[] {
  const random = prng(seed);
  const users: BenchUser[] = [];
  const seen = new Set<string>();
  while (users.length < count) {
    const key = `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${'89ab'[Math.floor(random() * 4)]}${hex(random, 3)}-${hex(random, 12)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const domain = DOMAINS[Math.floor(random() * DOMAINS.length)]!;
    users.push({
      key,
      email: `user${users.length}@${domain}`,
      country: COUNTRIES[Math.floor(random() * COUNTRIES.length)]!,
      plan: PLANS[Math.floor(random() * PLANS.length)]!,
    });
  }
  // Round-trip through JSON, as contexts arrive in a request body: the strings built above are V8 cons strings
  // (concatenations), which are slower to read character by character than the flat strings a real app holds.
  return JSON.parse(JSON.stringify(users)) as BenchUser[];
}

/** What S2's rule (`email ew "@example.com"`) means, for checking every library's answers. */
export function matchesS2Rule(user: BenchUser): boolean {
  return user.email.toLowerCase().endsWith('@example.com');
}

/** What S3's rule (`country in ["fr","de","it"] and plan eq "pro"`) means. */
export function matchesS3Rule(user: BenchUser): boolean {
  return ['fr', 'de', 'it'].includes(user.country) && user.plan.toLowerCase() === 'pro';
}
