import type { FlagDefinition, Rule, SegmentDefinition } from '../model/flag.js';
import { structuredCloneJson } from '../rollout/scheduled.js';

const NAME_CHAR = /[A-Za-z0-9_:.-]/;

/**
 * Replaces each `@segment` reference in a nikunjy query with the segment's query in parentheses, recursively, so the
 * query means the same to an engine that knows no segments. Text inside string literals is left alone.
 */
export function inlineSegments(query: string, segments: Readonly<Record<string, SegmentDefinition>>, seen: string[] = []): string {
  if (query.trim().startsWith('{')) return query; // JsonLogic: no segment references
  let out = '';
  let inString = false;
  for (let i = 0; i < query.length; i++) {
    const ch = query[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\' && i + 1 < query.length) out += query[++i];
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    if (ch === '@') {
      let end = i + 1;
      while (end < query.length && NAME_CHAR.test(query[end]!)) end++;
      const name = query.slice(i + 1, end);
      const segment = Object.prototype.hasOwnProperty.call(segments, name) ? segments[name] : undefined;
      if (segment && !seen.includes(name)) {
        out += `(${inlineSegments(segment.query, segments, [...seen, name])})`;
        i = end - 1;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

/**
 * The flag as plain GO Feature Flag understands it: segment references inlined into the queries, Vexil-only fields
 * (`offVariation`, `experiment`, and the progressive-delivery fields `rollout`, `killSwitch`, `rolloutState`: a rollout step is
 * already served by `defaultRule`'s percentage split) removed. For GO Feature Flag's own in-process providers reading
 * `/v1/flag/configuration`.
 */
export function toGoFeatureFlagForm(flag: FlagDefinition, segments: Readonly<Record<string, SegmentDefinition>>): FlagDefinition {
  const copy = structuredCloneJson(flag);
  delete copy.offVariation;
  delete copy.rollout;
  delete copy.killSwitch;
  delete copy.rolloutState;
  delete copy.experiment;
  const fix = (rule: Rule | undefined) => {
    if (rule && typeof rule.query === 'string') rule.query = inlineSegments(rule.query, segments);
  };
  copy.targeting?.forEach(fix);
  for (const step of copy.scheduledRollout ?? []) {
    delete step.offVariation;
    step.targeting?.forEach(fix);
  }
  return copy;
}
