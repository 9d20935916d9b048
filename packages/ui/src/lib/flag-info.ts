// What the flags list shows about a definition: its type, what it serves by default, its tags, whether it looks stale.
import type { FlagDefinition, JsonValue, Rule } from '@vexil/core';
import { isPlainObject } from './json.js';

export type FlagType = 'boolean' | 'string' | 'number' | 'json';

export function flagType(flag: FlagDefinition): FlagType {
  const first = Object.values(flag.variations ?? {})[0];
  if (typeof first === 'boolean') return 'boolean';
  if (typeof first === 'number') return 'number';
  if (typeof first === 'string') return 'string';
  return 'json';
}

/** `metadata.tags` as a list: an array of strings, or a comma-separated string. */
export function tagsOf(flag: FlagDefinition): string[] {
  const tags = flag.metadata?.tags as JsonValue | undefined;
  if (Array.isArray(tags)) return tags.filter((tag): tag is string => typeof tag === 'string' && tag !== '');
  if (typeof tags === 'string') return tags.split(',').map((tag) => tag.trim()).filter(Boolean);
  return [];
}

export type Serving =
  | { kind: 'variation'; variation: string }
  | { kind: 'split'; shares: Array<{ variation: string; percent: number }> }
  | { kind: 'progressive'; from: string; to: string; start?: string; end?: string }
  | { kind: 'none' };

export function serving(rule: Rule | undefined): Serving {
  if (!rule) return { kind: 'none' };
  if (rule.progressiveRollout?.initial?.variation && rule.progressiveRollout.end?.variation) {
    const { initial, end } = rule.progressiveRollout;
    return { kind: 'progressive', from: initial.variation!, to: end.variation!, start: initial.date, end: end.date };
  }
  if (isPlainObject(rule.percentage)) {
    const entries = Object.entries(rule.percentage).filter(([, weight]) => typeof weight === 'number' && weight > 0);
    const sum = entries.reduce((acc, [, weight]) => acc + weight, 0);
    if (entries.length === 1) return { kind: 'variation', variation: entries[0]![0] };
    if (sum > 0) return { kind: 'split', shares: entries.map(([variation, weight]) => ({ variation, percent: (weight / sum) * 100 })) };
  }
  if (typeof rule.variation === 'string') return { kind: 'variation', variation: rule.variation };
  return { kind: 'none' };
}

/** The variations a flag can serve as it stands (ignoring future scheduled steps). */
function servedVariations(flag: FlagDefinition, now: number): Set<string> {
  const out = new Set<string>();
  const add = (rule: Rule | undefined) => {
    const serves = serving(rule);
    if (serves.kind === 'variation') out.add(serves.variation);
    else if (serves.kind === 'split') for (const share of serves.shares) out.add(share.variation);
    else if (serves.kind === 'progressive') {
      const end = serves.end ? Date.parse(serves.end) : NaN;
      const full = (rule?.progressiveRollout?.end?.percentage ?? 100) >= 100;
      if (!(end <= now && full)) out.add(serves.from);
      out.add(serves.to);
    }
  };
  if (flag.disable) {
    out.add(flag.offVariation ?? '(caller default)');
    return out;
  }
  for (const rule of flag.targeting ?? []) if (!rule.disable) add(rule);
  add(flag.defaultRule);
  return out;
}

const DAY = 86_400_000;

export interface Staleness {
  stale: boolean;
  why?: string;
}

/**
 * A flag looks stale when it has served one variation to everyone for 30 days (judged from its definition: nothing
 * but one variation can be served, no future scheduled step, unchanged for 30 days), or has not changed for 90 days.
 */
export function staleness(flag: FlagDefinition, updatedAt: string | undefined, now = Date.now()): Staleness {
  const changed = updatedAt ? Date.parse(updatedAt) : NaN;
  if (Number.isNaN(changed)) return { stale: false };
  const age = now - changed;
  const pending = (flag.scheduledRollout ?? []).some((step) => step.date !== undefined && Date.parse(step.date) > now);
  if (age >= 90 * DAY) return { stale: true, why: `unchanged for ${Math.floor(age / DAY)} days` };
  if (age >= 30 * DAY && !pending && servedVariations(flag, now).size <= 1) {
    return { stale: true, why: `served one variation to everyone for ${Math.floor(age / DAY)} days` };
  }
  return { stale: false };
}
